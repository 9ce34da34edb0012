/**
 * rest-produce: produce through the REST proxy. Starts a cluster (embedded coordination, a
 * controller, three brokers as processes) with a topic of 6 partitions (RF 1), and ONE proxy
 * process (apps/rest-proxy, built), then posts v2 JSON produce requests of 100 records
 * (`application/vnd.kafka.json.v2+json`, ~100-byte values, no keys) from an HTTP client with
 * keep-alive connections and a fixed number of requests in flight, for a fixed time after a
 * warm-up. Every answer is checked (200, one offset per record, no record error).
 *
 * Figures: records/s acknowledged, request latency p50/p99 (send → whole answer read), the
 * proxy's peak RSS (VmHWM). The proxy runs with acks=1 and its access log on, as deployed.
 * `--profile` (env TRIBUTARY_BENCH_PROFILE=1) writes the proxy's CPU profile to
 * `./.tributary/profiles/`.
 */
import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { WORKSPACE_ROOT, freePorts, spawnProcess, waitFor } from '@tributary/testing';
import type { SpawnedProcess } from '@tributary/testing';
import type { Benchmark, BenchContext, Figures } from './harness';
import { nowSeconds, round } from './harness';
import { peakRssOf, profiling, startPerfCluster } from './perf-cluster';

const PROXY_MAIN = join(WORKSPACE_ROOT, 'apps', 'rest-proxy', 'dist', 'main.js');
const RECORDS_PER_REQUEST = 100;
const TOPIC = 'rest';

/** One produce body of 100 records with ~100-byte JSON values (built once, sent every time). */
function produceBody(): Buffer {
  const records = Array.from({ length: RECORDS_PER_REQUEST }, (_, i) => ({ value: { id: i, name: `record-${i}`, payload: 'x'.repeat(60) } }));
  return Buffer.from(JSON.stringify({ records }));
}

interface Answer {
  status: number;
  body: string;
}

function post(agent: Agent, port: number, path: string, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/vnd.kafka.json.v2+json', 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function startProxy(bootstrap: string, nodeArgs: string[]): Promise<{ proc: SpawnedProcess; port: number }> {
  if (!existsSync(PROXY_MAIN)) throw new Error(`${PROXY_MAIN} is missing: build first with \`npm run build\``);
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  const proc = spawnProcess({
    command: process.execPath,
    args: [...nodeArgs, PROXY_MAIN, '--port', String(port), '--admin-port', String(adminPort), '--bootstrap', bootstrap, '--producer-acks', '1', '--log-level', 'info'],
    name: 'rest-proxy',
    tailLines: 20,
  });
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`the proxy exited:\n${proc.outputTail(20)}`);
      return (await fetch(`http://127.0.0.1:${adminPort}/readyz`).catch(() => undefined))?.status === 200;
    },
    { timeoutMs: 30_000, message: 'rest proxy /readyz' },
  );
  return { proc, port };
}

const bench: Benchmark = {
  description: `v2 JSON produce through one REST proxy process: batches of ${RECORDS_PER_REQUEST} records over keep-alive HTTP, requests in flight from one client, 3 brokers, 6 partitions, acks=1, RF 1`,
  async run(ctx: BenchContext): Promise<Figures> {
    const profile = profiling();
    const concurrency = 32;
    const warmupSeconds = ctx.quick ? 2 : 5;
    const seconds = ctx.quick ? 10 : 30;
    ctx.report('starting a cluster (coordination, controller, 3 brokers) and the proxy');
    const perf = await startPerfCluster('rest-produce', [{ name: TOPIC, partitions: 6, replicationFactor: 1 }], profile);
    let proxy: { proc: SpawnedProcess; port: number } | undefined;
    try {
      proxy = await startProxy(perf.cluster.bootstrap, profile.enabled ? ['--cpu-prof', `--cpu-prof-dir=${profile.dir}`] : []);
      const { port, proc } = proxy;
      let peakRss = 0;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, peakRssOf(proc.pid) || 0)), 200);
      const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
      const body = produceBody();
      const path = `/topics/${TOPIC}`;

      let measuring = false;
      let stop = false;
      let records = 0;
      let requests = 0;
      let failures = 0;
      let firstFailure = '';
      const latenciesMs: number[] = [];
      const worker = async (): Promise<void> => {
        while (!stop) {
          const start = nowSeconds();
          const answer = await post(agent, port, path, body);
          const ms = (nowSeconds() - start) * 1000;
          // Checked on every answer: 200, one offset per record, no per-record error.
          const ok = answer.status === 200 && !answer.body.includes('"error_code":1') && !answer.body.includes('"error_code":2');
          const offsets = ok ? (answer.body.match(/"offset":/g)?.length ?? 0) : 0;
          if (!ok || offsets !== RECORDS_PER_REQUEST) {
            failures++;
            firstFailure ||= `${answer.status} ${answer.body.slice(0, 300)}`;
            continue;
          }
          if (measuring) {
            records += RECORDS_PER_REQUEST;
            requests++;
            latenciesMs.push(ms);
          }
        }
      };
      ctx.report(`${concurrency} requests in flight; warm-up ${warmupSeconds} s, then ${seconds} s measured`);
      const workers = Array.from({ length: concurrency }, () => worker());
      await new Promise((r) => setTimeout(r, warmupSeconds * 1000));
      measuring = true;
      const t0 = nowSeconds();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      measuring = false;
      const elapsed = nowSeconds() - t0;
      stop = true;
      await Promise.all(workers);
      clearInterval(sampler);
      agent.destroy();
      if (failures > 0) throw new Error(`${failures} produce requests failed; the first: ${firstFailure}`);

      latenciesMs.sort((a, b) => a - b);
      const pct = (p: number): number => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(latenciesMs.length * p))] ?? NaN;
      const recordsPerS = records / elapsed;
      ctx.report(
        `  ${Math.round(recordsPerS).toLocaleString('en-US')} records/s (${Math.round(requests / elapsed).toLocaleString('en-US')} requests/s), latency p50 ${round(pct(0.5), 2)} ms, p99 ${round(pct(0.99), 2)} ms; proxy peak RSS ${round(peakRss, 1)} MiB`,
      );
      return {
        records_per_s: Math.round(recordsPerS),
        requests_per_s: Math.round(requests / elapsed),
        p50_ms: round(pct(0.5), 2),
        p99_ms: round(pct(0.99), 2),
        concurrency,
        records_per_request: RECORDS_PER_REQUEST,
        proxy_peak_rss_mb: round(peakRss, 1),
      };
    } finally {
      await proxy?.proc.stop(10_000);
      await perf.stop();
    }
  },
};

export default bench;
