/**
 * Client quotas on a REAL cluster (coordination, one controller and one broker as processes
 * over gRPC on loopback; quota.window.num 3 so the rate converges within seconds). Quotas are
 * set with the SDK Admin (ClientQuotaService on the controller); produces and fetches are raw
 * gRPC calls carrying `tributary-client-id`, so each answer's throttle_time_ms is seen.
 *
 * - a producer over its producer_byte_rate is slowed to about the quota: throttle_time_ms > 0,
 *   its bytes over the elapsed time at most 1.5 × the quota, and its bytes over the throttle
 *   times it was given within a band around the quota; a producer with another client id in
 *   the same run is never throttled (throttle_time_ms 0);
 * - raising, lowering and removing the quota take effect without a restart;
 * - consumer_byte_rate throttles fetches;
 * - bad quotas are refused with INVALID_REQUEST and nothing is written;
 * - the SDK's clientId reaches the broker (the per-entity rate gauge of that client id moves).
 */
import { Admin, ClientQuotaAlterationError, Producer } from '@tributary/client';
import { BrokerServiceClient } from '@tributary/proto';
import { ErrorCode, encodeBatch } from '@tributary/records';
import { CLIENT_ID_METADATA_KEY, createClient } from '@tributary/runtime';
import * as grpc from '@grpc/grpc-js';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, startCluster, waitFor } from '@tributary/testing';

jest.setTimeout(180_000);

const TOPIC = 'quota-t';
const QUOTA = 256 * 1024;
const BATCH = encodeBatch(Array.from({ length: 16 }, () => ({ key: null, value: Buffer.alloc(4000, 7) })));

let cluster: TestCluster;
let admin: Admin;
let broker: BrokerServiceClient;

/** A raw call with `clientId` in the metadata; answers the response. */
function call<Req, Res>(method: 'produce' | 'fetch', request: Req, clientId: string): Promise<Res> {
  const md = new grpc.Metadata();
  md.set(CLIENT_ID_METADATA_KEY, clientId);
  return new Promise((resolve, reject) => {
    (broker[method] as unknown as (r: Req, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: Res) => void) => void).call(
      broker,
      request,
      md,
      { deadline: Date.now() + 30_000 },
      (e, v) => (e ? reject(e) : resolve(v)),
    );
  });
}

async function produce(clientId: string, records = BATCH): Promise<{ throttleMs: number; bytes: number }> {
  const res = await call<object, { throttleTimeMs: number; topics: { partitions: { errorCode: number }[] }[] }>(
    'produce',
    { acks: 1, timeoutMs: 10_000, topics: [{ name: TOPIC, partitions: [{ index: 0, records }] }] },
    clientId,
  );
  expect(ErrorCode[res.topics[0]!.partitions[0]!.errorCode]).toBe('NONE');
  return { throttleMs: res.throttleTimeMs, bytes: records.length };
}

async function fetchFrom0(clientId: string): Promise<{ throttleMs: number; bytes: number }> {
  const res = await call<object, { throttleTimeMs: number; topics: { partitions: { records: Buffer }[] }[] }>(
    'fetch',
    {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ name: TOPIC, partitions: [{ index: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    },
    clientId,
  );
  return { throttleMs: res.throttleTimeMs, bytes: res.topics[0]!.partitions[0]!.records.length };
}

/** Produces as `clientId` until one answer carries a throttle (the broker has the quota). */
async function untilThrottled(clientId: string, send = () => produce(clientId)): Promise<void> {
  await waitFor(async () => (await send()).throttleMs > 0, { timeoutMs: 30_000, intervalMs: 1, message: `${clientId} throttled` });
}

beforeAll(async () => {
  cluster = await startCluster({ name: 'quotas-it', brokers: 1, controllers: 1, brokerFlags: { 'quota-window-num': 3 } });
  admin = new Admin({ bootstrap: [cluster.bootstrap] });
  await admin.createTopics([{ name: TOPIC, numPartitions: 1, replicationFactor: 1 }]);
  broker = createClient(BrokerServiceClient, cluster.brokers.get(0)!.address);
  await waitFor(async () => (await produce('warmup').catch(() => undefined)) !== undefined, { timeoutMs: 30_000, message: 'topic writable' });
});

afterAll(async () => {
  broker?.close();
  await admin?.close();
  await cluster?.stop();
  await cleanupAll();
});

it('refuses bad quotas with INVALID_REQUEST and writes nothing', async () => {
  const err = await admin
    .alterClientQuotas([
      { entity: { clientId: 'bad' }, ops: [{ key: 'producer_byte_rate', value: -5 }] },
      { entity: { clientId: 'bad2' }, ops: [{ key: 'bogus_rate', value: 5 }] },
      { entity: { user: '' }, ops: [{ key: 'producer_byte_rate', value: 5 }] },
    ])
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ClientQuotaAlterationError);
  const errors = (err as ClientQuotaAlterationError).errors;
  expect([...errors.keys()]).toEqual(['client-id=bad', 'client-id=bad2', 'user=']);
  for (const e of errors.values()) expect(ErrorCode[e.code]).toBe('INVALID_REQUEST');
  expect(await admin.describeClientQuotas()).toEqual([]);
});

it('slows a producer over producer_byte_rate to about its quota; another client id is not throttled', async () => {
  // A probe quota set in the same call tells when the broker has loaded the change.
  await admin.alterClientQuotas([
    { entity: { clientId: 'slow' }, ops: [{ key: 'producer_byte_rate', value: QUOTA }] },
    { entity: { clientId: 'probe' }, ops: [{ key: 'producer_byte_rate', value: 1 }] },
  ]);
  expect(await admin.describeClientQuotas({ components: [{ entityType: 'client-id', match: { kind: 'exact', name: 'slow' } }] })).toEqual([
    { entity: { clientId: 'slow' }, values: { producer_byte_rate: QUOTA } },
  ]);
  await untilThrottled('probe');

  const slow = { bytes: 0, throttleMs: 0, throttled: 0, bytesAfterFirstThrottle: 0 };
  const fast = { bytes: 0, throttles: [] as number[] };
  const started = Date.now();
  const runFor = 6000;
  const slowLoop = (async () => {
    while (Date.now() - started < runFor) {
      const r = await produce('slow');
      slow.bytes += r.bytes;
      if (slow.throttled > 0) slow.bytesAfterFirstThrottle += r.bytes;
      if (r.throttleMs > 0) {
        slow.throttled++;
        slow.throttleMs += r.throttleMs;
      }
    }
  })();
  const fastLoop = (async () => {
    // Bounded, to spare the disk: it only has to overlap the throttled producer.
    while (Date.now() - started < runFor && fast.throttles.length < 300) {
      const r = await produce('fast');
      fast.bytes += r.bytes;
      fast.throttles.push(r.throttleMs);
    }
  })();
  await Promise.all([slowLoop, fastLoop]);
  const elapsedS = (Date.now() - started) / 1000;

  expect(slow.throttled).toBeGreaterThan(0);
  // Throttling can only slow the producer down: the achieved rate is at most the quota (plus slack for the first window).
  expect(slow.bytes / elapsedS).toBeLessThanOrEqual(QUOTA * 1.5);
  // The broker's throttle times account for the bytes at about the quota (machine speed does not enter).
  const byThrottle = slow.bytesAfterFirstThrottle / (slow.throttleMs / 1000);
  expect(byThrottle).toBeGreaterThan(QUOTA * 0.4);
  expect(byThrottle).toBeLessThan(QUOTA * 1.5);
  // Same run, no quota on its client id: never throttled.
  expect(fast.throttles.length).toBeGreaterThan(0);
  expect(fast.throttles.every((t) => t === 0)).toBe(true);
});

it('applies raising, lowering and removing a quota without a restart', async () => {
  await admin.alterClientQuotas([{ entity: { clientId: 'slow' }, ops: [{ key: 'producer_byte_rate', value: 1_000_000_000 }] }]);
  await waitFor(async () => (await produce('slow')).throttleMs === 0, { timeoutMs: 30_000, intervalMs: 1, message: 'raised quota applied' });
  await admin.alterClientQuotas([{ entity: { clientId: 'slow' }, ops: [{ key: 'producer_byte_rate', value: 1024 }] }]);
  await untilThrottled('slow');
  await admin.alterClientQuotas([{ entity: { clientId: 'slow' }, ops: [{ key: 'producer_byte_rate', value: null }] }]);
  await waitFor(async () => (await produce('slow')).throttleMs === 0, { timeoutMs: 30_000, intervalMs: 1, message: 'removed quota applied' });
  for (let i = 0; i < 5; i++) expect((await produce('slow')).throttleMs).toBe(0);
  expect(await admin.describeClientQuotas({ components: [{ entityType: 'client-id', match: { kind: 'exact', name: 'slow' } }] })).toEqual([]);
});

it('throttles fetches over consumer_byte_rate (default user quota), not produces', async () => {
  await admin.alterClientQuotas([{ entity: { user: null }, ops: [{ key: 'consumer_byte_rate', value: 64 * 1024 }] }]);
  // Anonymous callers are User:ANONYMOUS: the <default> user quota applies to them.
  await untilThrottled('reader', () => fetchFrom0('reader'));
  expect((await produce('writer')).throttleMs).toBe(0);
  await admin.alterClientQuotas([{ entity: { user: null }, ops: [{ key: 'consumer_byte_rate', value: null }] }]);
  await waitFor(async () => (await fetchFrom0('reader')).throttleMs === 0, { timeoutMs: 30_000, intervalMs: 1, message: 'consumer quota removed' });
});

it("carries the SDK producer's clientId to the broker", async () => {
  await admin.alterClientQuotas([
    { entity: { clientId: 'sdk-app' }, ops: [{ key: 'producer_byte_rate', value: 1_000_000_000 }] },
    { entity: { clientId: 'probe2' }, ops: [{ key: 'producer_byte_rate', value: 1 }] },
  ]);
  await untilThrottled('probe2');
  const producer = new Producer({ bootstrap: [cluster.bootstrap], clientId: 'sdk-app' });
  try {
    await producer.send({ topic: TOPIC, value: Buffer.alloc(1000, 1) });
    await producer.flush();
  } finally {
    await producer.close();
  }
  const metrics = await cluster.brokers.get(0)!.metrics();
  const line = metrics.split('\n').find((l) => l.startsWith('tributary_quota_byte_rate_bytes_per_second{') && l.includes('entity="client-id=sdk-app"'));
  expect(line).toBeDefined();
  expect(Number(line!.split(' ').pop())).toBeGreaterThan(0);
});
