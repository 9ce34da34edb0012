// Admin against a fake cluster: brokers name the active controller in Metadata; standbys
// answer NOT_CONTROLLER.
import { ErrorCode, TributaryError, encodeBatch } from '@tributary/records';
import { Admin } from './admin';
import { NoBrokerAvailableError, TopicOperationError } from './errors';
import { FakeCluster } from './spec-helpers';

let cluster: FakeCluster;
let admin: Admin;

beforeEach(async () => {
  cluster = await FakeCluster.start(3, 2);
  admin = new Admin({ bootstrap: [cluster.address(1)], retryBackoffMs: 10, retryBackoffMaxMs: 20, metadataWaitMs: 5_000 });
});

afterEach(async () => {
  await admin.close();
  await cluster.stop();
});

test('creates, lists, describes and deletes topics through the active controller', async () => {
  expect(await admin.createTopics([{ name: 'orders', numPartitions: 6 }, { name: 'audit' }])).toEqual([
    { name: 'orders', numPartitions: 6, replicationFactor: 1 },
    { name: 'audit', numPartitions: 1, replicationFactor: 1 },
  ]);
  expect(await admin.listTopics()).toEqual(['audit', 'orders']);
  const [orders] = await admin.describeTopics(['orders']);
  expect(orders!.partitions).toHaveLength(6);
  expect(orders!.partitions[4]).toEqual({ partition: 4, leader: 1, leaderEpoch: 0, replicas: [1], isr: [1] });
  await admin.deleteTopics(['audit']);
  expect(await admin.listTopics()).toEqual(['orders']);
  expect(cluster.adminCalls).toEqual(['createTopics', 'listTopics', 'describeTopics', 'deleteTopics', 'listTopics']);
});

test('per-topic errors: the others succeed, the error names each failed topic and what to do', async () => {
  cluster.createTopic('orders', 1);
  const error = await admin.createTopics([{ name: 'orders' }, { name: 'fresh' }]).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TopicOperationError);
  const e = error as TopicOperationError;
  expect(e.code).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);
  expect([...e.errors.keys()]).toEqual(['orders']);
  expect(e.message).toMatch(/createTopics failed: orders: topic 'orders' already exists \(choose another name/);
  expect(cluster.topics.has('fresh')).toBe(true);
  await expect(admin.deleteTopics(['missing'])).rejects.toThrow(/missing.*does not exist.*tributary topics create missing/);
});

test('follows the controller: a standby answers NOT_CONTROLLER, metadata is refreshed, the call retried', async () => {
  await admin.listTopics();
  cluster.activeController = 1; // the brokers now name controller 1; controller 0 is a standby
  await admin.createTopics([{ name: 'after-failover', numPartitions: 2 }]);
  expect(cluster.topics.has('after-failover')).toBe(true);
  expect(cluster.adminCalls).toEqual(['listTopics', 'createTopics']);
});

test('follows the controller when the active one is unreachable', async () => {
  await admin.listTopics();
  await cluster.stopController(0); // killed: its successor takes over and the brokers learn it
  cluster.activeController = 1;
  const info = await admin.describeCluster();
  expect(info.controllerAddress).toBe(`127.0.0.1:${cluster.controllerPorts[1]}`);
  expect(info.brokers.map((b) => b.id)).toEqual([0, 1, 2]);
  expect(info.controllerEpoch).toBe(7n);
});

test('configs: describe, alter (set and delete), with INVALID_CONFIG as a clear error', async () => {
  cluster.createTopic('orders', 1);
  const [configs] = await admin.describeConfigs(['orders']);
  expect(configs!.entries[0]).toEqual({ name: 'retention.ms', value: '604800000', isDefault: true, documentation: 'how long' });
  await admin.alterConfigs([{ topic: 'orders', set: { 'retention.ms': '1000' }, delete: ['cleanup.policy'] }]);
  await expect(admin.alterConfigs([{ topic: 'orders', set: { bogus: '1' } }])).rejects.toThrow(/orders: unknown config 'bogus'/);
});

test('createPartitions grows topics', async () => {
  cluster.createTopic('orders', 2);
  await admin.createPartitions([{ topic: 'orders', count: 5 }]);
  expect(cluster.topics.get('orders')).toHaveLength(5);
  await expect(admin.createPartitions([{ topic: 'orders', count: 3 }])).rejects.toMatchObject({ code: ErrorCode.INVALID_PARTITIONS });
});

test('listOffsets asks each partition leader: earliest, latest, by timestamp', async () => {
  cluster.createTopic('orders', 3);
  cluster.append('orders', 1, encodeBatch([{ key: null, value: Buffer.from('a'), timestamp: 1000 }, { key: null, value: null, timestamp: 2000 }]));
  cluster.append('orders', 1, encodeBatch([{ key: null, value: Buffer.from('c'), timestamp: 3000 }]));
  cluster.truncateBefore('orders', 1, 2);
  expect((await admin.listOffsets('orders', 'latest')).map((o) => o.offset)).toEqual([0n, 3n, 0n]);
  expect((await admin.listOffsets('orders', 'earliest', [1]))[0]).toMatchObject({ partition: 1, offset: 2n });
  expect((await admin.listOffsets('orders', { timestamp: 2500 }, [1]))[0]).toMatchObject({ offset: 2n, timestamp: 3000 });
  await expect(admin.listOffsets('orders', 'latest', [7])).rejects.toThrow(/partition 7 of topic 'orders' does not exist/);
});

test('listOffsets follows a moved leader', async () => {
  cluster.createTopic('orders', 3);
  await admin.listOffsets('orders', 'latest');
  cluster.moveLeader('orders', 0, 2);
  expect((await admin.listOffsets('orders', 'latest', [0]))[0]!.offset).toBe(0n);
});

test('no broker reachable: fails at once with what to do', async () => {
  const lonely = new Admin({ bootstrap: ['127.0.0.1:1'] });
  const error = await lonely.listTopics().catch((e: unknown) => e);
  await lonely.close();
  expect(error).toBeInstanceOf(NoBrokerAvailableError);
  expect((error as TributaryError).message).toMatch(/npm start/);
});
