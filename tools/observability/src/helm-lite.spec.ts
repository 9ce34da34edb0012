/** The Go-template subset of helm-lite.ts: trimming, if/else, include, pipelines, and errors for what it does not know. */
import { TemplateSet } from './helm-lite';
import type { RenderContext } from './helm-lite';

const ctx = (values: Record<string, unknown>): RenderContext => ({
  Values: values,
  Release: { Name: 'rel', Namespace: 'ns', Service: 'Helm' },
  Chart: { Name: 'tributary', Version: '0.1.0', AppVersion: '0.1.0' },
  readFile: (f) => `file:${f}\nline2`,
});

const render = (src: string, values: Record<string, unknown> = {}): string => {
  const set = new TemplateSet(ctx(values));
  return set.render(set.load(src, 't.yaml'), 't.yaml');
};

it('trims whitespace on the marked side only', () => {
  expect(render('a:\n  {{- " b" }}\n')).toBe('a: b\n');
  expect(render('a {{ "x" -}}\n\n  b')).toBe('a xb');
  expect(render('{{/* a comment */}}x')).toBe('x');
  expect(render('{{- /* trimmed comment */ -}}\n x')).toBe('x');
});

it('evaluates if/else with Go truthiness, eq, not, and contains', () => {
  const src = '{{- if .Values.on }}on{{- else }}off{{- end }}';
  expect(render(src, { on: true })).toBe('on');
  expect(render(src, { on: '' })).toBe('off');
  expect(render(src, { on: {} })).toBe('off');
  expect(render(src, { on: [1] })).toBe('on');
  expect(render('{{ if eq .Values.mode "a" }}A{{ end }}{{ if not .Values.x }}!{{ end }}', { mode: 'a', x: 0 })).toBe('A!');
  expect(render('{{ if contains "tri" .Release.Name }}y{{ else }}n{{ end }}')).toBe('n');
});

it('runs pipelines: quote, toYaml with sorted keys, nindent, indent, include and .Files.Get', () => {
  expect(render('{{ .Values.port | quote }}', { port: 7200 })).toBe('"7200"');
  expect(render('r:{{- toYaml .Values.r | nindent 2 }}', { r: { requests: { memory: '1Gi', cpu: '1' }, limits: {} } })).toBe('r:\n  limits: {}\n  requests:\n    cpu: "1"\n    memory: 1Gi');
  expect(render('{{- define "n" -}}{{ .Release.Name }}-x{{- end -}}[{{ include "n" . }}]')).toBe('[rel-x]');
  expect(render('{{ .Files.Get "a.yml" | indent 2 }}')).toBe('  file:a.yml\n  line2');
  expect(render('{{ "{{" }}x{{ "}}" }}')).toBe('{{x}}');
});

it('refuses what it does not support and values that do not exist', () => {
  expect(() => render('{{ .Values.missing }}', {})).toThrow('.Values.missing does not exist');
  expect(() => render('{{ .Values.a.b }}', { a: {} })).toThrow('.Values.a.b does not exist (no b)');
  expect(() => render('{{ range .Values.x }}{{ end }}', { x: [] })).toThrow('unsupported or unbalanced action');
  expect(() => render('{{ upper "x" }}')).toThrow('unsupported function upper');
  expect(() => render('{{ if .Values.x }}open', { x: 1 })).toThrow('missing {{ end }}');
  expect(() => render('{{ include "nope" . }}')).toThrow('include of undefined template nope');
});
