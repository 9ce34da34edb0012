/**
 * Client quotas on the broker (Kafka's ClientQuotaManager for Produce and Fetch, and
 * ClientRequestQuotaManager): `producer_byte_rate`, `consumer_byte_rate` and
 * `request_percentage` per user and/or client id, from the coordination store (libs/runtime
 * QuotaCache: loaded at start, followed by watch, so a change applies within seconds without
 * a restart).
 *
 * Who: the user is the call's principal name (`principalOf(ctx)`: `ANONYMOUS` without
 * authentication, so `<default>` user quotas apply to anonymous clients), the client id the
 * `tributary-client-id` call metadata the SDK sends (URI-encoded; '' when absent).
 *
 * What is counted (per broker, as in Kafka):
 * - Produce: the record bytes of the request (Kafka records the request size) against
 *   producer_byte_rate;
 * - Fetch (consumers only; replica fetches are never throttled): the record bytes answered,
 *   against consumer_byte_rate;
 * - both: the time the broker spent on the request, against request_percentage (percent of one
 *   thread over the quota window). Approximation: Node runs handlers on one thread, so this
 *   is the wall time from the call's arrival to its answer being ready, which includes awaits
 *   (disk, acks=all replication); a Fetch that answers no records counts 0 (its time was the
 *   long-poll wait, which Kafka's request quota does not count either).
 *
 * Enforcement is throttling, never dropping: the data is appended (or read) as usual, then
 * the answer is held back by the throttle time (rate.ts) and carries it in
 * `throttle_time_ms`; the larger of the byte-rate and request throttles applies. A cancelled
 * call stops waiting.
 */
import type { CoordinationClient } from '@tributary/coordination-client';
import type { FetchResponse, ProduceRequest, ProduceResponse } from '@tributary/proto';
import type { Logger, Metrics, QuotaKey } from '@tributary/runtime';
import { CLIENT_ID_METADATA_KEY, ClientQuotaManager, QuotaCache, principalName, principalOf, requestTimeToPercentUnits } from '@tributary/runtime';

/** What of a handler context the quotas need. */
export interface QuotaCallContext {
  readonly principal: Parameters<typeof principalOf>[0]['principal'];
  readonly metadata: { get(key: string): Array<string | Buffer> };
  readonly signal?: AbortSignal;
}

export interface BrokerQuotasOptions {
  /** quota.window.num */
  samples: number;
  /** quota.window.size.seconds */
  windowSeconds: number;
  metrics: Metrics;
  logger: Logger;
}

/** The client id of a call ('' when the client sent none). */
export function clientIdOf(ctx: Pick<QuotaCallContext, 'metadata'>): string {
  const raw = ctx.metadata.get(CLIENT_ID_METADATA_KEY)[0];
  if (raw === undefined) return '';
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The user name quotas key on (the principal's name; ANONYMOUS without authentication). */
export function quotaUserOf(ctx: Pick<QuotaCallContext, 'principal'>): string {
  const principal = principalOf(ctx);
  return principalName(principal) ?? principal;
}

const sleep = (ms: number, signal: AbortSignal | undefined): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

export class BrokerQuotas {
  private cache: QuotaCache | undefined;
  readonly manager: ClientQuotaManager;
  private readonly throttleSeconds;

  constructor(private readonly options: BrokerQuotasOptions) {
    this.manager = new ClientQuotaManager({
      lookup: (entity) => this.cache?.valuesOf(entity),
      samples: options.samples,
      windowMs: options.windowSeconds * 1000,
    });
    const { metrics } = options;
    this.throttleSeconds = metrics.histogram({
      name: 'tributary_quota_throttle_time_seconds',
      help: 'Delay added to answers of clients over a quota (the throttle_time_ms they got), by quota type: produce, fetch (byte rates) or request (request_percentage, when it was the larger); throttled answers only',
      labelNames: ['quota_type'],
    });
    const manager = this.manager;
    metrics.gauge({
      name: 'tributary_quota_byte_rate_bytes_per_second',
      help: 'Byte rate observed by this broker against each configured quota (producer_byte_rate, consumer_byte_rate), summed per entity the quota is set on (user=…, client-id=…, <default> for default entities), over the quota window',
      labelNames: ['quota', 'entity'],
      collect() {
        this.reset();
        for (const r of manager.rates()) if (r.type !== 'request_percentage') this.set({ quota: r.type, entity: r.entity }, r.rate);
      },
    });
    metrics.gauge({
      name: 'tributary_quota_request_time_ratio',
      help: 'Request handling time observed by this broker against each configured request_percentage quota, as a fraction of one thread (1 = 100 %), summed per entity the quota is set on',
      labelNames: ['entity'],
      collect() {
        this.reset();
        for (const r of manager.rates()) if (r.type === 'request_percentage') this.set({ entity: r.entity }, r.rate / 100);
      },
    });
  }

  /** Loads the quotas and follows changes (quotas apply once loaded; until then nobody is throttled). */
  start(client: CoordinationClient): void {
    this.cache = new QuotaCache(client, { logger: this.options.logger });
    this.cache.onChange(() => this.options.logger.debug({ entities: this.cache?.all().length ?? 0 }, 'client quotas reloaded'));
    this.cache.start().catch((e: unknown) => this.options.logger.warn({ err: e }, 'loading client quotas failed; retried at the next quota change'));
  }

  stop(): void {
    this.cache?.stop();
  }

  /** Counts a Produce against the caller's quotas and delays its answer by the throttle time (set in throttle_time_ms). */
  async produce(ctx: QuotaCallContext, request: ProduceRequest, startedMs: number, response: ProduceResponse): Promise<ProduceResponse> {
    let bytes = 0;
    for (const t of request.topics) for (const p of t.partitions) bytes += p.records.length;
    return this.throttle(ctx, 'producer_byte_rate', 'produce', bytes, Date.now() - startedMs, response);
  }

  /** Counts a consumer Fetch against the caller's quotas and delays its answer by the throttle time. */
  async fetch(ctx: QuotaCallContext, startedMs: number, response: FetchResponse): Promise<FetchResponse> {
    let bytes = 0;
    for (const t of response.topics) for (const p of t.partitions) bytes += p.records.length;
    return this.throttle(ctx, 'consumer_byte_rate', 'fetch', bytes, bytes > 0 ? Date.now() - startedMs : 0, response);
  }

  private async throttle<R extends { throttleTimeMs: number }>(ctx: QuotaCallContext, key: QuotaKey, kind: string, bytes: number, elapsedMs: number, response: R): Promise<R> {
    if (!this.cache || this.cache.all().length === 0) return response;
    const user = quotaUserOf(ctx);
    const clientId = clientIdOf(ctx);
    const byBytes = this.manager.record(key, user, clientId, bytes).throttleMs;
    const byTime = this.manager.record('request_percentage', user, clientId, requestTimeToPercentUnits(elapsedMs)).throttleMs;
    const throttleMs = Math.max(byBytes, byTime);
    if (throttleMs <= 0) return response;
    this.throttleSeconds.observe({ quota_type: byBytes >= byTime ? kind : 'request' }, throttleMs / 1000);
    await sleep(throttleMs, ctx.signal);
    response.throttleTimeMs = throttleMs;
    return response;
  }
}
