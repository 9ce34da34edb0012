/**
 * Log compaction through a REAL broker (coordination, a controller and a broker as processes
 * over gRPC on loopback): a topic created with cleanup.policy=compact and small segments is
 * fed keyed records; the broker's background cleaner (--log-cleaner-backoff-ms 500) compacts
 * it; a fetch from offset 0 then returns only the latest record per key below the active
 * segment, every record at the offset it was produced at. Records without a key are refused
 * with INVALID_RECORD.
 */
import { AdminServiceClient, BrokerServiceClient } from '@tributary/proto';
import type { MetadataResponse } from '@tributary/proto';
import { ErrorCode, decodeBatches, encodeBatch } from '@tributary/records';
import { createClient, unary } from '@tributary/runtime';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, startCluster, waitFor } from '@tributary/testing';

jest.setTimeout(120_000);

const TOPIC = 'compacted-it';
let cluster: TestCluster;
let client: BrokerServiceClient;

beforeAll(async () => {
  cluster = await startCluster({ name: 'compaction-it', brokers: 1, controllers: 1, brokerFlags: { 'log-cleaner-backoff-ms': 500 } });
  client = createClient(BrokerServiceClient, cluster.brokers.values().next().value!.address);
});

afterAll(async () => {
  client?.close();
  await cluster?.stop();
  await cleanupAll();
});

const metadata = (topics: string[]): Promise<MetadataResponse> => unary(client, 'metadata', { topics });

async function createTopic(configs: Record<string, string>): Promise<void> {
  const md = await metadata([]);
  const admin = createClient(AdminServiceClient, `${md.controllerHost}:${md.controllerPort}`);
  try {
    const res = await unary(admin, 'createTopics', { topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1, configs }], validateOnly: false });
    expect(ErrorCode[res.results[0]!.errorCode]).toBe('NONE');
  } finally {
    admin.close();
  }
  await waitFor(
    async () => {
      const t = (await metadata([TOPIC])).topics[0]!;
      return t.errorCode === ErrorCode.NONE && (t.partitions[0]?.leaderId ?? -1) >= 0;
    },
    { timeoutMs: 20_000, message: `topic ${TOPIC} ready` },
  );
}

async function produce(records: Buffer): Promise<{ errorCode: ErrorCode; baseOffset: bigint }> {
  const res = await unary(client, 'produce', { acks: 1, timeoutMs: 10_000, topics: [{ name: TOPIC, partitions: [{ index: 0, records }] }] });
  return res.topics[0]!.partitions[0]!;
}

interface Fetched {
  offset: number;
  key: string;
  value: string;
}

async function fetchAll(): Promise<Fetched[]> {
  const out: Fetched[] = [];
  let offset = 0n;
  for (;;) {
    const res = await unary(client, 'fetch', {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ name: TOPIC, partitions: [{ index: 0, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1n, partitionMaxBytes: 4096 }] }],
    });
    const p = res.topics[0]!.partitions[0]!;
    expect(ErrorCode[p.errorCode]).toBe('NONE');
    const batches = decodeBatches(p.records);
    if (batches.length === 0) return out;
    for (const b of batches) {
      for (const r of b.records) if (BigInt(r.offset) >= offset) out.push({ offset: r.offset, key: r.key!.toString(), value: r.value!.toString() });
      offset = BigInt(b.baseOffset + b.lastOffsetDelta + 1);
    }
  }
}

it('compacts a topic in the background: the latest record per key, at its original offset', async () => {
  await createTopic({ 'cleanup.policy': 'compact', 'segment.bytes': '1024', 'min.cleanable.dirty.ratio': '0.01' });

  const refused = await produce(encodeBatch([{ key: null, value: Buffer.from('no key') }]));
  expect(ErrorCode[refused.errorCode]).toBe('INVALID_RECORD');

  const produced: Fetched[] = [];
  for (let round = 0; round < 20; round++) {
    const records = Array.from({ length: 5 }, (_, i) => ({ key: Buffer.from(`key-${i}`), value: Buffer.from(`round-${round}`.padEnd(60, '.')) }));
    const res = await produce(encodeBatch(records));
    expect(ErrorCode[res.errorCode]).toBe('NONE');
    records.forEach((r, i) => produced.push({ offset: Number(res.baseOffset) + i, key: r.key.toString(), value: r.value.toString() }));
  }
  expect(await fetchAll()).toEqual(produced);

  // The cleaner runs at start-up, then every --log-cleaner-backoff-ms (500 ms here) when idle.
  let fetched: Fetched[] = [];
  await waitFor(
    async () => {
      fetched = await fetchAll();
      return fetched.length < produced.length / 2;
    },
    { timeoutMs: 30_000, message: 'the log cleaner compacted the topic' },
  );
  const byOffset = new Map(produced.map((r) => [r.offset, r]));
  for (const r of fetched) expect(r).toEqual(byOffset.get(r.offset)); // every record at its original offset
  const latest = new Map<string, Fetched>();
  for (const r of produced) latest.set(r.key, r);
  for (const r of latest.values()) expect(fetched).toContainEqual(r); // the latest per key survives
  expect(fetched.map((r) => r.offset)).toEqual([...fetched.map((r) => r.offset)].sort((a, b) => a - b));
  // The first round, superseded long before the active segment, is gone.
  expect(fetched.some((r) => r.value.startsWith('round-0.'))).toBe(false);
});
