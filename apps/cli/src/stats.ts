/**
 * Figures of `perf produce` / `perf consume`: counts, bytes, and (produce) per-record
 * latency in a log-linear histogram (microsecond values, histogram.ts), plus the window
 * figures of the live progress line (records, bytes, latency sum and max since the last line)
 * and the progress line itself — a bar rewritten in place when stderr is a terminal, a
 * kafka-producer-perf-test style line every `intervalMs` otherwise.
 */
import type { Writable } from 'node:stream';
import { LatencyHistogram } from './histogram';

const MB = 1024 * 1024;

/** Latency figures in milliseconds. */
export interface LatencySummary {
  avgMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export class LatencyRecorder {
  private readonly histogram = new LatencyHistogram();
  /** Window (since the last progress line): count, sum and max in microseconds. */
  windowCount = 0;
  windowSumUs = 0;
  windowMaxUs = 0;

  /** Records one latency in microseconds. */
  record(us: number): void {
    const v = Math.round(us);
    this.histogram.record(v);
    this.windowCount++;
    this.windowSumUs += v;
    if (v > this.windowMaxUs) this.windowMaxUs = v;
  }

  resetWindow(): void {
    this.windowCount = 0;
    this.windowSumUs = 0;
    this.windowMaxUs = 0;
  }

  get count(): number {
    return this.histogram.count;
  }

  summary(): LatencySummary {
    const h = this.histogram;
    const ms = (us: number): number => us / 1000;
    if (h.count === 0) return { avgMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
    return {
      avgMs: ms(h.mean),
      p50Ms: ms(h.valueAtPercentile(50)),
      p95Ms: ms(h.valueAtPercentile(95)),
      p99Ms: ms(h.valueAtPercentile(99)),
      p999Ms: ms(h.valueAtPercentile(99.9)),
      maxMs: ms(h.maxValue),
    };
  }
}

/** records/s and MB/s (MiB, as Kafka's perf tools) over `elapsedMs`. */
export function rates(records: number, bytes: number, elapsedMs: number): { recordsPerS: number; mbPerS: number } {
  const s = Math.max(elapsedMs, 1e-3) / 1000;
  return { recordsPerS: records / s, mbPerS: bytes / MB / s };
}

/** Rounds for JSON output: `digits` decimals. */
export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** The live progress line. */
export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private lastMs: number;
  private lastRecords = 0;
  private lastBytes = 0;
  private drawn = false;

  /**
   * @param read current totals (records, bytes) and, for produce, the window latency figures
   * @param verb 'sent' or 'consumed'
   */
  constructor(
    private readonly out: Writable,
    private readonly tty: boolean,
    private readonly intervalMs: number,
    private readonly total: number,
    private readonly verb: string,
    private readonly read: () => { records: number; bytes: number },
    private readonly latency?: LatencyRecorder,
  ) {
    this.lastMs = performance.now();
  }

  start(): void {
    this.lastMs = performance.now();
    this.timer = setInterval(() => this.tick(), this.tty ? 250 : this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and clears the bar (periodic lines stay). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }

  private tick(): void {
    const now = performance.now();
    const { records, bytes } = this.read();
    const { recordsPerS, mbPerS } = rates(records - this.lastRecords, bytes - this.lastBytes, now - this.lastMs);
    const l = this.latency;
    const lat = l === undefined || l.windowCount === 0 ? undefined : { avgMs: l.windowSumUs / l.windowCount / 1000, maxMs: l.windowMaxUs / 1000 };
    if (this.tty) {
      const width = 24;
      const fraction = Number.isFinite(this.total) && this.total > 0 ? Math.min(1, records / this.total) : 0;
      const filled = Math.round(fraction * width);
      const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`;
      const latText = lat === undefined ? '' : `  avg ${lat.avgMs.toFixed(2)} ms  max ${lat.maxMs.toFixed(2)} ms`;
      this.out.write(`\r\x1b[K${bar}  ${records}${Number.isFinite(this.total) ? `/${this.total}` : ''} records  ${recordsPerS.toFixed(0)} rec/s  ${mbPerS.toFixed(2)} MB/s${latText}`);
      this.drawn = true;
    } else {
      const latText = lat === undefined ? '' : `, ${lat.avgMs.toFixed(2)} ms avg latency, ${lat.maxMs.toFixed(2)} ms max latency`;
      this.out.write(`${records - this.lastRecords} records ${this.verb}, ${recordsPerS.toFixed(1)} records/sec (${mbPerS.toFixed(2)} MB/sec)${latText}.\n`);
    }
    // The bar shows the figures of the last interval but redraws often: keep a longer window.
    if (!this.tty || now - this.lastMs >= 1000) {
      this.lastMs = now;
      this.lastRecords = records;
      this.lastBytes = bytes;
      l?.resetWindow();
    }
  }
}
