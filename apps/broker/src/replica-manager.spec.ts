import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LOG_CONFIG, LogManager } from '@tributary/log';
import type { FetchRequest, ProduceRequest } from '@tributary/proto';
import { ErrorCode, decodeBatches, encodeBatch } from '@tributary/records';
import { ReplicaManager } from './replica-manager';

let dir: string;
let logs: LogManager;
let rm: ReplicaManager;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'broker-rm-'));
  logs = LogManager.open({ logDirs: [dir], defaultConfig: { ...DEFAULT_LOG_CONFIG, maxMessageBytes: 10_000 } });
  rm = new ReplicaManager({ brokerId: 1, logManager: logs });
});
afterEach(async () => {
  rm.shutdown();
  await logs.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

const batch = (n: number, size = 50, timestamp = 1000): Buffer =>
  encodeBatch(Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.alloc(size, i), timestamp })));

function produceReq(topic: string, partition: number, records: Buffer, acks = 1): ProduceRequest {
  return { acks, timeoutMs: 1000, topics: [{ name: topic, partitions: [{ index: partition, records }] }] };
}

function fetchReq(parts: [string, number, number][], opts: Partial<FetchRequest> = {}): FetchRequest {
  const topics = new Map<string, FetchRequest['topics'][number]>();
  for (const [name, index, offset] of parts) {
    const t = topics.get(name) ?? { name, partitions: [] };
    t.partitions.push({ index, currentLeaderEpoch: -1, fetchOffset: BigInt(offset), logStartOffset: -1n, partitionMaxBytes: 1 << 20 });
    topics.set(name, t);
  }
  return { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, topics: [...topics.values()], ...opts };
}

const first = <T>(r: { topics: { partitions: T[] }[] }): T => r.topics[0]!.partitions[0]!;

describe('produce', () => {
  it('appends to a leader and answers base offsets', async () => {
    rm.becomeLeader({ topic: 'orders', partition: 0 }, 3);
    const a = first((await rm.produce(produceReq('orders', 0, batch(5)))));
    const b = first((await rm.produce(produceReq('orders', 0, batch(2)))));
    expect([a.errorCode, a.baseOffset, b.baseOffset]).toEqual([ErrorCode.NONE, 0n, 5n]);
    expect(rm.getPartition('orders', 0)!.log.highWatermark).toBe(7); // ISR of one: committed at once
  });

  it('answers each partition with its own Kafka error code', async () => {
    rm.becomeLeader({ topic: 't', partition: 0 }, 0, { minInsyncReplicas: 2 });
    const corrupt = batch(2);
    corrupt[corrupt.length - 3]! ^= 0xff;
    const cases: [ProduceRequest, ErrorCode][] = [
      [produceReq('nope', 0, batch(1)), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      [produceReq('t', 0, batch(1), 2), ErrorCode.INVALID_REQUIRED_ACKS],
      [produceReq('t', 0, corrupt), ErrorCode.CORRUPT_MESSAGE],
      [produceReq('t', 0, Buffer.from('garbage garbage garbage garbage garbage garbage garbage garbage')), ErrorCode.CORRUPT_MESSAGE],
      [produceReq('t', 0, batch(100, 200)), ErrorCode.MESSAGE_TOO_LARGE],
      [produceReq('t', 0, batch(1), -1), ErrorCode.NOT_ENOUGH_REPLICAS],
    ];
    for (const [req, code] of cases) {
      const res = first(await rm.produce(req));
      expect(ErrorCode[res.errorCode]).toBe(ErrorCode[code]);
      expect(res.errorMessage.length).toBeGreaterThan(0);
    }
    expect(rm.getPartition('t', 0)!.log.logEndOffset).toBe(0); // nothing was written
    expect(first(await rm.produce(produceReq('t', 0, batch(1), 1))).errorCode).toBe(ErrorCode.NONE);
  });
});

describe('fetch', () => {
  it('returns whole batches below the high watermark', async () => {
    rm.becomeLeader({ topic: 'f', partition: 0 }, 0);
    await rm.produce(produceReq('f', 0, batch(3)));
    await rm.produce(produceReq('f', 0, batch(4)));
    const res = first(await rm.fetch(fetchReq([['f', 0, 4]])));
    expect(res.errorCode).toBe(ErrorCode.NONE);
    expect(res.highWatermark).toBe(7n);
    const batches = decodeBatches(res.records);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.records.map((r) => r.offset)).toEqual([3, 4, 5, 6]);
  });

  it('long-polls: a waiting fetch is answered by the append that brings data, not by a timer', async () => {
    rm.becomeLeader({ topic: 'lp', partition: 0 }, 0);
    const waiting = rm.fetch(fetchReq([['lp', 0, 0]], { maxWaitMs: 60_000, minBytes: 1 }));
    expect(rm.fetchPurgatory.size).toBe(1);
    await rm.produce(produceReq('lp', 0, batch(2)));
    const res = first(await waiting); // a 60 s wait would exceed the test timeout
    expect(decodeBatches(res.records)[0]!.records).toHaveLength(2);
    expect(rm.fetchPurgatory.size).toBe(0);
  });

  it('answers empty when max_wait_ms passes without data', async () => {
    rm.becomeLeader({ topic: 'e', partition: 0 }, 0);
    const res = first(await rm.fetch(fetchReq([['e', 0, 0]], { maxWaitMs: 30, minBytes: 1 })));
    expect([res.errorCode, res.records.length]).toEqual([ErrorCode.NONE, 0]);
  });

  it('returns at least one batch for the first partition with data, and respects max_bytes after it', async () => {
    rm.becomeLeader({ topic: 'm', partition: 0 }, 0);
    rm.becomeLeader({ topic: 'm', partition: 1 }, 0);
    await rm.produce(produceReq('m', 0, batch(40)));
    await rm.produce(produceReq('m', 1, batch(40)));
    const res = await rm.fetch(fetchReq([['m', 0, 0], ['m', 1, 0]], { maxBytes: 100 }));
    const [p0, p1] = res.topics[0]!.partitions;
    expect(p0!.records.length).toBeGreaterThan(100); // the whole first batch, above max_bytes
    expect(p1!.records.length).toBe(0); // the budget is spent
  });

  it('reports unknown partitions, bad offsets and fenced epochs', async () => {
    rm.becomeLeader({ topic: 'x', partition: 0 }, 5);
    await rm.produce(produceReq('x', 0, batch(2)));
    expect(first(await rm.fetch(fetchReq([['y', 0, 0]]))).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(first(await rm.fetch(fetchReq([['x', 0, 99]]))).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(first(await rm.fetch(fetchReq([['x', 0, -5]]))).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const fenced = fetchReq([['x', 0, 0]]);
    fenced.topics[0]!.partitions[0]!.currentLeaderEpoch = 4;
    expect(first(await rm.fetch(fenced)).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    fenced.topics[0]!.partitions[0]!.currentLeaderEpoch = 6;
    expect(first(await rm.fetch(fenced)).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
    expect(first(await rm.fetch(fetchReq([['x', 0, 0]], { maxBytes: -1 }))).errorCode).toBe(ErrorCode.INVALID_FETCH_SIZE);
  });
});

describe('listOffsets', () => {
  it('answers earliest, latest and by timestamp', async () => {
    rm.becomeLeader({ topic: 'lo', partition: 0 }, 2);
    await rm.produce(produceReq('lo', 0, batch(3, 10, 1000)));
    await rm.produce(produceReq('lo', 0, batch(3, 10, 2000)));
    const ask = (timestamp: bigint) =>
      first(rm.listOffsets({ replicaId: -1, topics: [{ name: 'lo', partitions: [{ index: 0, currentLeaderEpoch: -1, timestamp }] }] }));
    expect(ask(-2n).offset).toBe(0n);
    expect(ask(-1n)).toMatchObject({ offset: 6n, leaderEpoch: 2 });
    expect(ask(1500n)).toMatchObject({ offset: 3n, timestamp: 2000n });
    expect(ask(3000n)).toMatchObject({ offset: -1n, timestamp: -1n, errorCode: ErrorCode.NONE });
    expect(ask(-9n).errorCode).toBe(ErrorCode.INVALID_REQUEST);
  });
});

describe('replication on the leader', () => {
  const tp = { topic: 'r', partition: 0 };
  const followerFetch = (replicaId: number, offset: number): FetchRequest => fetchReq([['r', 0, offset]], { replicaId });

  it('moves the high watermark to the smallest log end offset of the ISR, as followers fetch', async () => {
    rm.becomeLeader(tp, 1, { isr: [1, 2, 3] });
    await rm.produce(produceReq('r', 0, batch(4)));
    const log = rm.getPartition('r', 0)!.log;
    expect(log.logEndOffset).toBe(4);
    expect(log.highWatermark).toBe(0); // followers have not fetched yet
    // A replica fetch reads up to the log end; a consumer only below the HW.
    expect(decodeBatches(first(await rm.fetch(followerFetch(2, 0))).records)).toHaveLength(1);
    expect(first(await rm.fetch(fetchReq([['r', 0, 0]]))).records.length).toBe(0);
    await rm.fetch(followerFetch(2, 4));
    expect(log.highWatermark).toBe(0); // follower 3 still holds it back
    await rm.fetch(followerFetch(3, 2));
    expect(log.highWatermark).toBe(2);
    await rm.fetch(followerFetch(3, 4));
    expect(log.highWatermark).toBe(4);
    // A follower out of the ISR does not count: the ISR shrinks to [1, 2].
    rm.refresh(rm.getPartition('r', 0)!, { isr: [1, 2], minInsyncReplicas: 1 });
    await rm.produce(produceReq('r', 0, batch(1)));
    await rm.fetch(followerFetch(2, 5));
    expect(log.highWatermark).toBe(5);
  });

  it('answers acks=all once the ISR has the records, and REQUEST_TIMED_OUT when it never does', async () => {
    rm.becomeLeader(tp, 1, { isr: [1, 2] });
    const pending = rm.produce({ ...produceReq('r', 0, batch(3), -1), timeoutMs: 30_000 });
    let answered = false;
    void pending.then(() => (answered = true));
    await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
    await rm.fetch(followerFetch(2, 3));
    const done = first(await pending);
    expect([ErrorCode[done.errorCode], done.baseOffset]).toEqual(['NONE', 0n]);

    const timedOut = first(await rm.produce({ ...produceReq('r', 0, batch(1), -1), timeoutMs: 50 }));
    expect(ErrorCode[timedOut.errorCode]).toBe('REQUEST_TIMED_OUT');
  });

  it('answers a waiting acks=all produce when the ISR shrinks below min.insync.replicas or leadership moves', async () => {
    rm.becomeLeader(tp, 1, { isr: [1, 2, 3], minInsyncReplicas: 2 });
    const shrink = rm.produce({ ...produceReq('r', 0, batch(1), -1), timeoutMs: 30_000 });
    await new Promise((r) => setImmediate(r));
    rm.refresh(rm.getPartition('r', 0)!, { isr: [1], minInsyncReplicas: 2 });
    expect(ErrorCode[first(await shrink).errorCode]).toBe('NOT_ENOUGH_REPLICAS_AFTER_APPEND');

    rm.becomeLeader(tp, 2, { isr: [1, 2], minInsyncReplicas: 1 });
    const moved = rm.produce({ ...produceReq('r', 0, batch(1), -1), timeoutMs: 30_000 });
    await new Promise((r) => setImmediate(r));
    rm.becomeFollower(tp, 2, 3);
    expect(ErrorCode[first(await moved).errorCode]).toBe('NOT_LEADER_OR_FOLLOWER');
  });
});

describe('becoming a follower', () => {
  it('keeps its records and asks the leader about its latest epoch first (no truncation to the high watermark, KIP-101)', () => {
    const tp = { topic: 'f', partition: 0 };
    rm.becomeLeader(tp, 1, { isr: [1, 2] });
    const log = rm.getPartition('f', 0)!.log;
    expect(log.leaderEpochCache.all).toEqual([{ epoch: 1, startOffset: 0 }]);
    // Offline (no leader): this replica may lead again with all it has; nothing to ask.
    const offline = rm.becomeFollower(tp, -1, 2);
    expect(offline.role).toEqual({ kind: 'follower', leaderId: -1, leaderEpoch: 2 });
    const following = rm.becomeFollower(tp, 2, 3);
    expect(following.role).toEqual({ kind: 'follower', leaderId: 2, leaderEpoch: 3, truncation: { epoch: 1 } });
  });

  it('runs follower log steps one at a time, and not at all once the partition state was replaced', async () => {
    const tp = { topic: 'g', partition: 0 };
    const old = rm.becomeFollower(tp, 2, 1);
    const order: string[] = [];
    let release!: () => void;
    const slow = rm.whileFollowing(old, () => new Promise<void>((r) => (release = () => (order.push('slow'), r()))));
    await new Promise(setImmediate); // the slow step is running
    const queued = rm.whileFollowing(old, async () => void order.push('queued'));
    const replaced = rm.becomeFollower(tp, 3, 2);
    const current = rm.whileFollowing(replaced, async () => void order.push('current'));
    release();
    expect(await slow).toBe(true);
    expect(await queued).toBe(false); // the state it was queued for is gone
    expect(await current).toBe(true);
    expect(order).toEqual(['slow', 'current']);
  });
});

describe('OffsetsForLeaderEpoch', () => {
  it('answers the end offset of the largest epoch at or below the one asked, on the leader only, fenced by the current epoch', async () => {
    const tp = { topic: 'e', partition: 0 };
    rm.becomeLeader(tp, 1);
    await rm.produce(produceReq('e', 0, batch(2))); // epoch 1: offsets 0-1
    rm.becomeLeader(tp, 4);
    await rm.produce(produceReq('e', 0, batch(3))); // epoch 4: offsets 2-4
    const ask = (leaderEpoch: number, currentLeaderEpoch = -1) =>
      rm.offsetsForLeaderEpoch({ replicaId: 2, topics: [{ name: 'e', partitions: [{ index: 0, currentLeaderEpoch, leaderEpoch }] }] }).topics[0]!.partitions[0]!;
    expect(ask(1)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: 1, endOffset: 2n });
    expect(ask(3)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: 1, endOffset: 2n }); // epochs 2-3 never wrote here
    expect(ask(4)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: 4, endOffset: 5n });
    expect(ask(0)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: -1, endOffset: -1n });
    expect(ask(4, 3).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(ask(4, 5).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
    rm.becomeFollower(tp, 2, 5);
    expect(ask(4).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const unknown = rm.offsetsForLeaderEpoch({ replicaId: 2, topics: [{ name: 'nope', partitions: [{ index: 0, currentLeaderEpoch: -1, leaderEpoch: 1 }] }] });
    expect(unknown.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});

describe('ListOffsets on a new leader (KIP-207)', () => {
  it('answers OFFSET_NOT_AVAILABLE until the high watermark reaches the start of its epoch', async () => {
    const tp = { topic: 'k', partition: 0 };
    rm.becomeLeader(tp, 1, { isr: [1, 2] });
    for (let i = 0; i < 3; i++) await rm.produce(produceReq('k', 0, batch(1)));
    await rm.fetch(fetchReq([['k', 0, 2]], { replicaId: 2 })); // HW 2 of LEO 3
    const latest = () => rm.listOffsets({ replicaId: -1, topics: [{ name: 'k', partitions: [{ index: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] }).topics[0]!.partitions[0]!;
    expect(latest()).toMatchObject({ errorCode: ErrorCode.NONE, offset: 2n });
    // Leader again at epoch 2 (its epoch starts at 3), HW still 2: "latest" would go backwards for someone acknowledged at 2.
    rm.becomeLeader(tp, 2, { isr: [1, 2] });
    expect(ErrorCode[latest().errorCode]).toBe('OFFSET_NOT_AVAILABLE');
    await rm.fetch(fetchReq([['k', 0, 3]], { replicaId: 2 }));
    expect(latest()).toMatchObject({ errorCode: ErrorCode.NONE, offset: 3n });
  });
});
