/**
 * The controller as real processes over real gRPC: the coordination service (embedded
 * backend), three fake brokers registered as ephemerals, two controllers (one active, one
 * standby), the Admin API through the generated client, and failover after kill -9.
 */
import { CoordinationClient } from '@tributary/coordination-client';
import { AdminServiceClient, BrokerToControllerServiceClient, AlterConfigOp_OpType } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import { createClient, unary } from '@tributary/runtime';
import { stopAllProcesses, tempDir, waitFor } from '@tributary/testing';
import { startControllerProcess, startCoordinationProcess } from './it/processes';
import type { ServiceProcess } from './it/processes';
import type { PartitionState, TopicAssignment } from './store';

// Pretend brokers (registrations only) advertise port 1, where nothing listens: the
// controller's pushes to them fail harmlessly and can never reach a real local cluster.
const UNREACHABLE_PORT = 1;

jest.setTimeout(40_000);

const TTL_MS = 2000;
let coordination: ServiceProcess;
let store: CoordinationClient;
const controllers = new Map<number, { proc: ServiceProcess; admin: AdminServiceClient }>();
let activeId: number;

const parse = <T>(b: Buffer): T => JSON.parse(b.toString()) as T;

async function whoIsActive(): Promise<number> {
  return waitFor(
    async () => {
      for (const [id, c] of controllers) {
        if (!c.proc.proc.running) continue;
        const ok = await unary(c.admin, 'describeCluster', {}).then(
          () => true,
          () => false,
        );
        if (ok) return id;
      }
      return undefined;
    },
    { timeoutMs: 15_000, message: 'an active controller' },
  );
}

function admin(): AdminServiceClient {
  return controllers.get(activeId)!.admin;
}

beforeAll(async () => {
  coordination = await startCoordinationProcess({ backend: 'embedded', 'data-dir': tempDir('controller-it'), 'node-id': 'coord-ctl' });
  store = new CoordinationClient({ address: coordination.address });
  await store.ensurePath('/brokers/ids');
  const lease = await store.grantLease(30_000);
  for (const [id, rack] of [
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
  ] as const) {
    await store.create(`/brokers/ids/${id}`, Buffer.from(JSON.stringify({ host: '127.0.0.1', port: UNREACHABLE_PORT, rack })), { leaseId: lease.id });
  }
  for (const id of [101, 102]) {
    const proc = await startControllerProcess({
      'node-id': id,
      coordination: coordination.address,
      'lease-ttl-ms': TTL_MS,
      'log-level': 'warn',
      'num-partitions': 4,
      'default-replication-factor': 2,
    });
    controllers.set(id, { proc, admin: createClient(AdminServiceClient, proc.address) });
  }
  activeId = await whoIsActive();
});

afterAll(async () => {
  for (const c of controllers.values()) c.admin.close();
  store?.close();
  await stopAllProcesses();
});

it('elects one active controller; the standby answers NOT_CONTROLLER naming it', async () => {
  const standbyId = [...controllers.keys()].find((id) => id !== activeId)!;
  const error = await unary(controllers.get(standbyId)!.admin, 'listTopics', {}).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TributaryError);
  expect((error as TributaryError).code).toBe(ErrorCode.NOT_CONTROLLER);
  expect((error as TributaryError).message).toContain(`active controller is ${activeId}`);

  const cluster = await unary(admin(), 'describeCluster', {});
  expect(cluster.controllerId).toBe(activeId);
  expect(cluster.brokers.map((b) => [b.id, b.rack])).toEqual([
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
  ]);
  const controllerNode = await store.get('/controller');
  expect(parse<{ id: number; port: number }>(controllerNode.data)).toMatchObject({ id: activeId, port: controllers.get(activeId)!.proc.grpcPort });
  expect(controllerNode.stat.leaseId).not.toBe(0n);
  expect(BigInt((await store.get('/controller_epoch')).data.toString())).toBe(cluster.controllerEpoch);
  expect(await controllers.get(activeId)!.proc.metrics()).toMatch(/^tributary_controller_active 1$/m);
});

it('creates a topic of 6 partitions x RF 3 spread over the brokers, atomically in coordination', async () => {
  const res = await unary(admin(), 'createTopics', {
    topics: [{ name: 'orders', numPartitions: 6, replicationFactor: 3, configs: { 'retention.ms': '3600000' } }],
    validateOnly: false,
  });
  expect(res.results).toEqual([{ name: 'orders', errorCode: ErrorCode.NONE, errorMessage: '', numPartitions: 6, replicationFactor: 3 }]);
  const assignment = parse<TopicAssignment>((await store.get('/brokers/topics/orders')).data);
  const epoch = Number((await store.get('/controller_epoch')).data.toString());
  const leaders = new Map<number, number>();
  for (let p = 0; p < 6; p++) {
    const replicas = assignment.partitions[String(p)]!;
    expect(new Set(replicas).size).toBe(3);
    leaders.set(replicas[0]!, (leaders.get(replicas[0]!) ?? 0) + 1);
    const state = parse<PartitionState>((await store.get(`/brokers/topics/orders/partitions/${p}/state`)).data);
    expect(state).toEqual({ leader: replicas[0], leader_epoch: 0, isr: replicas, controller_epoch: epoch });
  }
  expect([...leaders.values()]).toEqual([2, 2, 2]);
  expect(parse((await store.get('/config/topics/orders')).data)).toEqual({ 'retention.ms': '3600000' });

  const described = await unary(admin(), 'describeTopics', { names: ['orders', 'nope'] });
  expect(described.topics[0]!.partitions).toHaveLength(6);
  expect(described.topics[0]!.partitions[0]).toMatchObject({ partition: 0, leaderEpoch: 0, replicas: assignment.partitions['0'], isr: assignment.partitions['0'] });
  expect(described.topics[1]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  expect((await unary(admin(), 'listTopics', {})).names).toEqual(['orders']);
});

it('refuses bad names, collisions, RF above the broker count, bad configs and duplicates; validate_only writes nothing', async () => {
  const topic = (name: string, extra: object = {}) => ({ name, numPartitions: 1, replicationFactor: 1, configs: {}, ...extra });
  await unary(admin(), 'createTopics', { topics: [topic('a.b')], validateOnly: false });
  const res = await unary(admin(), 'createTopics', {
    topics: [
      topic('bad name!'),
      topic('..'),
      topic('a_b'),
      topic('rf4', { replicationFactor: 4 }),
      topic('zero', { numPartitions: 0 }),
      topic('cfg', { configs: { 'no.such.config': '1' } }),
      topic('cfgval', { configs: { 'cleanup.policy': 'shred' } }),
      topic('orders'),
      topic('twice'),
      topic('twice'),
    ],
    validateOnly: false,
  });
  expect(res.results.map((r) => [r.name, ErrorCode[r.errorCode]])).toEqual([
    ['bad name!', 'INVALID_TOPIC_EXCEPTION'],
    ['..', 'INVALID_TOPIC_EXCEPTION'],
    ['a_b', 'INVALID_TOPIC_EXCEPTION'],
    ['rf4', 'INVALID_REPLICATION_FACTOR'],
    ['zero', 'INVALID_PARTITIONS'],
    ['cfg', 'INVALID_CONFIG'],
    ['cfgval', 'INVALID_CONFIG'],
    ['orders', 'TOPIC_ALREADY_EXISTS'],
    ['twice', 'INVALID_REQUEST'],
    ['twice', 'INVALID_REQUEST'],
  ]);
  expect(res.results[5]!.errorMessage).toContain('no.such.config');

  const dry = await unary(admin(), 'createTopics', { topics: [topic('dry', { numPartitions: 3, replicationFactor: 3 })], validateOnly: true });
  expect(dry.results[0]!.errorCode).toBe(ErrorCode.NONE);
  expect(await store.tryGet('/brokers/topics/dry')).toBeUndefined();
  expect((await unary(admin(), 'listTopics', {})).names).toEqual(['a.b', 'orders']);
});

it('applies num.partitions and default.replication.factor to -1 counts (KIP-464); other negatives are refused', async () => {
  const res = await unary(admin(), 'createTopics', {
    topics: [
      { name: 'defaults', numPartitions: -1, replicationFactor: -1, configs: {} },
      { name: 'minus-two', numPartitions: -2, replicationFactor: 1, configs: {} },
      { name: 'rf-minus-two', numPartitions: 1, replicationFactor: -2, configs: {} },
    ],
    // Validated only: later tests count the topics.
    validateOnly: true,
  });
  expect(res.results.map((r) => [r.name, ErrorCode[r.errorCode], r.numPartitions, r.replicationFactor])).toEqual([
    ['defaults', 'NONE', 4, 2],
    ['minus-two', 'INVALID_PARTITIONS', -2, 1],
    ['rf-minus-two', 'INVALID_REPLICATION_FACTOR', 1, -2],
  ]);
  expect(await store.tryGet('/brokers/topics/defaults')).toBeUndefined();
});

it('lets a leader change the ISR of its partition (AlterPartition), checking leader, epoch and replicas', async () => {
  const active = controllers.get(activeId)!.proc;
  const brokers = createClient(BrokerToControllerServiceClient, active.address);
  try {
    const state = parse<PartitionState>((await store.get('/brokers/topics/orders/partitions/0/state')).data);
    const [leader, f1, f2] = parse<TopicAssignment>((await store.get('/brokers/topics/orders')).data).partitions['0']!;
    const alter = async (brokerId: number, leaderEpoch: number, newIsr: number[], topic = 'orders', index = 0) =>
      (await unary(brokers, 'alterPartition', { brokerId, topics: [{ name: topic, partitions: [{ index, leaderEpoch, newIsr }] }] })).topics[0]!.partitions[0]!;
    // Shrink: the leader drops a lagging follower.
    const shrunk = await alter(leader!, state.leader_epoch, [leader!, f1!]);
    expect([ErrorCode[shrunk.errorCode], shrunk.isr, shrunk.leader]).toEqual(['NONE', [leader, f1], leader]);
    expect(parse<PartitionState>((await store.get('/brokers/topics/orders/partitions/0/state')).data).isr).toEqual([leader, f1]);
    // Refusals: not the leader, stale epoch, ISR without the leader, a non-replica, an unknown partition.
    expect(ErrorCode[(await alter(f1!, state.leader_epoch, [f1!])).errorCode]).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(ErrorCode[(await alter(leader!, state.leader_epoch - 1, [leader!])).errorCode]).toBe('FENCED_LEADER_EPOCH');
    expect(ErrorCode[(await alter(leader!, state.leader_epoch, [f1!, f2!])).errorCode]).toBe('INVALID_REQUEST');
    expect(ErrorCode[(await alter(leader!, state.leader_epoch, [leader!, 99])).errorCode]).toBe('INVALID_REQUEST');
    expect(ErrorCode[(await alter(leader!, 0, [leader!], 'orders', 42)).errorCode]).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    // Expand back: the follower caught up.
    const expanded = await alter(leader!, state.leader_epoch, [f2!, f1!, leader!]);
    expect([ErrorCode[expanded.errorCode], expanded.isr]).toEqual(['NONE', [leader, f1, f2]]);
  } finally {
    brokers.close();
  }
});

it('alters and describes topic configs incrementally', async () => {
  const value = async (name: string) => {
    const d = await unary(admin(), 'describeConfigs', { topics: ['orders'] });
    return d.results[0]!.entries.find((e) => e.name === name)!;
  };
  expect(await value('retention.ms')).toMatchObject({ value: '3600000', isDefault: false });
  expect(await value('cleanup.policy')).toMatchObject({ value: 'delete', isDefault: true });
  const altered = await unary(admin(), 'alterConfigs', {
    topics: [
      {
        topic: 'orders',
        ops: [
          { name: 'cleanup.policy', op: AlterConfigOp_OpType.OP_TYPE_SET, value: 'compact' },
          { name: 'retention.ms', op: AlterConfigOp_OpType.OP_TYPE_DELETE, value: '' },
        ],
      },
      { topic: 'orders', ops: [{ name: 'segment.bytes', op: AlterConfigOp_OpType.OP_TYPE_SET, value: 'lots' }] },
      { topic: 'orders', ops: [{ name: 'bogus', op: AlterConfigOp_OpType.OP_TYPE_SET, value: '1' }] },
      { topic: 'missing', ops: [{ name: 'retention.ms', op: AlterConfigOp_OpType.OP_TYPE_SET, value: '1' }] },
    ],
    validateOnly: false,
  });
  expect(altered.results.map((r) => ErrorCode[r.errorCode])).toEqual(['NONE', 'INVALID_CONFIG', 'INVALID_CONFIG', 'UNKNOWN_TOPIC_OR_PARTITION']);
  expect(await value('cleanup.policy')).toMatchObject({ value: 'compact', isDefault: false });
  expect(await value('retention.ms')).toMatchObject({ isDefault: true });
  expect(parse((await store.get('/config/topics/orders')).data)).toEqual({ 'cleanup.policy': 'compact' });
  expect((await unary(admin(), 'describeConfigs', { topics: ['missing'] })).results[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
});

it('deletes topics and their nodes; unknown topics are UNKNOWN_TOPIC_OR_PARTITION', async () => {
  const res = await unary(admin(), 'deleteTopics', { names: ['a.b', 'ghost'] });
  expect(res.results.map((r) => ErrorCode[r.errorCode])).toEqual(['NONE', 'UNKNOWN_TOPIC_OR_PARTITION']);
  expect(await store.tryGet('/brokers/topics/a.b')).toBeUndefined();
  expect(await store.tryGet('/config/topics/a.b')).toBeUndefined();
  // The marker stays until every broker holding a replica has deleted its data: the brokers
  // registered here are not processes, so it stays (real brokers: tools/e2e cluster tests).
  expect((await store.children('/admin/delete_topics')).children).toEqual(['a.b']);
  const marker = parse<{ partitions: number[]; brokers: number[] }>((await store.get('/admin/delete_topics/a.b')).data);
  expect(marker.partitions.length).toBeGreaterThan(0);
  expect(marker.brokers.length).toBeGreaterThan(0);
  // Its metadata is gone: the colliding name is free again.
  const again = await unary(admin(), 'createTopics', { topics: [{ name: 'a_b', numPartitions: 2, replicationFactor: 2, configs: {} }], validateOnly: false });
  expect(again.results[0]!.errorCode).toBe(ErrorCode.NONE);
});

it('fails over after kill -9 of the active controller: the standby takes over with a larger epoch', async () => {
  const before = await unary(admin(), 'describeCluster', {});
  const killed = controllers.get(activeId)!;
  const started = Date.now();
  await killed.proc.proc.killAndWait('SIGKILL');
  const next = await whoIsActive();
  const tookMs = Date.now() - started;
  expect(next).not.toBe(before.controllerId);
  expect(tookMs).toBeLessThan(TTL_MS + 3000);
  activeId = next;
  const after = await unary(admin(), 'describeCluster', {});
  expect(after.controllerEpoch).toBeGreaterThan(before.controllerEpoch);
  expect(parse<{ id: number }>((await store.get('/controller')).data).id).toBe(next);

  const created = await unary(admin(), 'createTopics', { topics: [{ name: 'after-failover', numPartitions: 3, replicationFactor: 3, configs: {} }], validateOnly: false });
  expect(created.results[0]!.errorCode).toBe(ErrorCode.NONE);
  const state = parse<PartitionState>((await store.get('/brokers/topics/after-failover/partitions/0/state')).data);
  expect(BigInt(state.controller_epoch)).toBe(after.controllerEpoch);
  expect((await unary(admin(), 'listTopics', {})).names).toEqual(['a_b', 'after-failover', 'orders']);
});
