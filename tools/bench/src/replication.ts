/**
 * replication: acks=all produce to a topic replicated on three brokers. Starts a cluster
 * (embedded coordination, a controller, three brokers as processes), creates a topic of 6
 * partitions with replication factor 3, and runs the CLI's `perf produce` (100-byte records,
 * acks=all, unlimited rate), then `perf produce` capped at 10,000 records/s for the latency
 * figure — each a separate `tributary` process. An acks=all answer waits until every in-sync
 * replica has the records (the leader's high watermark is the smallest log end of the ISR),
 * so every acknowledged record is on all three brokers.
 */
import type { Benchmark, BenchContext, Figures } from './harness';
import { round } from './harness';
import { profiling, runCli, startPerfCluster } from './perf-cluster';

const bench: Benchmark = {
  description: 'acks=all perf produce through the tributary CLI to 3 brokers, replication factor 3: 100-byte records, 6 partitions',
  async run(ctx: BenchContext): Promise<Figures> {
    const profile = profiling();
    const records = ctx.quick ? 500_000 : 2_000_000;
    const latencySeconds = ctx.quick ? 5 : 15;
    ctx.report(`starting a cluster (coordination, controller, 3 brokers)${profile.enabled ? `; CPU profiles to ${profile.dir}` : ''}`);
    const perf = await startPerfCluster(
      'replication',
      ['replicated', 'replicated-latency'].map((name) => ({ name, partitions: 6, replicationFactor: 3 })),
      profile,
    );
    try {
      const bootstrap = perf.cluster.bootstrap;
      ctx.report(`perf produce: ${records.toLocaleString('en-US')} records of 100 bytes, unlimited rate, acks=all, RF 3`);
      const produce = await runCli(
        ['perf', 'produce', '--bootstrap', bootstrap, '--topic', 'replicated', '--num-records', String(records), '--record-size', '100', '--throughput', '-1', '--acks', 'all', '--json'],
        profile.cliArgs('cli-produce-rf3'),
        ctx.report,
      );
      ctx.report(
        `  ${Math.round(produce.result.records_per_s!).toLocaleString('en-US')} records/s, ${round(produce.result.mb_per_s!, 1)} MB/s; client peak RSS ${produce.peakRssMb} MiB`,
      );
      ctx.report(`perf produce at a fixed 10,000 records/s for ${latencySeconds} s (acks=all, RF 3)`);
      const fixed = await runCli(
        ['perf', 'produce', '--bootstrap', bootstrap, '--topic', 'replicated-latency', '--num-records', String(10_000 * latencySeconds), '--record-size', '100', '--throughput', '10000', '--acks', 'all', '--json'],
        profile.cliArgs('cli-produce-rf3-10k'),
        ctx.report,
      );
      ctx.report(`  latency avg ${fixed.result.latency_avg_ms} ms, p50 ${fixed.result.latency_p50_ms} ms, p99 ${fixed.result.latency_p99_ms} ms, p99.9 ${fixed.result.latency_p999_ms} ms`);
      const brokerRss = [...perf.brokerPeaks().entries()].sort((a, b) => a[0] - b[0]);
      ctx.report(`broker peak RSS: ${brokerRss.map(([id, mb]) => `broker ${id} ${mb} MiB`).join(', ')}`);
      return {
        records_per_s: Math.round(produce.result.records_per_s!),
        mb_per_s: round(produce.result.mb_per_s!, 1),
        p50_ms_at_10k: fixed.result.latency_p50_ms!,
        p99_ms_at_10k: fixed.result.latency_p99_ms!,
        p999_ms_at_10k: fixed.result.latency_p999_ms!,
        records,
        producer_peak_rss_mb: produce.peakRssMb,
        broker_peak_rss_mb: Math.max(...brokerRss.map(([, mb]) => mb)),
      };
    } finally {
      await perf.stop();
    }
  },
};

export default bench;
