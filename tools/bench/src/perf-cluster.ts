/**
 * Shared by the whole-cluster benchmarks (cluster-perf, replication): a cluster of processes
 * with topics ready on every broker, the `tributary` CLI run as a separate process with its
 * JSON result, and peak RSS sampling (Linux /proc VmHWM). Not a benchmark itself.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AdminServiceClient, BrokerServiceClient } from '@tributary/proto';
import { createClient, unary } from '@tributary/runtime';
import { WORKSPACE_ROOT, removeDir, spawnProcess, startCluster, waitFor } from '@tributary/testing';
import type { SpawnedProcess, TestCluster } from '@tributary/testing';
import { round } from './harness';

const CLI_MAIN = join(WORKSPACE_ROOT, 'apps', 'cli', 'dist', 'main.js');

/** Peak resident set size of a running process, in MiB (Linux /proc). */
export function peakRssOf(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmHWM:'));
    return line ? round(Number(line.replace(/\D+/g, '')) / 1024, 1) : NaN;
  } catch {
    return NaN;
  }
}

/** `--profile` (or TRIBUTARY_BENCH_PROFILE=1): CPU profiles of brokers and CLI runs in ./.tributary/profiles. */
export interface Profiling {
  enabled: boolean;
  dir: string;
  /** Node options for one CLI run. */
  cliArgs(name: string): string[];
}

export function profiling(): Profiling {
  const enabled = process.argv.includes('--profile') || process.env.TRIBUTARY_BENCH_PROFILE === '1';
  const dir = resolve('.tributary', 'profiles');
  if (enabled) mkdirSync(dir, { recursive: true });
  return { enabled, dir, cliArgs: (name) => (enabled ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : []) };
}

/** Waits for `proc` to exit, sampling its peak RSS (VmHWM, MiB) every 100 ms; returns the largest seen. */
export async function peakRssUntilExit(proc: SpawnedProcess): Promise<number> {
  let peak = 0;
  await new Promise<void>((done) => {
    const poll = setInterval(() => {
      const rss = peakRssOf(proc.pid);
      if (Number.isFinite(rss)) peak = Math.max(peak, rss);
      if (!proc.running) {
        clearInterval(poll);
        done();
      }
    }, 100);
  });
  return peak;
}

/** Runs the CLI with `args`, echoing its last progress lines, and returns the JSON object of its last stdout line and its peak RSS. */
export async function runCli(args: string[], nodeArgs: string[], report: (line: string) => void): Promise<{ result: Record<string, number>; peakRssMb: number }> {
  const proc: SpawnedProcess = spawnProcess({ command: process.execPath, args: [...nodeArgs, CLI_MAIN, ...args], name: `tributary ${args.slice(0, 2).join(' ')}` });
  const peak = await peakRssUntilExit(proc);
  const output = proc.outputTail(400);
  const lines = output.split('\n').filter((l) => l.trim().length > 0);
  for (const l of lines.filter((l) => !l.startsWith('{')).slice(-6)) report(`    ${l}`);
  const json = [...lines].reverse().find((l) => l.trim().startsWith('{'));
  if (!json) throw new Error(`tributary ${args.join(' ')} printed no JSON result:\n${output}`);
  return { result: JSON.parse(json) as Record<string, number>, peakRssMb: peak };
}

export interface PerfCluster {
  cluster: TestCluster;
  /** Peak RSS of each broker so far, in MiB. */
  brokerPeaks(): Map<number, number>;
  /** Peak RSS of each group coordinator so far, in MiB. */
  groupCoordinatorPeaks(): Map<number, number>;
  stop(): Promise<void>;
}

/**
 * Three brokers and a controller (and `groupCoordinators` group coordinator instances, 0 by
 * default), with `topics` created and led on every broker's metadata.
 */
export async function startPerfCluster(
  name: string,
  topics: { name: string; partitions: number; replicationFactor: number }[],
  profile: Profiling,
  options: { groupCoordinators?: number } = {},
): Promise<PerfCluster> {
  const cluster = await startCluster({
    name,
    brokers: 3,
    controllers: 1,
    logLevel: 'warn',
    groupCoordinators: options.groupCoordinators ?? 0,
    brokerNodeArgs: profile.enabled ? ['--cpu-prof', `--cpu-prof-dir=${profile.dir}`] : undefined,
  });
  const peaks = new Map<number, number>();
  const gcPeaks = new Map<number, number>();
  const sampler = setInterval(() => {
    for (const [id, b] of cluster.brokers) peaks.set(id, Math.max(peaks.get(id) ?? 0, peakRssOf(b.proc.pid) || 0));
    for (const [id, g] of cluster.groupCoordinators) gcPeaks.set(id, Math.max(gcPeaks.get(id) ?? 0, peakRssOf(g.proc.pid) || 0));
  }, 500);
  try {
    const broker = createClient(BrokerServiceClient, cluster.brokers.get(0)!.address);
    const md = await unary(broker, 'metadata', { topics: [] });
    const admin = createClient(AdminServiceClient, `${md.controllerHost}:${md.controllerPort}`);
    for (const t of topics) {
      const res = await unary(admin, 'createTopics', { topics: [{ name: t.name, numPartitions: t.partitions, replicationFactor: t.replicationFactor, configs: {} }], validateOnly: false });
      if (res.results[0]!.errorCode !== 0) throw new Error(`creating ${t.name}: ${res.results[0]!.errorMessage}`);
    }
    admin.close();
    broker.close();
    const names = topics.map((t) => t.name);
    await waitFor(
      async () => {
        for (const b of cluster.brokers.values()) {
          const client = createClient(BrokerServiceClient, b.address);
          const m = await unary(client, 'metadata', { topics: names }).finally(() => client.close());
          if (m.topics.some((t) => t.errorCode !== 0 || t.partitions.some((p) => p.leaderId < 0))) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, message: 'topics ready on every broker' },
    );
  } catch (e) {
    clearInterval(sampler);
    await cluster.stop();
    removeDir(cluster.dataDir);
    throw e;
  }
  return {
    cluster,
    brokerPeaks: () => new Map(peaks),
    groupCoordinatorPeaks: () => new Map(gcPeaks),
    /** Stops the cluster and removes its data (a run writes gigabytes into the temp dir). */
    async stop() {
      clearInterval(sampler);
      await cluster.stop();
      removeDir(cluster.dataDir);
    },
  };
}
