/**
 * The quota manager of one broker (Kafka's ClientQuotaManager / ClientRequestQuotaManager):
 * one {@link SampledRate} per quota type and "who shares it" (the quota metric tags of
 * model.ts), created on first use and dropped after an hour without use (Kafka's inactive
 * sensor expiration).
 *
 * `record(type, user, clientId, value)` resolves the quota of (user, client id) for that type
 * (precedence in model.ts, from the current quota config: a change applies at the next
 * request), adds `value` to the rate and answers the throttle time (rate.ts). Without a quota
 * nothing is recorded and the answer is 0.
 *
 * Values: bytes for the byte rates; for request_percentage, the request's time converted as
 * Kafka does (`ms × 100 / 1000`, so the rate per second is a percentage of one thread).
 *
 * Concurrency: single-threaded (Node); the clock is injectable for tests.
 */
import { describeEntity, resolveQuota, type QuotaEntity, type QuotaKey } from './model';
import { DEFAULT_QUOTA_SAMPLES, DEFAULT_QUOTA_WINDOW_MS, SampledRate, throttleTimeMs } from './rate';

/** Sensors unused for this long are dropped (Kafka's 1 hour). */
export const QUOTA_SENSOR_EXPIRATION_MS = 60 * 60_000;

export interface ClientQuotaManagerOptions {
  /** The quota values stored on an entity (a QuotaCache's `valuesOf`). */
  lookup(entity: QuotaEntity): Partial<Record<QuotaKey, number>> | undefined;
  /** quota.window.num (default 11). */
  samples?: number;
  /** quota.window.size.seconds × 1000 (default 1000). */
  windowMs?: number;
  now?: () => number;
}

/** The outcome of one {@link ClientQuotaManager.record}. */
export interface QuotaRecordResult {
  /** How long to delay the answer (0: within the quota, or no quota). */
  throttleMs: number;
  /** The bound that applied, if any. */
  bound?: number;
}

interface Sensor {
  type: QuotaKey;
  /** `user=…, client-id=…` of the entity the quota was found on (metric label). */
  entity: string;
  rate: SampledRate;
}

/** Converts a request's handling time to request_percentage units (percent-seconds), as Kafka. */
export function requestTimeToPercentUnits(ms: number): number {
  return (ms * 100) / 1000;
}

export class ClientQuotaManager {
  private readonly sensors = new Map<string, Sensor>();
  private readonly samples: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private lastSweepMs: number;

  constructor(private readonly options: ClientQuotaManagerOptions) {
    this.samples = options.samples ?? DEFAULT_QUOTA_SAMPLES;
    this.windowMs = options.windowMs ?? DEFAULT_QUOTA_WINDOW_MS;
    this.now = options.now ?? Date.now;
    this.lastSweepMs = this.now();
  }

  /** The longest throttle (Kafka's maxThrottleTimeMs: samples × window). */
  get maxThrottleMs(): number {
    return this.samples * this.windowMs;
  }

  /** Records `value` for (user, clientId) against its `type` quota and answers the throttle time. */
  record(type: QuotaKey, user: string, clientId: string, value: number): QuotaRecordResult {
    const now = this.now();
    if (now - this.lastSweepMs >= 60_000) this.sweep(now);
    const quota = resolveQuota((e) => this.options.lookup(e), type, user, clientId);
    if (!quota) return { throttleMs: 0 };
    const key = `${type}\u0000${quota.userTag}\u0000${quota.clientTag}`;
    const entity = describeEntity(quota.entity);
    let sensor = this.sensors.get(key);
    if (!sensor) {
      sensor = { type, entity, rate: new SampledRate({ samples: this.samples, windowMs: this.windowMs }, now) };
      this.sensors.set(key, sensor);
    }
    sensor.entity = entity;
    sensor.rate.record(value, now);
    const rate = sensor.rate.rate(now);
    return { throttleMs: throttleTimeMs(rate, quota.bound, sensor.rate.windowSizeMs(now), this.maxThrottleMs), bound: quota.bound };
  }

  /**
   * The observed rates summed per quota type and entity the quota was set on (bounded by the
   * quota config: one row per configured entity in use), for metrics.
   */
  rates(): Array<{ type: QuotaKey; entity: string; rate: number }> {
    const now = this.now();
    const sums = new Map<string, { type: QuotaKey; entity: string; rate: number }>();
    for (const s of this.sensors.values()) {
      const k = `${s.type}\u0000${s.entity}`;
      const row = sums.get(k) ?? { type: s.type, entity: s.entity, rate: 0 };
      row.rate += s.rate.rate(now);
      sums.set(k, row);
    }
    return [...sums.values()];
  }

  /** Sensors alive. */
  get size(): number {
    return this.sensors.size;
  }

  private sweep(now: number): void {
    this.lastSweepMs = now;
    for (const [k, s] of this.sensors) if (now - s.rate.lastRecordMs >= QUOTA_SENSOR_EXPIRATION_MS) this.sensors.delete(k);
  }
}
