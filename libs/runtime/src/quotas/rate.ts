/**
 * Kafka's sampled rate and quota throttle maths (org.apache.kafka.common.metrics.stats.Rate
 * over SampledStat, and ClientQuotaManager.throttleTime), with an injectable clock.
 *
 * A {@link SampledRate} keeps `samples` windows of `windowMs` each (Kafka's
 * quota.window.num = 11, quota.window.size.seconds = 1). A value is added to the current
 * window; a window older than samples × windowMs is discarded (reset when reused). The rate
 * is the sum over the live windows divided by the time they cover, and that time is at least
 * (samples − 1) windows, so a burst right after start does not read as a huge rate (Kafka's
 * `Rate.windowSize`).
 *
 * Throttle time (KIP-13, ClientQuotaManager.throttleTime): when the observed rate O is above
 * the quota Q, the client must stay silent for (O − Q) / Q × W, where W is the window the
 * rate was measured over: after that long with nothing more, the rate over the longer window
 * is back at Q. Capped at samples × windowMs (Kafka's maxThrottleTimeMs).
 */

/** Options of a {@link SampledRate}. */
export interface SampledRateOptions {
  /** Number of sample windows (Kafka's quota.window.num, default 11). */
  samples: number;
  /** Length of one window in ms (Kafka's quota.window.size.seconds × 1000, default 1000). */
  windowMs: number;
}

export const DEFAULT_QUOTA_SAMPLES = 11;
export const DEFAULT_QUOTA_WINDOW_MS = 1000;

interface Sample {
  startMs: number;
  value: number;
}

/** A rate per second over sampled windows (Kafka's `Rate` with `SampledStat`). */
export class SampledRate {
  private readonly samples: Sample[] = [];
  private current = 0;
  /** Last time a value was recorded (for idle expiry). */
  lastRecordMs: number;

  constructor(
    private readonly options: SampledRateOptions,
    nowMs: number,
  ) {
    if (!(options.samples >= 2) || !(options.windowMs > 0)) throw new RangeError(`a sampled rate needs at least 2 samples and a positive window, not ${options.samples} × ${options.windowMs} ms`);
    this.samples.push({ startMs: nowMs, value: 0 });
    this.lastRecordMs = nowMs;
  }

  /** Adds `value` at `nowMs`. */
  record(value: number, nowMs: number): void {
    this.advance(nowMs).value += value;
    this.lastRecordMs = nowMs;
  }

  /** The rate per second at `nowMs`. */
  rate(nowMs: number): number {
    this.purgeObsolete(nowMs);
    let total = 0;
    for (const s of this.samples) total += s.value;
    return (total * 1000) / this.windowSizeMs(nowMs);
  }

  /** The time the rate is measured over at `nowMs` (Kafka's Rate.windowSize): at least samples − 1 full windows. */
  windowSizeMs(nowMs: number): number {
    this.purgeObsolete(nowMs);
    const { samples, windowMs } = this.options;
    let oldest = this.samples[0]!.startMs;
    for (const s of this.samples) oldest = Math.min(oldest, s.startMs);
    let elapsed = nowMs - oldest;
    const fullWindows = Math.floor(elapsed / windowMs);
    if (fullWindows < samples - 1) elapsed += (samples - 1 - fullWindows) * windowMs;
    return Math.max(elapsed, 1);
  }

  /** The current sample, a new (or recycled) one when the current window has passed. */
  private advance(nowMs: number): Sample {
    const { samples, windowMs } = this.options;
    let sample = this.samples[this.current]!;
    if (nowMs < sample.startMs + windowMs) return sample;
    this.current = (this.current + 1) % samples;
    if (this.current >= this.samples.length) {
      sample = { startMs: nowMs, value: 0 };
      this.samples.push(sample);
    } else {
      sample = this.samples[this.current]!;
      sample.startMs = nowMs;
      sample.value = 0;
    }
    return sample;
  }

  /** Resets windows that ended more than samples × windowMs ago (Kafka's purgeObsoleteSamples). */
  private purgeObsolete(nowMs: number): void {
    const expireAge = this.options.samples * this.options.windowMs;
    for (const s of this.samples) {
      if (nowMs - s.startMs >= expireAge) {
        s.startMs = nowMs;
        s.value = 0;
      }
    }
  }
}

/**
 * The throttle time in ms for an observed `rate` against `bound` measured over
 * `windowSizeMs` (0 when within the quota), capped at `maxMs`.
 */
export function throttleTimeMs(rate: number, bound: number, windowSizeMs: number, maxMs: number): number {
  if (!(bound > 0) || rate <= bound) return 0;
  return Math.min(maxMs, Math.round(((rate - bound) / bound) * windowSizeMs));
}
