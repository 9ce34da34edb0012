/**
 * Shared pieces of the benchmarks: the contract each benchmark module fulfils, timing and
 * formatting helpers. A benchmark prints human-readable lines as it goes through `report`,
 * and returns its figures; the runner prints them as the LAST stdout line, one JSON object
 * `{"bench":"<name>", ...figures, "peak_rss_mb": ...}`.
 */
export interface BenchContext {
  /** `--quick`: finish in under 30 s (smaller sizes, fewer repetitions). */
  quick: boolean;
  /** A fresh scratch directory, removed after the run. */
  scratchDir: string;
  /** Prints one human-readable line. */
  report(line: string): void;
}

export type Figures = Record<string, number | string | boolean>;

export interface Benchmark {
  /** One sentence: what is measured. */
  description: string;
  run(ctx: BenchContext): Promise<Figures>;
}

/** High-resolution seconds since an arbitrary origin. */
export function nowSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** Runs `fn` `times` times and returns the median of the values it returns. */
export async function medianOf(times: number, fn: (round: number) => Promise<number> | number): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < times; i++) values.push(await fn(i));
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)] ?? NaN;
}

/** Rounds to `digits` significant decimals for the JSON line. */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const MiB = 1024 * 1024;

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMb(): number {
  return round(process.resourceUsage().maxRSS / 1024, 1);
}

/** Deterministic PRNG (mulberry32), so every run encodes the same bytes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
