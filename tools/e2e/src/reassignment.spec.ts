/**
 * Partition reassignment (KIP-455) in a REAL cluster: coordination, a controller and three
 * brokers as processes (libs/testing startCluster), driven through the SDK's Admin and
 * Producer. Checks what an operator relies on: the partition ends on the target brokers with
 * the same bytes, the old copies are deleted, nothing acknowledged is lost while it moves,
 * a slow (throttled) move can be cancelled, and bad requests get Kafka's error codes.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Admin, Producer } from '@tributary/client';
import type { OngoingReassignment, TopicInfo } from '@tributary/client';
import { ErrorCode, decodeBatches } from '@tributary/records';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, startCluster, waitFor } from '@tributary/testing';

jest.setTimeout(180_000);

let cluster: TestCluster;
let admin: Admin;

beforeAll(async () => {
  cluster = await startCluster({ name: 'reassign', brokers: 3, controllers: 2, logLevel: 'warn' });
  admin = new Admin({ bootstrap: cluster.bootstrap.split(','), requestTimeoutMs: 20_000, metadataWaitMs: 20_000 });
});

afterAll(async () => {
  await admin?.close();
  await cluster?.stop();
  await cleanupAll();
});

const partitionDir = (broker: number, topic: string, partition = 0): string => join(cluster.logDir(broker), `${topic}-${partition}`);

/** The partition's record bytes on `broker`: every segment's .log file, in offset order. */
function logBytes(broker: number, topic: string): Buffer {
  const dir = partitionDir(broker, topic);
  const segments = readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort();
  return Buffer.concat(segments.map((f) => readFileSync(join(dir, f))));
}

/** The prefix of `bytes` holding the batches whose records are all below `hw`. */
function belowHw(bytes: Buffer, hw: bigint): Buffer {
  let end = 0;
  for (const b of decodeBatches(bytes)) {
    if (BigInt(b.baseOffset + b.lastOffsetDelta) >= hw) break;
    end += b.sizeInBytes;
  }
  return bytes.subarray(0, end);
}

async function describe1(topic: string): Promise<TopicInfo['partitions'][number]> {
  const [info] = await admin.describeTopics([topic]);
  return info!.partitions[0]!;
}

async function ongoing(topic: string): Promise<OngoingReassignment | undefined> {
  return (await admin.listPartitionReassignments({ topics: [{ topic }], logEndOffsets: true }))[0];
}

/** A gauge of the active controller's /metrics. */
async function controllerGauge(name: string): Promise<number> {
  const text = await cluster.controllers.get(await cluster.activeController())!.metrics();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
}

async function createTopic(topic: string, bytes: number): Promise<{ replicas: number[]; leader: number }> {
  await admin.createTopics([{ name: topic, numPartitions: 1, replicationFactor: 2 }]);
  await waitFor(async () => (await describe1(topic)).isr.length === 2, { timeoutMs: 20_000, message: `${topic} in sync` });
  const producer = new Producer({ bootstrap: cluster.bootstrap.split(','), acks: -1, lingerMs: 5 });
  try {
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i * 1024 < bytes; i++) sends.push(producer.send({ topic, partition: 0, value: Buffer.alloc(1024, i % 251) }));
    await Promise.all(sends);
  } finally {
    await producer.close();
  }
  const p = await describe1(topic);
  return { replicas: p.replicas, leader: p.leader };
}

test('moves an RF2 partition away from its leader under a throttle while acks=all writes go on: same bytes, old copy deleted, nothing acknowledged lost', async () => {
  const topic = 'reassign-move';
  const { replicas, leader } = await createTopic(topic, 4 << 20);
  const spare = [0, 1, 2].find((b) => !replicas.includes(b))!;
  const follower = replicas.find((b) => b !== leader)!;
  // The leader leaves: the spare broker must copy 4 MiB and leadership must move.
  const target = [spare, follower];

  const acknowledged = new Map<bigint, string>();
  let writing = true;
  const producer = new Producer({ bootstrap: cluster.bootstrap.split(','), acks: -1, lingerMs: 0 });
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const value = `during-${i}`;
      try {
        const meta = await producer.send({ topic, partition: 0, value });
        acknowledged.set(meta.offset, value);
      } catch {
        // Not acknowledged (e.g. the leader moved and retries ran out): no promise made.
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  try {
    const [outcome] = await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: target }], { throttleBytesPerSecond: 1 << 20 });
    expect(outcome!.error).toBeUndefined();
    // 4 MiB at 1 MiB/s cannot be copied yet: the reassignment is in progress, the spare broker adding.
    const running = await ongoing(topic);
    expect(running).toMatchObject({ addingReplicas: [spare], removingReplicas: [leader], throttleBytesPerSecond: 1 << 20 });
    expect([...running!.replicas].sort()).toEqual([0, 1, 2]);
    await waitFor(async () => (await ongoing(topic)) === undefined, { timeoutMs: 90_000, message: 'reassignment to complete' });
  } finally {
    writing = false;
    await writer;
    await producer.close();
  }

  const p = await describe1(topic);
  expect(p.replicas).toEqual(target);
  expect(target).toContain(p.leader);
  expect(p.leader).not.toBe(leader);
  expect(p.isr.every((b) => target.includes(b))).toBe(true);
  // The removed replica deleted its directory (StopReplica with delete).
  await waitFor(() => !existsSync(partitionDir(leader, topic)), { timeoutMs: 20_000, message: 'old replica deleted' });
  expect(acknowledged.size).toBeGreaterThan(0);
  // The spare broker copied the partition through its throttle (and has none left).
  const metrics = await cluster.brokers.get(spare)!.metrics();
  expect(Number(/^tributary_broker_throttled_replication_bytes_total (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(4 << 20);
  expect(metrics).toMatch(/^tributary_broker_throttled_partitions 0$/m);

  // Both new replicas hold the same bytes below the high watermark.
  const hw = (await admin.listOffsets(topic, 'latest'))[0]!.offset;
  await waitFor(
    async () => {
      const r = (await admin.listPartitionReassignments()).length === 0;
      return r && decodeBatches(belowHw(logBytes(spare, topic), hw)).length === decodeBatches(belowHw(logBytes(follower, topic), hw)).length;
    },
    { timeoutMs: 20_000, message: 'replicas caught up' },
  );
  const onSpare = belowHw(logBytes(spare, topic), hw);
  const onFollower = belowHw(logBytes(follower, topic), hw);
  expect(onSpare.length).toBeGreaterThan(4 << 20);
  expect(onSpare.equals(onFollower)).toBe(true);

  // Every acknowledged record is there, at its offset.
  const values = new Map<bigint, string>();
  for (const b of decodeBatches(onSpare)) for (const r of b.records) values.set(BigInt(b.baseOffset + r.offsetDelta), r.value?.toString() ?? '');
  for (const [offset, value] of acknowledged) if (offset < hw) expect(values.get(offset)).toBe(value);
  expect([...acknowledged.keys()].every((o) => o < hw)).toBe(true);
});

test('cancelling a slow (throttled) reassignment restores the original replicas and deletes the added copy', async () => {
  const topic = 'reassign-cancel';
  const { replicas } = await createTopic(topic, 2 << 20);
  const spare = [0, 1, 2].find((b) => !replicas.includes(b))!;
  const [outcome] = await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: [spare, replicas[1]!] }], { throttleBytesPerSecond: 64 * 1024 });
  expect(outcome!.error).toBeUndefined();
  // The new replica starts copying (its log exists and grows) but cannot finish 2 MiB at 64 KiB/s.
  await waitFor(async () => ((await ongoing(topic))?.logEndOffsets?.get(spare) ?? 0n) > 0n, { timeoutMs: 20_000, message: 'the new replica copying' });
  const running = await ongoing(topic);
  expect(running?.addingReplicas).toEqual([spare]);
  expect(running!.logEndOffsets!.get(spare)!).toBeLessThan(running!.logEndOffsets!.get(replicas[0]!)!);
  expect(existsSync(partitionDir(spare, topic))).toBe(true);
  expect(await controllerGauge('tributary_controller_reassigning_partitions')).toBe(1);

  const [cancelled] = await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: null }]);
  expect(cancelled!.error).toBeUndefined();
  expect(await ongoing(topic)).toBeUndefined();
  const p = await describe1(topic);
  expect([...p.replicas].sort()).toEqual([...replicas].sort());
  expect(p.isr.every((b) => replicas.includes(b))).toBe(true);
  await waitFor(() => !existsSync(partitionDir(spare, topic)), { timeoutMs: 20_000, message: 'the added copy deleted' });
  expect(await controllerGauge('tributary_controller_reassigning_partitions')).toBe(0);
  // Cancelling again: nothing in progress.
  const [again] = await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: null }]);
  expect(again!.error?.code).toBe(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
});

test('bad requests get Kafka error codes; a second reassignment of a moving partition replaces the first (Kafka 2.4+)', async () => {
  const topic = 'reassign-errors';
  const { replicas, leader } = await createTopic(topic, 1 << 20);
  const spare = [0, 1, 2].find((b) => !replicas.includes(b))!;
  const follower = replicas.find((b) => b !== leader)!;
  const outcomes = await admin.alterPartitionReassignments([
    { topic: 'no-such-topic', partition: 0, replicas: [0, 1] },
    { topic, partition: 7, replicas: [0, 1] },
    { topic, partition: 0, replicas: [leader, 99] },
  ]);
  expect(outcomes.map((o) => o.error?.code)).toEqual([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_REPLICA_ASSIGNMENT]);
  expect(outcomes[2]!.error!.message).toMatch(/99/);
  const [duplicate] = await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: [spare, spare] }]);
  expect(duplicate!.error?.code).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
  const twice = await admin.alterPartitionReassignments([
    { topic, partition: 0, replicas: [spare, leader] },
    { topic, partition: 0, replicas: [spare, follower] },
  ]);
  expect(twice.map((o) => o.error?.code)).toEqual([ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST]);
  expect(await ongoing(topic)).toBeUndefined();

  // A slow move to [spare, follower] (the leader leaves) ...
  const [first] = await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: [spare, follower] }], { throttleBytesPerSecond: 32 * 1024 });
  expect(first!.error).toBeUndefined();
  expect(await ongoing(topic)).toMatchObject({ addingReplicas: [spare], removingReplicas: [leader] });
  // Kafka: no new partitions while one of the topic's partitions moves.
  await expect(admin.createPartitions([{ topic, count: 2 }])).rejects.toMatchObject({ code: ErrorCode.REASSIGNMENT_IN_PROGRESS });
  // ... replaced by [leader, spare] unthrottled: now the follower leaves, the leader stays.
  const [second] = await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: [leader, spare] }]);
  expect(second!.error).toBeUndefined();
  await waitFor(async () => (await ongoing(topic)) === undefined, { timeoutMs: 60_000, message: 'replacement reassignment to complete' });
  const p = await describe1(topic);
  expect(p.replicas).toEqual([leader, spare]);
  expect(p.leader).toBe(leader);
  await waitFor(() => !existsSync(partitionDir(follower, topic)), { timeoutMs: 20_000, message: 'the follower copy deleted' });
});

test('a removed replica whose broker is down deletes its copy when it registers again', async () => {
  const topic = 'reassign-down';
  const { replicas, leader } = await createTopic(topic, 1 << 20);
  const spare = [0, 1, 2].find((b) => !replicas.includes(b))!;
  const follower = replicas.find((b) => b !== leader)!;
  await cluster.stopBroker(follower);
  const [outcome] = await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: [leader, spare] }]);
  expect(outcome!.error).toBeUndefined();
  await waitFor(async () => (await ongoing(topic)) === undefined, { timeoutMs: 60_000, message: 'reassignment to complete' });
  expect((await describe1(topic)).replicas).toEqual([leader, spare]);
  // The stopped broker still has its files: nobody could tell it.
  expect(existsSync(partitionDir(follower, topic))).toBe(true);
  await cluster.startBroker(follower);
  await waitFor(() => !existsSync(partitionDir(follower, topic)), { timeoutMs: 30_000, message: 'the copy on the restarted broker deleted' });
});

test('a reassignment in flight when the active controller dies is finished by the next one', async () => {
  const topic = 'reassign-failover';
  const { replicas, leader } = await createTopic(topic, 2 << 20);
  const spare = [0, 1, 2].find((b) => !replicas.includes(b))!;
  const follower = replicas.find((b) => b !== leader)!;
  const [outcome] = await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: [spare, follower] }], { throttleBytesPerSecond: 128 * 1024 });
  expect(outcome!.error).toBeUndefined();
  await waitFor(async () => ((await ongoing(topic))?.logEndOffsets?.get(spare) ?? 0n) > 0n, { timeoutMs: 20_000, message: 'the new replica copying' });
  const active = await cluster.activeController();
  await cluster.controllers.get(active)!.proc.killAndWait('SIGKILL');
  // Still moving (2 MiB at 128 KiB/s: about 15 s), now under the other controller.
  expect((await ongoing(topic))?.addingReplicas).toEqual([spare]);
  expect(await cluster.activeController()).not.toBe(active);
  await waitFor(async () => (await ongoing(topic)) === undefined, { timeoutMs: 90_000, message: 'reassignment completed by the new controller' });
  const p = await describe1(topic);
  expect(p.replicas).toEqual([spare, follower]);
  expect([spare, follower]).toContain(p.leader);
  await waitFor(() => !existsSync(partitionDir(leader, topic)), { timeoutMs: 20_000, message: 'the old leader copy deleted' });
});
