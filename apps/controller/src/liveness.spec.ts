/**
 * Broker liveness as real processes: the coordination service, three fake brokers (ephemeral
 * registrations under their own leases), two controllers. Brokers vanish by lease revocation;
 * the active controller shrinks ISRs and re-elects leaders; a new controller reconciles after
 * kill -9 of the active one.
 */
import { CoordinationClient } from '@tributary/coordination-client';
import type { LeaseKeeper } from '@tributary/coordination-client';
import { AdminServiceClient } from '@tributary/proto';
import type { PartitionDescription } from '@tributary/proto';
import { createClient, unary } from '@tributary/runtime';
import { stopAllProcesses, tempDir, waitFor } from '@tributary/testing';
import { nextPartitionState } from './controller';
import { startControllerProcess, startCoordinationProcess } from './it/processes';
import type { ServiceProcess } from './it/processes';
import type { PartitionState, TopicAssignment } from './store';

// Pretend brokers (registrations only) advertise port 1, where nothing listens: the
// controller's pushes to them fail harmlessly and can never reach a real local cluster.
const UNREACHABLE_PORT = 1;

jest.setTimeout(40_000);

const TTL_MS = 2000;
let store: CoordinationClient;
const controllers = new Map<number, { proc: ServiceProcess; admin: AdminServiceClient }>();
const brokers = new Map<number, LeaseKeeper>();
let activeId: number;

const parse = <T>(b: Buffer): T => JSON.parse(b.toString()) as T;

async function register(id: number): Promise<void> {
  const lease = await store.grantLease(30_000);
  await store.create(`/brokers/ids/${id}`, Buffer.from(JSON.stringify({ host: '127.0.0.1', port: UNREACHABLE_PORT, rack: `r${id}` })), { leaseId: lease.id });
  brokers.set(id, lease);
}

async function vanish(id: number): Promise<void> {
  await brokers.get(id)!.revoke();
  brokers.delete(id);
}

async function whoIsActive(): Promise<number> {
  return waitFor(
    async () => {
      for (const [id, c] of controllers) {
        if (!c.proc.proc.running) continue;
        if (await unary(c.admin, 'describeCluster', {}).then(() => true, () => false)) return id;
      }
      return undefined;
    },
    { timeoutMs: 15_000, message: 'an active controller' },
  );
}

const admin = (): AdminServiceClient => controllers.get(activeId)!.admin;

async function partitions(topic: string): Promise<PartitionDescription[]> {
  return (await unary(admin(), 'describeTopics', { names: [topic] })).topics[0]!.partitions;
}

/** Waits until `check` holds for every partition of `topic` (as described by the active controller). */
async function until(topic: string, check: (p: PartitionDescription) => boolean, message: string): Promise<PartitionDescription[]> {
  return waitFor(
    async () => {
      const ps = await partitions(topic).catch(() => undefined);
      return ps && ps.length > 0 && ps.every(check) ? ps : undefined;
    },
    { timeoutMs: 8000, message },
  );
}

async function metric(name: string): Promise<number> {
  const text = await controllers.get(activeId)!.proc.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return Number(line?.split(' ').pop());
}

beforeAll(async () => {
  const coordination = await startCoordinationProcess({ backend: 'embedded', 'data-dir': tempDir('controller-liveness'), 'node-id': 'coord-live' });
  store = new CoordinationClient({ address: coordination.address });
  await store.ensurePath('/brokers/ids');
  for (const id of [1, 2, 3]) await register(id);
  for (const id of [201, 202]) {
    const proc = await startControllerProcess({ 'node-id': id, coordination: coordination.address, 'lease-ttl-ms': TTL_MS, 'log-level': 'warn' });
    controllers.set(id, { proc, admin: createClient(AdminServiceClient, proc.address) });
  }
  activeId = await whoIsActive();
});

afterAll(async () => {
  for (const c of controllers.values()) c.admin.close();
  store?.close();
  await stopAllProcesses();
});

describe('nextPartitionState', () => {
  const s = (leader: number, isr: number[], leaderEpoch = 0): PartitionState => ({ leader, leader_epoch: leaderEpoch, isr, controller_epoch: 1 });
  it('shrinks the ISR, keeps the last member, elects in assignment order, leaves unchanged states alone', () => {
    const state = s(1, [1, 2, 3]);
    expect(nextPartitionState(state, [1, 2, 3], new Set([1, 2, 3]), 2)).toBe(state);
    expect(nextPartitionState(state, [1, 3, 2], new Set([2, 3]), 2)).toEqual({ leader: 3, leader_epoch: 1, isr: [2, 3], controller_epoch: 2 });
    expect(nextPartitionState(s(2, [1, 2]), [2, 1], new Set([2]), 2)).toEqual({ leader: 2, leader_epoch: 0, isr: [2], controller_epoch: 2 });
    expect(nextPartitionState(state, [1, 2, 3], new Set(), 2)).toEqual({ leader: -1, leader_epoch: 1, isr: [3], controller_epoch: 2 });
    expect(nextPartitionState(s(-1, [3], 1), [1, 2, 3], new Set([1, 2]), 2)).toEqual(s(-1, [3], 1));
    expect(nextPartitionState(s(-1, [3], 1), [1, 2, 3], new Set([3]), 2)).toEqual({ leader: 3, leader_epoch: 2, isr: [3], controller_epoch: 2 });
  });
});

it('re-elects the leaders of a vanished broker from the ISR and removes it from every ISR', async () => {
  const created = await unary(admin(), 'createTopics', { topics: [{ name: 'live', numPartitions: 3, replicationFactor: 3, configs: {} }], validateOnly: false });
  expect(created.results[0]!.errorCode).toBe(0);
  const before = await partitions('live');
  const ledBy1 = before.filter((p) => p.leader === 1).map((p) => p.partition);
  expect(ledBy1.length).toBeGreaterThan(0);

  await vanish(1);
  const after = await until('live', (p) => !p.isr.includes(1) && p.leader !== 1, 'broker 1 out of every ISR and leadership');
  for (const p of after) {
    const was = before[p.partition]!;
    if (ledBy1.includes(p.partition)) {
      // The first live ISR replica in assignment order.
      expect(p.leader).toBe(was.replicas.find((r) => r !== 1));
      expect(p.leaderEpoch).toBe(1);
    } else {
      expect(p.leader).toBe(was.leader);
      expect(p.leaderEpoch).toBe(0);
    }
    expect(p.isr).toEqual(was.isr.filter((r) => r !== 1));
    expect(p.replicas).toEqual(was.replicas);
  }
  const epoch = Number((await store.get('/controller_epoch')).data.toString());
  const state = parse<PartitionState>((await store.get(`/brokers/topics/live/partitions/${ledBy1[0]}/state`)).data);
  expect(state.controller_epoch).toBe(epoch);
  expect(await metric('tributary_controller_leader_elections_total')).toBe(ledBy1.length);
  expect(await metric('tributary_controller_offline_partitions')).toBe(0);
});

it('keeps the last ISR member with leader -1 when no ISR replica is live, and re-elects it when it re-registers', async () => {
  await vanish(2);
  await until('live', (p) => p.leader === 3 && p.isr.join() === '3', 'broker 3 alone');
  const before = await partitions('live');
  await vanish(3);
  const offline = await until('live', (p) => p.leader === -1, 'every partition offline');
  for (const p of offline) {
    expect(p.isr).toEqual([3]);
    expect(p.leaderEpoch).toBe(before[p.partition]!.leaderEpoch + 1);
  }
  await waitFor(async () => ((await metric('tributary_controller_offline_partitions')) === 3 ? true : undefined), { timeoutMs: 5000, message: 'offline gauge 3' });

  await register(3);
  const back = await until('live', (p) => p.leader === 3, 'broker 3 leading again');
  for (const p of back) {
    expect(p.isr).toEqual([3]);
    expect(p.leaderEpoch).toBe(offline[p.partition]!.leaderEpoch + 1);
  }
  await waitFor(async () => ((await metric('tributary_controller_offline_partitions')) === 0 ? true : undefined), { timeoutMs: 5000, message: 'offline gauge 0' });
});

it('a new controller reconciles after kill -9 of the active one while a broker is down', async () => {
  await register(1);
  await register(2);
  const created = await unary(admin(), 'createTopics', { topics: [{ name: 'fo', numPartitions: 3, replicationFactor: 3, configs: {} }], validateOnly: false });
  expect(created.results[0]!.errorCode).toBe(0);
  const before = await partitions('fo');
  const assignment = parse<TopicAssignment>((await store.get('/brokers/topics/fo')).data);

  const killed = controllers.get(activeId)!;
  await killed.proc.proc.killAndWait('SIGKILL');
  await vanish(1); // while no controller is active (the dead one's lease runs for TTL_MS)
  activeId = await whoIsActive();
  expect(controllers.get(activeId)).not.toBe(killed);
  const after = await until('fo', (p) => !p.isr.includes(1) && p.leader !== 1 && p.leader !== -1, 'reconciled after failover');
  const epoch = Number((await store.get('/controller_epoch')).data.toString());
  for (const p of after) {
    const was = before[p.partition]!;
    expect(p.leader).toBe(was.leader === 1 ? assignment.partitions[String(p.partition)]!.find((r) => r !== 1) : was.leader);
    expect(p.leaderEpoch).toBe(was.leader === 1 ? 1 : 0);
    const state = parse<PartitionState>((await store.get(`/brokers/topics/fo/partitions/${p.partition}/state`)).data);
    expect(state.controller_epoch).toBe(epoch);
  }
  // The other topic was reconciled too (broker 3 still leads it).
  expect((await partitions('live')).every((p) => p.leader === 3)).toBe(true);
});
