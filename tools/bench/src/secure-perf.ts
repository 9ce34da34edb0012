/**
 * secure-perf: what TLS, SCRAM and the authorizer cost on the produce path. In one run, the
 * same workload against two clusters, one after the other (never both at once):
 *   - plaintext: coordination, a controller, 3 brokers; no TLS, no authentication;
 *   - secure: the same with TLS on every listener and between the services (each presents
 *     its certificate, CN `tributary-service`, a super user), SCRAM-SHA-256/512 logins and
 *     the authorizer on; the producer logs in with SCRAM-SHA-512 as `User:perf-producer`, a
 *     normal user whose only ACL is Allow Write on the topic (KIP-679: that also lets the
 *     idempotent producer get its producer id).
 * Workload: topic of 6 partitions, replication factor 3 (so replication runs over TLS too);
 * an SDK Producer process (secure-perf-producer.ts: acks=all, the SDK's default batching,
 * 100-byte records, unlimited rate): a warm-up, then a measured phase of fixed duration.
 *
 * Figures: records/s of each and their ratio (secure / plaintext, target ≥ 0.7), p50/p99
 * latency of each, and the peak RSS (VmHWM) of every process of each cluster and of each
 * producer. `--profile` (TRIBUTARY_BENCH_PROFILE=1): CPU profiles of the brokers and the
 * producers in ./.tributary/profiles.
 */
import { join } from 'node:path';
import { Admin } from '@tributary/client';
import type { SaslOptions, TlsOptions } from '@tributary/client';
import { makeCa, makeCert, spawnProcess, startCluster, waitFor } from '@tributary/testing';
import type { TestCluster } from '@tributary/testing';
import type { Benchmark, BenchContext, Figures } from './harness';
import { round } from './harness';
import { peakRssOf, profiling } from './perf-cluster';
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

interface Result {
  records_per_s: number;
  mb_per_s: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  records: number;
  producerPeakRssMb: number;
  peaks: Map<string, number>;
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
  const output = proc.outputTail(200);
  const json = output
    .split('\n')
    .reverse()
    .find((l) => l.trim().startsWith('{'));
  if (!json) throw new Error(`the producer printed no result:\n${output}`);
  return { result: JSON.parse(json) as Record<string, number>, peakRssMb: peak };
}

async function runMode(ctx: BenchContext, mode: Mode, profile: Profiling, timing: { warmupMs: number; durationMs: number }): Promise<Result> {
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
  try {
    const bootstrap = cluster.bootstrap.split(',');
    const admin = new Admin({ bootstrap, ...(mode.adminTls ? { tls: mode.adminTls } : {}) });
    try {
      await admin.createTopics([{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: REPLICATION_FACTOR }]);
      if (mode.producerSasl) {
        await admin.alterUserScramCredentials([{ type: 'upsertion', user: PRODUCER_USER, mechanism: mode.producerSasl.mechanism, password: mode.producerSasl.password }]);
        await admin.createAcls([
          { pattern: { resourceType: 'Topic', name: TOPIC, patternType: 'LITERAL' }, entry: { principal: `User:${PRODUCER_USER}`, host: '*', operation: 'Write', permissionType: 'Allow' } },
        ]);
      }
      // Every partition led and fully replicated before the producer starts.
      await waitFor(
        async () => {
          const [t] = await admin.describeTopics([TOPIC]);
          return t !== undefined && t.partitions.length === PARTITIONS && t.partitions.every((p) => p.leader >= 0 && p.isr.length === REPLICATION_FACTOR);
        },
        { timeoutMs: 30_000, message: `topic ${TOPIC} led and in sync` },
      );
    } finally {
      await admin.close();
    }
    ctx.report(`  producing ${RECORD_SIZE}-byte records, acks=all, RF ${REPLICATION_FACTOR}: ${timing.warmupMs / 1000} s warm-up, then ${timing.durationMs / 1000} s measured`);
    const run = await runProducer(
      {
        bootstrap,
        topic: TOPIC,
        recordSize: RECORD_SIZE,
        warmupMs: timing.warmupMs,
        durationMs: timing.durationMs,
        ...(mode.producerTls ? { tls: mode.producerTls } : {}),
        ...(mode.producerSasl ? { sasl: mode.producerSasl } : {}),
      },
      profile.cliArgs(`producer-${mode.name}`),
    );
    sampler.stop();
    const r = run.result;
    const peaks = sampler.peaks;
    ctx.report(
      `  ${r.records_per_s!.toLocaleString('en-US')} records/s (${r.mb_per_s} MB/s), latency p50 ${r.latency_p50_ms} ms, p99 ${r.latency_p99_ms} ms; ` +
        `peak RSS: producer ${run.peakRssMb} MiB, ${[...peaks].map(([n, mb]) => `${n} ${mb} MiB`).join(', ')}`,
    );
    return {
      records_per_s: r.records_per_s!,
      mb_per_s: r.mb_per_s!,
      latency_p50_ms: r.latency_p50_ms!,
      latency_p99_ms: r.latency_p99_ms!,
      records: r.records!,
      producerPeakRssMb: run.peakRssMb,
      peaks,
    };
  } finally {
    sampler.stop();
    await cluster.stop();
  }
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
  description: `produce throughput with TLS everywhere + SCRAM-SHA-512 + authorizer vs plaintext, one cluster after the other: SDK producer, acks=all, ${RECORD_SIZE}-byte records, ${PARTITIONS} partitions RF ${REPLICATION_FACTOR}, 3 brokers`,
  async run(ctx: BenchContext): Promise<Figures> {
    const profile = profiling();
    const timing = ctx.quick ? { warmupMs: 1_500, durationMs: 5_000 } : { warmupMs: 3_000, durationMs: 20_000 };
    const plain = await runMode(ctx, { name: 'plaintext', commonFlags: {} }, profile, timing);
    const secure = await runMode(ctx, secureMode(ctx.scratchDir), profile, timing);
    const ratio = secure.records_per_s / plain.records_per_s;
    ctx.report(
      `secure ${secure.records_per_s.toLocaleString('en-US')} records/s vs plaintext ${plain.records_per_s.toLocaleString('en-US')} records/s: ratio ${round(ratio, 3)} (target ≥ 0.7)`,
    );
    const maxOf = (peaks: Map<string, number>, prefix: string): number => Math.max(...[...peaks].filter(([n]) => n.startsWith(prefix)).map(([, mb]) => mb));
    return {
      secure_records_per_s: secure.records_per_s,
      plaintext_records_per_s: plain.records_per_s,
      ratio: round(ratio, 3),
      secure_mb_per_s: secure.mb_per_s,
      plaintext_mb_per_s: plain.mb_per_s,
      secure_p50_ms: secure.latency_p50_ms,
      plaintext_p50_ms: plain.latency_p50_ms,
      secure_p99_ms: secure.latency_p99_ms,
      plaintext_p99_ms: plain.latency_p99_ms,
      measured_s: timing.durationMs / 1000,
      secure_producer_peak_rss_mb: secure.producerPeakRssMb,
      plaintext_producer_peak_rss_mb: plain.producerPeakRssMb,
      secure_broker_peak_rss_mb: maxOf(secure.peaks, 'broker-'),
      plaintext_broker_peak_rss_mb: maxOf(plain.peaks, 'broker-'),
      secure_controller_peak_rss_mb: maxOf(secure.peaks, 'controller-'),
      plaintext_controller_peak_rss_mb: maxOf(plain.peaks, 'controller-'),
      secure_coordination_peak_rss_mb: maxOf(secure.peaks, 'coordination'),
      plaintext_coordination_peak_rss_mb: maxOf(plain.peaks, 'coordination'),
    };
  },
};

export default bench;
