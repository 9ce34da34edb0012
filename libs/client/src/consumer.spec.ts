// Consumer + Fetcher against a fake cluster of in-process gRPC brokers (spec-helpers.ts).
import { CompressionCodec, encodeBatch } from '@tributary/records';
import type { RecordInput } from '@tributary/records';
import { Consumer } from './consumer';
import type { ConsumerOptions, ConsumerRecord } from './consumer-options';
import { NoBrokerAvailableError, OffsetOutOfRangeError } from './errors';
import { FakeCluster } from './spec-helpers';

let cluster: FakeCluster;
const consumers: Consumer[] = [];

beforeEach(async () => {
  cluster = await FakeCluster.start(3);
  cluster.createTopic('orders', 3);
});

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.close()));
  await cluster.stop();
});

function consumer(options: ConsumerOptions = {}): Consumer {
  const c = new Consumer({ bootstrap: [cluster.address(0)], retryBackoffMs: 10, retryBackoffMaxMs: 50, fetchMaxWaitMs: 50, ...options });
  consumers.push(c);
  return c;
}

function values(n: number, prefix = 'v', timestamp = 1000): RecordInput[] {
  return Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`${prefix}${i}`), timestamp: timestamp + i }));
}

/** Polls until `n` records came (never asserting on time: the test timeout bounds it). */
async function pollN(c: Consumer, n: number): Promise<ConsumerRecord[]> {
  const out: ConsumerRecord[] = [];
  while (out.length < n) out.push(...(await c.poll(100)));
  return out;
}

test('assign + earliest: records in order with offsets, keys, values, headers and timestamps', async () => {
  cluster.append('orders', 1, encodeBatch([{ key: Buffer.from('a'), value: Buffer.from('1'), timestamp: 5, headers: [{ key: 'h', value: Buffer.from('x') }] }]));
  cluster.append('orders', 1, encodeBatch(values(3)));
  const c = consumer({ autoOffsetReset: 'earliest' });
  c.assign([{ topic: 'orders', partition: 1 }]);
  const records = await pollN(c, 4);
  expect(records.map((r) => r.offset)).toEqual([0n, 1n, 2n, 3n]);
  expect(records[0]).toMatchObject({ topic: 'orders', partition: 1, timestamp: 5 });
  expect(records[0]!.key!.toString()).toBe('a');
  expect(records[0]!.headers.map((h) => [h.key, h.value!.toString()])).toEqual([['h', 'x']]);
  expect(records.slice(1).map((r) => r.value!.toString())).toEqual(['v0', 'v1', 'v2']);
  expect(await c.position({ topic: 'orders', partition: 1 })).toBe(4n);
});

test("latest (the default) starts at the end: only records written after the position is known", async () => {
  cluster.append('orders', 0, encodeBatch(values(2, 'old')));
  const c = consumer();
  c.assign([{ topic: 'orders', partition: 0 }]);
  expect(await c.position({ topic: 'orders', partition: 0 })).toBe(2n);
  cluster.append('orders', 0, encodeBatch(values(1, 'new')));
  const records = await pollN(c, 1);
  expect(records.map((r) => [r.offset, r.value!.toString()])).toEqual([[2n, 'new0']]);
});

test("autoOffsetReset 'none' without a position: poll throws and says what to do", async () => {
  const c = consumer({ autoOffsetReset: 'none' });
  c.assign([{ topic: 'orders', partition: 0 }]);
  await expect(c.poll(10)).rejects.toThrow(OffsetOutOfRangeError);
  c.seek({ topic: 'orders', partition: 0 }, 0);
  expect(await c.poll(10)).toEqual([]);
});

test('OFFSET_OUT_OF_RANGE: earliest resets to the log start (retention deleted the position)', async () => {
  cluster.append('orders', 2, encodeBatch(values(2)));
  cluster.append('orders', 2, encodeBatch(values(2, 'kept')));
  cluster.truncateBefore('orders', 2, 2);
  const c = consumer({ autoOffsetReset: 'earliest' });
  c.assign([{ topic: 'orders', partition: 2 }]);
  c.seek({ topic: 'orders', partition: 2 }, 0);
  const records = await pollN(c, 2);
  expect(records.map((r) => r.offset)).toEqual([2n, 3n]);
});

test("OFFSET_OUT_OF_RANGE with 'none' is thrown with the offset", async () => {
  const c = consumer({ autoOffsetReset: 'none' });
  c.assign([{ topic: 'orders', partition: 2 }]);
  c.seek({ topic: 'orders', partition: 2 }, 50);
  let error: unknown;
  while (error === undefined) error = await c.poll(100).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(OffsetOutOfRangeError);
  expect((error as OffsetOutOfRangeError).offset).toBe(50n);
});

test('records below the fetch offset in a returned batch are skipped', async () => {
  cluster.append('orders', 0, encodeBatch(values(5)));
  const c = consumer();
  c.assign([{ topic: 'orders', partition: 0 }]);
  c.seek({ topic: 'orders', partition: 0 }, 3n);
  const records = await pollN(c, 2);
  expect(records.map((r) => r.offset)).toEqual([3n, 4n]);
  expect(cluster.fetches[0]!.partitions[0]!.fetchOffset).toBe(3n);
});

test('maxPollRecords splits a batch across polls without losing or repeating records', async () => {
  cluster.append('orders', 0, encodeBatch(values(7), { compression: CompressionCodec.Gzip }));
  const c = consumer({ maxPollRecords: 3, autoOffsetReset: 'earliest' });
  c.assign([{ topic: 'orders', partition: 0 }]);
  const sizes: number[] = [];
  const offsets: bigint[] = [];
  while (offsets.length < 7) {
    const records = await c.poll(100);
    if (records.length > 0) sizes.push(records.length);
    offsets.push(...records.map((r) => r.offset));
  }
  expect(sizes).toEqual([3, 3, 1]);
  expect(offsets).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n]);
});

test('seek drops prefetched data and restarts there', async () => {
  cluster.append('orders', 0, encodeBatch(values(4)));
  const c = consumer({ maxPollRecords: 1, autoOffsetReset: 'earliest' });
  c.assign([{ topic: 'orders', partition: 0 }]);
  expect((await pollN(c, 1))[0]!.offset).toBe(0n);
  expect(c.bufferedBytes).toBeGreaterThan(0);
  c.seek({ topic: 'orders', partition: 0 }, 0n);
  expect(c.bufferedBytes).toBe(0);
  expect((await pollN(c, 1))[0]!.offset).toBe(0n);
});

test('bounded prefetch with pipelining: the next range is fetched while one answer is buffered, never a third', async () => {
  for (let i = 0; i < 10; i++) cluster.append('orders', 0, encodeBatch(values(10)));
  const c = consumer({ maxPollRecords: 5, autoOffsetReset: 'earliest', maxPartitionFetchBytes: 1 });
  c.assign([{ topic: 'orders', partition: 0 }]);
  await pollN(c, 5);
  // One batch per fetch (partition limit 1 byte: the first batch always comes). The second
  // fetch (offset 10) goes out while the first answer is buffered; with both answers buffered
  // (5 records of the first still unread) no third fetch may be sent.
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  expect(cluster.fetches.map((f) => f.partitions.map((p) => p.fetchOffset))).toEqual([[0n], [10n]]);
  const rest = await pollN(c, 95);
  expect(rest.map((r) => r.offset)).toEqual(Array.from({ length: 95 }, (_, i) => BigInt(i + 5)));
  expect(cluster.fetches.length).toBeGreaterThanOrEqual(10);
  // Every range fetched once: the pipelined fetches start past the data already fetched.
  const offsets = cluster.fetches.map((f) => f.partitions[0]!.fetchOffset).filter((o) => o < 100n);
  expect(offsets).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i * 10)));
});

test('a seek drops the data fetched ahead and fetches from the new position', async () => {
  for (let i = 0; i < 4; i++) cluster.append('orders', 0, encodeBatch(values(10)));
  const c = consumer({ maxPollRecords: 5, autoOffsetReset: 'earliest', maxPartitionFetchBytes: 1 });
  c.assign([{ topic: 'orders', partition: 0 }]);
  await pollN(c, 5);
  c.seek({ topic: 'orders', partition: 0 }, 3);
  const again = await pollN(c, 10);
  expect(again.slice(0, 10).map((r) => r.offset)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i + 3)));
});

test('one fetch per broker covers every assigned partition it leads', async () => {
  cluster.createTopic('wide', 6);
  const c = consumer({ autoOffsetReset: 'earliest' });
  c.assign(Array.from({ length: 6 }, (_, partition) => ({ topic: 'wide', partition })));
  for (let p = 0; p < 6; p++) cluster.append('wide', p, encodeBatch(values(1, `p${p}-`)));
  const records = await pollN(c, 6);
  expect(new Set(records.map((r) => r.partition)).size).toBe(6);
  const first = cluster.fetches.slice(0, 3);
  for (const f of first) expect(f.partitions.map((p) => p.partition).sort()).toEqual([f.brokerId, f.brokerId + 3]);
});

test('a moved leader: NOT_LEADER_OR_FOLLOWER refreshes metadata and fetching continues at the new leader', async () => {
  cluster.append('orders', 0, encodeBatch(values(2)));
  const c = consumer({ autoOffsetReset: 'earliest' });
  c.assign([{ topic: 'orders', partition: 0 }]);
  await pollN(c, 2);
  cluster.moveLeader('orders', 0, 1);
  cluster.append('orders', 0, encodeBatch(values(1, 'moved')));
  const [r] = await pollN(c, 1);
  expect([r!.offset, r!.value!.toString()]).toEqual([2n, 'moved0']);
  expect(cluster.fetches.at(-1)!.brokerId).toBe(1);
});

test('subscribe reads every partition and follows partition count growth', async () => {
  const c = consumer({ autoOffsetReset: 'earliest', metadataMaxAgeMs: 20 });
  c.subscribe(['orders']);
  cluster.append('orders', 2, encodeBatch(values(1, 'two')));
  expect((await pollN(c, 1))[0]!.partition).toBe(2);
  expect(c.assignment()).toHaveLength(3);
  cluster.topics.get('orders')!.push({ leader: 0, leaderEpoch: 0, batches: [], logStartOffset: 0, nextOffset: 0 });
  cluster.append('orders', 3, encodeBatch(values(1, 'three')));
  const [r] = await pollN(c, 1);
  expect([r!.partition, r!.value!.toString()]).toEqual([3, 'three0']);
  expect(c.assignment()).toHaveLength(4);
});

test('pollBatches hands out raw batches with counts, next offsets and a visitor that skips below the fetch offset', async () => {
  cluster.append('orders', 1, encodeBatch(values(4)));
  cluster.append('orders', 1, encodeBatch(values(3), { compression: CompressionCodec.Gzip }));
  const c = consumer();
  c.assign([{ topic: 'orders', partition: 1 }]);
  c.seek({ topic: 'orders', partition: 1 }, 2);
  let batches: Awaited<ReturnType<Consumer['pollBatches']>> = [];
  while (batches.length === 0) batches = await c.pollBatches(100);
  const [b] = batches;
  expect(b).toMatchObject({ topic: 'orders', partition: 1, fetchOffset: 2n, nextOffset: 7n, recordCount: 5, highWatermark: 7n });
  const seen: number[] = [];
  b!.forEach((v) => seen.push(v.offset));
  expect(seen).toEqual([2, 3, 4, 5, 6]);
  expect(await c.position({ topic: 'orders', partition: 1 })).toBe(7n);
});

test('the async iterator yields records until break', async () => {
  cluster.append('orders', 0, encodeBatch(values(3)));
  const c = consumer({ autoOffsetReset: 'earliest' });
  c.assign([{ topic: 'orders', partition: 0 }]);
  const got: string[] = [];
  for await (const r of c) {
    got.push(r.value!.toString());
    if (got.length === 3) break;
  }
  expect(got).toEqual(['v0', 'v1', 'v2']);
});

test('seekToBeginning, seekToEnd and seekToTimestamp', async () => {
  cluster.append('orders', 0, encodeBatch(values(3, 'a', 1000)));
  cluster.append('orders', 0, encodeBatch(values(3, 'b', 5000)));
  const c = consumer();
  const tp = { topic: 'orders', partition: 0 };
  c.assign([tp]);
  c.seekToBeginning();
  expect(await c.position(tp)).toBe(0n);
  c.seekToEnd([tp]);
  expect(await c.position(tp)).toBe(6n);
  await c.seekToTimestamp(4000);
  expect(await c.position(tp)).toBe(3n);
  expect((await pollN(c, 3)).map((r) => r.value!.toString())).toEqual(['b0', 'b1', 'b2']);
});

test('pause stops fetching a partition; resume restarts it', async () => {
  const c = consumer({ autoOffsetReset: 'earliest' });
  const tp = { topic: 'orders', partition: 0 };
  c.assign([tp]);
  await c.position(tp);
  c.pause([tp]);
  cluster.append('orders', 0, encodeBatch(values(1)));
  expect(await c.poll(50)).toEqual([]);
  c.resume([tp]);
  expect(await pollN(c, 1)).toHaveLength(1);
});

test('close resolves a pending poll with nothing', async () => {
  const c = consumer();
  c.assign([{ topic: 'orders', partition: 0 }]);
  const pending = c.poll(60_000);
  await new Promise((r) => setTimeout(r, 20));
  await c.close();
  expect(await pending).toEqual([]);
});

test('no broker reachable: poll fails at once with what to do', async () => {
  const c = new Consumer({ bootstrap: ['127.0.0.1:1'] });
  consumers.push(c);
  c.subscribe(['orders']);
  await expect(c.poll(10)).rejects.toThrow(NoBrokerAvailableError);
});

test('an assigned topic that does not exist is reported after metadataWaitMs', async () => {
  const c = consumer({ metadataWaitMs: 50 });
  c.assign([{ topic: 'missing', partition: 0 }]);
  let error: unknown;
  while (error === undefined) error = await c.poll(20).then(() => undefined, (e: unknown) => e);
  expect((error as Error).message).toMatch(/topic 'missing' does not exist/);
});
