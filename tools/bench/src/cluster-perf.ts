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
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AdminServiceClient, BrokerServiceClient } from '@tributary/proto';
import { createClient, unary } from '@tributary/runtime';
import { WORKSPACE_ROOT, spawnProcess, startCluster, waitFor } from '@tributary/testing';
import type { SpawnedProcess } from '@tributary/testing';
import type { Benchmark, BenchContext, Figures } from './harness';
import { round } from './harness';

const CLI_MAIN = join(WORKSPACE_ROOT, 'apps', 'cli', 'dist', 'main.js');

/** Peak resident set size of a running process, in MiB (Linux /proc). */
function peakRssOf(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmHWM:'));
    return line ? round(Number(line.replace(/\D+/g, '')) / 1024, 1) : NaN;
  } catch {
    return NaN;
  }
}

/** Runs the CLI with `args`, streaming its progress lines, and returns the JSON object of its last stdout line and its peak RSS. */
async function runCli(args: string[], nodeArgs: string[], report: (line: string) => void): Promise<{ result: Record<string, number>; peakRssMb: number }> {
  const proc: SpawnedProcess = spawnProcess({ command: process.execPath, args: [...nodeArgs, CLI_MAIN, ...args], name: `tributary ${args.slice(0, 2).join(' ')}` });
  let peak = 0;
  const sampler = setInterval(() => {
    const rss = peakRssOf(proc.pid);
    if (Number.isFinite(rss)) peak = Math.max(peak, rss);
  }, 200);
  const exit = await new Promise<{ code: number | null }>((resolveExit) => {
    const poll = setInterval(() => {
      if (!proc.running) {
        clearInterval(poll);
        resolveExit({ code: 0 });
      }
    }, 100);
  });
  clearInterval(sampler);
  void exit;
  const output = proc.outputTail(400);
  const lines = output.split('\n').filter((l) => l.trim().length > 0);
  for (const l of lines.filter((l) => !l.startsWith('{')).slice(-6)) report(`    ${l}`);
  const json = [...lines].reverse().find((l) => l.trim().startsWith('{'));
  if (!json) throw new Error(`tributary ${args.join(' ')} printed no JSON result:\n${output}`);
  return { result: JSON.parse(json) as Record<string, number>, peakRssMb: peak };
}

const bench: Benchmark = {
  description: 'perf produce / perf consume through the tributary CLI against a local cluster of 3 brokers: 100-byte records, 6 partitions, acks=1, RF 1',
  async run(ctx: BenchContext): Promise<Figures> {
    const profile = process.argv.includes('--profile') || process.env.TRIBUTARY_BENCH_PROFILE === '1';
    const profileDir = resolve('.tributary', 'profiles');
    if (profile) mkdirSync(profileDir, { recursive: true });
    const profArgs = (name: string): string[] => (profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : []);
    const records = ctx.quick ? 1_000_000 : 5_000_000;
    const latencySeconds = ctx.quick ? 5 : 15;

    ctx.report(`starting a cluster (coordination, controller, 3 brokers)${profile ? `; CPU profiles to ${profileDir}` : ''}`);
    const cluster = await startCluster({ name: 'cluster-perf', brokers: 3, controllers: 1, logLevel: 'warn', brokerNodeArgs: profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : undefined });
    const brokerPeaks = new Map<number, number>();
    const sampler = setInterval(() => {
      for (const [id, b] of cluster.brokers) brokerPeaks.set(id, Math.max(brokerPeaks.get(id) ?? 0, peakRssOf(b.proc.pid) || 0));
    }, 500);
    try {
      const bootstrap = cluster.bootstrap;
      const broker = createClient(BrokerServiceClient, cluster.brokers.get(0)!.address);
      const md = await unary(broker, 'metadata', { topics: [] });
      const admin = createClient(AdminServiceClient, `${md.controllerHost}:${md.controllerPort}`);
      for (const name of ['perf', 'perf-latency']) {
        const res = await unary(admin, 'createTopics', { topics: [{ name, numPartitions: 6, replicationFactor: 1, configs: {} }], validateOnly: false });
        if (res.results[0]!.errorCode !== 0) throw new Error(`creating ${name}: ${res.results[0]!.errorMessage}`);
      }
      await waitFor(
        async () => {
          for (const b of cluster.brokers.values()) {
            const m = await unary(createClient(BrokerServiceClient, b.address), 'metadata', { topics: ['perf', 'perf-latency'] });
            if (m.topics.some((t) => t.errorCode !== 0 || t.partitions.some((p) => p.leaderId < 0))) return false;
          }
          return true;
        },
        { timeoutMs: 20_000, message: 'topics ready on every broker' },
      );
      admin.close();
      broker.close();

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

      const brokerRss = [...brokerPeaks.entries()].sort((a, b) => a[0] - b[0]);
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
      clearInterval(sampler);
      await cluster.stop();
    }
  },
};

export default bench;
