/**
 * Hostile input against the REAL proxy process: wrong content types (415), broken JSON
 * (400), bad base64 and shapes (422), bodies over --max-request-bytes (413), unknown routes
 * (404 with an error body), odd and traversing names (404 / 40401, never a crash), a loop of
 * bad requests followed by a good one; then the request metrics (route templates as labels),
 * the JSON access log, and a graceful SIGTERM.
 */
import { request as httpRequest } from 'node:http';
import { Admin } from '@tributary/client';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, startCluster, waitFor } from '@tributary/testing';
import type { ProxyProcess } from './spec-helpers';
import { V2_BINARY, V2_JSON, http, startProxy, uniqueTopic } from './spec-helpers';

jest.setTimeout(120_000);

const MAX_BYTES = 64 * 1024;
let cluster: TestCluster;
let proxy: ProxyProcess;
let clusterId: string;
const topic = uniqueTopic('hostile');

beforeAll(async () => {
  cluster = await startCluster({ name: 'rest-hostile', brokers: 1, logLevel: 'warn' });
  const admin = new Admin({ bootstrap: cluster.bootstrap.split(',') });
  await admin.createTopics([{ name: topic, numPartitions: 2 }]);
  await admin.close();
  proxy = await startProxy(cluster.bootstrap, { 'log-level': 'info', 'max-request-bytes': MAX_BYTES });
  clusterId = (await http(proxy.url, 'GET', '/v3/clusters')).json.data[0].cluster_id;
});

afterAll(async () => {
  await cleanupAll();
});

const good = { records: [{ value: { ok: true } }] };

/** GET with the path sent byte for byte (no URL normalisation). */
function rawGet(path: string): Promise<{ status: number; json: { error_code?: number; message?: string } }> {
  const url = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('hostile input', () => {
  it('answers 415 for a wrong or missing content type', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/vnd.kafka.avro.v2+json', 'application/xml']) {
      const r = await http(proxy.url, 'POST', `/topics/${topic}`, { contentType, body: JSON.stringify(good) });
      expect({ contentType, status: r.status, code: r.json?.error_code }).toEqual({ contentType, status: 415, code: 415 });
      expect(r.json.message).toMatch(/vnd\.kafka\.json\.v2\+json|schema registry/);
    }
    const none = await http(proxy.url, 'POST', `/topics/${topic}`, { body: Buffer.from(JSON.stringify(good)) });
    expect([none.status, none.json.error_code]).toEqual([415, 415]);
    const v3 = await http(proxy.url, 'POST', `/v3/clusters/${clusterId}/topics`, { contentType: 'text/plain', body: '{"topic_name":"x"}' });
    expect([v3.status, v3.json.error_code]).toEqual([415, 415]);
    const v3records = await http(proxy.url, 'POST', `/v3/clusters/${clusterId}/topics/${topic}/records`, { contentType: 'text/csv', body: 'a,b' });
    expect([v3records.status, v3records.json.error_code]).toEqual([415, 415]);
  });

  it('answers 400 for malformed JSON and 422 for bad base64 or a body of the wrong shape', async () => {
    for (const body of ['{"records": [', 'not json', '{"records":[{"value":1}]}}', '']) {
      const r = await http(proxy.url, 'POST', `/topics/${topic}`, { contentType: V2_JSON, body });
      expect({ body, status: r.status, code: r.json?.error_code }).toEqual({ body, status: 400, code: 400 });
    }
    const cases: Array<[string, unknown]> = [
      [V2_BINARY, { records: [{ value: 'not base64 at all!' }] }],
      [V2_BINARY, { records: [{ value: 'YWJj=' }] }],
      [V2_BINARY, { records: [{ value: 42 }] }],
      [V2_JSON, { records: 'nope' }],
      [V2_JSON, [1, 2]],
      [V2_JSON, { records: [null] }],
      [V2_JSON, { records: [{ value: 1, partition: -1 }] }],
      [V2_JSON, { records: [{ value: 1, timestamp: 'yesterday' }] }],
      [V2_JSON, { records: [{ value: 1, headers: 5 }] }],
    ];
    for (const [contentType, body] of cases) {
      const r = await http(proxy.url, 'POST', `/topics/${topic}`, { contentType, body });
      expect({ body, status: r.status, code: r.json?.error_code }).toEqual({ body, status: 422, code: 422 });
    }
    const v3 = await http(proxy.url, 'POST', `/v3/clusters/${clusterId}/topics`, { contentType: 'application/json', body: '{"topic_name":' });
    expect([v3.status, v3.json.error_code]).toEqual([400, 400]);
    const v3records = await http(proxy.url, 'POST', `/v3/clusters/${clusterId}/topics/${topic}/records`, { contentType: 'application/json', body: '{"value": {"data": 1}' });
    expect([v3records.status, v3records.json.error_code]).toEqual([400, 400]);
  });

  it(`answers 413 for a body over --max-request-bytes (${MAX_BYTES})`, async () => {
    const big = { records: [{ value: 'x'.repeat(MAX_BYTES) }] };
    const r = await http(proxy.url, 'POST', `/topics/${topic}`, { contentType: V2_JSON, body: big });
    expect([r.status, r.json?.error_code]).toEqual([413, 413]);
    expect(r.json.message).toContain('max-request-bytes');
    const v3 = await http(proxy.url, 'POST', `/v3/clusters/${clusterId}/topics/${topic}/records`, { contentType: 'application/json', body: { value: { type: 'STRING', data: 'x'.repeat(MAX_BYTES) } } });
    expect([v3.status, v3.json?.error_code]).toEqual([413, 413]);
  });

  it('answers 404 with an error body for unknown routes and methods', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', '/v3/nope'],
      ['DELETE', '/topics'],
      ['PUT', `/topics/${topic}`],
      ['GET', '/topics/a/b/c/d/e'],
      ['GET', '/v3/clusters/x/y/z'],
    ] as const) {
      const r = await http(proxy.url, method, path);
      expect({ method, path, status: r.status, code: r.json?.error_code }).toEqual({ method, path, status: 404, code: 404 });
    }
  });

  it('answers not-found for traversing, over-long and odd topic names, never a crash', async () => {
    const names = ['..%2F..%2Fetc%2Fpasswd', '%2e%2e', '..', '.', 'a'.repeat(300), '%00', '%F0%9F%92%A9', 'a%20b', "x'%3B%20DROP", '%25%25%25', '__proto__', 'constructor'];
    for (const name of names) {
      // Sent as is (fetch would resolve '..' segments before sending).
      const v2 = await rawGet(`/topics/${name}`);
      expect({ name, status: v2.status, code: v2.json?.error_code, message: v2.json?.message }).toEqual({ name, status: 404, code: expect.any(Number), message: expect.any(String) });
      if (v2.json.error_code !== 404) expect(v2.json.error_code).toBe(40401);
      const produce = await http(proxy.url, 'POST', `/topics/${name}`, { contentType: V2_JSON, body: good });
      expect({ name, status: produce.status }).toEqual({ name, status: 404 });
      const v3 = await rawGet(`/v3/clusters/${clusterId}/topics/${name}/configs`);
      expect({ name, status: v3.status }).toEqual({ name, status: 404 });
    }
    for (const name of ['../x', '..', 'a/b', 'a'.repeat(250), '']) {
      const create = await http(proxy.url, 'POST', `/v3/clusters/${clusterId}/topics`, { contentType: 'application/json', body: { topic_name: name } });
      expect({ name, status: create.status, code: create.json?.error_code }).toEqual({ name, status: 400, code: 40002 });
    }
    const cluster = await http(proxy.url, 'GET', '/v3/clusters/..%2F..%2F/topics');
    expect(cluster.status).toBe(404);
  });

  it('survives a loop of bad requests (and a broken stream) and then serves a good one', async () => {
    const bad = [
      () => http(proxy.url, 'POST', `/topics/${topic}`, { contentType: V2_JSON, body: '{"records":[{"value":' }),
      () => http(proxy.url, 'POST', `/topics/${topic}`, { contentType: V2_BINARY, body: { records: [{ value: '%%%' }] } }),
      () => http(proxy.url, 'POST', `/topics/${topic}`, { contentType: 'text/plain', body: 'hello' }),
      () => http(proxy.url, 'POST', `/topics/${topic}/partitions/99999999999`, { contentType: V2_JSON, body: good }),
      () => http(proxy.url, 'GET', `/topics/${topic}/partitions/1e3/offsets`),
      () => http(proxy.url, 'POST', `/v3/clusters/${clusterId}/topics/${topic}/records`, { contentType: 'application/json', body: '}{' }),
      () => http(proxy.url, 'POST', `/v3/clusters/${clusterId}/topics/${topic}/records:batch`, { contentType: 'application/json', body: { entries: [{}, null, 5] } }),
      () => http(proxy.url, 'GET', `/v3/clusters/${clusterId}/topics/${topic}/partitions/0/records?offset=-1&max_bytes=abc`),
      () => http(proxy.url, 'PATCH', `/v3/clusters/${clusterId}/topics/${topic}/configs`, { contentType: 'application/json', body: { data: [{ value: 1 }] } }),
      () => http(proxy.url, 'GET', '/brokers', { accept: 'text/html;q=abc, */*;q=-1' }),
      // 30,000 levels of nesting: a parser or serializer stack overflow must be an answer, not a crash.
      () => http(proxy.url, 'POST', `/topics/${topic}`, { contentType: V2_JSON, body: `{"records":[{"value":${'['.repeat(30_000)}${']'.repeat(30_000)}}]}` }),
      () => http(proxy.url, 'POST', `/topics/${topic}`, { contentType: V2_JSON, body: `{"records":[{"value":${'['.repeat(30_000)}}]}` }),
    ];
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(bad.map((f) => f()));
      for (const a of answers) {
        if (a.status === 207) {
          // records:batch answers per entry, as Confluent: every entry failed.
          expect(a.json.successes).toEqual([]);
          expect(a.json.failures.map((f: { error_code: number }) => f.error_code)).toEqual([400, 400, 400]);
          continue;
        }
        expect(a.status).toBeGreaterThanOrEqual(400);
        expect(a.status).toBeLessThan(500);
        expect(typeof a.json.error_code).toBe('number');
        expect(typeof a.json.message).toBe('string');
      }
    }
    // A chunked stream that turns into garbage: the good record is reported, then one 400.
    const url = new URL(`${proxy.url}/v3/clusters/${clusterId}/topics/${topic}/records`);
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        let s = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (s += d));
        res.on('end', () => resolve(s));
      });
      req.on('error', reject);
      req.write('{"value":{"type":"STRING","data":"fine"}}');
      req.write('garbage');
      req.end('{"value":{"type":"STRING","data":"never"}}');
    });
    expect(text.trim().split('\n').map((l) => JSON.parse(l).error_code)).toEqual([200, 400]);

    // Clients that vanish mid-stream, before and after their first report.
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => resolve());
        req.on('close', () => resolve());
        req.write('{"value":{"type":"STRING","data":"a"}}{"value":{"type":"STRING","data":"b"}}{"value":');
        if (i % 2 === 0) setImmediate(() => req.destroy());
      });
    }

    expect(proxy.proc.running).toBe(true);
    const ok = await http(proxy.url, 'POST', `/topics/${topic}`, { contentType: V2_JSON, body: good });
    expect(ok.status).toBe(200);
    expect(ok.json.offsets[0].error_code).toBeNull();
  });
});

describe('observability and shutdown', () => {
  it('counts requests by route template, method and status, with a duration histogram', async () => {
    const text = await proxy.metrics();
    expect(text).toMatch(new RegExp(`tributary_rest_requests_total\\{route="/topics/:topic",method="POST",status="200"\\} [1-9]`));
    expect(text).toMatch(/tributary_rest_requests_total\{route="\/topics\/:topic",method="POST",status="415"\} [1-9]/);
    expect(text).toMatch(/tributary_rest_requests_total\{route="unmatched",method="GET",status="404"\} [1-9]/);
    expect(text).toMatch(/tributary_rest_request_duration_seconds_bucket\{le="[^"]+",route="\/topics\/:topic",method="POST"\} [1-9]/);
    expect(text).toMatch(/tributary_rest_produced_records_total\{api="v2",result="ok"\} [1-9]/);
    expect(text).toMatch(/tributary_rest_produced_records_total\{api="v3",result="ok"\} [1-9]/);
    expect(text).toMatch(/tributary_rest_produced_records_total\{api="v3",result="error"\} [1-9]/);
    // Labels are templates: no concrete topic name ever becomes a label value.
    expect(text).not.toContain(topic);
  });

  it('writes one JSON access-log line per request, without bodies, headers or query strings', async () => {
    const path = `/topics/${uniqueTopic('access-log')}`;
    const secret = uniqueTopic('secret-body');
    const headerSecrets = { authorization: `Basic ${Buffer.from(`user:${uniqueTopic('secret-password')}`).toString('base64')}`, cookie: `session=${uniqueTopic('secret-cookie')}`, 'x-api-key': uniqueTopic('secret-key') };
    const querySecret = uniqueTopic('secret-query');
    await http(proxy.url, 'POST', `${path}?token=${querySecret}`, { contentType: V2_JSON, body: { records: [{ value: secret }] }, headers: headerSecrets });
    let line: Record<string, unknown> | undefined;
    // The line reaches this process through the child's stdout pipe some time after the answer.
    await waitFor(
      async () => {
        line = proxy.proc
          .outputTail()
          .split('\n')
          .filter((l) => l.startsWith('{') && l.includes(path))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => l.component === 'access');
        return line !== undefined;
      },
      { timeoutMs: 10_000, message: 'the access-log line' },
    );
    expect(line).toMatchObject({ method: 'POST', path, route: '/topics/:topic', status: 404, msg: 'request', service: 'rest-proxy' });
    expect(typeof line!.durationMs).toBe('number');
    const output = proxy.proc.outputTail();
    for (const s of [secret, querySecret, ...Object.values(headerSecrets), headerSecrets.authorization.slice(6)]) expect(output).not.toContain(s);
  });

  it('stops gracefully on SIGTERM: exit code 0, readiness gone', async () => {
    const exit = await proxy.proc.stop(10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await fetch(`${proxy.adminUrl}/readyz`).catch(() => 'closed')).toBe('closed');
  });
});
