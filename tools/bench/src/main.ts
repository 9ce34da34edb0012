/**
 * `npm run bench -- <name> [--quick]`: runs the benchmark module `./<name>` (in
 * tools/bench/src), prints its human-readable figures and, as the LAST stdout line, one JSON
 * object `{"bench":"<name>", ...figures, "peak_rss_mb": N}`. Exit code 1 on failure.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Benchmark } from './harness';
import { peakRssMb } from './harness';

const HELPERS = new Set(['main', 'harness', 'perf-cluster', 'secure-perf-producer']);

function available(): string[] {
  return readdirSync(__dirname)
    .filter((f) => f.endsWith('.js') && !f.endsWith('.spec.js'))
    .map((f) => f.slice(0, -3))
    .filter((n) => !HELPERS.has(n))
    .sort();
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const name = args.find((a) => !a.startsWith('--'));
  const names = available();
  if (!name || !names.includes(name)) {
    console.error(`usage: npm run bench -- <name> [--quick]   (benchmarks: ${names.join(', ')})`);
    process.exit(2);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bench = (require(join(__dirname, name)) as { default: Benchmark }).default;
  const scratchDir = mkdtempSync(join(process.env.TRIBUTARY_BENCH_DIR ?? tmpdir(), `bench-${name}-`));
  console.log(`# ${name}: ${bench.description}${quick ? ' (quick)' : ''}`);
  try {
    const figures = await bench.run({ quick, scratchDir, report: (line) => console.log(line) });
    console.log(JSON.stringify({ bench: name, ...figures, peak_rss_mb: peakRssMb() }));
  } finally {
    rmSync(scratchDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
