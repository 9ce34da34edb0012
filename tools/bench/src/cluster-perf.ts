/**
 * cluster-perf: the whole path, client and cluster on this machine. Starts a cluster
 * (embedded coordination, a controller, three brokers as processes), creates a topic of 6
 * partitions with replication factor 1, and runs the CLI's `perf produce` (100-byte records,
 * acks=1, unlimited throughput), then `perf consume` of everything produced, then `perf
 * produce` capped at 10,000 records/s for the latency figure — each as a separate `tributary`
 * process, as a user would run them.
 *
 * Memory: the peak RSS (VmHWM) of every broker and of each CLI run. `--profile` (env
 * TRIBUTARY_BENCH_PROFILE=1) writes CPU profiles of the brokers and the CLI runs to
 * `./.tributary/profiles/` (open them in Chrome DevTools).
 */
import type { Benchmark, BenchContext, Figures } from './harness';
import { round } from './harness';
import { profiling, runCli, startPerfCluster } from './perf-cluster';

const bench: Benchmark = {
  description: 'perf produce / perf consume through the tributary CLI against a local cluster of 3 brokers: 100-byte records, 6 partitions, acks=1, RF 1',
  async run(ctx: BenchContext): Promise<Figures> {
    const profile = profiling();
    const profArgs = profile.cliArgs;
    const records = ctx.quick ? 1_000_000 : 5_000_000;
    const latencySeconds = ctx.quick ? 5 : 15;

    ctx.report(`starting a cluster (coordination, controller, 3 brokers)${profile.enabled ? `; CPU profiles to ${profile.dir}` : ''}`);
    const perf = await startPerfCluster(
      'cluster-perf',
      ['perf', 'perf-latency'].map((name) => ({ name, partitions: 6, replicationFactor: 1 })),
      profile,
    );
    try {
      const bootstrap = perf.cluster.bootstrap;
      ctx.report(`perf produce: ${records.toLocaleString('en-US')} records of 100 bytes, unlimited rate, acks=1`);
      const produce = await runCli(
        ['perf', 'produce', '--bootstrap', bootstrap, '--topic', 'perf', '--num-records', String(records), '--record-size', '100', '--throughput', '-1', '--acks', '1', '--json'],
        profArgs('cli-produce'),
        ctx.report,
      );
      ctx.report(
        `  ${Math.round(produce.result.records_per_s!).toLocaleString('en-US')} records/s, ${round(produce.result.mb_per_s!, 1)} MB/s, latency p50 ${produce.result.latency_p50_ms} ms, p99 ${produce.result.latency_p99_ms} ms; client peak RSS ${produce.peakRssMb} MiB`,
      );

      ctx.report(`perf consume: ${records.toLocaleString('en-US')} records from the beginning`);
      const consume = await runCli(
        ['perf', 'consume', '--bootstrap', bootstrap, '--topic', 'perf', '--messages', String(records), '--timeout-ms', '60000', '--json'],
        profArgs('cli-consume'),
        ctx.report,
      );
      ctx.report(`  ${Math.round(consume.result.records_per_s!).toLocaleString('en-US')} records/s, ${round(consume.result.mb_per_s!, 1)} MB/s; client peak RSS ${consume.peakRssMb} MiB`);

      const latencyRecords = 10_000 * latencySeconds;
      ctx.report(`perf produce at a fixed 10,000 records/s for ${latencySeconds} s (acks=1)`);
      const fixed = await runCli(
        ['perf', 'produce', '--bootstrap', bootstrap, '--topic', 'perf-latency', '--num-records', String(latencyRecords), '--record-size', '100', '--throughput', '10000', '--acks', '1', '--json'],
        profArgs('cli-produce-10k'),
        ctx.report,
      );
      ctx.report(`  latency avg ${fixed.result.latency_avg_ms} ms, p50 ${fixed.result.latency_p50_ms} ms, p99 ${fixed.result.latency_p99_ms} ms, p99.9 ${fixed.result.latency_p999_ms} ms, max ${fixed.result.latency_max_ms} ms`);

      const brokerRss = [...perf.brokerPeaks().entries()].sort((a, b) => a[0] - b[0]);
      ctx.report(`broker peak RSS: ${brokerRss.map(([id, mb]) => `broker ${id} ${mb} MiB`).join(', ')}`);
      return {
        produce_records_per_s: Math.round(produce.result.records_per_s!),
        produce_mb_per_s: round(produce.result.mb_per_s!, 1),
        produce_p99_ms: produce.result.latency_p99_ms!,
        consume_records_per_s: Math.round(consume.result.records_per_s!),
        consume_mb_per_s: round(consume.result.mb_per_s!, 1),
        produce_p50_ms_at_10k: fixed.result.latency_p50_ms!,
        produce_p99_ms_at_10k: fixed.result.latency_p99_ms!,
        produce_p999_ms_at_10k: fixed.result.latency_p999_ms!,
        records: records,
        producer_peak_rss_mb: produce.peakRssMb,
        consumer_peak_rss_mb: consume.peakRssMb,
        broker_peak_rss_mb: Math.max(...brokerRss.map(([, mb]) => mb)),
      };
    } finally {
      await perf.stop();
    }
  },
};

export default bench;
