/**
 * A latency histogram for the perf tools, HDR-style (log-linear buckets): values in whole
 * microseconds, exact below 2048 µs, then 1024 sub-buckets per power of two (relative error
 * below 0.1 %), up to 2^31 µs (≈ 35 min; larger values are clamped). Recording is a few integer
 * operations and one array increment — no allocation — because perf produce records one
 * value per record (hdr-histogram-js' JS build cost ≈ 5 % of the client's CPU there).
 * Percentiles are reported as the highest value of the bucket they fall in (as HdrHistogram's
 * `getValueAtPercentile`); count, sum and max are exact.
 */
const SUB_BITS = 10;
const SUB_COUNT = 1 << SUB_BITS;
const MAX_VALUE = 2 ** 31 - 1;
const BUCKETS = (31 - SUB_BITS) * SUB_COUNT + 2 * SUB_COUNT;

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private sum = 0;
  private max = 0;

  /** Records one value in microseconds (rounded to a whole microsecond). */
  record(valueUs: number): void {
    let v = Math.round(valueUs);
    if (v < 0) v = 0;
    else if (v > MAX_VALUE) v = MAX_VALUE;
    const msb = 31 - Math.clz32(v);
    const shift = msb > SUB_BITS ? msb - SUB_BITS : 0;
    this.counts[(shift << SUB_BITS) + (v >>> shift)]!++;
    this.total++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  get count(): number {
    return this.total;
  }

  /** Mean in microseconds (0 when empty). */
  get mean(): number {
    return this.total === 0 ? 0 : this.sum / this.total;
  }

  get maxValue(): number {
    return this.max;
  }

  /** The value below which `percentile` % of the values fall (0 when empty). */
  valueAtPercentile(percentile: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, percentile)) / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(highestValueOf(i), this.max);
    }
    return this.max;
  }
}

/** The largest value that lands in bucket `index`. */
function highestValueOf(index: number): number {
  if (index < 2 * SUB_COUNT) return index;
  const shift = (index >>> SUB_BITS) - 1;
  const mantissa = index - (shift << SUB_BITS);
  return (mantissa + 1) * 2 ** shift - 1;
}
