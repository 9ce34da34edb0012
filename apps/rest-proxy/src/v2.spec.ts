/**
 * The v2 API of the REAL proxy process against a real cluster (coordination, one controller,
 * two brokers), over real HTTP: metadata, content negotiation, produce in both embedded
 * formats (checked by reading the records back with the SDK's Consumer), headers and
 * timestamps, and the v2 error codes.
 */
import { Admin, Consumer, partitionForKey } from '@tributary/client';
import type { ConsumerRecord } from '@tributary/client';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, startCluster, waitFor } from '@tributary/testing';
import type { ProxyProcess } from './spec-helpers';
import { V2, V2_BINARY, V2_JSON, http, startProxy, uniqueTopic } from './spec-helpers';

jest.setTimeout(120_000);

let cluster: TestCluster;
let proxy: ProxyProcess;
let admin: Admin;
const topic = uniqueTopic('v2');

beforeAll(async () => {
  cluster = await startCluster({ name: 'rest-v2', brokers: 2, logLevel: 'warn' });
  admin = new Admin({ bootstrap: cluster.bootstrap.split(',') });
  await admin.createTopics([{ name: topic, numPartitions: 3, replicationFactor: 2, configs: { 'retention.ms': '3600000' } }]);
  proxy = await startProxy(cluster.bootstrap, { 'log-level': 'warn' });
});

afterAll(async () => {
  await admin?.close();
  await cleanupAll();
});

/** Reads `count` records of `t` from the start of every partition. */
async function readBack(t: string, count: number): Promise<ConsumerRecord[]> {
  const consumer = new Consumer({ bootstrap: cluster.bootstrap.split(','), autoOffsetReset: 'earliest' });
  const out: ConsumerRecord[] = [];
  try {
    consumer.subscribe([t]);
    await waitFor(
      async () => {
        for (const r of await consumer.poll(500)) out.push({ ...r, key: r.key && Buffer.from(r.key), value: r.value && Buffer.from(r.value) });
        return out.length >= count;
      },
      { timeoutMs: 30_000, message: `${count} records of ${t}` },
    );
  } finally {
    await consumer.close();
  }
  return out;
}

describe('v2 metadata', () => {
  it('lists topics and brokers in the v2 content type', async () => {
    const topics = await http(proxy.url, 'GET', '/topics');
    expect(topics.status).toBe(200);
    expect(topics.contentType).toBe(V2);
    expect(topics.json).toContain(topic);

    const brokers = await http(proxy.url, 'GET', '/brokers');
    expect(brokers.status).toBe(200);
    expect(brokers.json).toEqual({ brokers: [0, 1] });
  });

  it('describes a topic, its partitions and one partition with replicas, leader and ISR flags', async () => {
    const t = await http(proxy.url, 'GET', `/topics/${topic}`);
    expect(t.status).toBe(200);
    expect(t.json.name).toBe(topic);
    expect(t.json.configs['retention.ms']).toBe('3600000');
    expect(t.json.partitions).toHaveLength(3);
    for (const p of t.json.partitions) {
      expect(p.replicas).toHaveLength(2);
      expect(p.replicas.filter((r: { leader: boolean }) => r.leader)).toEqual([{ broker: p.leader, leader: true, in_sync: true }]);
    }

    const parts = await http(proxy.url, 'GET', `/topics/${topic}/partitions`);
    expect(parts.status).toBe(200);
    expect(parts.json.map((p: { partition: number }) => p.partition)).toEqual([0, 1, 2]);

    const one = await http(proxy.url, 'GET', `/topics/${topic}/partitions/2`);
    expect(one.status).toBe(200);
    expect(one.json).toEqual(parts.json[2]);
  });

  it('answers offsets of a partition: beginning and end', async () => {
    const t = uniqueTopic('v2-offsets');
    await admin.createTopics([{ name: t, numPartitions: 1 }]);
    const before = await http(proxy.url, 'GET', `/topics/${t}/partitions/0/offsets`);
    expect(before.status).toBe(200);
    expect(before.json).toEqual({ beginning_offset: 0, end_offset: 0 });
    const produced = await http(proxy.url, 'POST', `/topics/${t}`, { contentType: V2_JSON, body: { records: [{ value: 1 }, { value: 2 }, { value: 3 }] } });
    expect(produced.status).toBe(200);
    const after = await http(proxy.url, 'GET', `/topics/${t}/partitions/0/offsets`);
    expect(after.json).toEqual({ beginning_offset: 0, end_offset: 3 });
  });

  it('answers 40401 for an unknown topic and 40402 for an unknown partition', async () => {
    for (const path of ['/topics/no-such-topic', '/topics/no-such-topic/partitions', '/topics/no-such-topic/partitions/0', '/topics/no-such-topic/partitions/0/offsets']) {
      const r = await http(proxy.url, 'GET', path);
      expect({ path, status: r.status, code: r.json?.error_code }).toEqual({ path, status: 404, code: 40401 });
      expect(r.json.message).toContain('no-such-topic');
    }
    for (const p of ['3', '99', 'abc', '-1', '01']) {
      const r = await http(proxy.url, 'GET', `/topics/${topic}/partitions/${p}`);
      expect({ p, status: r.status, code: r.json?.error_code }).toEqual({ p, status: 404, code: 40402 });
    }
  });

  it('negotiates the response type from Accept, as Confluent: v2 by default, application/json when preferred, 406 when nothing fits', async () => {
    expect((await http(proxy.url, 'GET', '/brokers', { accept: '*/*' })).contentType).toBe(V2);
    expect((await http(proxy.url, 'GET', '/brokers', { accept: 'application/json' })).contentType).toBe('application/json');
    expect((await http(proxy.url, 'GET', '/brokers', { accept: 'application/vnd.kafka+json' })).contentType).toBe('application/vnd.kafka+json');
    expect((await http(proxy.url, 'GET', '/brokers', { accept: 'application/json;q=0.9, application/vnd.kafka.v2+json' })).contentType).toBe(V2);
    expect((await http(proxy.url, 'GET', '/brokers', { accept: 'application/vnd.kafka.v2+json;q=0.1, application/json' })).contentType).toBe('application/json');
    const refused = await http(proxy.url, 'GET', '/brokers', { accept: 'text/html' });
    expect(refused.status).toBe(406);
    expect(refused.json.error_code).toBe(406);
  });
});

describe('v2 produce', () => {
  it('produces JSON records: values as JSON text, keyed records on the partition the SDK partitioner picks', async () => {
    const t = uniqueTopic('v2-json');
    await admin.createTopics([{ name: t, numPartitions: 4 }]);
    const records = Array.from({ length: 20 }, (_, i) => ({ key: `user-${i}`, value: { n: i, tags: ['a', i] } }));
    const r = await http(proxy.url, 'POST', `/topics/${t}`, { contentType: V2_JSON, body: { records } });
    expect(r.status).toBe(200);
    expect(r.contentType).toBe(V2);
    expect(r.json.key_schema_id).toBeNull();
    expect(r.json.value_schema_id).toBeNull();
    expect(r.json.offsets).toHaveLength(20);
    r.json.offsets.forEach((o: { partition: number; offset: number; error_code: unknown; error: unknown }, i: number) => {
      expect(o.error_code).toBeNull();
      expect(o.error).toBeNull();
      // Keys are sent as their JSON text ("user-0" with quotes), which the partitioner hashes.
      expect(o.partition).toBe(partitionForKey(Buffer.from(JSON.stringify(`user-${i}`)), 4));
    });
    const back = await readBack(t, 20);
    for (const rec of back) {
      const i = records.findIndex((x) => JSON.stringify(x.key) === rec.key?.toString());
      expect(i).toBeGreaterThanOrEqual(0);
      expect(JSON.parse(rec.value!.toString())).toEqual(records[i]!.value);
      const o = r.json.offsets[i];
      expect([rec.partition, Number(rec.offset)]).toEqual([o.partition, o.offset]);
    }
  });

  it('produces binary records (base64) with headers and timestamps, and to an explicit partition', async () => {
    const t = uniqueTopic('v2-binary');
    await admin.createTopics([{ name: t, numPartitions: 3 }]);
    const value = Buffer.from([0, 1, 2, 250, 255]);
    const ts = Date.parse('2026-01-02T03:04:05.006Z');
    const r = await http(proxy.url, 'POST', `/topics/${t}/partitions/2`, {
      contentType: V2_BINARY,
      body: {
        records: [
          { key: Buffer.from('k1').toString('base64'), value: value.toString('base64'), headers: { trace: Buffer.from('abc').toString('base64') }, timestamp: ts },
          { value: null, headers: [{ key: 'h', value: null }], timestamp: '2026-01-02T03:04:06Z' },
        ],
      },
    });
    expect(r.status).toBe(200);
    expect(r.json.offsets.map((o: { partition: number; offset: number }) => [o.partition, o.offset])).toEqual([
      [2, 0],
      [2, 1],
    ]);
    const back = (await readBack(t, 2)).sort((a, b) => Number(a.offset - b.offset));
    expect(back[0]!.partition).toBe(2);
    expect(back[0]!.key?.toString()).toBe('k1');
    expect(back[0]!.value).toEqual(value);
    expect(back[0]!.timestamp).toBe(ts);
    expect(back[0]!.headers.map((h) => [h.key, h.value?.toString()])).toEqual([['trace', 'abc']]);
    expect(back[1]!.value).toBeNull();
    expect(back[1]!.timestamp).toBe(Date.parse('2026-01-02T03:04:06Z'));
    expect(back[1]!.headers).toEqual([{ key: 'h', value: null }]);
  });

  it('honours a per-record partition and refuses one that does not exist (40402) without writing anything', async () => {
    const t = uniqueTopic('v2-partition');
    await admin.createTopics([{ name: t, numPartitions: 2 }]);
    const ok = await http(proxy.url, 'POST', `/topics/${t}`, { contentType: V2_JSON, body: { records: [{ value: 'a', partition: 1 }, { value: 'b', partition: 0 }] } });
    expect(ok.json.offsets.map((o: { partition: number }) => o.partition)).toEqual([1, 0]);
    const bad = await http(proxy.url, 'POST', `/topics/${t}`, { contentType: V2_JSON, body: { records: [{ value: 'c', partition: 0 }, { value: 'd', partition: 2 }] } });
    expect(bad.status).toBe(404);
    expect(bad.json.error_code).toBe(40402);
    const badPath = await http(proxy.url, 'POST', `/topics/${t}/partitions/5`, { contentType: V2_JSON, body: { records: [{ value: 'e' }] } });
    expect([badPath.status, badPath.json.error_code]).toEqual([404, 40402]);
    const offsets = await http(proxy.url, 'GET', `/topics/${t}/partitions/0/offsets`);
    expect(offsets.json.end_offset).toBe(1);
  });

  it('sees partitions added after the topic was first used (the cached count is asked again before a 40402)', async () => {
    const t = uniqueTopic('v2-grown');
    await admin.createTopics([{ name: t, numPartitions: 1 }]);
    expect((await http(proxy.url, 'GET', `/topics/${t}/partitions/0`)).status).toBe(200);
    await admin.createPartitions([{ topic: t, count: 3 }]);
    const grown = await http(proxy.url, 'GET', `/topics/${t}/partitions/2`);
    expect(grown.status).toBe(200);
    expect(grown.json.partition).toBe(2);
    expect((await http(proxy.url, 'GET', `/topics/${t}/partitions/3`)).json.error_code).toBe(40402);
  });

  it('answers 40401 when producing to a topic that does not exist', async () => {
    const r = await http(proxy.url, 'POST', '/topics/never-created', { contentType: V2_JSON, body: { records: [{ value: 1 }] } });
    expect([r.status, r.json.error_code]).toEqual([404, 40401]);
  });

  it('takes concurrent requests through the one shared producer: every record written once, offsets dense per partition', async () => {
    const t = uniqueTopic('v2-concurrent');
    await admin.createTopics([{ name: t, numPartitions: 2 }]);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, req) =>
        http(proxy.url, 'POST', `/topics/${t}`, { contentType: V2_JSON, body: { records: Array.from({ length: 25 }, (_, i) => ({ key: `${req}-${i}`, value: i })) } }),
      ),
    );
    const seen = new Map<number, number[]>();
    for (const a of answers) {
      expect(a.status).toBe(200);
      for (const o of a.json.offsets) {
        expect(o.error_code).toBeNull();
        seen.set(o.partition, [...(seen.get(o.partition) ?? []), o.offset]);
      }
    }
    let total = 0;
    for (const offs of seen.values()) {
      offs.sort((a, b) => a - b);
      expect(offs).toEqual(offs.map((_, i) => i));
      total += offs.length;
    }
    expect(total).toBe(500);
  });
});
