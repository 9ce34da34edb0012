/**
 * A renderer for the Go-template subset the Tributary chart keeps to, so the chart can be
 * rendered and checked where there is no helm binary (and deploy/k8s generated from it).
 *
 * Supported: text with `{{ }}` actions and `{{-`/`-}}` whitespace trimming, comments
 * (`{{/* *\/}}`), `define`/`end`, `if`/`else`/`end`, pipelines (`a | f b`, the value passed
 * as the last argument), parenthesised sub-expressions, string and number literals, the
 * fields `.Values.*`, `.Release.Name`, `.Release.Namespace`, `.Release.Service`,
 * `.Chart.Name`, `.Chart.Version`, `.Chart.AppVersion`, `.` and `.Files.Get`, and the
 * functions include, toYaml, nindent, indent, quote, contains, eq, not, and, or.
 * Anything else is an error, and so is a `.Values` path that values.yaml does not have (a
 * typo must not render as an empty string). Semantics follow text/template and Sprig for
 * what is covered; toYaml sorts map keys as helm's does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; expr: string }
  | { kind: 'if'; cond: string; then: Node[]; else: Node[] }
  | { kind: 'define'; name: string; body: Node[] };

/** What a template sees as `.`. */
export interface RenderContext {
  Values: Record<string, unknown>;
  Release: { Name: string; Namespace: string; Service: string };
  Chart: { Name: string; Version: string; AppVersion: string };
  /** Reads a file of the chart (path relative to the chart directory). */
  readFile(file: string): string;
}

class TemplateError extends Error {}

/** Splits a template into text and actions, applying the trim markers. */
function tokenize(src: string, where: string): { kind: 'text' | 'action'; text: string }[] {
  const out: { kind: 'text' | 'action'; text: string }[] = [];
  let pos = 0;
  let trimNext = false;
  while (pos < src.length) {
    const open = src.indexOf('{{', pos);
    let text = open === -1 ? src.slice(pos) : src.slice(pos, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open === -1) {
      out.push({ kind: 'text', text });
      break;
    }
    let inner = src.slice(open + 2);
    const trimBefore = /^- /.test(inner) || inner.startsWith('-\n');
    if (trimBefore) text = text.replace(/\s+$/, '');
    out.push({ kind: 'text', text });
    let close: number;
    if (/^-?\s*\/\*/.test(inner)) {
      const end = inner.indexOf('*/');
      if (end === -1) throw new TemplateError(`${where}: unterminated comment`);
      close = inner.indexOf('}}', end);
    } else {
      close = findClose(inner);
    }
    if (close === -1) throw new TemplateError(`${where}: unterminated action`);
    let body = inner.slice(0, close);
    inner = '';
    trimNext = / -$/.test(body) || /\n-$/.test(body);
    if (trimBefore) body = body.slice(1);
    if (trimNext) body = body.slice(0, -1);
    out.push({ kind: 'action', text: body.trim() });
    pos = open + 2 + close + 2;
  }
  return out;
}

/** Index of the `}}` closing an action, skipping string literals. */
function findClose(s: string): number {
  let inString = false;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '}' && s[i + 1] === '}') return i;
  }
  return -1;
}

/** Builds the tree of a tokenized template. */
function parseTemplate(src: string, where: string): Node[] {
  const tokens = tokenize(src, where);
  let i = 0;
  const block = (stopAt: readonly string[]): { nodes: Node[]; stop: string } => {
    const nodes: Node[] = [];
    while (i < tokens.length) {
      const t = tokens[i++]!;
      if (t.kind === 'text') {
        if (t.text) nodes.push({ kind: 'text', text: t.text });
        continue;
      }
      const a = t.text;
      if (a.startsWith('/*')) continue;
      if (stopAt.includes(a)) return { nodes, stop: a };
      let m: RegExpExecArray | null;
      if ((m = /^if\s+(.+)$/s.exec(a))) {
        const then = block(['else', 'end']);
        const otherwise = then.stop === 'else' ? block(['end']).nodes : [];
        nodes.push({ kind: 'if', cond: m[1]!, then: then.nodes, else: otherwise });
      } else if ((m = /^define\s+"([^"]+)"$/.exec(a))) {
        nodes.push({ kind: 'define', name: m[1]!, body: block(['end']).nodes });
      } else if (/^(else|end|range|with|template|block)\b/.test(a)) {
        throw new TemplateError(`${where}: unsupported or unbalanced action {{ ${a} }}`);
      } else nodes.push({ kind: 'action', expr: a });
    }
    if (stopAt.length > 0) throw new TemplateError(`${where}: missing {{ end }}`);
    return { nodes, stop: '' };
  };
  return block([]).nodes;
}

/** Splits an expression into top-level tokens (strings, parenthesised groups, words). */
function splitTokens(expr: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== '"') j += expr[j] === '\\' ? 2 : 1;
      out.push(expr.slice(i, j + 1));
      i = j + 1;
    } else if (c === '(') {
      let depth = 0;
      let j = i;
      for (; j < expr.length; j++) {
        if (expr[j] === '"') {
          j++;
          while (j < expr.length && expr[j] !== '"') j += expr[j] === '\\' ? 2 : 1;
        } else if (expr[j] === '(') depth++;
        else if (expr[j] === ')' && --depth === 0) break;
      }
      out.push(expr.slice(i, j + 1));
      i = j + 1;
    } else if (c === '|') {
      out.push('|');
      i++;
    } else {
      let j = i;
      while (j < expr.length && !/[\s|()"]/.test(expr[j]!)) j++;
      out.push(expr.slice(i, j));
      i = j;
    }
  }
  return out;
}

const truthy = (v: unknown): boolean => {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
};

/** Renders templates of one chart. */
export class TemplateSet {
  private readonly defines = new Map<string, Node[]>();

  constructor(private readonly ctx: RenderContext) {}

  /** Parses a file, keeping its `define`s; returns its tree. */
  load(src: string, where: string): Node[] {
    const nodes = parseTemplate(src, where);
    for (const n of nodes) if (n.kind === 'define') this.defines.set(n.name, n.body);
    return nodes;
  }

  render(nodes: Node[], where: string): string {
    let out = '';
    for (const n of nodes) {
      if (n.kind === 'text') out += n.text;
      else if (n.kind === 'define') continue;
      else if (n.kind === 'if') out += this.render(truthy(this.evaluate(n.cond, where)) ? n.then : n.else, where);
      else out += this.toText(this.evaluate(n.expr, where), n.expr, where);
    }
    return out;
  }

  private toText(v: unknown, expr: string, where: string): string {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new TemplateError(`${where}: {{ ${expr} }} is ${v === undefined ? 'undefined' : typeof v}, not printable`);
  }

  private evaluate(expr: string, where: string): unknown {
    const tokens = splitTokens(expr);
    const commands: string[][] = [[]];
    for (const t of tokens) {
      if (t === '|') commands.push([]);
      else commands[commands.length - 1]!.push(t);
    }
    let value: unknown;
    commands.forEach((cmd, index) => {
      if (cmd.length === 0) throw new TemplateError(`${where}: empty command in {{ ${expr} }}`);
      const piped = index === 0 ? [] : [value];
      const [head, ...rest] = cmd as [string, ...string[]];
      if (/^[a-zA-Z]\w*$/.test(head) && !['true', 'false'].includes(head)) {
        value = this.call(head, [...rest.map((a) => this.operand(a, where)), ...piped], where);
      } else if (head === '.Files.Get') {
        const file = [...rest.map((a) => this.operand(a, where)), ...piped][0];
        value = this.ctx.readFile(String(file));
      } else {
        if (rest.length > 0 || piped.length > 0) throw new TemplateError(`${where}: cannot apply ${head} in {{ ${expr} }}`);
        value = this.operand(head, where);
      }
    });
    return value;
  }

  private operand(token: string, where: string): unknown {
    if (token.startsWith('"')) return JSON.parse(token) as string;
    if (token.startsWith('(')) return this.evaluate(token.slice(1, -1), where);
    if (/^-?\d+(\.\d+)?$/.test(token)) return Number(token);
    if (token === 'true' || token === 'false') return token === 'true';
    if (token === '.') return this.ctx;
    if (token.startsWith('.')) return this.field(token, where);
    throw new TemplateError(`${where}: unknown operand ${token}`);
  }

  private field(token: string, where: string): unknown {
    const parts = token.slice(1).split('.');
    const [root, ...rest] = parts;
    let v: unknown;
    if (root === 'Values') v = this.ctx.Values;
    else if (root === 'Release') v = this.ctx.Release;
    else if (root === 'Chart') v = this.ctx.Chart;
    else throw new TemplateError(`${where}: unsupported field ${token}`);
    for (const p of rest) {
      if (v === null || typeof v !== 'object' || !(p in (v as object))) throw new TemplateError(`${where}: ${token} does not exist (no ${p})`);
      v = (v as Record<string, unknown>)[p];
    }
    return v;
  }

  private call(name: string, args: unknown[], where: string): unknown {
    const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
    switch (name) {
      case 'include': {
        const body = this.defines.get(String(args[0]));
        if (!body) throw new TemplateError(`${where}: include of undefined template ${String(args[0])}`);
        return this.render(body, `${where} > ${String(args[0])}`);
      }
      case 'toYaml': {
        const v = args[0];
        if (v === undefined) throw new TemplateError(`${where}: toYaml of undefined`);
        return stringify(v, { sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, '');
      }
      case 'nindent':
        return `\n${indent(Number(args[0]), str(args[1]))}`;
      case 'indent':
        return indent(Number(args[0]), str(args[1]));
      case 'quote':
        return JSON.stringify(str(args[0]));
      case 'contains':
        return str(args[1]).includes(str(args[0]));
      case 'eq':
        return args[0] === args[1];
      case 'not':
        return !truthy(args[0]);
      case 'and':
        return args.every(truthy) ? args[args.length - 1] : args.find((a) => !truthy(a));
      case 'or':
        return args.find(truthy) ?? args[args.length - 1];
      default:
        throw new TemplateError(`${where}: unsupported function ${name}`);
    }
  }
}

const indent = (n: number, s: string): string =>
  s
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');

/** Deep merge of plain objects (arrays and scalars of `over` replace). */
export function mergeValues(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? mergeValues(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** Options of {@link renderChart}. */
export interface RenderChartOptions {
  releaseName?: string;
  namespace?: string;
  /** Merged over values.yaml. */
  values?: Record<string, unknown>;
}

/** One rendered template file. */
export interface RenderedTemplate {
  /** File name under templates/. */
  file: string;
  text: string;
}

/** Renders every template of the chart in `chartDir` (NOTES.txt included, _*.tpl excluded). */
export function renderChart(chartDir: string, options: RenderChartOptions = {}): RenderedTemplate[] {
  const chart = parse(fs.readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as { name: string; version: string; appVersion: string };
  const defaults = parse(fs.readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const ctx: RenderContext = {
    Values: mergeValues(defaults, options.values ?? {}),
    Release: { Name: options.releaseName ?? 'tributary', Namespace: options.namespace ?? 'tributary', Service: 'Helm' },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    readFile: (file) => fs.readFileSync(path.join(chartDir, file), 'utf8'),
  };
  const set = new TemplateSet(ctx);
  const dir = path.join(chartDir, 'templates');
  const files = fs.readdirSync(dir).sort();
  for (const f of files.filter((f) => f.startsWith('_'))) set.load(fs.readFileSync(path.join(dir, f), 'utf8'), f);
  return files
    .filter((f) => !f.startsWith('_'))
    .map((f) => ({ file: f, text: set.render(set.load(fs.readFileSync(path.join(dir, f), 'utf8'), f), f) }));
}

/** A Kubernetes object (what the YAML documents parse to). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** The objects of YAML text (empty documents dropped); throws on a YAML error. */
export function parseObjects(text: string, where: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new TemplateError(`${where}: ${d.errors[0]!.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && o !== undefined);
}
