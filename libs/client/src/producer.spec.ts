// Producer + Sender against a fake cluster of in-process gRPC brokers (spec-helpers.ts).
import { CompressionCodec, ErrorCode, TributaryError, batchCompression, decodeBatches } from '@tributary/records';
import { GrpcStatusError, Status } from '@tributary/runtime';
import { ClientClosedError, ClientTimeoutError, NoBrokerAvailableError, UnknownTopicError } from './errors';
import { partitionForKey } from './partitioner';
import { Producer } from './producer';
import type { ProducerOptions } from './producer-options';
import { FakeCluster } from './spec-helpers';

let cluster: FakeCluster;
const producers: Producer[] = [];

beforeEach(async () => {
  cluster = await FakeCluster.start(3);
  cluster.createTopic('orders', 6);
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

/** Values stored in a partition, in offset order. */
function stored(topic: string, partition: number): string[] {
  const p = cluster.topics.get(topic)![partition]!;
  return decodeBatches(Buffer.concat(p.batches)).flatMap((b) => b.records.map((r) => r.value!.toString()));
}

test('send resolves with the partition the Java client picks for the key and consecutive offsets', async () => {
  const p = producer();
  const first = await p.send({ topic: 'orders', key: 'customer-1', value: 'a' });
  const second = await p.send({ topic: 'orders', key: Buffer.from('customer-1'), value: Buffer.from('b') });
  const expected = partitionForKey(Buffer.from('customer-1'), 6);
  expect(first).toMatchObject({ topic: 'orders', partition: expected, offset: 0n });
  expect(second).toMatchObject({ topic: 'orders', partition: expected, offset: 1n });
  expect(stored('orders', expected)).toEqual(['a', 'b']);
});

test('ready batches are drained per broker: one Produce request covers every partition the broker leads', async () => {
  const p = producer({ lingerMs: 60_000 });
  const sends = [];
  for (let i = 0; i < 60; i++) sends.push(p.send({ topic: 'orders', value: `v${i}`, partition: i % 6 }));
  await p.flush();
  const results = await Promise.all(sends);
  expect(results.every((r) => r.offset >= 0n)).toBe(true);
  // Three brokers, two partitions each (p and p+3), all batches ready in the same turn.
  expect(cluster.produces).toHaveLength(3);
  for (const req of cluster.produces) {
    expect(req.partitions.map((x) => x.partition).sort()).toEqual([req.brokerId, req.brokerId + 3]);
  }
  for (let partition = 0; partition < 6; partition++) expect(stored('orders', partition)).toHaveLength(10);
});

test('several batches of one partition travel in one request, concatenated, with offsets continuing across them', async () => {
  const p = producer({ lingerMs: 60_000, batchSize: 200 });
  const sends = [];
  for (let i = 0; i < 50; i++) sends.push(p.send({ topic: 'orders', value: `record-${i}`.padEnd(40, '.'), partition: 0 }));
  await p.flush();
  const results = await Promise.all(sends);
  expect(results.map((r) => r.offset)).toEqual(results.map((_, i) => BigInt(i)));
  expect(cluster.produces).toHaveLength(1);
  expect(cluster.produces[0]!.partitions[0]!.batches).toBeGreaterThan(1);
});

test('max.request.size bounds a request; the rest follows in the next one', async () => {
  const p = producer({ lingerMs: 60_000, batchSize: 1000, maxRequestSize: 2500 });
  const sends = [];
  for (let i = 0; i < 40; i++) sends.push(p.send({ topic: 'orders', value: Buffer.alloc(200, i), partition: 0 }));
  await p.flush();
  await Promise.all(sends);
  expect(cluster.produces.length).toBeGreaterThan(1);
  for (const req of cluster.produces) expect(req.partitions[0]!.bytes).toBeLessThanOrEqual(2500);
  expect(stored('orders', 0)).toHaveLength(40);
});

test('NOT_LEADER_OR_FOLLOWER: metadata is refreshed and the batch goes to the new leader', async () => {
  const p = producer();
  await p.send({ topic: 'orders', value: 'before', partition: 0 });
  const metadataBefore = cluster.metadataRequests;
  cluster.moveLeader('orders', 0, 2);
  const meta = await p.send({ topic: 'orders', value: 'after', partition: 0 });
  expect(meta.offset).toBe(1n);
  expect(cluster.metadataRequests).toBeGreaterThan(metadataBefore);
  // The old leader, refused there (again, if a retry left before the refreshed metadata
  // arrived on a loaded machine), then the new leader once.
  const brokers = cluster.produces.map((r) => r.brokerId);
  expect(brokers.length).toBeGreaterThanOrEqual(3);
  expect(brokers.slice(0, -1).every((id) => id === 0)).toBe(true);
  expect(brokers.at(-1)).toBe(2);
  expect(stored('orders', 0)).toEqual(['before', 'after']);
});

test('retriable errors are retried in order: per-partition order holds with many requests in flight', async () => {
  const p = producer({ lingerMs: 0, batchSize: 100 });
  cluster.failProduce('orders', 1, ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.REQUEST_TIMED_OUT, ErrorCode.LEADER_NOT_AVAILABLE);
  const sends = [];
  for (let i = 0; i < 30; i++) sends.push(p.send({ topic: 'orders', value: `m${i}`, partition: 1 }));
  const results = await Promise.all(sends);
  expect(results.map((r) => r.offset)).toEqual(results.map((_, i) => BigInt(i)));
  expect(stored('orders', 1)).toEqual(results.map((_, i) => `m${i}`));
});

test('a whole-call failure (broker unavailable) is retried', async () => {
  const p = producer();
  await p.send({ topic: 'orders', value: 'x', partition: 0 });
  cluster.produceCallErrors.set(0, [new GrpcStatusError(Status.UNAVAILABLE, 'connection reset')]);
  expect((await p.send({ topic: 'orders', value: 'y', partition: 0 })).offset).toBe(1n);
});

test('a non-retriable error fails the records with a message that says what to do', async () => {
  const p = producer();
  cluster.failProduce('orders', 2, ErrorCode.MESSAGE_TOO_LARGE);
  const error = await p.send({ topic: 'orders', value: 'big', partition: 2 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TributaryError);
  expect((error as TributaryError).code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
  expect((error as TributaryError).message).toMatch(/max\.message\.bytes/);
});

test('retries are bounded by `retries`', async () => {
  const p = producer({ retries: 2 });
  cluster.failProduce('orders', 0, ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.NOT_ENOUGH_REPLICAS);
  const error = await p.send({ topic: 'orders', value: 'x', partition: 0 }).catch((e: unknown) => e);
  expect((error as TributaryError).code).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
  expect((error as TributaryError).message).toMatch(/gave up after 3 attempt/);
});

test('a partition without a reachable leader expires after delivery.timeout.ms', async () => {
  const p = producer({ requestTimeoutMs: 50, lingerMs: 0, deliveryTimeoutMs: 100 });
  await p.send({ topic: 'orders', value: 'x', partition: 0 });
  cluster.moveLeader('orders', 0, 99); // a broker that does not exist
  await p.send({ topic: 'orders', value: 'y', partition: 1 }); // refreshes nothing for p0 yet
  const error = await p.send({ topic: 'orders', value: 'z', partition: 0 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ClientTimeoutError);
  expect((error as Error).message).toMatch(/orders-0 expired.*delivery\.timeout\.ms/);
});

test('buffer.memory back-pressure: sends wait while it is full and all complete once the broker answers', async () => {
  let open!: () => void;
  cluster.produceGate = new Promise<void>((resolve) => (open = resolve));
  const p = producer({ bufferMemory: 4096, batchSize: 1024, lingerMs: 0 });
  await p.partitionsFor('orders');
  const sends = [];
  for (let i = 0; i < 100; i++) sends.push(p.send({ topic: 'orders', value: Buffer.alloc(100, i), partition: i % 6 }));
  await new Promise((r) => setImmediate(r));
  expect(p.bufferedBytes).toBeLessThanOrEqual(4096);
  expect((p as unknown as { accumulator: { waitingAppends: number } }).accumulator.waitingAppends).toBeGreaterThan(0);
  cluster.produceGate = undefined;
  open();
  const results = await Promise.all(sends);
  expect(results).toHaveLength(100);
  for (let partition = 0; partition < 6; partition++) {
    expect(stored('orders', partition).length).toBe(results.filter((r) => r.partition === partition).length);
  }
});

test('flush waits for every record sent before it; close flushes, then further sends reject', async () => {
  const p = producer({ lingerMs: 60_000 });
  const settled: bigint[] = [];
  for (let i = 0; i < 10; i++) void p.send({ topic: 'orders', value: `f${i}`, partition: 3 }).then((m) => settled.push(m.offset));
  await p.flush();
  expect(settled).toHaveLength(10);
  const late = p.send({ topic: 'orders', value: 'late', partition: 3 });
  await p.close();
  expect((await late).offset).toBe(10n);
  await expect(p.send({ topic: 'orders', value: 'x' })).rejects.toBeInstanceOf(ClientClosedError);
});

test('acks=0 resolves offsets as -1 and the request says acks 0', async () => {
  const p = producer({ acks: 0 });
  const meta = await p.send({ topic: 'orders', value: 'fire-and-forget', partition: 0 });
  expect(meta.offset).toBe(-1n);
  expect(cluster.produces[0]!.acks).toBe(0);
  expect(stored('orders', 0)).toEqual(['fire-and-forget']);
});

test("acks 'all' travels as -1", async () => {
  const p = producer({ acks: 'all' });
  await p.send({ topic: 'orders', value: 'x' });
  expect(cluster.produces[0]!.acks).toBe(-1);
});

test('keyless records stick to one partition until about batch.size bytes went there', async () => {
  const p = producer({ lingerMs: 60_000, batchSize: 1000 });
  const first = [];
  for (let i = 0; i < 10; i++) first.push(p.send({ topic: 'orders', value: Buffer.alloc(10) }));
  await p.flush();
  const partitions = new Set((await Promise.all(first)).map((m) => m.partition));
  expect(partitions.size).toBe(1);
  const many = [];
  for (let i = 0; i < 200; i++) many.push(p.send({ topic: 'orders', value: Buffer.alloc(100) }));
  await p.flush();
  expect(new Set((await Promise.all(many)).map((m) => m.partition)).size).toBeGreaterThan(1);
});

test('a custom partitioner decides, and undefined falls back to the default', async () => {
  const p = producer({ partitioner: ({ key, partitionCount }) => (key?.toString() === 'special' ? partitionCount - 1 : undefined) });
  expect((await p.send({ topic: 'orders', key: 'special', value: 'x' })).partition).toBe(5);
  expect((await p.send({ topic: 'orders', key: 'k', value: 'x' })).partition).toBe(partitionForKey(Buffer.from('k'), 6));
});

test('an explicit partition out of range is refused with the partition count', async () => {
  const p = producer();
  await expect(p.send({ topic: 'orders', value: 'x', partition: 6 })).rejects.toThrow(/has 6 partition\(s\), 0\.\.5/);
});

test('headers, timestamps and compression reach the log', async () => {
  const p = producer({ compression: 'gzip' });
  await p.send({ topic: 'orders', key: 'k', value: 'v', partition: 4, timestamp: 1_700_000_000_000, headers: { trace: 'abc', empty: null } });
  await p.send({ topic: 'orders', value: 'w', partition: 4, headers: [{ key: 'a', value: '1' }, { key: 'a', value: Buffer.from('2') }] });
  const batches = cluster.topics.get('orders')![4]!.batches;
  expect(batchCompression(batches[0]!)).toBe(CompressionCodec.Gzip);
  const records = decodeBatches(Buffer.concat(batches)).flatMap((b) => b.records);
  expect(records[0]!.timestamp).toBe(1_700_000_000_000);
  expect(records[0]!.key!.toString()).toBe('k');
  expect(records[0]!.headers.map((h) => [h.key, h.value?.toString() ?? null])).toEqual([
    ['trace', 'abc'],
    ['empty', null],
  ]);
  expect(records[1]!.headers.map((h) => [h.key, h.value!.toString()])).toEqual([
    ['a', '1'],
    ['a', '2'],
  ]);
});

test('sendBatch resolves every record in order', async () => {
  const p = producer();
  const results = await p.sendBatch('orders', [{ value: 'a', partition: 0 }, { value: 'b', partition: 0 }, { key: 'k', value: 'c' }]);
  expect(results.slice(0, 2).map((r) => r.offset)).toEqual([0n, 1n]);
  expect(results[2]!.partition).toBe(partitionForKey(Buffer.from('k'), 6));
});

test('an unknown topic fails with an error that says how to create it', async () => {
  const p = producer({ maxBlockMs: 100 });
  const error = await p.send({ topic: 'nope', value: 'x' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(UnknownTopicError);
  expect((error as Error).message).toBe("topic 'nope' does not exist (create it with `tributary topics create nope`)");
});

test('a topic created while a send waits for it is found', async () => {
  const p = producer({ maxBlockMs: 30_000 });
  cluster.hiddenTopics.add('orders');
  const sent = p.send({ topic: 'orders', value: 'x', partition: 0 });
  await new Promise((r) => setTimeout(r, 30));
  cluster.hiddenTopics.clear();
  expect((await sent).offset).toBe(0n);
});

test('no broker reachable: the error names the bootstrap list and how to start a cluster', async () => {
  const p = new Producer({ bootstrap: ['127.0.0.1:1'], maxBlockMs: 50, retryBackoffMs: 10 });
  producers.push(p);
  const error = await p.send({ topic: 'orders', value: 'x' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NoBrokerAvailableError);
  expect((error as Error).message).toMatch(/^no broker reachable at 127\.0\.0\.1:1.*is the cluster running\? start it with `npm start`/);
});

test('bad options are refused with the Kafka name of the setting', () => {
  expect(() => new Producer({ bootstrap: ['x:1'], acks: 2 as never })).toThrow(/acks must be 0, 1, -1 or 'all'/);
  expect(() => new Producer({ bootstrap: ['x:1'], lingerMs: -1 })).toThrow(/linger\.ms/);
  expect(() => new Producer({ bootstrap: ['nope'] })).toThrow(/must be host:port/);
  expect(() => new Producer({ bootstrap: ['x:1'], compression: 'brotli' as never })).toThrow(/compression\.type/);
});

test('sendSequenced: every record reported once, per run, at the offsets the broker assigned; flush waits for them', async () => {
  const p = producer({ lingerMs: 1 });
  const n = 500;
  const offsets = new Array<bigint | undefined>(n);
  const partitions = new Array<number | undefined>(n);
  let errors = 0;
  const onRun = (error: Error | null, topic: string, partition: number, baseOffset: bigint, first: number, count: number): void => {
    if (error !== null || topic !== 'orders') errors++;
    for (let i = 0; i < count; i++) {
      expect(offsets[first + i]).toBeUndefined();
      offsets[first + i] = baseOffset + BigInt(i);
      partitions[first + i] = partition;
    }
  };
  await p.partitionsFor('orders');
  for (let i = 0; i < n; i++) {
    if (!p.sendSequenced({ topic: 'orders', key: `k${i % 7}`, value: `v${i}` }, i, onRun)) await p.waitForCapacity();
  }
  await p.flush();
  expect(errors).toBe(0);
  for (let partition = 0; partition < 6; partition++) {
    const mine = [...offsets.keys()].filter((i) => partitions[i] === partition);
    expect(mine.map((i) => offsets[i])).toEqual(mine.map((_, j) => BigInt(j)));
    expect(stored('orders', partition)).toEqual(mine.map((i) => `v${i}`));
    for (const i of mine) expect(partitions[i]).toBe(partitionForKey(Buffer.from(`k${i % 7}`), 6));
  }
});

test('sendWithCallback: metadata per record, also when the topic metadata is not cached yet (returns false then)', async () => {
  const p = producer();
  const got: Array<[Error | null, bigint | undefined]> = [];
  const accepted = p.sendWithCallback({ topic: 'orders', value: 'a', partition: 4 }, (e, m) => got.push([e, m?.offset]));
  expect(accepted).toBe(false); // waits for metadata
  await p.waitForCapacity();
  expect(p.sendWithCallback({ topic: 'orders', value: 'b', partition: 4 }, (e, m) => got.push([e, m?.offset]))).toBe(true);
  await p.flush();
  expect(got).toEqual([
    [null, 0n],
    [null, 1n],
  ]);
  expect(stored('orders', 4)).toEqual(['a', 'b']);
});

test('sendSequenced / sendWithCallback report errors through the callback, never synchronously', async () => {
  const p = producer();
  await p.partitionsFor('orders');
  const errors: Error[] = [];
  expect(p.sendSequenced({ topic: 'orders', value: 'x', partition: 99 }, 0, (e) => void errors.push(e!))).toBe(false);
  expect(p.sendWithCallback({ topic: 'orders', value: undefined as unknown as string }, (e) => void errors.push(e!))).toBe(false);
  expect(errors).toHaveLength(0);
  await new Promise((r) => setImmediate(r));
  expect(errors.map((e) => e.constructor.name)).toEqual(['TributaryError', 'RangeError']);
  await p.close();
  const after: Array<Error | null> = [];
  p.sendSequenced({ topic: 'orders', value: 'x' }, 1, (e) => void after.push(e));
  await new Promise((r) => setImmediate(r));
  expect(after[0]).toBeInstanceOf(ClientClosedError);
});
