import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BROKER_NODE_FLAGS } from './node-flags';

const REPO_ROOT = join(__dirname, '..', '..', '..');

/**
 * A node process that keeps ~30 MiB of objects (promoted to the old generation by the
 * scavenges that the garbage beside them causes) and prints how many full (mark-compact) GCs
 * it ran, counted by a `gc` PerformanceObserver.
 */
const CHILD = `
const { PerformanceObserver, constants } = require('node:perf_hooks');
let major = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.detail && e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
}).observe({ entryTypes: ['gc'] });
const keep = [];
for (let i = 0; i < 28 * 1024; i++) {
  keep.push(new Array(128).fill(i));
  for (let j = 0; j < 4; j++) new Array(128).fill(j);
}
setTimeout(() => process.stdout.write(JSON.stringify({ major, kept: keep.length })), 100);
`;

function fullGcsOf(flags: readonly string[]): number {
  const out = execFileSync(process.execPath, [...flags, '-e', CHILD], { encoding: 'utf8' });
  const r = JSON.parse(out) as { major: number; kept: number };
  expect(r.kept).toBe(28 * 1024);
  return r.major;
}

it("the broker's flags keep a small old generation from full GCs that V8's default limit runs", () => {
  // Without the floor, keeping ~30 MiB already passes V8's old-generation limit: at least one
  // full GC (this is what made a busy broker collect every ~100 ms).
  expect(fullGcsOf([])).toBeGreaterThanOrEqual(1);
  // With BROKER_NODE_FLAGS the same heap stays under the 128 MiB floor: none.
  expect(fullGcsOf(BROKER_NODE_FLAGS)).toBe(0);
});

it('every launcher of the broker passes the same flags (Docker entrypoint, test clusters)', () => {
  const entrypoint = readFileSync(join(REPO_ROOT, 'deploy', 'docker', 'entrypoint.sh'), 'utf8');
  const cluster = readFileSync(join(REPO_ROOT, 'libs', 'testing', 'src', 'cluster.ts'), 'utf8');
  for (const flag of BROKER_NODE_FLAGS) {
    expect({ flag, entrypoint: entrypoint.includes(`node_flags="${flag}"`) }).toEqual({ flag, entrypoint: true });
    expect({ flag, cluster: cluster.includes(`BROKER_NODE_FLAGS: readonly string[] = ['${flag}']`) }).toEqual({ flag, cluster: true });
  }
});
