/**
 * v2 consumer instances and v3 consumer groups of the REAL proxy process against a real
 * cluster (coordination, one controller, two brokers, one group coordinator), over real HTTP:
 * two instances of one group sharing a topic's partitions, commits and the resumption of a
 * new instance from them, manual assignment and positions, max_bytes, the errors (unknown
 * instance, duplicate name, format mismatch, bad bodies, path traversal), instance expiry,
 * and the v3 lag endpoints against produced and committed data.
 */
import { Admin } from '@tributary/client';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, sleep, startCluster, waitFor } from '@tributary/testing';
import type { HttpAnswer, ProxyProcess } from './spec-helpers';
import { V2, V2_BINARY, V2_JSON, http, rawHttp, startProxy, uniqueTopic } from './spec-helpers';

jest.setTimeout(180_000);

let cluster: TestCluster;
let proxy: ProxyProcess;
let admin: Admin;
let clusterId: string;

beforeAll(async () => {
  cluster = await startCluster({
    name: 'rest-consumers',
    brokers: 2,
    groupCoordinators: 1,
    groupCoordinatorFlags: { 'group-initial-rebalance-delay-ms': 0, 'group-min-session-timeout-ms': 1000 },
    logLevel: 'warn',
  });
  admin = new Admin({ bootstrap: cluster.bootstrap.split(',') });
  proxy = await startProxy(cluster.bootstrap, { 'log-level': 'warn', 'access-log': false });
  clusterId = (await http(proxy.url, 'GET', '/v3/clusters')).json.data[0].cluster_id as string;
});

afterAll(async () => {
  await admin?.close();
  await cleanupAll();
});

interface V2Record {
  topic: string;
  key: unknown;
  value: unknown;
  partition: number;
  offset: number;
  headers: Array<{ key: string; value: string | null }>;
  timestamp: number;
}

async function createTopic(prefix: string, partitions: number): Promise<string> {
  const topic = uniqueTopic(prefix);
  await admin.createTopics([{ name: topic, numPartitions: partitions, replicationFactor: 1 }]);
  return topic;
}

/** Produces `perPartition` JSON records `{n}` to every partition of `topic` through the proxy. */
async function produce(topic: string, partitions: number, perPartition: number, from = 0): Promise<void> {
  const records = [];
  for (let p = 0; p < partitions; p++) {
    for (let i = 0; i < perPartition; i++) records.push({ key: `k${p}-${from + i}`, value: { n: from + i, p }, partition: p, headers: { source: 'spec' }, timestamp: 1_700_000_000_000 + i });
  }
  const res = await http(proxy.url, 'POST', `/topics/${topic}`, { contentType: V2_JSON, body: { records } });
  expect(res.status).toBe(200);
  expect(res.json.offsets.every((o: { error_code: unknown }) => o.error_code === null)).toBe(true);
}

async function createInstance(group: string, body: Record<string, unknown>, base = proxy.url): Promise<string> {
  const res = await http(base, 'POST', `/consumers/${group}`, { contentType: V2, body });
  expect(res.status).toBe(200);
  expect(res.contentType).toBe(V2);
  expect(res.json.instance_id).toBe(body.name ?? res.json.instance_id);
  expect(res.json.base_uri).toBe(`${base}/consumers/${group}/instances/${res.json.instance_id}`);
  return `/consumers/${group}/instances/${res.json.instance_id}`;
}

async function records(path: string, accept = V2_JSON, query = 'timeout=500', base = proxy.url): Promise<V2Record[]> {
  const res = await http(base, 'GET', `${path}/records?${query}`, { accept });
  if (res.status !== 200) throw new Error(`records ${path}: ${res.status} ${res.text}`);
  expect(res.contentType).toBe(accept);
  return res.json as V2Record[];
}

async function assignments(path: string): Promise<string[]> {
  const res = await http(proxy.url, 'GET', `${path}/assignments`);
  expect(res.status).toBe(200);
  return (res.json.partitions as Array<{ topic: string; partition: number }>).map((tp) => `${tp.topic}-${tp.partition}`).sort();
}

function expectError(res: HttpAnswer, status: number, errorCode: number): void {
  expect({ status: res.status, error_code: res.json?.error_code as unknown }).toEqual({ status, error_code: errorCode });
  expect(typeof res.json.message).toBe('string');
}

describe('v2 consumer instances in one group', () => {
  it('share the partitions, read every record once, commit, and a new instance resumes from the commits; v3 shows members and lag', async () => {
    const partitions = 4;
    const topic = await createTopic('cg', partitions);
    const group = `g-${topic}`;
    const a = await createInstance(group, { name: 'a', format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' });
    const b = await createInstance(group, { name: 'b', format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' });
    for (const path of [a, b]) {
      expect((await http(proxy.url, 'POST', `${path}/subscription`, { contentType: V2, body: { topics: [topic] } })).status).toBe(204);
      const sub = await http(proxy.url, 'GET', `${path}/subscription`);
      expect(sub.json).toEqual({ topics: [topic] });
    }

    // Both members poll until the group is stable: each has a disjoint, non-empty share.
    let shareA: string[] = [];
    let shareB: string[] = [];
    await waitFor(
      async () => {
        const [ra, rb] = await Promise.all([records(a, V2_JSON, 'timeout=200'), records(b, V2_JSON, 'timeout=200')]);
        expect(ra.length + rb.length).toBe(0); // nothing produced yet
        [shareA, shareB] = await Promise.all([assignments(a), assignments(b)]);
        return shareA.length > 0 && shareB.length > 0 && shareA.length + shareB.length === partitions && new Set([...shareA, ...shareB]).size === partitions;
      },
      { timeoutMs: 60_000, message: 'a stable group of two members sharing the partitions' },
    );

    await produce(topic, partitions, 10);
    const readA: V2Record[] = [];
    const readB: V2Record[] = [];
    await waitFor(
      async () => {
        const [ra, rb] = await Promise.all([records(a), records(b)]);
        readA.push(...ra);
        readB.push(...rb);
        return readA.length + readB.length >= partitions * 10;
      },
      { timeoutMs: 60_000, message: 'every produced record read by the two instances' },
    );
    // Each instance read only its share; together every record exactly once.
    for (const r of readA) expect(shareA).toContain(`${r.topic}-${r.partition}`);
    for (const r of readB) expect(shareB).toContain(`${r.topic}-${r.partition}`);
    const all = [...readA, ...readB];
    expect(all).toHaveLength(partitions * 10);
    expect(new Set(all.map((r) => `${r.partition}/${r.offset}`)).size).toBe(partitions * 10);
    // json format: values as JSON; beyond Confluent: headers and timestamp.
    const first = all.find((r) => r.partition === 0 && r.offset === 0)!;
    expect(first).toEqual({ topic, key: 'k0-0', value: { n: 0, p: 0 }, partition: 0, offset: 0, headers: [{ key: 'source', value: 'spec' }], timestamp: 1_700_000_000_000 });
    expect(all.find((r) => r.partition === 2 && r.offset === 3)?.value).toEqual({ n: 3, p: 2 });

    // a commits everything it fetched (no body); b commits an explicit list of the last records it processed.
    expect((await http(proxy.url, 'POST', `${a}/offsets`, { contentType: V2 })).status).toBe(200);
    const lastOfB = new Map<number, number>();
    for (const r of readB) lastOfB.set(r.partition, Math.max(lastOfB.get(r.partition) ?? -1, r.offset));
    const commitB = await http(proxy.url, 'POST', `${b}/offsets`, { contentType: V2, body: { offsets: [...lastOfB].map(([partition, offset]) => ({ topic, partition, offset })) } });
    expect(commitB.status).toBe(200);
    const everyPartition = Array.from({ length: partitions }, (_, partition) => ({ topic, partition }));
    const committed = await rawHttp(proxy.url, 'GET', `${a}/offsets`, { contentType: V2, body: { partitions: everyPartition } });
    expect(committed.status).toBe(200);
    expect(committed.json).toEqual({ offsets: everyPartition.map((tp) => ({ ...tp, offset: 10, metadata: '' })) });

    // v3: the group, its two members, no lag; then lag after more records.
    const v3 = `/v3/clusters/${clusterId}/consumer-groups`;
    const listed = await http(proxy.url, 'GET', v3);
    expect(listed.status).toBe(200);
    expect(listed.json.kind).toBe('KafkaConsumerGroupList');
    expect(listed.json.data.map((g: { consumer_group_id: string }) => g.consumer_group_id)).toContain(group);
    const described = await http(proxy.url, 'GET', `${v3}/${group}`);
    expect(described.json).toMatchObject({ kind: 'KafkaConsumerGroup', cluster_id: clusterId, consumer_group_id: group, is_simple: false, state: 'STABLE' });
    const consumers = await http(proxy.url, 'GET', `${v3}/${group}/consumers`);
    expect(consumers.json.kind).toBe('KafkaConsumerList');
    expect(consumers.json.data.map((c: { client_id: string }) => c.client_id).sort()).toEqual(['a', 'b']);
    const memberA = consumers.json.data.find((c: { client_id: string }) => c.client_id === 'a');
    const assignedA = await http(proxy.url, 'GET', `${v3}/${group}/consumers/${memberA.consumer_id}/assignments`);
    expect(assignedA.json.data.map((x: { topic_name: string; partition_id: number }) => `${x.topic_name}-${x.partition_id}`).sort()).toEqual(shareA);

    const noLag = await http(proxy.url, 'GET', `${v3}/${group}/lag-summary`);
    expect(noLag.json).toMatchObject({ kind: 'KafkaConsumerGroupLagSummary', consumer_group_id: group, max_lag: 0, total_lag: 0 });
    await produce(topic, partitions, 2, 10);
    await produce(topic, 1, 3, 12); // partition 0 gets 3 more: the largest lag
    const summary = await http(proxy.url, 'GET', `${v3}/${group}/lag-summary`);
    expect(summary.json).toMatchObject({ max_lag: 5, total_lag: 3 * 2 + 5, max_lag_topic_name: topic, max_lag_partition_id: 0 });
    expect(['a', 'b']).toContain(summary.json.max_lag_client_id);
    const lags = await http(proxy.url, 'GET', `${v3}/${group}/lags`);
    expect(lags.json.kind).toBe('KafkaConsumerLagList');
    expect(lags.json.data.map((l: { partition_id: number; current_offset: number; log_end_offset: number; lag: number }) => [l.partition_id, l.current_offset, l.log_end_offset, l.lag])).toEqual([
      [0, 10, 15, 5],
      [1, 10, 12, 2],
      [2, 10, 12, 2],
      [3, 10, 12, 2],
    ]);
    const one = await http(proxy.url, 'GET', `${v3}/${group}/lags/${topic}/partitions/1`);
    expect(one.json).toMatchObject({ kind: 'KafkaConsumerLag', topic_name: topic, partition_id: 1, lag: 2 });
    expect(shareA.concat(shareB)).toContain(`${topic}-${one.json.partition_id}`);
    expect(['a', 'b']).toContain(one.json.client_id);

    // Both leave; a new instance resumes from the committed offsets: exactly the 11 new records.
    for (const path of [a, b]) expect((await http(proxy.url, 'DELETE', path)).status).toBe(204);
    expectError(await http(proxy.url, 'GET', `${a}/subscription`), 404, 40403);
    const c = await createInstance(group, { name: 'c', format: 'json', 'auto.offset.reset': 'earliest' });
    await http(proxy.url, 'POST', `${c}/subscription`, { contentType: V2, body: { topics: [topic] } });
    const readC: V2Record[] = [];
    await waitFor(
      async () => {
        readC.push(...(await records(c)));
        return readC.length >= 11;
      },
      { timeoutMs: 60_000, message: 'the new instance reads the records after the commits' },
    );
    expect(readC.map((r) => `${r.partition}/${r.offset}`).sort()).toEqual(['0/10', '0/11', '0/12', '0/13', '0/14', '1/10', '1/11', '2/10', '2/11', '3/10', '3/11']);
    expect((await http(proxy.url, 'DELETE', c)).status).toBe(204);
    // No member left: the group is EMPTY with its offsets.
    const after = await http(proxy.url, 'GET', `${v3}/${group}`);
    expect(after.json.state).toBe('EMPTY');
  });

  it('manual assignment, positions and max_bytes in the binary format', async () => {
    const topic = await createTopic('assign', 2);
    await produce(topic, 2, 12);
    const group = `g-${topic}`;
    const m = await createInstance(group, { name: 'm', format: 'binary', 'auto.commit.enable': 'false' });
    expect((await http(proxy.url, 'POST', `${m}/assignments`, { contentType: V2, body: { partitions: [{ topic, partition: 0 }] } })).status).toBe(204);
    expect(await assignments(m)).toEqual([`${topic}-0`]);
    expect((await http(proxy.url, 'POST', `${m}/positions/beginning`, { contentType: V2, body: { partitions: [{ topic, partition: 0 }] } })).status).toBe(204);

    // Values are ~15 bytes: max_bytes 40 returns a few at a time, never skipping or repeating one.
    const offsets: number[] = [];
    await waitFor(
      async () => {
        const got = await records(m, V2_BINARY, 'timeout=500&max_bytes=40');
        let bytes = 0;
        for (const r of got) bytes += Buffer.from(r.value as string, 'base64').length;
        if (got.length > 1) expect(bytes).toBeLessThanOrEqual(40);
        offsets.push(...got.map((r) => r.offset));
        return offsets.length >= 12;
      },
      { timeoutMs: 30_000, message: 'partition 0 read in small pieces' },
    );
    expect(offsets).toEqual(Array.from({ length: 12 }, (_, i) => i));
    const again = await records(m, V2_BINARY, 'timeout=0');
    expect(again).toEqual([]);

    // Seek to offset 5: the next record is 5, its value base64 of the JSON text.
    expect((await http(proxy.url, 'POST', `${m}/positions`, { contentType: V2, body: { offsets: [{ topic, partition: 0, offset: 5 }] } })).status).toBe(204);
    const fromFive = await records(m, V2_BINARY, 'timeout=2000&max_bytes=1');
    expect(fromFive).toHaveLength(1); // at least one record even past max_bytes
    expect(fromFive[0]).toMatchObject({ topic, partition: 0, offset: 5, key: Buffer.from('"k0-5"').toString('base64'), headers: [{ key: 'source', value: Buffer.from('spec').toString('base64') }] });
    expect(JSON.parse(Buffer.from(fromFive[0]!.value as string, 'base64').toString())).toEqual({ n: 5, p: 0 });

    // To the end: nothing more.
    expect((await http(proxy.url, 'POST', `${m}/positions/end`, { contentType: V2, body: { partitions: [{ topic, partition: 0 }] } })).status).toBe(204);
    expect(await records(m, V2_BINARY, 'timeout=300')).toEqual([]);

    // A manual assignment excludes a subscription; seeking a partition not assigned is illegal.
    expectError(await http(proxy.url, 'POST', `${m}/subscription`, { contentType: V2, body: { topics: [topic] } }), 409, 40903);
    expectError(await http(proxy.url, 'POST', `${m}/positions`, { contentType: V2, body: { offsets: [{ topic, partition: 1, offset: 0 }] } }), 409, 40903);
    // Format mismatch: a binary instance asked for JSON.
    expectError(await http(proxy.url, 'GET', `${m}/records`, { accept: V2_JSON }), 406, 40601);
    // After DELETE .../subscription the instance reads nothing: a records request is illegal.
    expect((await http(proxy.url, 'DELETE', `${m}/subscription`)).status).toBe(204);
    expect(await assignments(m)).toEqual([]);
    expectError(await http(proxy.url, 'GET', `${m}/records`, { accept: V2_BINARY }), 409, 40903);
    expect((await http(proxy.url, 'DELETE', m)).status).toBe(204);
  });
});

describe('v2 records request bounds', () => {
  it('fetch.min.bytes: a records request waits until that many key and value bytes came', async () => {
    const topic = await createTopic('minbytes', 1);
    // Each record below is 6 bytes of key ("k0-0" as JSON) + 13 of value: 3 are needed for 50 bytes.
    const path = await createInstance(`g-${topic}`, { name: 'min', format: 'json', 'auto.offset.reset': 'earliest', 'fetch.min.bytes': 50 });
    await http(proxy.url, 'POST', `${path}/assignments`, { contentType: V2, body: { partitions: [{ topic, partition: 0 }] } });
    // Warm up: the instance has its position and a fetch waiting on the broker.
    expect(await records(path, V2_JSON, 'timeout=300')).toEqual([]);
    const pending = records(path, V2_JSON, 'timeout=60000');
    for (let i = 0; i < 3; i++) {
      await produce(topic, 1, 1, i);
      // Not a timing assertion: room for a request that answered too early to show it (it would hold [0]).
      await sleep(700);
    }
    const got = await pending;
    expect(got.map((r) => r.offset)).toEqual([0, 1, 2]);
    expect((await http(proxy.url, 'DELETE', path)).status).toBe(204);
  });
});

describe('v2 consumer errors and hostile input', () => {
  it('answers Confluent error codes and never crashes', async () => {
    const group = `errs-${process.pid}`;
    const path = await createInstance(group, { name: 'dup', format: 'json' });
    expectError(await http(proxy.url, 'POST', `/consumers/${group}`, { contentType: V2, body: { name: 'dup' } }), 409, 40902);
    // The same name in another group is another instance.
    const other = await createInstance(`${group}-2`, { name: 'dup' });

    // Unknown instances.
    for (const [method, p] of [
      ['GET', `/consumers/${group}/instances/nope/records`],
      ['GET', `/consumers/${group}/instances/nope/subscription`],
      ['DELETE', `/consumers/${group}/instances/nope`],
      ['GET', `/consumers/nogroup/instances/dup/assignments`],
    ] as const) {
      expectError(await http(proxy.url, method, p, p.endsWith('/records') ? { accept: V2_JSON } : {}), 404, 40403);
    }
    // Bad bodies and settings.
    expectError(await http(proxy.url, 'POST', `/consumers/${group}`, { contentType: V2, body: '{"name": "x",' }), 400, 400);
    expectError(await http(proxy.url, 'POST', `/consumers/${group}`, { contentType: V2, body: { format: 'avro' } }), 422, 42204);
    expectError(await http(proxy.url, 'POST', `/consumers/${group}`, { contentType: V2, body: { 'auto.offset.reset': 'sometimes' } }), 422, 42204);
    expectError(await http(proxy.url, 'POST', `/consumers/${group}`, { contentType: V2, body: { name: '../etc' } }), 422, 42204);
    expectError(await http(proxy.url, 'POST', `/consumers/${group}`, { contentType: 'text/plain', body: '{}' }), 415, 415);
    expectError(await http(proxy.url, 'POST', `${path}/subscription`, { contentType: V2, body: { topics: ['t'], topic_pattern: 't.*' } }), 409, 40903);
    expectError(await http(proxy.url, 'POST', `${path}/subscription`, { contentType: V2, body: { topics: 't' } }), 422, 422);
    expectError(await http(proxy.url, 'POST', `${path}/subscription`, { contentType: V2, body: { topic_pattern: '(' } }), 422, 422);
    expectError(await http(proxy.url, 'POST', `${path}/subscription`, { contentType: V2, body: { topic_pattern: '(a+)+$' } }), 422, 422);
    expectError(await http(proxy.url, 'POST', `${path}/subscription`, { contentType: V2, body: [] }), 422, 422);
    expectError(await http(proxy.url, 'POST', `${path}/assignments`, { contentType: V2, body: { partitions: [{ topic: 't', partition: -1 }] } }), 422, 422);
    expectError(await http(proxy.url, 'POST', `${path}/positions`, { contentType: V2, body: { offsets: [{ topic: 't', partition: 0, offset: 'x' }] } }), 422, 422);
    expectError(await http(proxy.url, 'POST', `${path}/offsets`, { contentType: V2, body: { offsets: 'all' } }), 422, 422);
    expectError(await http(proxy.url, 'GET', `${path}/records?timeout=soon`, { accept: V2_JSON }), 400, 400);
    expectError(await http(proxy.url, 'GET', `${path}/records`, { accept: 'application/vnd.kafka.avro.v2+json' }), 406, 40601);
    expectError(await rawHttp(proxy.url, 'GET', `${path}/offsets`, { contentType: V2, body: '{"partitions": [' }), 400, 400);

    // Path traversal in group and instance names: 404, exactly as sent (no client-side normalisation).
    for (const p of [
      `/consumers/..%2F..%2Fetc/instances/dup/records`,
      `/consumers/${group}/instances/..%2Fdup/subscription`,
      `/consumers/${group}/instances/%2e%2e/subscription`,
      `/consumers/${group}/instances/../instances/dup/subscription`,
      `/consumers/%00/instances/dup`,
    ]) {
      const res = await rawHttp(proxy.url, 'GET', p, p.endsWith('/records') ? { accept: V2_JSON } : {});
      expect(res.status).toBe(404);
      expect([404, 40403]).toContain(res.json.error_code);
    }
    expectError(await rawHttp(proxy.url, 'POST', '/consumers/..', { contentType: V2, body: '{}' }), 404, 404);
    expectError(await rawHttp(proxy.url, 'POST', '/consumers/a%2Fb', { contentType: V2, body: '{}' }), 404, 404);

    // Requests to one instance are serialised: concurrent ones all answer.
    await http(proxy.url, 'POST', `${path}/subscription`, { contentType: V2, body: { topics: [uniqueTopic('absent')] } });
    const concurrent = await Promise.all([0, 1, 2].map(() => http(proxy.url, 'GET', `${path}/records?timeout=100`, { accept: V2_JSON })));
    for (const res of concurrent) expect(res.status).toBe(200);

    for (const p of [path, other]) expect((await http(proxy.url, 'DELETE', p)).status).toBe(204);
    expect(proxy.proc.running).toBe(true);
    expect((await fetch(`${proxy.adminUrl}/readyz`)).status).toBe(200);
  });
});

describe('consumer instances are independent', () => {
  it('a records request waiting on one instance holds no other; requests to it queue (bounded); DELETE wakes it', async () => {
    const topic = await createTopic('idle', 1);
    const group = `g-${topic}`;
    const waiting = await createInstance(group, { name: 'waiting', format: 'json' });
    // It subscribes to a topic nothing is written to: its request can only end by its timeout or the DELETE.
    const silent = await createTopic('silent', 1);
    await http(proxy.url, 'POST', `${waiting}/subscription`, { contentType: V2, body: { topics: [silent] } });
    let answered = false;
    const long = http(proxy.url, 'GET', `${waiting}/records?timeout=60000`, { accept: V2_JSON }).then((res) => {
      answered = true;
      return res;
    });
    // Meanwhile another instance (another group) is created, assigned and read, start to end.
    const other = await createInstance(`${group}-other`, { name: 'other', format: 'json', 'auto.offset.reset': 'earliest' });
    await produce(topic, 1, 1);
    await http(proxy.url, 'POST', `${other}/assignments`, { contentType: V2, body: { partitions: [{ topic, partition: 0 }] } });
    const got = await waitFor(async () => {
      const r = await records(other);
      return r.length > 0 ? r : undefined;
    }, { timeoutMs: 30_000, message: 'the other instance reads' });
    expect(got.map((r) => r.offset)).toEqual([0]);
    expect(answered).toBe(false);
    // Requests to the waiting instance queue behind it, 64 at most (with it): the rest get 429.
    const statuses: number[] = [];
    const queued = Array.from({ length: 70 }, () => http(proxy.url, 'GET', `${waiting}/assignments`).then((r) => statuses.push(r.json?.error_code ?? r.status)));
    await waitFor(() => statuses.length >= 7, { timeoutMs: 30_000, message: 'the requests past the queue bound answered' });
    expect(statuses).toEqual(Array(7).fill(42901));
    // Deleting the waiting instance wakes its request, which answers what it has; the queued ones find no instance.
    expect((await http(proxy.url, 'DELETE', waiting)).status).toBe(204);
    const res = await long;
    expect(res.status).toBe(200);
    expect(Array.isArray(res.json)).toBe(true);
    await Promise.all(queued);
    expect(statuses.slice(7)).toEqual(Array(63).fill(40403));
    expect((await http(proxy.url, 'DELETE', other)).status).toBe(204);
  });
});

describe('consumer instance expiry', () => {
  it('closes an idle instance, which leaves its group; bounds the instances; SIGTERM closes them', async () => {
    const short = await startProxy(cluster.bootstrap, { 'log-level': 'warn', 'access-log': false, 'consumer-instance-timeout-ms': 1500, 'max-consumer-instances': 1 }, 'rest-proxy-expiry');
    const topic = await createTopic('expiry', 1);
    const group = `g-${topic}`;
    const path = await createInstance(group, { name: 'idle', format: 'json', 'auto.offset.reset': 'earliest' }, short.url);
    expectError(await http(short.url, 'POST', `/consumers/${group}`, { contentType: V2, body: { name: 'second' } }), 429, 42901);
    // A pattern subscription (only this topic matches it).
    expect((await http(short.url, 'POST', `${path}/subscription`, { contentType: V2, body: { topic_pattern: `${topic.replace(/[.-]/g, '\\$&')}` } })).status).toBe(204);
    await produce(topic, 1, 3);
    const got: V2Record[] = [];
    await waitFor(
      async () => {
        got.push(...(await records(path, V2_JSON, 'timeout=300', short.url)));
        return got.length >= 3;
      },
      { timeoutMs: 60_000, message: 'the instance joined and read' },
    );
    expect((await http(short.url, 'GET', `${path}/subscription`)).json).toEqual({ topics: [topic] });
    const v3 = `/v3/clusters/${clusterId}/consumer-groups/${group}`;
    expect((await http(short.url, 'GET', `${v3}/consumers`)).json.data).toHaveLength(1);

    // Left alone, it expires: the group loses its member (it commits on the way out: auto-commit).
    await waitFor(async () => (await http(short.url, 'GET', `${v3}/consumers`)).json?.data?.length === 0, { timeoutMs: 30_000, message: 'the idle instance left its group' });
    expectError(await http(short.url, 'GET', `${path}/subscription`), 404, 40403);
    const scraped = await short.metrics();
    expect(scraped).toMatch(/^tributary_rest_consumer_instances(\{[^}]*\})? 0$/m);
    expect(scraped).toMatch(/^tributary_rest_consumer_instances_expired_total(\{[^}]*\})? 1$/m);
    const lags = await http(short.url, 'GET', `${v3}/lags`);
    expect(lags.json.data.map((l: { current_offset: number; lag: number }) => [l.current_offset, l.lag])).toEqual([[3, 0]]);

    // The slot is free again. SIGTERM: the instance commits what it returned and leaves at once.
    const last = await createInstance(group, { name: 'last', format: 'json' }, short.url);
    await http(short.url, 'POST', `${last}/subscription`, { contentType: V2, body: { topics: [topic] } });
    await produce(topic, 1, 2, 3);
    const more: V2Record[] = [];
    await waitFor(
      async () => {
        more.push(...(await records(last, V2_JSON, 'timeout=300', short.url)));
        return more.length >= 2;
      },
      { timeoutMs: 60_000, message: 'the last instance read the new records' },
    );
    expect(more.map((r) => r.offset)).toEqual([3, 4]);
    await short.proc.killAndWait('SIGTERM');
    // Read at once (no waiting): a member that did not leave would stay for its session timeout.
    const group3 = await http(proxy.url, 'GET', v3);
    expect(group3.json.state).toBe('EMPTY');
    expect((await http(proxy.url, 'GET', `${v3}/lags`)).json.data.map((l: { current_offset: number }) => l.current_offset)).toEqual([5]);
  });
});

describe('v3 consumer groups: unknown groups', () => {
  it('answers 404 for a group nobody knows and for another cluster', async () => {
    expectError(await http(proxy.url, 'GET', `/v3/clusters/${clusterId}/consumer-groups/nobody-${process.pid}`), 404, 404);
    expectError(await http(proxy.url, 'GET', `/v3/clusters/${clusterId}/consumer-groups/nobody-${process.pid}/lag-summary`), 404, 404);
    expectError(await http(proxy.url, 'GET', `/v3/clusters/other/consumer-groups`), 404, 404);
  });
});
