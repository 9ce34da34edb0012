/**
 * The idempotent producer on a REAL cluster (coordination, two controllers and three brokers as
 * processes over gRPC on loopback), with raw gRPC calls: producer ids from InitProducerId
 * (blocks allocated by the controller), duplicates answered with the original offset, gaps and
 * old epochs refused, and the producer state surviving a leader's kill -9 (followers keep it
 * from their appends) and a broker restart (rebuilt from the log).
 */
import { AdminServiceClient, BrokerServiceClient } from '@tributary/proto';
import { ErrorCode, decodeBatches, encodeBatch } from '@tributary/records';
import { createClient, unary } from '@tributary/runtime';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, startCluster, waitFor } from '@tributary/testing';
import { brokerClients, leaderOf } from './spec-helpers';

jest.setTimeout(120_000);

let cluster: TestCluster;
const { broker, brokerById, anyBroker, metadata, close: closeClients } = brokerClients(() => cluster);

async function createTopic(name: string, replicationFactor: number): Promise<void> {
  const md = await metadata([]);
  const admin = createClient(AdminServiceClient, `${md.controllerHost}:${md.controllerPort}`);
  try {
    const res = await unary(admin, 'createTopics', { topics: [{ name, numPartitions: 1, replicationFactor, configs: {} }], validateOnly: false });
    expect(ErrorCode[res.results[0]!.errorCode]).toBe('NONE');
  } finally {
    admin.close();
  }
  await waitFor(
    async () => {
      for (const b of cluster.brokers.values()) {
        const t = (await unary(broker(b.address), 'metadata', { topics: [name] })).topics[0]!;
        if (t.errorCode !== ErrorCode.NONE || t.partitions[0]?.leaderId === undefined || t.partitions[0].leaderId < 0 || t.partitions[0].isrNodes.length < replicationFactor) return false;
      }
      return true;
    },
    { timeoutMs: 20_000, message: `topic ${name} ready` },
  );
}

/** An idempotent producer's batch of `values` starting at sequence `seq`. */
function idempotentBatch(producerId: bigint, epoch: number, seq: number, values: string[]): Buffer {
  return encodeBatch(
    values.map((v) => ({ key: null, value: Buffer.from(v) })),
    { producerId, producerEpoch: epoch, baseSequence: seq },
  );
}

async function produce(topic: string, records: Buffer, acks = 1) {
  const client = brokerById(leaderOf(await metadata([topic]), topic, 0));
  const res = await unary(client, 'produce', { acks, timeoutMs: 10_000, topics: [{ name: topic, partitions: [{ index: 0, records }] }] });
  return res.topics[0]!.partitions[0]!;
}

async function values(topic: string): Promise<string[]> {
  const client = brokerById(leaderOf(await metadata([topic]), topic, 0));
  const res = await unary(client, 'fetch', {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    topics: [{ name: topic, partitions: [{ index: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
  });
  return decodeBatches(res.topics[0]!.partitions[0]!.records).flatMap((b) => b.records.map((r) => `${b.producerId >= 0n ? '' : '(no producer id) '}${r.value!.toString()}`));
}

async function initProducerId(via: BrokerServiceClient): Promise<bigint> {
  const res = await unary(via, 'initProducerId', { transactionalId: '', transactionTimeoutMs: 0 });
  expect(ErrorCode[res.errorCode]).toBe('NONE');
  expect(res.producerEpoch).toBe(0);
  return res.producerId;
}

beforeAll(async () => {
  cluster = await startCluster({ name: 'idempotence-it', brokers: 3, controllers: 2 });
});

afterAll(async () => {
  closeClients();
  await cluster?.stop();
  await cleanupAll();
});

it('hands out distinct producer ids from every broker, each from its own block', async () => {
  // The three brokers ask the controller for their first block at the same time (CAS races on
  // /latest_producer_id_block), each then hands out three ids.
  const blocks = await Promise.all(
    [0, 1, 2].map(async (id) => {
      const out: bigint[] = [];
      for (let i = 0; i < 3; i++) out.push(await initProducerId(brokerById(id)));
      return out;
    }),
  );
  const ids = blocks.flat();
  expect(new Set(ids).size).toBe(ids.length);
  // Per broker, consecutive ids of one block; different brokers, different blocks of 1000.
  for (const block of blocks) expect([block[1]! - block[0]!, block[2]! - block[1]!]).toEqual([1n, 1n]);
  expect(new Set(blocks.map((b) => b[0]! / 1000n)).size).toBe(3);
  const refused = await unary(anyBroker(), 'initProducerId', { transactionalId: 'tx-1', transactionTimeoutMs: 60_000 });
  expect(ErrorCode[refused.errorCode]).toBe('INVALID_REQUEST');
});

it('answers a duplicate batch with the original offset and stores it once; refuses gaps, old epochs and unknown producers not at 0', async () => {
  await createTopic('idem', 1);
  const pid = await initProducerId(anyBroker());
  const first = await produce('idem', idempotentBatch(pid, 0, 0, ['a', 'b']));
  expect([ErrorCode[first.errorCode], first.baseOffset]).toEqual(['NONE', 0n]);
  const second = await produce('idem', idempotentBatch(pid, 0, 2, ['c']));
  expect(second.baseOffset).toBe(2n);
  // The retry of the first batch: NONE, with its original offset; nothing written.
  const retry = await produce('idem', idempotentBatch(pid, 0, 0, ['a', 'b']));
  expect([ErrorCode[retry.errorCode], retry.baseOffset]).toEqual(['NONE', 0n]);
  expect(await values('idem')).toEqual(['a', 'b', 'c']);
  const leader = cluster.brokers.get(leaderOf(await metadata(['idem']), 'idem', 0))!;
  const scrape = await (await fetch(`http://127.0.0.1:${leader.adminPort}/metrics`)).text();
  expect(scrape).toMatch(/^tributary_broker_produce_duplicate_batches_total\{topic="idem"\} 1$/m);

  // A gap: sequence 5 where 3 is next.
  const gap = await produce('idem', idempotentBatch(pid, 0, 5, ['x']));
  expect(ErrorCode[gap.errorCode]).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
  expect(gap.errorMessage).toMatch(/expected 3/);
  // A producer the partition never saw, not at sequence 0.
  const stranger = await initProducerId(anyBroker());
  expect(ErrorCode[(await produce('idem', idempotentBatch(stranger, 0, 7, ['y']))).errorCode]).toBe('UNKNOWN_PRODUCER_ID');
  // A new epoch (starting at 0) fences the old one.
  expect((await produce('idem', idempotentBatch(pid, 1, 0, ['d']))).baseOffset).toBe(3n);
  expect(ErrorCode[(await produce('idem', idempotentBatch(pid, 0, 3, ['z']))).errorCode]).toBe('INVALID_PRODUCER_EPOCH');
  // Batches without a producer id are not affected.
  expect((await produce('idem', encodeBatch([{ key: null, value: Buffer.from('plain') }]))).baseOffset).toBe(4n);
  expect(await values('idem')).toEqual(['a', 'b', 'c', 'd', '(no producer id) plain']);
});

it('a new leader after kill -9 of the old one answers a batch the old leader wrote as a duplicate, with its original offset', async () => {
  await createTopic('idem-rf3', 3);
  const pid = await initProducerId(anyBroker());
  const offsets: bigint[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await produce('idem-rf3', idempotentBatch(pid, 0, i * 2, [`v${i}-a`, `v${i}-b`]), -1);
    expect(ErrorCode[res.errorCode]).toBe('NONE');
    offsets.push(res.baseOffset);
  }
  const oldLeader = leaderOf(await metadata(['idem-rf3']), 'idem-rf3', 0);
  await cluster.stopBroker(oldLeader, 'SIGKILL');
  await waitFor(
    async () => {
      const l = leaderOf(await metadata(['idem-rf3']), 'idem-rf3', 0);
      return l >= 0 && l !== oldLeader;
    },
    { timeoutMs: 20_000, message: 'a new leader elected from the ISR' },
  );
  // The producer did not hear back about its last batch and retries it at the new leader.
  let retry: Awaited<ReturnType<typeof produce>> | undefined;
  await waitFor(
    async () => {
      retry = await produce('idem-rf3', idempotentBatch(pid, 0, 8, ['v4-a', 'v4-b']), -1);
      return retry.errorCode === ErrorCode.NONE;
    },
    { timeoutMs: 20_000, message: 'the new leader takes acks=all produces' },
  );
  expect(retry!.baseOffset).toBe(offsets[4]);
  // And an older one still within the last five.
  expect((await produce('idem-rf3', idempotentBatch(pid, 0, 2, ['v1-a', 'v1-b']), -1)).baseOffset).toBe(offsets[1]);
  // The sequence goes on where the old leader left it.
  expect(ErrorCode[(await produce('idem-rf3', idempotentBatch(pid, 0, 11, ['gap']), -1)).errorCode]).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
  const next = await produce('idem-rf3', idempotentBatch(pid, 0, 10, ['v5']), -1);
  expect(next.baseOffset).toBe(10n);
  expect(await values('idem-rf3')).toEqual(['v0-a', 'v0-b', 'v1-a', 'v1-b', 'v2-a', 'v2-b', 'v3-a', 'v3-b', 'v4-a', 'v4-b', 'v5']);
  await cluster.startBroker(oldLeader);
});

it('a broker restarted after kill -9 rebuilds the producer state from its log', async () => {
  await createTopic('idem-restart', 1);
  const pid = await initProducerId(anyBroker());
  const a = await produce('idem-restart', idempotentBatch(pid, 3, 0, ['r0']));
  const b = await produce('idem-restart', idempotentBatch(pid, 3, 1, ['r1', 'r2']));
  expect([a.baseOffset, b.baseOffset]).toEqual([0n, 1n]);
  const leader = leaderOf(await metadata(['idem-restart']), 'idem-restart', 0);
  await cluster.stopBroker(leader, 'SIGKILL');
  await cluster.startBroker(leader);
  await waitFor(async () => leaderOf(await metadata(['idem-restart']), 'idem-restart', 0) === leader, { timeoutMs: 20_000, message: 'the restarted broker leads again' });
  let retry: Awaited<ReturnType<typeof produce>> | undefined;
  await waitFor(
    async () => {
      retry = await produce('idem-restart', idempotentBatch(pid, 3, 1, ['r1', 'r2']));
      return retry.errorCode === ErrorCode.NONE;
    },
    { timeoutMs: 20_000, message: 'the restarted leader takes produces' },
  );
  expect(retry!.baseOffset).toBe(1n);
  expect(ErrorCode[(await produce('idem-restart', idempotentBatch(pid, 2, 3, ['old']))).errorCode]).toBe('INVALID_PRODUCER_EPOCH');
  expect(ErrorCode[(await produce('idem-restart', idempotentBatch(pid, 3, 4, ['gap']))).errorCode]).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
  expect((await produce('idem-restart', idempotentBatch(pid, 3, 3, ['r3']))).baseOffset).toBe(3n);
  expect(await values('idem-restart')).toEqual(['r0', 'r1', 'r2', 'r3']);
});

it('after kill -9 of the active controller, the next controller goes on allocating blocks after the last one', async () => {
  const before = await initProducerId(brokerById(0));
  const active = await cluster.activeController();
  await cluster.controllers.get(active)!.proc.killAndWait('SIGKILL');
  await waitFor(async () => (await cluster.activeController().catch(() => -1)) >= 0 && (await metadata([])).controllerId !== active, {
    timeoutMs: 30_000,
    message: 'the standby controller takes office',
  });
  // A restarted broker has lost its block (as in Kafka, its unused ids are never handed out) and asks the new controller.
  await cluster.stopBroker(1, 'SIGKILL');
  await cluster.startBroker(1);
  let fresh = -1n;
  await waitFor(
    async () => {
      const res = await unary(brokerById(1), 'initProducerId', { transactionalId: '', transactionTimeoutMs: 0 });
      fresh = res.producerId;
      return res.errorCode === ErrorCode.NONE;
    },
    { timeoutMs: 30_000, message: 'the restarted broker gets a block from the new controller' },
  );
  expect(fresh / 1000n).toBeGreaterThan(before / 1000n);
  expect(fresh % 1000n).toBe(0n);
  await cluster.startController(active);
});
