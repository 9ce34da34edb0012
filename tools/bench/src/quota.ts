/**
 * quota: a producer over its client quota is slowed to it, and another producer at the same
 * time is not (issue 9: "a producer over its byte rate is slowed to it, and other clients
 * are unaffected").
 *
 * A cluster of processes (coordination, a controller, one broker with the default quota
 * windows, 11 × 1 s); topic `quota` of 1 partition, RF 1. `producer_byte_rate` of 2 MiB/s is
 * set on client id `throttled` with the Admin API. Two SDK producers run at the same time,
 * each keeping as many 1 KiB records in flight as its buffer allows (acks=1):
 *   - `throttled`: its rate is measured after a warm-up, once the quota window holds only
 *     throttled traffic (Kafka lets a client burst at first: the rate is averaged over at
 *     least 10 windows);
 *   - `unthrottled`: no quota on its client id.
 * Figures: the quota, both achieved rates over the same interval, achieved / quota (target
 * ≤ 1.1 and about 1), and the broker's throttle times (tributary_quota_throttle_time_seconds).
 */
import { Admin, Producer } from '@tributary/client';
import { removeDir, startCluster, waitFor } from '@tributary/testing';
import type { Benchmark, BenchContext, Figures } from './harness';
import { MiB, round } from './harness';
import { peakRssOf } from './perf-cluster';

const TOPIC = 'quota';
const QUOTA = 2 * MiB;
const RECORD = Buffer.alloc(1024, 0x61);

interface Pump {
  /** Bytes acknowledged so far. */
  acked(): number;
  stop(): Promise<void>;
}

/** Sends RECORD continuously with at most `inFlight` records unacknowledged. */
function pump(producer: Producer, inFlight: number): Pump {
  let acked = 0;
  let outstanding = 0;
  let stopped = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped && failure === undefined) {
      if (outstanding >= inFlight) {
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      outstanding++;
      producer.send({ topic: TOPIC, value: RECORD }).then(
        () => {
          acked += RECORD.length;
          outstanding--;
          wake?.();
        },
        (e: unknown) => {
          failure ??= e;
          outstanding--;
          wake?.();
        },
      );
      // Let the acknowledgements in every so often.
      if (outstanding % 256 === 0) await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    acked: () => acked,
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      await producer.flush().catch(() => undefined);
      if (failure !== undefined) throw failure;
    },
  };
}

/** Sum and count of the broker's produce throttle histogram. */
function throttleOf(metrics: string): { sum: number; count: number } {
  const value = (suffix: string): number => {
    const line = metrics.split('\n').find((l) => l.startsWith(`tributary_quota_throttle_time_seconds_${suffix}{`) && l.includes('quota_type="produce"'));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  return { sum: value('sum'), count: value('count') };
}

const bench: Benchmark = {
  description: 'a producer with producer_byte_rate 2 MiB/s next to an unthrottled one: achieved rates against the quota (1 KiB records, acks=1, 1 broker, default quota windows 11 x 1 s)',
  async run(ctx: BenchContext): Promise<Figures> {
    const warmupS = ctx.quick ? 6 : 12;
    const measureS = ctx.quick ? 12 : 30;
    ctx.report('starting a cluster (coordination, controller, 1 broker)');
    const cluster = await startCluster({ name: 'bench-quota', brokers: 1, controllers: 1, logLevel: 'warn' });
    let brokerPeak = 0;
    const sampler = setInterval(() => (brokerPeak = Math.max(brokerPeak, peakRssOf(cluster.brokers.get(0)!.proc.pid) || 0)), 500);
    const bootstrap = [cluster.bootstrap];
    const admin = new Admin({ bootstrap });
    const producerOptions = { bootstrap, acks: 1 as const, lingerMs: 5, batchSize: 64 * 1024, bufferMemory: 8 * MiB };
    const throttledProducer = new Producer({ ...producerOptions, clientId: 'throttled' });
    const freeProducer = new Producer({ ...producerOptions, clientId: 'unthrottled' });
    try {
      await admin.createTopics([{ name: TOPIC, numPartitions: 1, replicationFactor: 1 }]);
      await waitFor(async () => (await freeProducer.send({ topic: TOPIC, value: RECORD }).catch(() => undefined)) !== undefined, { timeoutMs: 30_000, message: 'topic writable' });
      await admin.alterClientQuotas([{ entity: { clientId: 'throttled' }, ops: [{ key: 'producer_byte_rate', value: QUOTA }] }]);
      const described = await admin.describeClientQuotas({ components: [{ entityType: 'client-id', match: { kind: 'exact', name: 'throttled' } }] });
      ctx.report(`quota: ${JSON.stringify(described)}`);
      // The broker follows the change by watch; give it a moment before traffic starts.
      await new Promise((r) => setTimeout(r, 500));

      const throttled = pump(throttledProducer, 4096);
      const free = pump(freeProducer, 4096);
      ctx.report(`warm-up ${warmupS} s (both producers running)`);
      await new Promise((r) => setTimeout(r, warmupS * 1000));
      const t0 = Date.now();
      const a0 = throttled.acked();
      const b0 = free.acked();
      const m0 = throttleOf(await cluster.brokers.get(0)!.metrics());
      ctx.report(`measuring ${measureS} s`);
      for (let s = 1; s <= measureS; s++) {
        await new Promise((r) => setTimeout(r, 1000));
        if (s % 5 === 0) ctx.report(`  ${s} s: throttled ${round((throttled.acked() - a0) / ((Date.now() - t0) / 1000) / MiB, 2)} MiB/s, unthrottled ${round((free.acked() - b0) / ((Date.now() - t0) / 1000) / MiB, 2)} MiB/s`);
      }
      const elapsed = (Date.now() - t0) / 1000;
      const achieved = (throttled.acked() - a0) / elapsed;
      const unthrottled = (free.acked() - b0) / elapsed;
      const m1 = throttleOf(await cluster.brokers.get(0)!.metrics());
      await Promise.all([throttled.stop(), free.stop()]);
      const throttles = m1.count - m0.count;
      const meanThrottleMs = throttles > 0 ? ((m1.sum - m0.sum) * 1000) / throttles : 0;
      ctx.report(
        `quota ${round(QUOTA / MiB, 2)} MiB/s: throttled producer ${round(achieved / MiB, 3)} MiB/s (ratio ${round(achieved / QUOTA, 3)}), unthrottled producer ${round(unthrottled / MiB, 2)} MiB/s; ${throttles} throttled answers, mean ${round(meanThrottleMs, 1)} ms`,
      );
      return {
        quota_bytes_per_s: QUOTA,
        achieved_bytes_per_s: Math.round(achieved),
        achieved_ratio: round(achieved / QUOTA, 3),
        unthrottled_bytes_per_s: Math.round(unthrottled),
        unthrottled_over_quota: round(unthrottled / QUOTA, 2),
        throttled_responses: throttles,
        mean_throttle_ms: round(meanThrottleMs, 1),
        warmup_s: warmupS,
        measure_s: measureS,
        broker_peak_rss_mb: brokerPeak,
      };
    } finally {
      clearInterval(sampler);
      await Promise.all([throttledProducer.close(), freeProducer.close()]).catch(() => undefined);
      await admin.close();
      await cluster.stop();
      // The unthrottled producer writes GBs: do not leave them in the temp dir.
      removeDir(cluster.dataDir);
    }
  },
};

export default bench;
