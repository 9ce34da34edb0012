/**
 * secure-perf: what TLS, SCRAM and the authorizer cost on the produce path. The same
 * workload against two clusters, started one after the other and loaded one at a time
 * (never two producers at once):
 *   - plaintext: coordination, a controller, 3 brokers; no TLS, no authentication;
 *   - secure: the same with TLS on every listener and between the services (each presents
 *     its certificate, CN `tributary-service`, a super user), SCRAM-SHA-256/512 logins and
 *     the authorizer on; the producer logs in with SCRAM-SHA-512 as `User:perf-producer`, a
 *     normal user whose only ACL is Allow Write on the topics prefixed `secure-perf`
 *     (KIP-679: that also lets the idempotent producer get its producer id).
 * Workload: a fresh topic per run (6 partitions, replication factor 3, so replication runs
 * over TLS too; deleted after the run, so the disk holds one run's records at a time, and
 * both clusters' data directories are removed at the end); an SDK Producer process (secure-perf-producer.ts: acks=all, the SDK's default batching,
 * 100-byte records, unlimited rate): a warm-up, then a measured phase of fixed duration.
 * `--quick`: two rounds of 4 s measured; full: four rounds of 10 s. The order alternates
 * (plaintext-secure, secure-plaintext, ...), so each mode runs first as often as second, and
 * between runs the brokers finish deleting the last run's files and the page cache is flushed
 * (settleDisk): the mode running second otherwise lost up to a third to stalled fsyncs. The
 * figures are the medians of each mode.
 *
 * Figures: records/s of each and their ratio (secure / plaintext, target ≥ 0.7), p50/p99
 * latency, CPU per record (the producer's in its measured phase; the three brokers' over the
 * producer's run, from /proc), the peak RSS (VmHWM) of every process of each cluster and of
 * the producers, and the load average at start (the figures of a shared machine move with
 * it). `--profile` (TRIBUTARY_BENCH_PROFILE=1): CPU profiles of the brokers and the producers
 * in ./.tributary/profiles.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { Admin } from '@tributary/client';
import type { SaslOptions, TlsOptions } from '@tributary/client';
import { makeCa, makeCert, removeDir, spawnProcess, startCluster, waitFor } from '@tributary/testing';
import type { TestCluster } from '@tributary/testing';
import type { Benchmark, BenchContext, Figures } from './harness';
import { round } from './harness';
import { peakRssOf, peakRssUntilExit, profiling } from './perf-cluster';
import type { Profiling } from './perf-cluster';
import { SETTINGS_ENV } from './secure-perf-producer';
import type { ProducerSettings } from './secure-perf-producer';

const TOPIC = 'secure-perf';
const PARTITIONS = 6;
const REPLICATION_FACTOR = 3;
const RECORD_SIZE = 100;
const SERVICE_USER = 'tributary-service';
const ADMIN_USER = 'perf-admin';
const PRODUCER_USER = 'perf-producer';
const PRODUCER_MAIN = join(__dirname, 'secure-perf-producer.js');

interface Mode {
  name: 'plaintext' | 'secure';
  /** Flags of every service. */
  commonFlags: Record<string, string | number | boolean>;
  /** CA of the services' admin (HTTPS) ports, for the harness. */
  adminCaFile?: string;
  /** What the bench's admin client uses (a super user's certificate). */
  adminTls?: TlsOptions;
  /** The producer's TLS (CA only: it authenticates with SCRAM). */
  producerTls?: TlsOptions;
  producerSasl?: SaslOptions;
}

/** The figures of one producer run. */
interface Round {
  recordsPerS: number;
  mbPerS: number;
  p50Ms: number;
  p99Ms: number;
  producerPeakRssMb: number;
  producerCpuUsPerRecord: number;
  brokerCpuUsPerRecord: number;
}

/** CPU time (user + system) a process has used so far, in µs (Linux /proc/<pid>/stat). */
function cpuUsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1e6;
  } catch {
    return NaN;
  }
}

/** USER_HZ of /proc/<pid>/stat (100 on every Linux architecture Node runs on). */
const CLOCK_TICKS = 100;

/** CPU µs used by each process of `cluster` so far, by name. */
function clusterCpu(cluster: TestCluster): Map<string, number> {
  const out = new Map<string, number>();
  out.set('coordination', cpuUsOf(cluster.coordination.proc.pid));
  for (const [id, c] of cluster.controllers) out.set(`controller-${id}`, cpuUsOf(c.proc.pid));
  for (const [id, b] of cluster.brokers) out.set(`broker-${id}`, cpuUsOf(b.proc.pid));
  return out;
}

/** Peak RSS of each process of `cluster`, sampled twice a second, by name. */
function sampleCluster(cluster: TestCluster): { peaks: Map<string, number>; stop(): void } {
  const peaks = new Map<string, number>();
  const put = (name: string, pid: number): void => {
    const rss = peakRssOf(pid);
    if (Number.isFinite(rss)) peaks.set(name, Math.max(peaks.get(name) ?? 0, rss));
  };
  const sample = (): void => {
    put('coordination', cluster.coordination.proc.pid);
    for (const [id, c] of cluster.controllers) put(`controller-${id}`, c.proc.pid);
    for (const [id, b] of cluster.brokers) put(`broker-${id}`, b.proc.pid);
  };
  sample();
  const timer = setInterval(sample, 500);
  return {
    peaks,
    stop() {
      sample();
      clearInterval(timer);
    },
  };
}

/** Runs the producer process; resolves with its JSON figures and its peak RSS. */
async function runProducer(settings: ProducerSettings, nodeArgs: string[]): Promise<{ result: Record<string, number>; peakRssMb: number }> {
  const proc = spawnProcess({
    command: process.execPath,
    args: [...nodeArgs, PRODUCER_MAIN],
    name: `secure-perf producer`,
    env: { [SETTINGS_ENV]: JSON.stringify(settings) },
  });
  const peak = await peakRssUntilExit(proc);
  const output = proc.outputTail(200);
  const json = output
    .split('\n')
    .reverse()
    .find((l) => l.trim().startsWith('{'));
  if (!json) throw new Error(`the producer printed no result:\n${output}`);
  return { result: JSON.parse(json) as Record<string, number>, peakRssMb: peak };
}

/** A started cluster of one mode, its topic ready (and, secure, the producer's user and ACL). */
interface Target {
  mode: Mode;
  cluster: TestCluster;
  bootstrap: string[];
  sampler: ReturnType<typeof sampleCluster>;
}

async function startTarget(ctx: BenchContext, mode: Mode, profile: Profiling): Promise<Target> {
  ctx.report(`${mode.name}: starting a cluster (coordination, controller, 3 brokers)`);
  const cluster = await startCluster({
    name: `secure-perf-${mode.name}`,
    brokers: 3,
    controllers: 1,
    logLevel: 'warn',
    commonFlags: mode.commonFlags,
    ...(mode.adminCaFile ? { adminCaFile: mode.adminCaFile } : {}),
    brokerNodeArgs: profile.enabled ? ['--cpu-prof', `--cpu-prof-dir=${profile.dir}`] : undefined,
  });
  const sampler = sampleCluster(cluster);
  const target: Target = { mode, cluster, bootstrap: cluster.bootstrap.split(','), sampler };
  if (mode.producerSasl) {
    const admin = adminOf(target);
    try {
      await admin.alterUserScramCredentials([{ type: 'upsertion', user: PRODUCER_USER, mechanism: mode.producerSasl.mechanism, password: mode.producerSasl.password }]);
      // Every round's topic (secure-perf-<round>): Write on the prefix.
      await admin.createAcls([
        { pattern: { resourceType: 'Topic', name: TOPIC, patternType: 'PREFIXED' }, entry: { principal: `User:${PRODUCER_USER}`, host: '*', operation: 'Write', permissionType: 'Allow' } },
      ]);
    } catch (e) {
      await stopTarget(target);
      throw e;
    } finally {
      await admin.close();
    }
  }
  return target;
}

/** The bench's admin client of `target` (a super user on the secure cluster). */
function adminOf(target: Target): Admin {
  return new Admin({ bootstrap: target.bootstrap, ...(target.mode.adminTls ? { tls: target.mode.adminTls } : {}) });
}

/** Stops the cluster and removes its data (a full run writes gigabytes). */
async function stopTarget(target: Target): Promise<void> {
  target.sampler.stop();
  await target.cluster.stop();
  removeDir(target.cluster.dataDir);
}

/**
 * A fresh topic for one round, every partition led and fully replicated; deleted after the
 * round (`drop`), so the disk holds one round's records at a time.
 */
async function roundTopic(target: Target, name: string): Promise<{ drop(): Promise<void> }> {
  const admin = adminOf(target);
  try {
    await admin.createTopics([{ name, numPartitions: PARTITIONS, replicationFactor: REPLICATION_FACTOR }]);
    await waitFor(
      async () => {
        const [t] = await admin.describeTopics([name]);
        return t !== undefined && t.partitions.length === PARTITIONS && t.partitions.every((p) => p.leader >= 0 && p.isr.length === REPLICATION_FACTOR);
      },
      { timeoutMs: 30_000, message: `topic ${name} led and in sync` },
    );
  } catch (e) {
    await admin.close();
    throw e;
  }
  return {
    async drop() {
      try {
        await admin.deleteTopics([name]);
      } finally {
        await admin.close();
      }
    },
  };
}

/**
 * Waits until the brokers have removed the dropped topic's files, then flushes the page
 * cache (`sync`): the next round (often on the other cluster) must not share the disk with
 * this round's write-back and unlinking. Without it, whichever mode ran second lost up to a
 * third of its throughput to stalled fsyncs (the order effect seen in the profiles).
 */
async function settleDisk(cluster: TestCluster, topic: string): Promise<void> {
  const left = (): boolean =>
    [...cluster.brokers.keys()].some((id) => {
      try {
        return readdirSync(cluster.logDir(id)).some((name) => name.startsWith(`${topic}-`));
      } catch {
        return false;
      }
    });
  await waitFor(async () => !left(), { timeoutMs: 120_000, intervalMs: 200, message: `the brokers to delete ${topic}'s files` }).catch(() => undefined);
  execFileSync('sync');
}

/** One producer run against `target`. */
async function produceRound(ctx: BenchContext, target: Target, roundNo: number, profile: Profiling, timing: { warmupMs: number; durationMs: number }): Promise<Round> {
  const { mode, cluster } = target;
  const topic = `${TOPIC}-${roundNo}`;
  const created = await roundTopic(target, topic);
  let run: Awaited<ReturnType<typeof runProducer>>;
  let cpuBefore: Map<string, number>;
  let cpuAfter: Map<string, number>;
  try {
    cpuBefore = clusterCpu(cluster);
    run = await runProducer(
      {
        bootstrap: target.bootstrap,
        topic,
        recordSize: RECORD_SIZE,
        warmupMs: timing.warmupMs,
        durationMs: timing.durationMs,
        ...(mode.producerTls ? { tls: mode.producerTls } : {}),
        ...(mode.producerSasl ? { sasl: mode.producerSasl } : {}),
      },
      profile.cliArgs(`producer-${mode.name}`),
    );
    cpuAfter = clusterCpu(cluster);
  } finally {
    await created.drop();
    await settleDisk(cluster, topic);
  }
  const r = run.result;
  // Broker CPU over the producer's whole run (warm-up included), per record sent in it.
  const sent = r.records! + r.warmup_records!;
  let brokerCpuUs = 0;
  for (const [name, after] of cpuAfter) if (name.startsWith('broker-')) brokerCpuUs += after - (cpuBefore.get(name) ?? after);
  const round_: Round = {
    recordsPerS: r.records_per_s!,
    mbPerS: r.mb_per_s!,
    p50Ms: r.latency_p50_ms!,
    p99Ms: r.latency_p99_ms!,
    producerPeakRssMb: run.peakRssMb,
    producerCpuUsPerRecord: r.cpu_us_per_record!,
    brokerCpuUsPerRecord: round(brokerCpuUs / sent, 2),
  };
  ctx.report(
    `  ${mode.name}: ${round_.recordsPerS.toLocaleString('en-US')} records/s (${round_.mbPerS} MB/s), latency p50 ${round_.p50Ms} ms, p99 ${round_.p99Ms} ms; ` +
      `CPU per record: producer ${round_.producerCpuUsPerRecord} µs, brokers ${round_.brokerCpuUsPerRecord} µs (the three together); producer peak RSS ${run.peakRssMb} MiB`,
  );
  return round_;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The secure mode's settings: a CA, the services' certificate, the admin's, a producer password. */
function secureMode(dir: string): Mode {
  const ca = makeCa(dir, 'perf');
  const service = makeCert(dir, ca, SERVICE_USER);
  const admin = makeCert(dir, ca, ADMIN_USER);
  return {
    name: 'secure',
    commonFlags: {
      'tls-cert-file': service.certFile,
      'tls-key-file': service.keyFile,
      'tls-ca-file': ca.certFile,
      'tls-client-auth': 'requested',
      'sasl-enabled-mechanisms': 'SCRAM-SHA-256,SCRAM-SHA-512',
      'super-users': `User:${SERVICE_USER},User:${ADMIN_USER}`,
      'authorizer-enable': true,
    },
    adminCaFile: ca.certFile,
    adminTls: { ca: ca.certFile, cert: admin.certFile, key: admin.keyFile, serverName: 'localhost' },
    producerTls: { ca: ca.certFile, serverName: 'localhost' },
    // A fresh random password per run (never on disk; passed to the producer by environment).
    producerSasl: { mechanism: 'SCRAM-SHA-512', username: PRODUCER_USER, password: `pw-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}` },
  };
}

const bench: Benchmark = {
  description: `produce throughput with TLS everywhere + SCRAM-SHA-512 + authorizer vs plaintext, loaded one at a time: SDK producer, acks=all, ${RECORD_SIZE}-byte records, ${PARTITIONS} partitions RF ${REPLICATION_FACTOR}, 3 brokers`,
  async run(ctx: BenchContext): Promise<Figures> {
    const profile = profiling();
    const rounds = ctx.quick ? 2 : 4;
    const timing = ctx.quick ? { warmupMs: 1_500, durationMs: 4_000 } : { warmupMs: 2_000, durationMs: 10_000 };
    const loadAvg = round(loadavg()[0]!, 2);
    ctx.report(`load average (1 min) at start: ${loadAvg} on ${availableParallelism()} CPUs`);
    const targets: Target[] = [];
    try {
      targets.push(await startTarget(ctx, { name: 'plaintext', commonFlags: {} }, profile));
      targets.push(await startTarget(ctx, secureMode(ctx.scratchDir), profile));
      const [plainTarget, secureTarget] = targets as [Target, Target];
      const results = { plaintext: [] as Round[], secure: [] as Round[] };
      for (let r = 1; r <= rounds; r++) {
        ctx.report(`round ${r} of ${rounds}: ${RECORD_SIZE}-byte records, acks=all, RF ${REPLICATION_FACTOR}; ${timing.warmupMs / 1000} s warm-up, then ${timing.durationMs / 1000} s measured`);
        // Alternating order (ABBA...): a machine getting busier or quieter favours neither.
        const order = r % 2 === 1 ? [plainTarget, secureTarget] : [secureTarget, plainTarget];
        for (const t of order) results[t.mode.name].push(await produceRound(ctx, t, r, profile, timing));
      }
      for (const t of targets) t.sampler.stop();
      const figure = (mode: 'plaintext' | 'secure', pick: (r: Round) => number, digits = 3): number => round(median(results[mode].map(pick)), digits);
      const plain = figure('plaintext', (r) => r.recordsPerS, 0);
      const secure = figure('secure', (r) => r.recordsPerS, 0);
      const ratio = secure / plain;
      ctx.report(
        `${rounds > 1 ? 'median: ' : ''}secure ${secure.toLocaleString('en-US')} records/s vs plaintext ${plain.toLocaleString('en-US')} records/s: ratio ${round(ratio, 3)} (target ≥ 0.7)`,
      );
      const peak = (t: Target, prefix: string): number => Math.max(...[...t.sampler.peaks].filter(([n]) => n.startsWith(prefix)).map(([, mb]) => mb));
      for (const t of targets) ctx.report(`${t.mode.name} cluster peak RSS: ${[...t.sampler.peaks].map(([n, mb]) => `${n} ${mb} MiB`).join(', ')}`);
      return {
        secure_records_per_s: secure,
        plaintext_records_per_s: plain,
        ratio: round(ratio, 3),
        secure_mb_per_s: figure('secure', (r) => r.mbPerS),
        plaintext_mb_per_s: figure('plaintext', (r) => r.mbPerS),
        secure_p50_ms: figure('secure', (r) => r.p50Ms),
        plaintext_p50_ms: figure('plaintext', (r) => r.p50Ms),
        secure_p99_ms: figure('secure', (r) => r.p99Ms),
        plaintext_p99_ms: figure('plaintext', (r) => r.p99Ms),
        rounds,
        measured_s_per_round: timing.durationMs / 1000,
        load_avg_1m_at_start: loadAvg,
        secure_producer_cpu_us_per_record: figure('secure', (r) => r.producerCpuUsPerRecord),
        plaintext_producer_cpu_us_per_record: figure('plaintext', (r) => r.producerCpuUsPerRecord),
        secure_broker_cpu_us_per_record: figure('secure', (r) => r.brokerCpuUsPerRecord),
        plaintext_broker_cpu_us_per_record: figure('plaintext', (r) => r.brokerCpuUsPerRecord),
        secure_producer_peak_rss_mb: Math.max(...results.secure.map((r) => r.producerPeakRssMb)),
        plaintext_producer_peak_rss_mb: Math.max(...results.plaintext.map((r) => r.producerPeakRssMb)),
        secure_broker_peak_rss_mb: peak(secureTarget, 'broker-'),
        plaintext_broker_peak_rss_mb: peak(plainTarget, 'broker-'),
        secure_controller_peak_rss_mb: peak(secureTarget, 'controller-'),
        plaintext_controller_peak_rss_mb: peak(plainTarget, 'controller-'),
        secure_coordination_peak_rss_mb: peak(secureTarget, 'coordination'),
        plaintext_coordination_peak_rss_mb: peak(plainTarget, 'coordination'),
      };
    } finally {
      for (const t of targets) await stopTarget(t);
    }
  },
};

export default bench;
