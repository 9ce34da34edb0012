/**
 * `npm run observe` for real: the built observe.js runs the Debian package's Prometheus
 * against the targets of a local-cluster.json (here one admin server of libs/runtime with a
 * registry of its own, standing in for a running cluster), with the alert rules loaded; the
 * UI URL is printed; every dashboard expression parses in it; SIGINT stops Prometheus and the
 * script exits 0.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLogger, createMetrics, startAdminServer } from '@tributary/runtime';
import type { AdminServer } from '@tributary/runtime';
import { cleanupAll, freePort, makeCa, makeCert, spawnProcess, tempDir, waitFor } from '@tributary/testing';
import { dashboardExpressions, dashboardFiles } from './dashboards';
import { parseObserveArgs } from './observe';
import { requirePrometheusTool } from './prometheus';

jest.setTimeout(60_000);

const OBSERVE_JS = path.join(__dirname, '..', 'dist', 'observe.js');
let admin: AdminServer;
let secureAdmin: AdminServer | undefined;

afterAll(async () => {
  await admin?.close();
  await secureAdmin?.close();
  await cleanupAll();
});

it('parses its flags and names a bad one', () => {
  expect(parseObserveArgs(['--port', '9191', '--data-dir', 'd'], {}, '/w')).toEqual({ dataDir: '/w/d', host: '127.0.0.1', port: 9191, intervalSeconds: 15, retention: '7d' });
  expect(parseObserveArgs([], { TRIBUTARY_DATA_DIR: '/data' }, '/w')).toMatchObject({ dataDir: '/data' });
  expect(() => parseObserveArgs(['--port', 'x'])).toThrow('--port must be an integer from 1 to 65535, not x');
  expect(() => parseObserveArgs(['--retention', 'forever'])).toThrow('--retention must be a duration');
  expect(() => parseObserveArgs(['--nope', '1'])).toThrow('unknown flag --nope');
});

it('runs Prometheus on the running cluster\'s targets with the alert rules loaded, and stops on Ctrl-C', async () => {
  requirePrometheusTool('prometheus'); // fails with the apt command when missing
  const metrics = createMetrics({ service: 'broker', nodeId: 0 });
  admin = await startAdminServer({ host: '127.0.0.1', port: 0, registry: metrics.registry, logger: createLogger({ service: 'test', nodeId: '0', level: 'silent' }) });
  const dataDir = tempDir('observe');
  fs.writeFileSync(path.join(dataDir, 'local-cluster.json'), JSON.stringify({ services: [{ name: 'broker-0', app: 'broker', adminPort: admin.port }] }));
  const port = await freePort();
  const proc = spawnProcess({ command: process.execPath, args: [OBSERVE_JS, '--data-dir', dataDir, '--port', String(port), '--scrape-interval-seconds', '1'], name: 'observe' });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => proc.outputTail(20).includes(`Prometheus: ${base}`), { timeoutMs: 10_000, message: 'the printed URL' });
  // The target is scraped and up, under the job name the rules and dashboards use.
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`observe exited:\n${proc.outputTail(30)}`);
      const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent('up{job="tributary-broker",process="broker-0"}')}`).catch(() => undefined);
      if (res?.status !== 200) return false;
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      return body.data.result[0]?.value[1] === '1';
    },
    { timeoutMs: 30_000, message: 'broker-0 scraped and up' },
  );
  const rules = (await (await fetch(`${base}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string }[] }[] } };
  const names = rules.data.groups.flatMap((g) => g.rules.map((r) => r.name));
  expect(names).toEqual(expect.arrayContaining(['TributaryNoActiveController', 'TributaryOfflinePartitions', 'TributaryDiskAlmostFull', 'TributaryConsumerLagHigh', 'TributaryServiceDown']));
  expect(fs.existsSync(path.join(dataDir, 'prometheus', 'data'))).toBe(true);
  // Every dashboard panel expression parses in this Prometheus (Grafana's variables replaced
  // by what Grafana would put there; label_values() variables are Grafana's, not PromQL).
  const refused: string[] = [];
  for (const { where, expr } of dashboardFiles().flatMap(dashboardExpressions)) {
    if (expr.startsWith('label_values(')) continue;
    const promql = expr.replace(/\$__rate_interval/g, '1m').replace(/\$(topic|group)\b/g, '.*');
    const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; error?: string };
    if (body.status !== 'success') refused.push(`${where}: ${body.error ?? res.status}`);
  }
  expect(refused).toEqual([]);
  proc.kill('SIGINT');
  const exit = await proc.exited;
  expect(exit.code).toBe(0);
  await waitFor(async () => (await fetch(`${base}/-/healthy`).catch(() => undefined)) === undefined, { timeoutMs: 10_000, message: 'Prometheus gone' });
});

it('scrapes a --secure local cluster\'s HTTPS admin ports with its CA and the admin certificate', async () => {
  requirePrometheusTool('prometheus');
  const dataDir = tempDir('observe-secure');
  const tlsDir = path.join(dataDir, 'tls');
  fs.mkdirSync(tlsDir);
  // The launcher's layout: ca.crt, <service>.crt/.key, admin.crt/.key.
  const ca = makeCa(tlsDir, 'local');
  fs.copyFileSync(ca.certFile, path.join(tlsDir, 'ca.crt'));
  const server = makeCert(tlsDir, ca, 'broker', 'broker');
  makeCert(tlsDir, ca, 'admin', 'admin');
  const metrics = createMetrics({ service: 'broker', nodeId: 0 });
  secureAdmin = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    logger: createLogger({ service: 'test', nodeId: '0', level: 'silent' }),
    tls: { certFile: server.certFile, keyFile: server.keyFile, caFile: path.join(tlsDir, 'ca.crt'), reloadIntervalMs: 0 },
  });
  await expect(fetch(`http://127.0.0.1:${secureAdmin.port}/metrics`)).rejects.toThrow();
  fs.writeFileSync(
    path.join(dataDir, 'local-cluster.json'),
    JSON.stringify({ secure: true, caFile: path.join(tlsDir, 'ca.crt'), tlsDir, services: [{ name: 'broker-0', app: 'broker', adminPort: secureAdmin.port, adminTls: true }] }),
  );
  const port = await freePort();
  const proc = spawnProcess({ command: process.execPath, args: [OBSERVE_JS, '--data-dir', dataDir, '--port', String(port), '--scrape-interval-seconds', '1'], name: 'observe-secure' });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`observe exited:\n${proc.outputTail(30)}`);
      const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent('up{job="tributary-broker",process="broker-0"}')}`).catch(() => undefined);
      if (res?.status !== 200) return false;
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      return body.data.result[0]?.value[1] === '1';
    },
    { timeoutMs: 30_000, message: 'broker-0 scraped over HTTPS and up' },
  );
  proc.kill('SIGINT');
  expect((await proc.exited).code).toBe(0);
});
