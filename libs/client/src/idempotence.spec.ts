// The idempotent producer (on by default) against the fake cluster of in-process gRPC brokers.
import { ErrorCode, TributaryError, batchBaseSequence, batchProducerEpoch, batchProducerId, batchSize } from '@tributary/records';
import { GrpcStatusError, Status } from '@tributary/runtime';
import { resolveIdempotence } from './idempotence';
import { Producer } from './producer';
import type { ProducerOptions } from './producer-options';
import { FakeCluster } from './spec-helpers';

let cluster: FakeCluster;
const producers: Producer[] = [];

beforeEach(async () => {
  cluster = await FakeCluster.start(2);
  cluster.createTopic('payments', 2);
});

afterEach(async () => {
  await Promise.all(producers.splice(0).map((p) => p.close({ timeoutMs: 0 })));
  await cluster.stop();
});

function producer(options: ProducerOptions = {}): Producer {
  const p = new Producer({ bootstrap: [cluster.address(0)], retryBackoffMs: 10, retryBackoffMaxMs: 50, ...options });
  producers.push(p);
  return p;
}

/** [producerId, epoch, baseSequence] of every batch the brokers received for a partition, in order. */
function sentHeaders(partition: number): Array<[bigint, number, number]> {
  const out: Array<[bigint, number, number]> = [];
  for (const req of cluster.produces) {
    for (const p of req.partitions) {
      if (p.partition !== partition) continue;
      for (let pos = 0; pos < p.records.length; pos += batchSize(p.records, pos)) {
        out.push([batchProducerId(p.records, pos), batchProducerEpoch(p.records, pos), batchBaseSequence(p.records, pos)]);
      }
    }
  }
  return out;
}

test('a producer is idempotent by default: one InitProducerId, then every batch carries the id, epoch 0 and running sequences', async () => {
  const p = producer({ batchSize: 200, lingerMs: 60_000 });
  const sends = [];
  for (let i = 0; i < 12; i++) sends.push(p.send({ topic: 'payments', value: `payment-${i}`.padEnd(40, '.'), partition: i % 2 }));
  await p.flush();
  await Promise.all(sends);
  expect(cluster.initProducerIdRequests).toBe(1);
  for (const partition of [0, 1]) {
    const headers = sentHeaders(partition);
    expect(headers.length).toBeGreaterThan(1);
    expect(headers.every(([id, epoch]) => id === 4000n && epoch === 0)).toBe(true);
    // Sequences continue from batch to batch: each batch starts after the previous one's records.
    const stored = cluster.topics.get('payments')![partition]!.batches;
    let expected = 0;
    for (const b of stored) {
      expect(batchBaseSequence(b)).toBe(expected);
      expected += b.readInt32BE(23) + 1;
    }
    expect(expected).toBe(6);
  }
});

test('acks other than all, without asking for idempotence, turns it off; asking for both is an error', async () => {
  const p = producer({ acks: 1 });
  await p.send({ topic: 'payments', value: 'x', partition: 0 });
  expect(cluster.initProducerIdRequests).toBe(0);
  expect(sentHeaders(0)).toEqual([[-1n, -1, -1]]);
  expect(() => new Producer({ bootstrap: [cluster.address(0)], acks: 1, idempotent: true })).toThrow(/requires acks 'all'/);
  expect(() => new Producer({ bootstrap: [cluster.address(0)], maxInFlightRequestsPerConnection: 6, idempotent: true })).toThrow(/maxInFlightRequestsPerConnection <= 5/);
  expect(() => new Producer({ bootstrap: [cluster.address(0)], retries: 0, idempotent: true })).toThrow(/retries > 0/);
  expect(resolveIdempotence({})).toBe(true);
  expect(resolveIdempotence({ acks: 'all', idempotent: false })).toBe(false);
  expect(resolveIdempotence({ maxInFlightRequestsPerConnection: 6 })).toBe(false);
});

test('a retry resends the same bytes with the same sequence', async () => {
  const p = producer();
  await p.partitionsFor('payments');
  cluster.produceCallErrors.set(cluster.topics.get('payments')![0]!.leader, [new GrpcStatusError(Status.UNAVAILABLE, 'connection reset')]);
  cluster.failProduce('payments', 0, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  const sent = await p.send({ topic: 'payments', value: 'once', partition: 0 });
  const attempts = cluster.produces.flatMap((r) => r.partitions.filter((x) => x.partition === 0).map((x) => x.records));
  // The whole-call failure is not recorded per partition; the injected error and the success are.
  expect(attempts.length).toBeGreaterThanOrEqual(2);
  for (const a of attempts) expect(a.subarray(12)).toEqual(attempts[0]!.subarray(12)); // all but baseOffset (which the broker rewrites)
  expect(sent.offset).toBe(0n);
});

test('OUT_OF_ORDER_SEQUENCE_NUMBER fails the batch and bumps the epoch: later batches start again at sequence 0', async () => {
  const p = producer();
  await p.send({ topic: 'payments', value: 'a', partition: 0 });
  cluster.failProduce('payments', 0, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  const error = await p.send({ topic: 'payments', value: 'b', partition: 0 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TributaryError);
  expect((error as TributaryError).code).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  await p.send({ topic: 'payments', value: 'c', partition: 0 });
  await p.send({ topic: 'payments', value: 'd', partition: 1 });
  expect(sentHeaders(0)).toEqual([
    [4000n, 0, 0],
    [4000n, 0, 1],
    [4000n, 1, 0],
  ]);
  expect(sentHeaders(1)).toEqual([[4000n, 1, 0]]);
});

test('UNKNOWN_PRODUCER_ID bumps the epoch and resends the batch under it', async () => {
  const p = producer();
  await p.send({ topic: 'payments', value: 'a', partition: 0 });
  cluster.failProduce('payments', 0, ErrorCode.UNKNOWN_PRODUCER_ID);
  const second = await p.send({ topic: 'payments', value: 'b', partition: 0 });
  expect(second.offset).toBe(1n);
  expect(sentHeaders(0)).toEqual([
    [4000n, 0, 0],
    [4000n, 0, 1],
    [4000n, 1, 0],
  ]);
});

test('InitProducerId is retried while no broker can hand out ids yet', async () => {
  cluster.initProducerIdErrors.push(ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  const p = producer();
  await p.send({ topic: 'payments', value: 'a', partition: 1 });
  expect(cluster.initProducerIdRequests).toBeGreaterThanOrEqual(3);
  expect(sentHeaders(1)).toEqual([[4000n, 0, 0]]);
});

test('flush waits for sends still waiting for the producer id; a producer that never sent closes without asking for one', async () => {
  const p = producer({ lingerMs: 60_000 });
  const settled: bigint[] = [];
  for (let i = 0; i < 5; i++) void p.send({ topic: 'payments', value: `f${i}`, partition: 0 }).then((m) => settled.push(m.offset));
  await p.flush();
  expect(settled.sort()).toEqual([0n, 1n, 2n, 3n, 4n]);
  const idle = producer();
  await idle.close();
  expect(cluster.initProducerIdRequests).toBe(1);
});

test('a batch sent before is retried alone: new batches never join it, so the broker can answer it as a duplicate', async () => {
  // batch.size below two records: every record is sealed in a batch of its own at once.
  const p = producer({ lingerMs: 0, batchSize: 80 });
  await p.partitionsFor('payments');
  let open!: () => void;
  cluster.produceGate = new Promise<void>((resolve) => (open = resolve));
  const sends = [p.send({ topic: 'payments', value: 'aaaaaaaaaa', partition: 0 })];
  await waitUntil(() => cluster.produces.length === 1); // in flight, held at the gate
  sends.push(p.send({ topic: 'payments', value: 'bbbbbbbbbb', partition: 0 }));
  sends.push(p.send({ topic: 'payments', value: 'cccccccccc', partition: 0 }));
  cluster.failProduce('payments', 0, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  cluster.produceGate = undefined;
  open();
  const offsets = (await Promise.all(sends)).map((m) => m.offset);
  expect(offsets).toEqual([0n, 1n, 2n]);
  const perRequest = cluster.produces.flatMap((r) => r.partitions.filter((x) => x.partition === 0).map((x) => x.batches));
  expect(perRequest).toEqual([1, 1, 2]); // a (refused), a again alone, then b and c together
  expect(sentHeaders(0).map(([, , seq]) => seq)).toEqual([0, 0, 1, 2]);
});

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 1));
}
