/**
 * ControlledShutdown and ElectLeaders against a REAL controller process (coordination with
 * the embedded backend, the controller over real gRPC); brokers are registrations only
 * (advertising a port where nothing listens), so partition states change only through the
 * controller's RPCs and its liveness pass. Covers the answers Kafka gives: remaining
 * partitions when no other ISR member can lead, refusals for unknown brokers and stale
 * incarnations, a broker in controlled shutdown never elected nor re-added to an ISR until it
 * registers again, and UNCLEAN election of an offline partition.
 */
import { CoordinationClient } from '@tributary/coordination-client';
import type { LeaseKeeper } from '@tributary/coordination-client';
import { AdminServiceClient, BrokerToControllerServiceClient, ElectionType } from '@tributary/proto';
import type { ElectLeadersResponse } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import { createClient, unary } from '@tributary/runtime';
import { stopAllProcesses, tempDir, waitFor } from '@tributary/testing';
import { startControllerProcess, startCoordinationProcess } from './it/processes';
import type { ServiceProcess } from './it/processes';
import type { PartitionState, TopicAssignment } from './store';

jest.setTimeout(60_000);

const UNREACHABLE_PORT = 1;
const TOPIC = 'orders';
let coordination: ServiceProcess;
let controller: ServiceProcess;
let store: CoordinationClient;
let lease: LeaseKeeper;
let admin: AdminServiceClient;
let brokers: BrokerToControllerServiceClient;

const parse = <T>(b: Buffer): T => JSON.parse(b.toString()) as T;
const statePath = (p: number) => `/brokers/topics/${TOPIC}/partitions/${p}/state`;
const readState = async (p: number) => parse<PartitionState>((await store.get(statePath(p))).data);
const register = (id: number, incarnation: string) =>
  store.create(`/brokers/ids/${id}`, Buffer.from(JSON.stringify({ host: '127.0.0.1', port: UNREACHABLE_PORT, incarnation })), { leaseId: lease.id });

async function metric(name: string, labels = ''): Promise<number> {
  const m = new RegExp(`^${name}(?:\\{[^}]*${labels}[^}]*\\})? (\\S+)$`, 'm').exec(await controller.metrics());
  if (!m) throw new Error(`no ${name}${labels}`);
  return Number(m[1]);
}

const results = (res: ElectLeadersResponse) => res.topics.flatMap((t) => t.partitions.map((p) => [`${t.name}-${p.partition}`, ErrorCode[p.errorCode], p.leader]));

let replicas: Record<string, number[]>;

beforeAll(async () => {
  coordination = await startCoordinationProcess({ backend: 'embedded', 'data-dir': tempDir('controlled-shutdown-it'), 'node-id': 'coord-cs' });
  store = new CoordinationClient({ address: coordination.address });
  await store.ensurePath('/brokers/ids');
  lease = await store.grantLease(60_000);
  for (const id of [1, 2, 3]) await register(id, `first-${id}`);
  controller = await startControllerProcess({ 'node-id': 0, coordination: coordination.address, 'lease-ttl-ms': 2000, 'log-level': 'warn', 'leader-imbalance-check-interval-seconds': 3600 });
  admin = createClient(AdminServiceClient, controller.address);
  brokers = createClient(BrokerToControllerServiceClient, controller.address);
  await waitFor(() => unary(admin, 'describeCluster', {}).then(() => true, () => false), { timeoutMs: 15_000, message: 'the active controller' });
  const created = await unary(admin, 'createTopics', { topics: [{ name: TOPIC, numPartitions: 3, replicationFactor: 3, configs: {} }], validateOnly: false });
  expect(created.results[0]!.errorCode).toBe(ErrorCode.NONE);
  replicas = parse<TopicAssignment>((await store.get(`/brokers/topics/${TOPIC}`)).data).partitions;
});

afterAll(async () => {
  admin?.close();
  brokers?.close();
  store?.close();
  await stopAllProcesses();
});

it('refuses a broker that is not registered, and a request from an older incarnation', async () => {
  const unknown = await unary(brokers, 'controlledShutdown', { brokerId: 9, incarnation: '' });
  expect(ErrorCode[unknown.errorCode]).toBe('BROKER_NOT_AVAILABLE');
  const stale = await unary(brokers, 'controlledShutdown', { brokerId: 1, incarnation: 'an-old-one' });
  expect(ErrorCode[stale.errorCode]).toBe('INVALID_REQUEST');
  expect(await metric('tributary_controller_shutting_down_brokers')).toBe(0);
});

it('moves leadership off a stopping broker, drops it from the ISRs, and reports the partition it alone can lead', async () => {
  const ledBy1 = Object.keys(replicas).map(Number).find((p) => replicas[String(p)]![0] === 1)!;
  const followedBy1 = Object.keys(replicas).map(Number).filter((p) => p !== ledBy1);
  // Broker 1, as leader, shrinks the ISR of the partition it leads to itself: no one can take over.
  const ledAlone = await unary(brokers, 'alterPartition', { brokerId: 1, topics: [{ name: TOPIC, partitions: [{ index: ledBy1, leaderEpoch: 0, newIsr: [1] }] }] });
  expect(ledAlone.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
  const before = await unary(brokers, 'controlledShutdown', { brokerId: 1, incarnation: 'first-1' });
  expect(before.errorCode).toBe(ErrorCode.NONE);
  expect(before.remainingPartitions).toEqual([{ name: TOPIC, partitions: [ledBy1] }]);
  expect(await readState(ledBy1)).toMatchObject({ leader: 1, isr: [1] });
  for (const p of followedBy1) expect((await readState(p)).isr).not.toContain(1);
  expect(await metric('tributary_controller_shutting_down_brokers')).toBe(1);

  // The ISR grows again (its leader adds a caught-up follower): the next attempt hands over.
  const other = replicas[String(ledBy1)]!.find((id) => id !== 1)!;
  const grow = await unary(brokers, 'alterPartition', { brokerId: 1, topics: [{ name: TOPIC, partitions: [{ index: ledBy1, leaderEpoch: 0, newIsr: [1, other] }] }] });
  expect(grow.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
  const handedBefore = await metric('tributary_controller_leader_elections_total', 'type="controlled_shutdown"');
  const after = await unary(brokers, 'controlledShutdown', { brokerId: 1, incarnation: 'first-1' });
  expect(after).toEqual({ errorCode: ErrorCode.NONE, errorMessage: '', remainingPartitions: [] });
  expect(await readState(ledBy1)).toMatchObject({ leader: other, leader_epoch: 1, isr: [other] });
  expect(await metric('tributary_controller_leader_elections_total', 'type="controlled_shutdown"')).toBe(handedBefore + 1);

  // While it is shutting down: not added back to an ISR, not elected preferred leader.
  const readd = await unary(brokers, 'alterPartition', { brokerId: other, topics: [{ name: TOPIC, partitions: [{ index: ledBy1, leaderEpoch: 1, newIsr: [other, 1] }] }] });
  expect(ErrorCode[readd.topics[0]!.partitions[0]!.errorCode]).toBe('INVALID_REQUEST');
  expect(readd.topics[0]!.partitions[0]!.errorMessage).toContain('shutting down');
  const elect = await unary(admin, 'electLeaders', { electionType: ElectionType.ELECTION_TYPE_PREFERRED, topics: [{ name: TOPIC, partitions: [ledBy1] }] });
  expect(results(elect)).toEqual([[`${TOPIC}-${ledBy1}`, 'PREFERRED_LEADER_NOT_AVAILABLE', other]]);

  // Registered again (a restart: new incarnation): eligible again; back in the ISR, it is the preferred leader once more.
  await store.delete('/brokers/ids/1');
  await register(1, 'second-1');
  const rejoin = await unary(brokers, 'alterPartition', { brokerId: other, topics: [{ name: TOPIC, partitions: [{ index: ledBy1, leaderEpoch: 1, newIsr: [other, 1] }] }] });
  expect(rejoin.topics[0]!.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, isr: expect.arrayContaining([1, other]) });
  expect(await metric('tributary_controller_shutting_down_brokers')).toBe(0);
  const back = await unary(admin, 'electLeaders', { electionType: ElectionType.ELECTION_TYPE_PREFERRED, topics: [{ name: TOPIC, partitions: [ledBy1] }] });
  expect(results(back)).toEqual([[`${TOPIC}-${ledBy1}`, 'NONE', 1]]);
  expect(await readState(ledBy1)).toMatchObject({ leader: 1, leader_epoch: 2 });
});

it('elects an out-of-ISR replica of an offline partition with UNCLEAN, and only then', async () => {
  // A partition whose ISR is only broker 3, which then dies: offline (its last ISR member is kept).
  const p = Object.keys(replicas).map(Number).find((i) => replicas[String(i)]![0] === 3)!;
  const state = await readState(p);
  const shrink = await unary(brokers, 'alterPartition', { brokerId: 3, topics: [{ name: TOPIC, partitions: [{ index: p, leaderEpoch: state.leader_epoch, newIsr: [3] }] }] });
  expect(shrink.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
  const notNeeded = await unary(admin, 'electLeaders', { electionType: ElectionType.ELECTION_TYPE_UNCLEAN, topics: [{ name: TOPIC, partitions: [p] }] });
  expect(results(notNeeded)).toEqual([[`${TOPIC}-${p}`, 'ELECTION_NOT_NEEDED', 3]]);
  await store.delete('/brokers/ids/3');
  await waitFor(async () => (await readState(p)).leader === -1, { timeoutMs: 15_000, message: `${TOPIC}-${p} offline` });
  await waitFor(async () => (await metric('tributary_controller_offline_partitions')) === 1, { timeoutMs: 10_000, message: 'one offline partition' });
  const uncleanBefore = await metric('tributary_controller_leader_elections_total', 'type="unclean"');

  const res = await unary(admin, 'electLeaders', { electionType: ElectionType.ELECTION_TYPE_UNCLEAN, topics: [] });
  const expectedLeader = replicas[String(p)]!.find((id) => id !== 3)!;
  expect(results(res)).toEqual(
    Object.keys(replicas).map((i) => [`${TOPIC}-${i}`, Number(i) === p ? 'NONE' : 'ELECTION_NOT_NEEDED', Number(i) === p ? expectedLeader : expect.any(Number)]),
  );
  expect(await readState(p)).toMatchObject({ leader: expectedLeader, isr: [expectedLeader] });
  expect(await metric('tributary_controller_leader_elections_total', 'type="unclean"')).toBe(uncleanBefore + 1);
  await waitFor(async () => (await metric('tributary_controller_offline_partitions')) === 0, { timeoutMs: 10_000, message: 'no offline partition' });

  const missing = await unary(admin, 'electLeaders', { electionType: ElectionType.ELECTION_TYPE_PREFERRED, topics: [{ name: 'nope', partitions: [] }, { name: TOPIC, partitions: [9] }] });
  expect(results(missing)).toEqual([
    ['nope--1', 'UNKNOWN_TOPIC_OR_PARTITION', -1],
    [`${TOPIC}-9`, 'UNKNOWN_TOPIC_OR_PARTITION', -1],
  ]);
  const invalid = await unary(admin, 'electLeaders', { electionType: ElectionType.ELECTION_TYPE_UNSPECIFIED, topics: [] }).catch((e: unknown) => e);
  expect(invalid).toBeInstanceOf(TributaryError);
  expect((invalid as TributaryError).code).toBe(ErrorCode.INVALID_REQUEST);
});
