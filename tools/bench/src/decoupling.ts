/**
 * decoupling: the promise producers rely on — a consumer group that stops consuming does not
 * slow them down (the log decouples them; Kafka's brokers keep no per-consumer state on the
 * produce path).
 *
 * A cluster of processes (coordination, a controller, three brokers, a group coordinator);
 * topic `decoupling` of 6 partitions, replication factor 1 (the produce path most sensitive
 * to interference). Rounds alternate (to cancel drift of a shared machine):
 *   - alone: `tributary perf produce` (100-byte records, acks=1, unlimited rate) with no
 *     consumer group;
 *   - stalled group: the same, while a group of 3 consumers is stalled: they joined, read
 *     some records, committed, and then stopped polling (an application stuck in its
 *     processing) — still members, heartbeating in the background, their lag growing.
 * The figure of each mode is the median of its rounds; ratio = stalled / alone (target ≥ 0.9).
 */
import { Consumer } from '@tributary/client';
import type { Benchmark, BenchContext, Figures } from './harness';
import { round } from './harness';
import { profiling, runCli, startPerfCluster } from './perf-cluster';

const TOPIC = 'decoupling';
const GROUP = 'stalled-readers';

/** Three members of GROUP that read a little, commit, and then stop polling. */
async function stallGroup(bootstrap: string[], report: (line: string) => void): Promise<{ close(): Promise<void> }> {
  const consumers = [0, 1, 2].map(
    (i) =>
      new Consumer({
        bootstrap,
        clientId: `stalled-${i}`,
        groupId: GROUP,
        autoOffsetReset: 'earliest',
        enableAutoCommit: false,
        // Prefetch stays small: what a stuck application holds is bounded.
        maxBufferedBytes: 4 * 1024 * 1024,
      }),
  );
  for (const c of consumers) c.subscribe([TOPIC]);
  const read = consumers.map(() => 0);
  // Poll all three together until each has partitions and has read something.
  const deadline = Date.now() + 60_000;
  while (consumers.some((c, i) => c.assignment().length === 0 || read[i] === 0)) {
    if (Date.now() > deadline) throw new Error(`the stalled group did not form within 60 s (assignments ${consumers.map((c) => c.assignment().length).join('/')})`);
    await Promise.all(
      consumers.map(async (c, i) => {
        read[i] = read[i]! + (await c.poll(200)).length;
      }),
    );
  }
  await Promise.all(consumers.map((c) => c.commit()));
  report(`  stalled group '${GROUP}': 3 members (${consumers.map((c) => c.assignment().length).join('+')} partitions) read ${read.reduce((a, b) => a + b, 0)} records, committed, stopped polling`);
  return {
    async close() {
      await Promise.all(consumers.map((c) => c.close()));
    },
  };
}

const bench: Benchmark = {
  description: 'producer throughput alone vs with a stalled consumer group: perf produce of 100-byte records, acks=1, 6 partitions RF 1, 3 brokers + a group coordinator',
  async run(ctx: BenchContext): Promise<Figures> {
    const rounds = ctx.quick ? 2 : 3;
    const records = ctx.quick ? 500_000 : 2_000_000;
    ctx.report('starting a cluster (coordination, controller, 3 brokers, a group coordinator)');
    const perf = await startPerfCluster('decoupling', [{ name: TOPIC, partitions: 6, replicationFactor: 1 }], profiling(), { groupCoordinators: 1 });
    const bootstrap = perf.cluster.bootstrap;
    const produce = async (label: string): Promise<number> => {
      const run = await runCli(
        ['perf', 'produce', '--bootstrap', bootstrap, '--topic', TOPIC, '--num-records', String(records), '--record-size', '100', '--throughput', '-1', '--acks', '1', '--json'],
        [],
        () => undefined,
      );
      const rate = Math.round(run.result.records_per_s!);
      ctx.report(`  ${label}: ${rate.toLocaleString('en-US')} records/s, p99 ${run.result.latency_p99_ms} ms`);
      return rate;
    };
    try {
      // Records for the group to read before it stalls, and a warm-up of the produce path.
      await produce('warm-up');
      const alone: number[] = [];
      const stalled: number[] = [];
      for (let r = 1; r <= rounds; r++) {
        ctx.report(`round ${r} of ${rounds}: ${records.toLocaleString('en-US')} records each`);
        alone.push(await produce('alone'));
        const group = await stallGroup(bootstrap.split(','), ctx.report);
        try {
          stalled.push(await produce('stalled group'));
        } finally {
          await group.close();
        }
      }
      const median = (xs: number[]): number => {
        const sorted = [...xs].sort((a, b) => a - b);
        const mid = Math.floor(sorted.length / 2);
        return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
      };
      const a = median(alone);
      const s = median(stalled);
      ctx.report(`median: alone ${a.toLocaleString('en-US')} records/s, with a stalled group ${s.toLocaleString('en-US')} records/s, ratio ${round(s / a, 3)} (target ≥ 0.9)`);
      const brokerRss = [...perf.brokerPeaks().values()];
      const coordinatorRss = [...perf.groupCoordinatorPeaks().values()];
      return {
        producer_records_per_s_alone: a,
        producer_records_per_s_stalled_group: s,
        ratio: round(s / a, 3),
        rounds,
        records_per_round: records,
        broker_peak_rss_mb: Math.max(...brokerRss),
        group_coordinator_peak_rss_mb: Math.max(...coordinatorRss),
      };
    } finally {
      await perf.stop();
    }
  },
};

export default bench;
