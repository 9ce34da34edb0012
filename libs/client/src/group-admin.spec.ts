// Admin's consumer group calls against the fake cluster's group coordinators (spec-helpers.ts),
// with real group Consumers as members.
import { ErrorCode, encodeBatch } from '@tributary/records';
import { Admin } from './admin';
import { Consumer } from './consumer';
import type { ConsumerOptions } from './consumer-options';
import { FakeCluster } from './spec-helpers';

jest.setTimeout(30_000);

let cluster: FakeCluster;
let admin: Admin;
const consumers: Consumer[] = [];

beforeEach(async () => {
  cluster = await FakeCluster.start(2);
  await cluster.startGroupCoordinators(2);
  cluster.createTopic('orders', 4);
  admin = new Admin({ bootstrap: [cluster.address(1)], retryBackoffMs: 10, retryBackoffMaxMs: 20, metadataWaitMs: 5_000 });
});

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.close()));
  await admin.close();
  await cluster.stop();
});

function consumer(options: ConsumerOptions): Consumer {
  const c = new Consumer({ bootstrap: [cluster.address(0)], retryBackoffMs: 10, retryBackoffMaxMs: 50, fetchMaxWaitMs: 20, heartbeatIntervalMs: 30, sessionTimeoutMs: 3_000, clientId: 'app', ...options });
  consumers.push(c);
  return c;
}

/** Polls until `c` has `n` partitions. */
async function joined(c: Consumer, n: number): Promise<void> {
  while (c.assignment().length !== n) await c.poll(20);
}

test('listGroups asks every coordinator instance and merges; describeGroups shows members and assignments', async () => {
  cluster.groupOwners.set('billing', 1);
  const a = consumer({ groupId: 'shipping' });
  const b = consumer({ groupId: 'billing' });
  a.subscribe(['orders']);
  b.subscribe(['orders']);
  await Promise.all([joined(a, 4), joined(b, 4)]);
  expect(await admin.listGroups()).toEqual([
    { groupId: 'billing', protocolType: 'consumer', state: 'Stable', coordinatorId: 1 },
    { groupId: 'shipping', protocolType: 'consumer', state: 'Stable', coordinatorId: 0 },
  ]);
  const [billing, unknown] = await admin.describeGroups(['billing', 'nobody']);
  expect(billing).toMatchObject({ groupId: 'billing', state: 'Stable', protocolType: 'consumer', protocol: 'range', errorCode: ErrorCode.NONE });
  expect(billing!.coordinator).toEqual({ nodeId: 1, host: '127.0.0.1', port: cluster.groupCoordinatorPorts[1] });
  expect(billing!.members).toHaveLength(1);
  expect(billing!.members[0]).toMatchObject({ memberId: b.groupMetadata().memberId, groupInstanceId: '', clientId: 'app', clientHost: '127.0.0.1' });
  expect(billing!.members[0]!.assignment.map((tp) => tp.partition).sort()).toEqual([0, 1, 2, 3]);
  expect(unknown).toMatchObject({ groupId: 'nobody', state: 'Dead', members: [], errorCode: ErrorCode.NONE });
});

test('deleteGroups refuses a group with members, deletes an empty one with its offsets', async () => {
  const a = consumer({ groupId: 'g', enableAutoCommit: false });
  a.subscribe(['orders']);
  await joined(a, 4);
  await a.commit([{ topic: 'orders', partition: 0, offset: 5n }]);
  const [busy] = await admin.deleteGroups(['g']);
  expect(busy).toMatchObject({ groupId: 'g', errorCode: ErrorCode.NON_EMPTY_GROUP });
  expect(busy!.errorMessage).toMatch(/stop its consumers/);
  await a.close();
  expect(await admin.deleteGroups(['g', 'nope'])).toEqual([
    { groupId: 'g', errorCode: ErrorCode.NONE, errorMessage: '' },
    { groupId: 'nope', errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: expect.stringMatching(/does not exist/) },
  ]);
  expect(await admin.listGroupOffsets('g')).toEqual([]);
});

test('listGroupOffsets and alterGroupOffsets (refused while the group has members)', async () => {
  const a = consumer({ groupId: 'g', enableAutoCommit: false });
  a.subscribe(['orders']);
  await joined(a, 4);
  await a.commit([
    { topic: 'orders', partition: 1, offset: 7n, metadata: 'm' },
    { topic: 'orders', partition: 0, offset: 3n },
  ]);
  expect(await admin.listGroupOffsets('g')).toEqual([
    { topic: 'orders', partition: 0, offset: 3n, metadata: '', leaderEpoch: -1 },
    { topic: 'orders', partition: 1, offset: 7n, metadata: 'm', leaderEpoch: -1 },
  ]);
  expect(await admin.listGroupOffsets('g', [{ topic: 'orders', partition: 2 }])).toEqual([{ topic: 'orders', partition: 2, offset: -1n, metadata: '', leaderEpoch: -1 }]);
  expect(await admin.alterGroupOffsets('g', [{ topic: 'orders', partition: 0, offset: 0n }])).toEqual([{ topic: 'orders', partition: 0, errorCode: ErrorCode.UNKNOWN_MEMBER_ID }]);
  await a.close();
  expect(await admin.alterGroupOffsets('g', [{ topic: 'orders', partition: 0, offset: 1n }])).toEqual([{ topic: 'orders', partition: 0, errorCode: ErrorCode.NONE }]);
  expect((await admin.listGroupOffsets('g', [{ topic: 'orders', partition: 0 }]))[0]!.offset).toBe(1n);
  // A consumer of the group starts where the admin put it.
  cluster.append('orders', 0, encodeBatch([0, 1, 2].map((i) => ({ key: null, value: Buffer.from(`v${i}`), timestamp: i }))));
  const b = consumer({ groupId: 'g', enableAutoCommit: false });
  b.subscribe(['orders']);
  let first;
  while (first === undefined) first = (await b.poll(20)).find((r) => r.partition === 0);
  expect(first.offset).toBe(1n);
  await expect(admin.alterGroupOffsets('g', [{ topic: 'orders', partition: 0, offset: -1n }])).rejects.toThrow(RangeError);
});
