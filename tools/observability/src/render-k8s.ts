/**
 * deploy/k8s: the Helm chart rendered with its default values (release `tributary` in
 * namespace `tributary`) as plain manifests, one file per template, plus namespace.yaml and a
 * kustomization.yaml. Regenerate after changing the chart:
 *   npx tsc -b tools/observability && node tools/observability/dist/render-k8s.js
 * chart.spec.ts fails while deploy/k8s differs from what this writes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderChart } from './helm-lite';
import { CHART_DIR, DEPLOY_DIR } from './paths';

/** Release name and namespace of the plain manifests. */
export const PLAIN_RELEASE = { releaseName: 'tributary', namespace: 'tributary' } as const;

/** The files of deploy/k8s: name → content. */
export function plainManifests(): Map<string, string> {
  const files = new Map<string, string>();
  const resources: string[] = ['namespace.yaml'];
  files.set('namespace.yaml', `# The namespace of the plain manifests (kustomization.yaml puts every object in it).\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${PLAIN_RELEASE.namespace}\n`);
  for (const t of renderChart(CHART_DIR, PLAIN_RELEASE)) {
    if (!t.file.endsWith('.yaml')) continue;
    const body = t.text
      .split('\n')
      .map((l) => l.replace(/\s+$/, ''))
      .join('\n')
      .replace(/^\n+/, '')
      .replace(/\n*$/, '\n');
    if (body.replace(/^\s*(#.*)?$/gm, '').trim() === '') continue; // off by default (ServiceMonitor, PrometheusRule)
    files.set(t.file, `# Generated from helm/tributary/templates/${t.file} with the chart's default values by\n# tools/observability/src/render-k8s.ts: edit the chart, then regenerate; do not edit here.\n${body}`);
    resources.push(t.file);
  }
  files.set(
    'kustomization.yaml',
    [
      '# Tributary on Kubernetes without Helm: the chart\'s objects with default values.',
      '#   kubectl apply -k deploy/k8s',
      '# Overlays can patch replicas, storage sizes or the image (images: below).',
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      `namespace: ${PLAIN_RELEASE.namespace}`,
      'resources:',
      ...resources.map((r) => `  - ${r}`),
      '',
    ].join('\n'),
  );
  return files;
}

if (require.main === module) {
  const dir = path.join(DEPLOY_DIR, 'k8s');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.yaml')) fs.rmSync(path.join(dir, f));
  for (const [name, text] of plainManifests()) fs.writeFileSync(path.join(dir, name), text);
  console.log(`wrote ${dir}`);
}
