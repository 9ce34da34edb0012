/**
 * The v3 API of the REAL proxy process against a real cluster, over real HTTP: cluster and
 * brokers, topic create (with the proxy's num.partitions / default.replication.factor
 * defaults) / describe / delete, configs, produce (one record, several in one body, and the
 * chunked streaming mode with reports written back while the request is still open),
 * records:batch, and the stateless consume endpoint.
 */
import { request as httpRequest } from 'node:http';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, startCluster, waitFor } from '@tributary/testing';
import type { ProxyProcess } from './spec-helpers';
import { http, startProxy, uniqueTopic } from './spec-helpers';

jest.setTimeout(120_000);

let cluster: TestCluster;
let proxy: ProxyProcess;
let clusterId: string;
const J = { contentType: 'application/json' };
const b64 = (s: string): string => Buffer.from(s).toString('base64');

beforeAll(async () => {
  // The cluster's defaults for topics created without counts (KIP-464): 2 partitions, 2 replicas.
  cluster = await startCluster({ name: 'rest-v3', brokers: 2, logLevel: 'warn', controllerFlags: { 'num-partitions': 2, 'default-replication-factor': 2 } });
  proxy = await startProxy(cluster.bootstrap, { 'log-level': 'warn' });
  clusterId = (await http(proxy.url, 'GET', '/v3/clusters')).json.data[0].cluster_id;
});

afterAll(async () => {
  await cleanupAll();
});

const base = (): string => `/v3/clusters/${clusterId}`;

async function createTopic(name: string, extra: Record<string, unknown> = {}): Promise<void> {
  const r = await http(proxy.url, 'POST', `${base()}/topics`, { ...J, body: { topic_name: name, ...extra } });
  expect(r.status).toBe(201);
}

describe('v3 cluster and brokers', () => {
  it('lists the cluster with its id and links, and answers 404 for another cluster id', async () => {
    const list = await http(proxy.url, 'GET', '/v3/clusters');
    expect(list.status).toBe(200);
    expect(list.contentType).toBe('application/json');
    expect(list.json.kind).toBe('KafkaClusterList');
    expect(list.json.data).toHaveLength(1);
    expect(clusterId).toMatch(/\S+/);
    const one = await http(proxy.url, 'GET', base());
    expect(one.json).toEqual(list.json.data[0]);
    expect(one.json.metadata.self).toBe(`${proxy.url}${base()}`);
    expect(one.json.topics.related).toBe(`${proxy.url}${base()}/topics`);
    const other = await http(proxy.url, 'GET', '/v3/clusters/not-this-one/topics');
    expect([other.status, other.json.error_code]).toEqual([404, 404]);
  });

  it('lists the brokers and describes one', async () => {
    const r = await http(proxy.url, 'GET', `${base()}/brokers`);
    expect(r.status).toBe(200);
    expect(r.json.kind).toBe('KafkaBrokerList');
    expect(r.json.data.map((b: { broker_id: number }) => b.broker_id)).toEqual([0, 1]);
    for (const b of r.json.data) {
      expect(b.host).toBe('127.0.0.1');
      expect(cluster.brokers.get(b.broker_id)?.grpcPort).toBe(b.port);
    }
    const one = await http(proxy.url, 'GET', `${base()}/brokers/1`);
    expect(one.json).toEqual(r.json.data[1]);
    expect((await http(proxy.url, 'GET', `${base()}/brokers/7`)).status).toBe(404);
  });
});

describe('v3 topics and configs', () => {
  it('creates a topic with the given counts and configs, lists, describes, grows and deletes it', async () => {
    const t = uniqueTopic('v3-topic');
    const created = await http(proxy.url, 'POST', `${base()}/topics`, {
      ...J,
      body: { topic_name: t, partitions_count: 3, replication_factor: 1, configs: [{ name: 'cleanup.policy', value: 'compact' }] },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ kind: 'KafkaTopic', topic_name: t, partitions_count: 3, replication_factor: 1, cluster_id: clusterId, is_internal: false });
    const list = await http(proxy.url, 'GET', `${base()}/topics`);
    expect(list.json.data.map((x: { topic_name: string }) => x.topic_name)).toContain(t);
    const parts = await http(proxy.url, 'GET', `${base()}/topics/${t}/partitions`);
    expect(parts.json.data.map((p: { partition_id: number }) => p.partition_id)).toEqual([0, 1, 2]);
    expect((await http(proxy.url, 'GET', `${base()}/topics/${t}/partitions/2`)).json).toEqual(parts.json.data[2]);
    const grown = await http(proxy.url, 'PATCH', `${base()}/topics/${t}`, { ...J, body: { partitions_count: 5 } });
    expect([grown.status, grown.json.partitions_count]).toEqual([200, 5]);
    const shrink = await http(proxy.url, 'PATCH', `${base()}/topics/${t}`, { ...J, body: { partitions_count: 2 } });
    expect([shrink.status, shrink.json.error_code]).toEqual([400, 40002]);
    const again = await http(proxy.url, 'POST', `${base()}/topics`, { ...J, body: { topic_name: t } });
    expect([again.status, again.json.error_code]).toEqual([400, 40002]);
    expect(again.json.message).toContain('already exists');

    const deleted = await http(proxy.url, 'DELETE', `${base()}/topics/${t}`);
    expect(deleted.status).toBe(204);
    const gone = await http(proxy.url, 'GET', `${base()}/topics/${t}`);
    expect([gone.status, gone.json.error_code]).toEqual([404, 40403]);
    const deleteAgain = await http(proxy.url, 'DELETE', `${base()}/topics/${t}`);
    expect([deleteAgain.status, deleteAgain.json.error_code]).toEqual([404, 40403]);
  });

  it("gives a topic created without counts the cluster's num.partitions and default.replication.factor (here 2 and 2)", async () => {
    const validated = await http(proxy.url, 'POST', `${base()}/topics`, { ...J, body: { topic_name: uniqueTopic('v3-validate'), validate_only: true } });
    expect(validated.json).toMatchObject({ partitions_count: 2, replication_factor: 2 });
    const t = uniqueTopic('v3-defaults');
    await createTopic(t);
    const r = await http(proxy.url, 'GET', `${base()}/topics/${t}`);
    expect(r.json).toMatchObject({ partitions_count: 2, replication_factor: 2 });
    const minusOne = uniqueTopic('v3-minus-one');
    await createTopic(minusOne, { partitions_count: -1, replication_factor: -1 });
    expect((await http(proxy.url, 'GET', `${base()}/topics/${minusOne}`)).json).toMatchObject({ partitions_count: 2, replication_factor: 2 });
  });

  it('lists, reads, sets, alters (POST :alter and PATCH) and resets topic configs', async () => {
    const t = uniqueTopic('v3-configs');
    await createTopic(t, { configs: [{ name: 'retention.ms', value: '3600000' }] });
    const configs = `${base()}/topics/${t}/configs`;
    const list = await http(proxy.url, 'GET', configs);
    expect(list.json.kind).toBe('KafkaTopicConfigList');
    const retention = list.json.data.find((c: { name: string }) => c.name === 'retention.ms');
    expect(retention).toMatchObject({ value: '3600000', is_default: false, source: 'DYNAMIC_TOPIC_CONFIG', topic_name: t });

    expect((await http(proxy.url, 'PUT', `${configs}/segment.bytes`, { ...J, body: { value: '1048576' } })).status).toBe(204);
    expect((await http(proxy.url, 'GET', `${configs}/segment.bytes`)).json).toMatchObject({ value: '1048576', is_default: false });

    const alter = await http(proxy.url, 'POST', `${configs}:alter`, { ...J, body: { data: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'retention.ms', operation: 'DELETE' }] } });
    expect(alter.status).toBe(204);
    expect((await http(proxy.url, 'GET', `${configs}/cleanup.policy`)).json.value).toBe('compact');
    expect((await http(proxy.url, 'GET', `${configs}/retention.ms`)).json.is_default).toBe(true);

    const patch = await http(proxy.url, 'PATCH', configs, { ...J, body: { data: [{ name: 'cleanup.policy', value: 'delete' }] } });
    expect(patch.status).toBe(204);
    expect((await http(proxy.url, 'GET', `${configs}/cleanup.policy`)).json.value).toBe('delete');

    expect((await http(proxy.url, 'DELETE', `${configs}/segment.bytes`)).status).toBe(204);
    expect((await http(proxy.url, 'GET', `${configs}/segment.bytes`)).json.is_default).toBe(true);

    const bad = await http(proxy.url, 'POST', `${configs}:alter`, { ...J, body: { data: [{ name: 'no.such.config', value: '1' }] } });
    expect([bad.status, bad.json.error_code]).toEqual([400, 40002]);
    expect((await http(proxy.url, 'GET', `${configs}/no.such.config`)).status).toBe(404);
  });
});

describe('v3 produce and consume', () => {
  it('produces one record with typed key and value, headers, partition and timestamp, and reads it back', async () => {
    const t = uniqueTopic('v3-produce');
    await createTopic(t, { partitions_count: 3 });
    const records = `${base()}/topics/${t}/records`;
    const r = await http(proxy.url, 'POST', records, {
      ...J,
      body: { partition_id: 1, key: { type: 'STRING', data: 'k' }, value: { type: 'JSON', data: { a: [1, 2] } }, headers: [{ name: 'h1', value: b64('v1') }, { name: 'h2', value: null }], timestamp: '2026-03-04T05:06:07.008Z' },
    });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      error_code: 200,
      cluster_id: clusterId,
      topic_name: t,
      partition_id: 1,
      offset: 0,
      timestamp: '2026-03-04T05:06:07.008Z',
      key: { type: 'STRING', size: 1 },
      value: { type: 'JSON', size: 11 },
    });
    const bin = await http(proxy.url, 'POST', records, { ...J, body: { partition_id: 1, value: { type: 'BINARY', data: Buffer.from([0, 255]).toString('base64') } } });
    expect(bin.json).toMatchObject({ error_code: 200, partition_id: 1, offset: 1, key: null, value: { type: 'BINARY', size: 2 } });

    const read = await http(proxy.url, 'GET', `${base()}/topics/${t}/partitions/1/records?offset=0&timeout_ms=2000`);
    expect(read.status).toBe(200);
    expect(read.json.next_offset).toBe(2);
    expect(read.json.data).toEqual([
      {
        partition_id: 1,
        offset: 0,
        timestamp: '2026-03-04T05:06:07.008Z',
        key: { type: 'BINARY', data: b64('k') },
        value: { type: 'BINARY', data: b64('{"a":[1,2]}') },
        headers: [
          { name: 'h1', value: b64('v1') },
          { name: 'h2', value: null },
        ],
      },
      expect.objectContaining({ offset: 1, key: null, value: { type: 'BINARY', data: Buffer.from([0, 255]).toString('base64') } }),
    ]);
    const asJson = await http(proxy.url, 'GET', `${base()}/topics/${t}/partitions/1/records?offset=0&format=JSON&timeout_ms=2000`);
    expect(asJson.json.data[0].value).toEqual({ type: 'JSON', data: { a: [1, 2] } });
    const from1 = await http(proxy.url, 'GET', `${base()}/topics/${t}/partitions/1/records?offset=1&format=STRING&timeout_ms=2000`);
    expect(from1.json.data.map((d: { offset: number }) => d.offset)).toEqual([1]);
    const atEnd = await http(proxy.url, 'GET', `${base()}/topics/${t}/partitions/1/records?offset=2&timeout_ms=0`);
    expect([atEnd.status, atEnd.json.data, atEnd.json.next_offset]).toEqual([200, [], 2]);
    const beyond = await http(proxy.url, 'GET', `${base()}/topics/${t}/partitions/1/records?offset=3`);
    expect([beyond.status, beyond.json.error_code]).toEqual([400, 40002]);
    const badPartition = await http(proxy.url, 'GET', `${base()}/topics/${t}/partitions/3/records?offset=0`);
    expect([badPartition.status, badPartition.json.error_code]).toEqual([404, 40403]);
  });

  it('bounds a stateless read by max_bytes (at least one record)', async () => {
    const t = uniqueTopic('v3-max-bytes');
    await createTopic(t, { partitions_count: 1 });
    const body = Array.from({ length: 10 }, (_, i) => JSON.stringify({ value: { type: 'STRING', data: `${i}`.padStart(100, 'x') } })).join('\n');
    const produced = await http(proxy.url, 'POST', `${base()}/topics/${t}/records`, { ...J, body });
    expect(produced.text.trim().split('\n')).toHaveLength(10);
    const small = await http(proxy.url, 'GET', `${base()}/topics/${t}/partitions/0/records?offset=0&max_bytes=250&timeout_ms=2000`);
    expect(small.json.data.length).toBeGreaterThanOrEqual(1);
    expect(small.json.data.length).toBeLessThanOrEqual(2);
    expect(small.json.next_offset).toBe(small.json.data.length);
    const tiny = await http(proxy.url, 'GET', `${base()}/topics/${t}/partitions/0/records?offset=0&max_bytes=1&timeout_ms=2000`);
    expect(tiny.json.data).toHaveLength(1);
  });

  it('answers one report per record for several records in one body, in order, errors included', async () => {
    const t = uniqueTopic('v3-multi');
    await createTopic(t, { partitions_count: 1 });
    const body = [
      JSON.stringify({ value: { type: 'STRING', data: 'a' } }),
      JSON.stringify({ value: { type: 'BINARY', data: 'not base64!' } }),
      JSON.stringify({ value: { type: 'STRING', data: 'c' }, partition_id: 9 }),
      JSON.stringify({ value: { type: 'STRING', data: 'd' } }),
    ].join('');
    const r = await http(proxy.url, 'POST', `${base()}/topics/${t}/records`, { ...J, body });
    expect(r.status).toBe(200);
    const reports = r.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(reports.map((x) => x.error_code)).toEqual([200, 422, 40403, 200]);
    expect([reports[0].offset, reports[3].offset]).toEqual([0, 1]);
    const single = await http(proxy.url, 'POST', `${base()}/topics/${t}/records`, { ...J, body: { value: { type: 'NOPE', data: 1 } } });
    expect([single.status, single.json.error_code]).toEqual([422, 422]);
  });

  it('streams: records written into one chunked request get their reports back while the request is still open', async () => {
    const t = uniqueTopic('v3-stream');
    await createTopic(t, { partitions_count: 1 });
    const url = new URL(`${proxy.url}${base()}/topics/${t}/records`);
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } });
    const lines: string[] = [];
    let buffered = '';
    let status = 0;
    const ended = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buffered += d;
          const parts = buffered.split('\n');
          buffered = parts.pop() ?? '';
          lines.push(...parts.filter((p) => p.trim() !== ''));
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    req.flushHeaders();
    // The first record, then wait for its report before sending more: the answer streams.
    req.write(JSON.stringify({ value: { type: 'STRING', data: 'first' } }));
    await waitFor(async () => lines.length === 1, { timeoutMs: 20_000, message: 'the first delivery report' });
    // Records split across chunks anywhere, even inside a string.
    const rest = Array.from({ length: 30 }, (_, i) => JSON.stringify({ key: { type: 'STRING', data: `k${i}` }, value: { type: 'JSON', data: { i, s: 'é}{"' } } })).join('\n');
    for (let i = 0; i < rest.length; i += 37) req.write(rest.slice(i, i + 37));
    req.end();
    await ended;
    expect(status).toBe(200);
    const reports = lines.map((l) => JSON.parse(l));
    expect(reports).toHaveLength(31);
    expect(reports.map((x) => x.error_code)).toEqual(Array(31).fill(200));
    expect(reports.map((x) => x.offset)).toEqual(Array.from({ length: 31 }, (_, i) => i));
    const read = await http(proxy.url, 'GET', `${base()}/topics/${t}/partitions/0/records?offset=1&format=JSON&timeout_ms=2000`);
    expect(read.json.data[0].value.data).toEqual({ i: 0, s: 'é}{"' });
  });

  it('produces records:batch with ids: successes and failures (207)', async () => {
    const t = uniqueTopic('v3-batch');
    await createTopic(t, { partitions_count: 1 });
    const r = await http(proxy.url, 'POST', `${base()}/topics/${t}/records:batch`, {
      ...J,
      body: {
        entries: [
          { id: '1', value: { type: 'STRING', data: 'one' } },
          { id: '2', value: { type: 'BINARY', data: '***' } },
          { id: '3', value: { type: 'STRING', data: 'three' } },
          { id: '1', value: { type: 'STRING', data: 'dup' } },
        ],
      },
    });
    expect(r.status).toBe(207);
    expect(r.json.successes.map((s: { id: string; offset: number }) => [s.id, s.offset])).toEqual([
      ['1', 0],
      ['3', 1],
    ]);
    expect(r.json.failures.map((f: { id: string; error_code: number }) => [f.id, f.error_code]).sort()).toEqual([
      ['1', 400],
      ['2', 422],
    ]);
  });

  it('answers 40403 for a produce to a topic that does not exist', async () => {
    const r = await http(proxy.url, 'POST', `${base()}/topics/never-made/records`, { ...J, body: { value: { data: 1 } } });
    expect([r.status, r.json.error_code]).toEqual([404, 40403]);
  });
});
