// The group Consumer (consumer-coordinator.ts) against the fake cluster: in-process gRPC
// brokers and group coordinators running libs/groups' real ConsumerGroup on the real clock
// (spec-helpers.ts). Nothing asserts on elapsed time: tests wait for events (bounded by the
// jest timeout).
import { encodeBatch } from '@tributary/records';
import type { RecordInput } from '@tributary/records';
import { CooperativeStickyAssignor, RangeAssignor } from './assignors';
import { Consumer } from './consumer';
import type { ConsumerOptions, ConsumerRecord, RebalanceListener, TopicPartition } from './consumer-options';
import { CommitFailedError, InvalidGroupIdError } from './errors';
import { FakeCluster } from './spec-helpers';
import { ErrorCode } from '@tributary/records';

jest.setTimeout(30_000);

let cluster: FakeCluster;
const consumers: Consumer[] = [];

beforeEach(async () => {
  cluster = await FakeCluster.start(2);
  await cluster.startGroupCoordinators(2);
  cluster.createTopic('orders', 6);
});

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.close()));
  await cluster.stop();
});

function consumer(options: ConsumerOptions = {}): Consumer {
  const c = new Consumer({
    bootstrap: [cluster.address(0)],
    groupId: 'g',
    autoOffsetReset: 'earliest',
    retryBackoffMs: 10,
    retryBackoffMaxMs: 50,
    fetchMaxWaitMs: 20,
    sessionTimeoutMs: 3_000,
    heartbeatIntervalMs: 30,
    ...options,
  });
  consumers.push(c);
  return c;
}

function values(n: number, prefix = 'v'): RecordInput[] {
  return Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`${prefix}${i}`), timestamp: 1000 + i }));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function names(tps: readonly TopicPartition[]): string[] {
  return tps.map((tp) => `${tp.topic}-${tp.partition}`).sort();
}

/** Polls `c` until `n` records came (throws if the consumer was closed meanwhile, so that a timed-out test stops polling). */
async function pollRecords(c: Consumer, n: number): Promise<ConsumerRecord[]> {
  const out: ConsumerRecord[] = [];
  while (out.length < n) {
    if (c['closed']) throw new Error(`consumer closed after ${out.length} of ${n} records`);
    out.push(...(await c.poll(20)));
  }
  return out;
}

/** Polls every consumer until `done()` holds; returns what each consumer polled. */
async function pollUntil(cs: readonly Consumer[], done: () => boolean): Promise<ConsumerRecord[][]> {
  const out = cs.map(() => [] as ConsumerRecord[]);
  while (!done()) {
    if (cs.some((c) => c['closed'])) throw new Error('a consumer was closed while polling');
    const batches = await Promise.all(cs.map((c) => c.poll(20)));
    batches.forEach((b, i) => out[i]!.push(...b));
  }
  return out;
}

/** A listener recording its calls as `assigned:[..]`, `revoked:[..]`, `lost:[..]`. */
function recorder(): RebalanceListener & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    onPartitionsAssigned: (tps) => void events.push(`assigned:${names(tps).join(',')}`),
    onPartitionsRevoked: (tps) => void events.push(`revoked:${names(tps).join(',')}`),
    onPartitionsLost: (tps) => void events.push(`lost:${names(tps).join(',')}`),
  };
}

/** Whether the assignments of `cs` are disjoint and cover `total` partitions. */
function covers(cs: readonly Consumer[], total: number): boolean {
  const all = cs.flatMap((c) => names(c.assignment()));
  return all.length === total && new Set(all).size === total && cs.every((c) => c.assignment().length > 0);
}

const ALL = ['orders-0', 'orders-1', 'orders-2', 'orders-3', 'orders-4', 'orders-5'];

test('two consumers join and split the partitions; each reads only its own', async () => {
  for (let p = 0; p < 6; p++) cluster.append('orders', p, encodeBatch(values(2, `p${p}-`)));
  const a = consumer({ enableAutoCommit: false });
  const b = consumer({ enableAutoCommit: false });
  a.subscribe(['orders']);
  b.subscribe(['orders']);
  await pollUntil([a, b], () => covers([a, b], 6) && a.groupMetadata().generationId === b.groupMetadata().generationId);
  expect([...names(a.assignment()), ...names(b.assignment())].sort()).toEqual(ALL);
  expect(a.assignment()).toHaveLength(3);
  // Read everything again from the start: each record comes from its partition's owner only.
  a.seekToBeginning();
  b.seekToBeginning();
  const [ra, rb] = await Promise.all([pollRecords(a, 6), pollRecords(b, 6)]);
  const owner = (r: ConsumerRecord): string => `${r.topic}-${r.partition}`;
  expect(ra!.every((r) => names(a.assignment()).includes(owner(r)))).toBe(true);
  expect(rb!.every((r) => names(b.assignment()).includes(owner(r)))).toBe(true);
  expect(ra!.map((r) => r.value!.toString()).sort()).toEqual(names(a.assignment()).flatMap((p) => [`p${p.slice(7)}-0`, `p${p.slice(7)}-1`]).sort());
  const ma = a.groupMetadata();
  expect(ma.groupId).toBe('g');
  expect(ma.memberId).not.toBe('');
  expect(ma.groupInstanceId).toBeUndefined();
  expect(cluster.groups.get('g')!.state).toBe('Stable');
});

test('eager (range): a third member makes everyone revoke all, then assigns the new split', async () => {
  const la = recorder();
  const lb = recorder();
  const a = consumer({ partitionAssignors: [new RangeAssignor()] });
  const b = consumer({ partitionAssignors: [new RangeAssignor()] });
  a.subscribe(['orders'], la);
  b.subscribe(['orders'], lb);
  await pollUntil([a, b], () => covers([a, b], 6));
  const generation = a.groupMetadata().generationId;
  const before = names(a.assignment());
  la.events.length = 0;
  const c = consumer({ partitionAssignors: [new RangeAssignor()] });
  c.subscribe(['orders']);
  await pollUntil([a, b, c], () => covers([a, b, c], 6) && a.groupMetadata().generationId > generation && la.events.length >= 2);
  expect(a.assignment()).toHaveLength(2);
  // Revoked everything it had, then got its new partitions.
  expect(la.events[0]).toBe(`revoked:${before.join(',')}`);
  expect(la.events[1]).toBe(`assigned:${names(a.assignment()).join(',')}`);
});

test('cooperative-sticky: a third member moves only what must move, in two rounds (KIP-429)', async () => {
  const coop = (): ConsumerOptions => ({ partitionAssignors: [new CooperativeStickyAssignor()] });
  const la = recorder();
  const lb = recorder();
  const a = consumer(coop());
  const b = consumer(coop());
  a.subscribe(['orders'], la);
  b.subscribe(['orders'], lb);
  await pollUntil([a, b], () => covers([a, b], 6));
  const beforeA = names(a.assignment());
  const beforeB = names(b.assignment());
  const generation = a.groupMetadata().generationId;
  la.events.length = 0;
  lb.events.length = 0;
  const c = consumer(coop());
  c.subscribe(['orders']);
  await pollUntil([a, b, c], () => covers([a, b, c], 6) && c.assignment().length === 2);
  // Kept partitions were never revoked: each old member revoked exactly the one it gave up.
  const revokedA = la.events.filter((e) => e.startsWith('revoked:'));
  const revokedB = lb.events.filter((e) => e.startsWith('revoked:'));
  expect(revokedA.length + revokedB.length).toBe(2);
  for (const [before, c2, revoked] of [
    [beforeA, a, revokedA],
    [beforeB, b, revokedB],
  ] as const) {
    const now = names(c2.assignment());
    expect(now.every((p) => before.includes(p))).toBe(true); // nothing new for the old members
    const gone = before.filter((p) => !now.includes(p));
    expect(revoked).toEqual(gone.length > 0 ? [`revoked:${gone.join(',')}`] : []);
  }
  // Two rounds: the revocation round, then the one giving the revoked partitions to c.
  expect(a.groupMetadata().generationId).toBeGreaterThanOrEqual(generation + 2);
  expect(la.events.some((e) => e.startsWith('lost:'))).toBe(false);
});

test('commit() and committed(); commitAsync reports through its callback; without a group they throw', async () => {
  for (let p = 0; p < 6; p++) cluster.append('orders', p, encodeBatch(values(3)));
  const a = consumer({ enableAutoCommit: false });
  a.subscribe(['orders']);
  const read: ConsumerRecord[] = [];
  read.push(...(await pollRecords(a, 18 - read.length)));
  await a.commit();
  const committed = await a.committed([
    { topic: 'orders', partition: 0 },
    { topic: 'orders', partition: 5 },
    { topic: 'nope', partition: 0 },
  ]);
  expect(committed.map((c) => c?.offset)).toEqual([3n, 3n, undefined]);
  expect(committed[2]).toBeNull();
  await a.commit([{ topic: 'orders', partition: 1, offset: 1n, metadata: 'm' }]);
  expect(cluster.groupOffsets.get('g')!.get('orders/1')).toEqual({ offset: 1n, leaderEpoch: -1, metadata: 'm' });
  const err = await new Promise<Error | undefined>((resolve) => a.commitAsync([{ topic: 'orders', partition: 2, offset: 2n }], resolve));
  expect(err).toBeUndefined();
  expect(cluster.groupOffsets.get('g')!.get('orders/2')!.offset).toBe(2n);
  const plain = new Consumer({ bootstrap: [cluster.address(0)] });
  consumers.push(plain);
  await expect(plain.commit()).rejects.toThrow(InvalidGroupIdError);
  expect(() => new Consumer({ bootstrap: [cluster.address(0)], enableAutoCommit: true })).toThrow(/enable\.auto\.commit/);
});

test('auto-commit every autoCommitIntervalMs, and at close', async () => {
  cluster.createTopic('solo', 1);
  cluster.append('solo', 0, encodeBatch(values(4)));
  const a = consumer({ autoCommitIntervalMs: 50 });
  a.subscribe(['solo']);
  const read: ConsumerRecord[] = [];
  read.push(...(await pollRecords(a, 4 - read.length)));
  // Not polling: the background loop commits the consumed position.
  while (cluster.groupOffsets.get('g')?.get('solo/0')?.offset !== 4n) await sleep(20);
  cluster.append('solo', 0, encodeBatch(values(2)));
  const b = consumer({ groupId: 'g2', autoCommitIntervalMs: 600_000 });
  b.subscribe(['solo']);
  const readB: ConsumerRecord[] = [];
  readB.push(...(await pollRecords(b, 6 - readB.length)));
  expect(cluster.groupOffsets.get('g2')?.get('solo/0')).toBeUndefined();
  await b.close();
  expect(cluster.groupOffsets.get('g2')!.get('solo/0')!.offset).toBe(6n);
});

test('a restarted member resumes from the committed offsets (not autoOffsetReset)', async () => {
  cluster.createTopic('solo', 1);
  cluster.append('solo', 0, encodeBatch(values(5)));
  const a = consumer({ enableAutoCommit: false });
  a.subscribe(['solo']);
  const read: ConsumerRecord[] = [];
  read.push(...(await pollRecords(a, 5 - read.length)));
  await a.commit([{ topic: 'solo', partition: 0, offset: 3n }]);
  await a.close();
  const b = consumer({ enableAutoCommit: false, autoOffsetReset: 'latest' });
  b.subscribe(['solo']);
  const again: ConsumerRecord[] = [];
  again.push(...(await pollRecords(b, 2 - again.length)));
  expect(again.map((r) => r.offset)).toEqual([3n, 4n]);
  expect(await b.position({ topic: 'solo', partition: 0 })).toBe(5n);
});

test('pause/resume and seek work on group-assigned partitions', async () => {
  cluster.createTopic('solo', 2);
  cluster.append('solo', 0, encodeBatch(values(3)));
  cluster.append('solo', 1, encodeBatch(values(3)));
  const a = consumer({ enableAutoCommit: false });
  // Paused as soon as it is assigned (from the listener, before any record is fetched).
  a.subscribe(['solo'], { onPartitionsAssigned: () => a.pause([{ topic: 'solo', partition: 1 }]) });
  const first = await pollRecords(a, 3);
  expect(a.assignment()).toHaveLength(2);
  expect(a.paused()).toEqual([{ topic: 'solo', partition: 1 }]);
  expect(first.every((r) => r.partition === 0)).toBe(true);
  expect(await a.poll(50)).toEqual([]);
  a.resume([{ topic: 'solo', partition: 1 }]);
  a.seek({ topic: 'solo', partition: 0 }, 1);
  const rest: ConsumerRecord[] = [];
  rest.push(...(await pollRecords(a, 5 - rest.length)));
  expect(rest.filter((r) => r.partition === 0).map((r) => r.offset)).toEqual([1n, 2n]);
  expect(rest.filter((r) => r.partition === 1).map((r) => r.offset)).toEqual([0n, 1n, 2n]);
  a.seekToEnd([{ topic: 'solo', partition: 1 }]);
  expect(await a.position({ topic: 'solo', partition: 1 })).toBe(3n);
});

test('pattern subscription picks up a topic created later (rejoin)', async () => {
  const a = consumer({ metadataMaxAgeMs: 50 });
  a.subscribe(/metrics-.*/);
  cluster.createTopic('metrics-a', 1);
  cluster.createTopic('other', 1);
  await pollUntil([a], () => a.assignment().length === 1);
  expect(names(a.assignment())).toEqual(['metrics-a-0']);
  cluster.createTopic('metrics-b', 2);
  await pollUntil([a], () => a.assignment().length === 3);
  expect(names(a.assignment())).toEqual(['metrics-a-0', 'metrics-b-0', 'metrics-b-1']);
});

test('close() leaves the group: the remaining member gets every partition', async () => {
  const la = recorder();
  const a = consumer({ enableAutoCommit: false });
  const b = consumer();
  // The listener commits what it consumed before giving the partitions up (allowed during close).
  a.subscribe(['orders'], {
    ...la,
    onPartitionsRevoked: async (tps) => {
      la.onPartitionsRevoked!(tps);
      await a.commit(tps.map((tp) => ({ ...tp, offset: 0n, metadata: 'closing' })));
    },
  });
  b.subscribe(['orders']);
  await pollUntil([a, b], () => covers([a, b], 6));
  const mine = names(a.assignment());
  await a.close();
  expect(la.events.at(-1)).toBe(`revoked:${mine.join(',')}`);
  expect(mine.every((p) => cluster.groupOffsets.get('g')!.get(p.replace(/-(\d+)$/, '/$1'))?.metadata === 'closing')).toBe(true);
  expect(cluster.groupCalls.some((c) => c.method === 'leaveGroup')).toBe(true);
  await pollUntil([b], () => b.assignment().length === 6);
  expect(cluster.groups.get('g')!.memberList()).toHaveLength(1);
});

test('the coordinator moves: NOT_COORDINATOR makes the member find it again, and membership goes on', async () => {
  const a = consumer();
  a.subscribe(['orders']);
  await pollUntil([a], () => a.assignment().length === 6);
  const finds = cluster.groupCalls.filter((c) => c.method === 'findCoordinator').length;
  cluster.groupCoordinatorOwner = 1;
  // The old instance answers NOT_COORDINATOR; heartbeats then reach instance 1.
  while (!cluster.groupCalls.some((c) => c.instance === 1 && c.method === 'heartbeat')) await sleep(20);
  expect(cluster.groupCalls.some((c) => c.instance === 0 && c.method === 'heartbeat')).toBe(true);
  expect(cluster.groupCalls.filter((c) => c.method === 'findCoordinator').length).toBeGreaterThan(finds);
  await a.commit([{ topic: 'orders', partition: 0, offset: 0n }]);
  expect(cluster.groupCalls.filter((c) => c.method === 'offsetCommit').map((c) => c.instance)).toEqual([1]);
  expect(a.assignment()).toHaveLength(6);
});

test('heartbeats run on their own timer: a member that does not poll stays in the group past its session timeout', async () => {
  const a = consumer({ sessionTimeoutMs: 1_000 });
  a.subscribe(['orders']);
  await pollUntil([a], () => a.assignment().length === 6);
  const generation = a.groupMetadata().generationId;
  const memberId = a.groupMetadata().memberId;
  const beats = (): number => cluster.groupCalls.filter((c) => c.method === 'heartbeat' && c.memberId === memberId).length;
  const start = beats();
  // Far more heartbeats than fit in one session timeout, with no poll meanwhile.
  while (beats() < start + 60) await sleep(20);
  expect(cluster.groups.get('g')!.memberList().map((m) => m.memberId)).toEqual([memberId]);
  expect(cluster.groups.get('g')!.generationId).toBe(generation);
});

test('max.poll.interval.ms exceeded: the member leaves (the other takes over) and rejoins at its next poll', async () => {
  const la = recorder();
  const a = consumer({ maxPollIntervalMs: 1_000 });
  const b = consumer();
  a.subscribe(['orders'], la);
  b.subscribe(['orders']);
  await pollUntil([a, b], () => covers([a, b], 6));
  const mine = names(a.assignment());
  // Only b polls: a's loop leaves the group after 1 s without poll.
  await pollUntil([b], () => b.assignment().length === 6 && la.events.some((e) => e.startsWith('lost:')));
  expect(a.assignment()).toEqual([]);
  expect(la.events).toContain(`lost:${mine.join(',')}`);
  expect(a.groupMetadata().generationId).toBe(-1);
  await pollUntil([a, b], () => covers([a, b], 6));
});

test('static membership: a restart with the same groupInstanceId gets its partitions back without a rebalance', async () => {
  const a = consumer({ groupInstanceId: 'a', partitionAssignors: [new RangeAssignor()] });
  const lb = recorder();
  const b = consumer({ groupInstanceId: 'b', partitionAssignors: [new RangeAssignor()] });
  a.subscribe(['orders']);
  b.subscribe(['orders'], lb);
  await pollUntil([a, b], () => covers([a, b], 6));
  const mine = names(a.assignment());
  const generation = cluster.groups.get('g')!.generationId;
  lb.events.length = 0;
  await a.close();
  // A static member does not leave: its place is kept.
  expect(cluster.groupCalls.some((c) => c.method === 'leaveGroup')).toBe(false);
  const a2 = consumer({ groupInstanceId: 'a', partitionAssignors: [new RangeAssignor()] });
  a2.subscribe(['orders']);
  await pollUntil([a2, b], () => a2.assignment().length === 3);
  expect(names(a2.assignment())).toEqual(mine);
  expect(cluster.groups.get('g')!.generationId).toBe(generation);
  expect(lb.events).toEqual([]);
});

test('a commit from a stale generation throws CommitFailedError, and the member rejoins', async () => {
  cluster.append('orders', 0, encodeBatch(values(1)));
  const la = recorder();
  // Heartbeats far apart: the commit, not a heartbeat, is what finds out.
  const a = consumer({ enableAutoCommit: false, heartbeatIntervalMs: 2_500 });
  a.subscribe(['orders'], la);
  await pollUntil([a], () => a.assignment().length === 6);
  const first = a.groupMetadata();
  // The coordinator removes the member behind its back (as a session expiry would).
  cluster.group('g').leave([{ memberId: first.memberId, groupInstanceId: '' }]);
  const err = await a.commit([{ topic: 'orders', partition: 0, offset: 1n }]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CommitFailedError);
  expect((err as CommitFailedError).code).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  expect(cluster.groupOffsets.get('g')?.get('orders/0')).toBeUndefined();
  // It rejoins as a new member; the partitions it held were lost (not revoked: others may own them).
  await pollUntil([a], () => a.assignment().length === 6 && a.groupMetadata().memberId !== first.memberId && a.groupMetadata().generationId > 0);
  expect(la.events).toContain(`lost:${ALL.join(',')}`);
  // A commit answered ILLEGAL_GENERATION (the group moved on without it) fails the same way.
  cluster.groupCallErrors.set('offsetCommit', [ErrorCode.ILLEGAL_GENERATION]);
  await expect(a.commit([{ topic: 'orders', partition: 0, offset: 1n }])).rejects.toMatchObject({ name: 'CommitFailedError', code: ErrorCode.ILLEGAL_GENERATION });
  await pollUntil([a], () => a.assignment().length === 6 && a.groupMetadata().generationId > 0);
  await a.commit([{ topic: 'orders', partition: 0, offset: 1n }]);
  // Between generations (after a fence, before the rejoin) a commit fails locally, as Kafka's.
  cluster.groupCallErrors.set('offsetCommit', [ErrorCode.UNKNOWN_MEMBER_ID]);
  await expect(a.commit([{ topic: 'orders', partition: 0, offset: 2n }])).rejects.toThrow(CommitFailedError);
  expect(a.groupMetadata().memberId).toBe('');
  await expect(a.commit([{ topic: 'orders', partition: 0, offset: 2n }])).rejects.toMatchObject({ code: ErrorCode.REBALANCE_IN_PROGRESS });
  expect(cluster.groupOffsets.get('g')!.get('orders/0')!.offset).toBe(1n);
});

test('group options are validated with the Kafka key in the message', () => {
  const make = (o: ConsumerOptions) => () => new Consumer({ bootstrap: [cluster.address(0)], ...o });
  expect(make({ groupId: '' })).toThrow(/group\.id \(groupId\)/);
  expect(make({ groupInstanceId: 'x' })).toThrow(/group\.instance\.id .*needs a group\.id/);
  expect(make({ groupId: 'g', sessionTimeoutMs: 0 })).toThrow(/session\.timeout\.ms/);
  expect(make({ groupId: 'g', sessionTimeoutMs: 1000, heartbeatIntervalMs: 1000 })).toThrow(/heartbeat\.interval\.ms .* below session\.timeout\.ms/);
  expect(make({ groupId: 'g', maxPollIntervalMs: 2 ** 31 })).toThrow(/max\.poll\.interval\.ms/);
  expect(make({ groupId: 'g', autoCommitIntervalMs: -1 })).toThrow(/auto\.commit\.interval\.ms/);
  expect(make({ groupId: 'g', partitionAssignors: [] })).toThrow(/partition\.assignment\.strategy/);
  expect(make({ groupId: 'g', partitionAssignors: [new RangeAssignor(), new RangeAssignor()] })).toThrow(/lists 'range' twice/);
  expect(() => new Consumer({ bootstrap: [cluster.address(0)] }).subscribe(/x/)).toThrow(/pattern subscription needs a consumer group/);
});

test('a static member replaced by another consumer with the same groupInstanceId is fenced: its poll throws', async () => {
  const a = consumer({ groupInstanceId: 'same' });
  a.subscribe(['orders']);
  await pollUntil([a], () => a.assignment().length === 6);
  const b = consumer({ groupInstanceId: 'same' });
  b.subscribe(['orders']);
  await pollUntil([b], () => b.assignment().length === 6);
  // a's next heartbeat answers FENCED_INSTANCE_ID: it stops and says why.
  let error: unknown;
  while (error === undefined) error = await a.poll(20).then(() => undefined, (e: unknown) => e);
  expect(error).toMatchObject({ name: 'GroupMembershipError', code: ErrorCode.FENCED_INSTANCE_ID });
  expect((error as Error).message).toMatch(/give each consumer its own/);
  expect(a.assignment()).toEqual([]);
});

test('the coordinator instance dies: the member finds the new owner through metadata and stays in the group', async () => {
  const a = consumer();
  a.subscribe(['orders']);
  await pollUntil([a], () => a.assignment().length === 6);
  const memberId = a.groupMetadata().memberId;
  cluster.groupCoordinatorOwner = 1;
  await cluster.stopGroupCoordinator(0);
  while (!cluster.groupCalls.some((c) => c.instance === 1 && c.method === 'heartbeat' && c.memberId === memberId)) await sleep(20);
  expect(a.groupMetadata().memberId).toBe(memberId);
  expect(a.assignment()).toHaveLength(6);
});

test('unsubscribe() revokes and leaves; subscribe() again rejoins', async () => {
  const la = recorder();
  const a = consumer();
  a.subscribe(['orders'], la);
  await pollUntil([a], () => a.assignment().length === 6);
  await a.unsubscribe();
  expect(a.assignment()).toEqual([]);
  expect(la.events.at(-1)).toBe(`revoked:${ALL.join(',')}`);
  expect(cluster.groups.get('g')!.state).toBe('Empty');
  a.subscribe(['orders'], la);
  await pollUntil([a], () => a.assignment().length === 6);
});

test('the leader rebalances when a subscribed topic gains partitions', async () => {
  const a = consumer({ metadataMaxAgeMs: 50 });
  const b = consumer({ metadataMaxAgeMs: 50 });
  a.subscribe(['orders']);
  b.subscribe(['orders']);
  await pollUntil([a, b], () => covers([a, b], 6));
  cluster.topics.get('orders')!.push({ leader: 0, leaderEpoch: 0, batches: [], logStartOffset: 0, nextOffset: 0 }, { leader: 1, leaderEpoch: 0, batches: [], logStartOffset: 0, nextOffset: 0 });
  await pollUntil([a, b], () => covers([a, b], 8));
  expect([...names(a.assignment()), ...names(b.assignment())]).toContain('orders-7');
});

test('heartbeats go on while the rebalance listener runs longer than the session timeout', async () => {
  let memberId = '';
  const beats = (): number => cluster.groupCalls.filter((c) => c.method === 'heartbeat' && c.memberId === memberId).length;
  let listenerDone = false;
  const a = consumer({ sessionTimeoutMs: 600 });
  a.subscribe(['orders'], {
    onPartitionsAssigned: async () => {
      memberId = a.groupMetadata().memberId;
      // Far more heartbeats than fit in one session timeout, all while the listener is busy.
      while (beats() < 40) await sleep(20);
      listenerDone = true;
    },
  });
  await pollUntil([a], () => listenerDone);
  const g = cluster.groups.get('g')!;
  expect(g.memberList().map((m) => m.memberId)).toEqual([memberId]);
  expect(g.generationId).toBe(a.groupMetadata().generationId);
  expect(a.assignment()).toHaveLength(6);
});

test('assign() with a groupId: auto-commit from poll and at close (generation -1, as Kafka)', async () => {
  cluster.createTopic('solo', 1);
  cluster.append('solo', 0, encodeBatch(values(3)));
  const a = consumer({ autoCommitIntervalMs: 20 });
  a.assign([{ topic: 'solo', partition: 0 }]);
  await pollRecords(a, 3);
  while (cluster.groupOffsets.get('g')?.get('solo/0')?.offset !== 3n) await a.poll(20);
  cluster.append('solo', 0, encodeBatch(values(2)));
  const b = consumer({ groupId: 'g2', autoCommitIntervalMs: 600_000 });
  b.assign([{ topic: 'solo', partition: 0 }]);
  await pollRecords(b, 5);
  await b.close();
  expect(cluster.groupOffsets.get('g2')!.get('solo/0')!.offset).toBe(5n);
  expect(cluster.groupCalls.some((c) => c.groupId === 'g2' && c.method === 'joinGroup')).toBe(false);
});

test.each([
  ['eager (range)', () => new RangeAssignor()],
  ['cooperative-sticky', () => new CooperativeStickyAssignor()],
])('at-least-once through churn, %s: members join and leave while consuming; every record is read and the final commits cover all', async (_name, assignor) => {
  for (let p = 0; p < 6; p++) for (let i = 0; i < 4; i++) cluster.append('orders', p, encodeBatch(values(5, `p${p}-b${i}-`)));
  const coop = { partitionAssignors: [assignor()], autoCommitIntervalMs: 30, maxPollRecords: 7 };
  const seen = new Set<string>();
  const live: Consumer[] = [];
  const start = (): Consumer => {
    const c = consumer(coop);
    c.subscribe(['orders']);
    live.push(c);
    return c;
  };
  const pollLive = async (): Promise<void> => {
    const batches = await Promise.all(live.map((c) => c.poll(20)));
    for (const r of batches.flat()) seen.add(`${r.partition}:${r.offset}`);
  };
  const a = start();
  start();
  while (seen.size < 30) await pollLive();
  start(); // a third member: a rebalance while records flow
  while (seen.size < 70) await pollLive();
  live.splice(live.indexOf(a), 1);
  await a.close(); // commits, revokes, leaves: the others take its partitions
  while (seen.size < 120) await pollLive();
  expect(seen.size).toBe(120);
  await Promise.all(live.map((c) => c.close()));
  for (let p = 0; p < 6; p++) expect(cluster.groupOffsets.get('g')!.get(`orders/${p}`)!.offset).toBe(20n);
});
