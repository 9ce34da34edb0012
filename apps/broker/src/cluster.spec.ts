/**
 * Brokers in a REAL cluster: coordination, two controllers and three brokers as processes
 * over real gRPC on loopback (libs/testing startCluster). Raw gRPC calls, no SDK: this is the
 * wire contract other-language clients rely on.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { CoordinationClient } from '@tributary/coordination-client';
import { AdminServiceClient, BrokerControlServiceClient, BrokerServiceClient } from '@tributary/proto';
import type { FetchResponse, MetadataResponse } from '@tributary/proto';
import { decodeBatches, encodeBatch, ErrorCode } from '@tributary/records';
import { bidi, createClient, unary } from '@tributary/runtime';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, startCluster, waitFor } from '@tributary/testing';
import { GROUP_COORDINATOR_IDS_PATH } from './group-coordinators';
import { brokerClients, leaderOf } from './spec-helpers';

jest.setTimeout(120_000);

let cluster: TestCluster;
const { broker, brokerById, anyBroker, metadata, close: closeClients } = brokerClients(() => cluster);

async function admin(): Promise<AdminServiceClient> {
  const md = await unary(anyBroker(), 'metadata', { topics: [] });
  return createClient(AdminServiceClient, `${md.controllerHost}:${md.controllerPort}`);
}

/** Waits until every broker's metadata shows `topic` with leaders on all partitions. */
async function waitForTopic(topic: string, partitions: number): Promise<MetadataResponse> {
  let md: MetadataResponse | undefined;
  await waitFor(
    async () => {
      for (const b of cluster.brokers.values()) {
        md = await unary(broker(b.address), 'metadata', { topics: [topic] });
        const t = md.topics[0]!;
        if (t.errorCode !== ErrorCode.NONE || t.partitions.length !== partitions || t.partitions.some((p) => p.leaderId < 0)) return false;
      }
      return true;
    },
    { timeoutMs: 20_000, message: `metadata of ${topic}` },
  );
  return md!;
}

function batch(values: string[], key?: string): Buffer {
  return encodeBatch(values.map((v) => ({ key: key === undefined ? null : Buffer.from(key), value: Buffer.from(v) })));
}

async function produce(topic: string, partition: number, records: Buffer, via?: BrokerServiceClient, acks = 1) {
  const client = via ?? brokerById(leaderOf(await metadata([topic]), topic, partition));
  const res = await unary(client, 'produce', { acks, timeoutMs: 10_000, topics: [{ name: topic, partitions: [{ index: partition, records }] }] });
  return res.topics[0]!.partitions[0]!;
}

async function fetchValues(topic: string, partition: number, offset: bigint, opts: { maxWaitMs?: number; via?: BrokerServiceClient } = {}) {
  const client = opts.via ?? brokerById(leaderOf(await metadata([topic]), topic, partition));
  const res = await unary(
    client,
    'fetch',
    {
      replicaId: -1,
      maxWaitMs: opts.maxWaitMs ?? 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ name: topic, partitions: [{ index: partition, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    },
    { deadlineMs: 60_000 },
  );
  const p = res.topics[0]!.partitions[0]!;
  const values = decodeBatches(p.records)
    .flatMap((b) => b.records)
    .filter((r) => r.offset >= Number(offset))
    .map((r) => r.value!.toString());
  return { ...p, values };
}

beforeAll(async () => {
  cluster = await startCluster({ name: 'broker-it', brokers: 3, controllers: 2 });
});

afterAll(async () => {
  closeClients();
  await cluster?.stop();
  await cleanupAll();
});

it('serves Metadata with every broker, the active controller and spread leaders; produces and fetches on leaders', async () => {
  const created = await unary(await admin(), 'createTopics', { topics: [{ name: 'events', numPartitions: 6, replicationFactor: 1, configs: {} }], validateOnly: false });
  expect(created.results[0]!.errorCode).toBe(ErrorCode.NONE);
  const md = await waitForTopic('events', 6);
  expect(md.brokers.map((b) => b.nodeId).sort()).toEqual([0, 1, 2]);
  expect(md.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  expect(md.controllerId).toBe(await cluster.activeController());
  const leaders = md.topics[0]!.partitions.map((p) => p.leaderId);
  // 6 partitions, RF 1, 3 brokers: two each.
  for (const id of [0, 1, 2]) expect(leaders.filter((l) => l === id)).toHaveLength(2);

  for (let p = 0; p < 6; p++) {
    const first = await produce('events', p, batch([`p${p}-a`, `p${p}-b`]));
    expect(ErrorCode[first.errorCode]).toBe('NONE');
    expect(first.baseOffset).toBe(0n);
    const second = await produce('events', p, batch([`p${p}-c`]));
    expect(second.baseOffset).toBe(2n);
  }
  for (let p = 0; p < 6; p++) {
    const got = await fetchValues('events', p, 1n);
    expect(got.highWatermark).toBe(3n);
    expect(got.values).toEqual([`p${p}-b`, `p${p}-c`]);
  }
  // A partition's data lives on its leader only (RF 1): <log dir>/events-<p>/ with Kafka's file names.
  const p0Leader = leaders[0]!;
  expect(readdirSync(`${cluster.logDir(p0Leader)}/events-0`).sort()).toEqual(expect.arrayContaining(['00000000000000000000.index', '00000000000000000000.log', 'leader-epoch-checkpoint']));
});

it('lists the group coordinators registered under /group-coordinators/ids in Metadata, and drops one whose lease ends', async () => {
  const coordination = new CoordinationClient({ address: cluster.coordination.address });
  try {
    const lease = await coordination.grantLease(5000);
    await coordination.ensurePath(GROUP_COORDINATOR_IDS_PATH);
    await coordination.create(`${GROUP_COORDINATOR_IDS_PATH}/7`, Buffer.from(JSON.stringify({ host: '127.0.0.1', port: 17300 })), { leaseId: lease.id });
    // A registration that is not {host, port} JSON is ignored, not listed.
    await coordination.create(`${GROUP_COORDINATOR_IDS_PATH}/8`, Buffer.from('not json'), { leaseId: lease.id });
    await waitFor(
      async () => {
        for (const b of cluster.brokers.values()) {
          const md = await unary(broker(b.address), 'metadata', { topics: [] });
          if (JSON.stringify(md.groupCoordinators) !== JSON.stringify([{ nodeId: 7, host: '127.0.0.1', port: 17300 }])) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, message: 'every broker lists group coordinator 7' },
    );
    await lease.revoke();
    await waitFor(async () => (await metadata([])).groupCoordinators.length === 0, { timeoutMs: 20_000, message: 'the revoked registration is dropped' });
  } finally {
    coordination.close();
  }
});

it('answers per-partition Kafka error codes: not leader, unknown topic, corrupt batch, too large, bad offsets', async () => {
  const md = await metadata(['events']);
  const leader = leaderOf(md, 'events', 0);
  const other = [0, 1, 2].find((id) => id !== leader)!;
  expect(ErrorCode[(await produce('events', 0, batch(['x']), brokerById(other))).errorCode]).toBe('NOT_LEADER_OR_FOLLOWER');
  expect(ErrorCode[(await produce('nope', 0, batch(['x']), anyBroker())).errorCode]).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  expect((await metadata(['nope'])).topics[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

  const corrupt = batch(['will be damaged']);
  corrupt[corrupt.length - 3]! ^= 0xff;
  expect(ErrorCode[(await produce('events', 0, corrupt)).errorCode]).toBe('CORRUPT_MESSAGE');
  expect(ErrorCode[(await produce('events', 0, Buffer.from('not a batch at all'))).errorCode]).toBe('CORRUPT_MESSAGE');
  expect(ErrorCode[(await produce('events', 0, batch(['x']), undefined, 7)).errorCode]).toBe('INVALID_REQUIRED_ACKS');

  // A batch above the topic's max.message.bytes.
  const adminClient = await admin();
  await unary(adminClient, 'createTopics', { topics: [{ name: 'small', numPartitions: 1, replicationFactor: 1, configs: { 'max.message.bytes': '2048' } }], validateOnly: false });
  await waitForTopic('small', 1);
  await waitFor(async () => ErrorCode[(await produce('small', 0, batch(['y'.repeat(4000)]))).errorCode] === 'MESSAGE_TOO_LARGE', { timeoutMs: 10_000 });
  expect(ErrorCode[(await produce('small', 0, batch(['fits']))).errorCode]).toBe('NONE');

  // A request above socket.request.max.bytes is refused whole; the connection keeps serving.
  const leaderClient = brokerById(leader);
  const bigSender = createClient(BrokerServiceClient, cluster.brokers.get(leader)!.address, { settings: { maxSendMessageBytes: 200 * 1024 * 1024 } });
  const huge = Buffer.alloc(101 * 1024 * 1024);
  await expect(unary(bigSender, 'produce', { acks: 1, timeoutMs: 1000, topics: [{ name: 'events', partitions: [{ index: 0, records: huge }] }] })).rejects.toThrow(/larger than max|RESOURCE_EXHAUSTED/i);
  expect(ErrorCode[(await produce('events', 0, batch(['after-huge']), bigSender)).errorCode]).toBe('NONE');
  bigSender.close();

  // Offsets: negative and beyond the end.
  expect(ErrorCode[(await fetchValues('events', 0, -5n)).errorCode]).toBe('OFFSET_OUT_OF_RANGE');
  expect(ErrorCode[(await fetchValues('events', 0, 1_000_000n)).errorCode]).toBe('OFFSET_OUT_OF_RANGE');
  const bad = await unary(leaderClient, 'listOffsets', { replicaId: -1, topics: [{ name: 'events', partitions: [{ index: 0, currentLeaderEpoch: -1, timestamp: -99n }] }] });
  expect(ErrorCode[bad.topics[0]!.partitions[0]!.errorCode]).toBe('INVALID_REQUEST');
  // Nothing acknowledged was lost on the way.
  const all = await fetchValues('events', 0, 0n);
  expect(all.values).toEqual(['p0-a', 'p0-b', 'p0-c', 'after-huge']);
});

it('answers a request that is not a protobuf message with an error, and keeps the connection serving', async () => {
  // A raw client that sends arbitrary bytes as the Produce request.
  const raw = { path: '/tributary.v1.BrokerService/Produce', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
  const Raw = grpc.makeGenericClientConstructor({ produce: raw }, 'RawBroker');
  const md = await metadata(['events']);
  const address = cluster.brokers.get(leaderOf(md, 'events', 0))!.address;
  const client = new Raw(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & { produce: (b: Buffer, cb: (e: grpc.ServiceError | null) => void) => void };
  try {
    for (const garbage of [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.from('\x0a\xff\xff\xff\xff\x0f'), Buffer.alloc(64, 0xfe)]) {
      const error = await new Promise<grpc.ServiceError | null>((resolve) => client.produce(garbage, (e) => resolve(e)));
      expect(error).not.toBeNull();
      expect([grpc.status.INTERNAL, grpc.status.INVALID_ARGUMENT]).toContain(error!.code);
    }
  } finally {
    client.close();
  }
  // The broker is fine, for this connection's neighbours and for new ones.
  expect((await produce('events', 0, batch(['after-garbage']))).errorCode).toBe(ErrorCode.NONE);
});

it('serves ReplicaFetch streams to followers only: the same answer as Fetch, one per request; a consumer id is refused', async () => {
  const md = await metadata(['events']);
  const client = brokerById(leaderOf(md, 'events', 0));
  const request = (replicaId: number, fetchOffset: bigint) => ({
    replicaId,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    topics: [{ name: 'events', partitions: [{ index: 0, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
  });
  // Broker id 99 replicates nothing here (events has one replica), so the ISR is untouched.
  const stream = bidi(client, 'replicaFetch');
  try {
    for (const offset of [0n, 2n]) {
      await stream.write(request(99, offset));
      const next = await stream.next();
      const viaStream = decodeBatches((next.value as FetchResponse).topics[0]!.partitions[0]!.records).flatMap((b) => b.records).filter((r) => r.offset >= Number(offset)).map((r) => r.value!.toString());
      expect(viaStream).toEqual((await fetchValues('events', 0, offset)).values);
    }
  } finally {
    stream.end();
    stream.cancel();
  }
  const refused = bidi(client, 'replicaFetch');
  await refused.write(request(-1, 0n)).catch(() => undefined);
  await expect(refused.next()).rejects.toThrow(/followers/);
});

it('lists offsets: earliest, latest and by timestamp', async () => {
  const md = await metadata(['events']);
  const client = brokerById(leaderOf(md, 'events', 1));
  const ask = async (timestamp: bigint) =>
    (await unary(client, 'listOffsets', { replicaId: -1, topics: [{ name: 'events', partitions: [{ index: 1, currentLeaderEpoch: -1, timestamp }] }] })).topics[0]!.partitions[0]!;
  expect((await ask(-2n)).offset).toBe(0n);
  expect((await ask(-1n)).offset).toBe(3n);
  const t0 = BigInt(Date.now() + 60_000);
  const records = encodeBatch([{ key: null, value: Buffer.from('future'), timestamp: Number(t0) }]);
  expect((await produce('events', 1, records)).baseOffset).toBe(3n);
  expect((await ask(t0)).offset).toBe(3n);
  expect((await ask(t0 + 1n)).offset).toBe(-1n);
});

it('wakes a long-polling fetch with the produced records', async () => {
  const md = await metadata(['events']);
  const via = brokerById(leaderOf(md, 'events', 2));
  const waiting = fetchValues('events', 2, 3n, { maxWaitMs: 30_000, via });
  await new Promise((r) => setTimeout(r, 200));
  expect((await produce('events', 2, batch(['woke-you']), via)).errorCode).toBe(ErrorCode.NONE);
  expect((await waiting).values).toEqual(['woke-you']);
});

it('refuses control requests from a stale controller epoch', async () => {
  const control = createClient(BrokerControlServiceClient, cluster.brokers.get(0)!.address);
  try {
    const res = await unary(control, 'leaderAndIsr', { controllerId: 9, controllerEpoch: 0n, full: true, topics: [] });
    expect(ErrorCode[res.errorCode]).toBe('STALE_CONTROLLER_EPOCH');
    // Nothing was dropped by the refused "full" request.
    expect((await fetchValues('events', 0, 0n)).values.length).toBeGreaterThan(0);
  } finally {
    control.close();
  }
});

it('brings a restarted broker back with its data: graceful stop, then kill -9', async () => {
  const md = await metadata(['events']);
  const id = leaderOf(md, 'events', 3);
  const before = (await fetchValues('events', 3, 0n)).values;
  expect(before.length).toBe(3);
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    await cluster.stopBroker(id, signal);
    // Its partitions go offline (RF 1) ...
    await waitFor(async () => (await metadata(['events'])).topics[0]!.partitions.find((p) => p.index === 3)!.leaderId === -1, { timeoutMs: 20_000 });
    await cluster.startBroker(id);
    // ... and come back with the data.
    await waitForTopic('events', 6);
    expect((await fetchValues('events', 3, 0n)).values).toEqual(before);
  }
  const after = await produce('events', 3, batch(['after-restarts']));
  expect(after.baseOffset).toBe(3n);
});

it('deletes a topic: the metadata at once, the data on every broker', async () => {
  const adminClient = await admin();
  await unary(adminClient, 'createTopics', { topics: [{ name: 'doomed', numPartitions: 3, replicationFactor: 1, configs: {} }], validateOnly: false });
  await waitForTopic('doomed', 3);
  for (let p = 0; p < 3; p++) expect((await produce('doomed', p, batch(['bye']))).errorCode).toBe(ErrorCode.NONE);
  const dirs = [0, 1, 2].map((id) => `${cluster.logDir(id)}/doomed-${[0, 1, 2].find((p) => existsSync(`${cluster.logDir(id)}/doomed-${p}`)) ?? 'x'}`);
  expect(dirs.filter((d) => existsSync(d)).length).toBe(3);
  const res = await unary(adminClient, 'deleteTopics', { names: ['doomed'] });
  expect(res.results[0]!.errorCode).toBe(ErrorCode.NONE);
  await waitFor(async () => (await metadata(['doomed'])).topics[0]!.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, { timeoutMs: 10_000 });
  await waitFor(async () => [0, 1, 2].every((id) => readdirSync(cluster.logDir(id)).every((n) => !n.startsWith('doomed-'))), { timeoutMs: 20_000, message: 'partition directories removed' });
  // The name is free again once every broker confirmed.
  await waitFor(
    async () => (await unary(adminClient, 'createTopics', { topics: [{ name: 'doomed', numPartitions: 1, replicationFactor: 1, configs: {} }], validateOnly: false })).results[0]!.errorCode === ErrorCode.NONE,
    { timeoutMs: 10_000 },
  );
  adminClient.close();
});

it('grows a topic with CreatePartitions; brokers host the new partitions', async () => {
  const adminClient = await admin();
  const res = await unary(adminClient, 'createPartitions', { topics: [{ name: 'events', count: 8 }, { name: 'events-missing', count: 2 }], validateOnly: false });
  expect(res.results.map((r) => ErrorCode[r.errorCode])).toEqual(['NONE', 'UNKNOWN_TOPIC_OR_PARTITION']);
  const shrink = await unary(adminClient, 'createPartitions', { topics: [{ name: 'events', count: 4 }], validateOnly: false });
  expect(ErrorCode[shrink.results[0]!.errorCode]).toBe('INVALID_PARTITIONS');
  await waitForTopic('events', 8);
  expect((await produce('events', 7, batch(['new-partition']))).baseOffset).toBe(0n);
  adminClient.close();
});

it('keeps serving after kill -9 of the active controller: the standby pushes state with a newer epoch', async () => {
  const active = await cluster.activeController();
  await cluster.controllers.get(active)!.proc.killAndWait('SIGKILL');
  cluster.controllers.delete(active);
  const next = await cluster.activeController();
  expect(next).not.toBe(active);
  // Brokers learn the new controller from its push.
  await waitFor(async () => (await metadata([])).controllerId === next, { timeoutMs: 20_000, message: 'brokers follow the new controller' });
  const adminClient = await admin();
  const created = await unary(adminClient, 'createTopics', { topics: [{ name: 'after-failover', numPartitions: 3, replicationFactor: 1, configs: {} }], validateOnly: false });
  expect(created.results[0]!.errorCode).toBe(ErrorCode.NONE);
  await waitForTopic('after-failover', 3);
  expect((await produce('after-failover', 0, batch(['still here']))).errorCode).toBe(ErrorCode.NONE);
  expect((await fetchValues('events', 0, 0n)).values[0]).toBe('p0-a');
  adminClient.close();
  // The old controller comes back as a standby.
  await cluster.startController(active);
});

it('replicates to followers: acks=all waits for the ISR, and a new leader after kill -9 has every acknowledged record', async () => {
  const adminClient = await admin();
  const created = await unary(adminClient, 'createTopics', { topics: [{ name: 'replicated', numPartitions: 2, replicationFactor: 3, configs: {} }], validateOnly: false });
  expect(created.results[0]!.errorCode).toBe(ErrorCode.NONE);
  await waitForTopic('replicated', 2);
  const acknowledged: string[] = [];
  for (let i = 0; i < 20; i++) {
    const values = [`r${i}-a`, `r${i}-b`];
    const res = await produce('replicated', 0, batch(values), undefined, -1);
    expect(ErrorCode[res.errorCode]).toBe('NONE');
    acknowledged.push(...values);
  }
  const md = await metadata(['replicated']);
  const leader = leaderOf(md, 'replicated', 0);
  // The HW moved only because both followers fetched: every replica has the records.
  expect((await fetchValues('replicated', 0, 0n)).values).toEqual(acknowledged);
  await cluster.stopBroker(leader, 'SIGKILL');
  await waitFor(
    async () => {
      const l = leaderOf(await metadata(['replicated']), 'replicated', 0);
      return l >= 0 && l !== leader;
    },
    { timeoutMs: 20_000, message: 'a new leader elected from the ISR' },
  );
  // The new leader's high watermark catches up once the remaining follower has fetched from it.
  await waitFor(async () => (await fetchValues('replicated', 0, 0n)).values.length === acknowledged.length, { timeoutMs: 20_000, message: 'the new leader exposes every acknowledged record' });
  expect((await fetchValues('replicated', 0, 0n)).values).toEqual(acknowledged);
  // The new leader takes acks=all writes with the ISR it has left.
  await waitFor(async () => (await produce('replicated', 0, batch(['after-failover']), undefined, -1)).errorCode === ErrorCode.NONE, { timeoutMs: 20_000 });
  acknowledged.push('after-failover');
  // The old leader comes back as a follower and catches up.
  await cluster.startBroker(leader);
  await waitFor(
    async () => {
      const p = (await metadata(['replicated'])).topics[0]!.partitions.find((x) => x.index === 0)!;
      return p.replicaNodes.length === 3;
    },
    { timeoutMs: 20_000 },
  );
  await waitFor(async () => (await fetchValues('replicated', 0, 0n)).values.length === acknowledged.length, { timeoutMs: 20_000 });
  expect((await fetchValues('replicated', 0, 0n)).values).toEqual(acknowledged);
  adminClient.close();
});

it('serves /metrics, /healthz and /readyz, logs JSON, and exits 0 on SIGTERM', async () => {
  // The leader of events-0 has taken bytes for "events" in this process (earlier tests restart brokers).
  const id = leaderOf(await metadata(['events']), 'events', 0);
  expect((await produce('events', 0, batch(['for-the-metrics']))).errorCode).toBe(ErrorCode.NONE);
  expect((await fetchValues('events', 0, 0n)).values).toContain('for-the-metrics');
  const b = cluster.brokers.get(id)!;
  const text = await b.metrics();
  expect(text).toMatch(/^tributary_broker_bytes_in_total\{[^}]*topic="events"[^}]*\} \d+/m);
  expect(text).toMatch(/^tributary_broker_leader_partitions\S* \d+/m);
  expect(text).toMatch(/^tributary_broker_under_replicated_partitions\S* \d+/m);
  expect(text).toMatch(/^tributary_broker_under_min_isr_partitions\S* \d+/m);
  expect(text).toMatch(/^tributary_broker_purgatory_size\{[^}]*purgatory="produce"[^}]*\} \d+/m);
  expect(text).toMatch(/^tributary_broker_messages_out_total\{[^}]*topic="events"[^}]*\} [1-9]\d*/m);
  expect(text).toMatch(/^tributary_log_size_bytes\{[^}]*topic="events"[^}]*\} [1-9]\d*/m);
  expect(text).toMatch(/^tributary_log_flush_duration_seconds_count \d+/m);
  expect(text).toMatch(/^tributary_log_dir_free_bytes [1-9]\d*/m);
  expect(text).toMatch(/^tributary_log_dir_size_bytes [1-9]\d*/m);
  expect(text).toMatch(/^tributary_log_offline_dirs 0/m);
  expect(text).toMatch(/^tributary_broker_active_connections [1-9]\d*/m);
  expect(text).toMatch(/^tributary_broker_partition_errors_total\{[^}]*api="produce"[^}]*\} \d+/m);
  expect(text).toMatch(/^nodejs_eventloop_lag_seconds \S+/m);
  expect((await fetch(`http://127.0.0.1:${b.adminPort}/healthz`)).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${b.adminPort}/readyz`)).status).toBe(200);
  const line = b.proc.outputTail(200).split('\n').find((l) => l.includes('"registered"') || l.includes('registered'));
  expect(() => JSON.parse(line!)).not.toThrow();
  await cluster.stopBroker(id, 'SIGTERM');
  expect(b.proc.running).toBe(false);
  await cluster.startBroker(id);
});

describe('ISR membership', () => {
  // A cluster of its own: a short replica.lag.time.max.ms (Kafka's is 30 s), and broker leases
  // far longer than the test, so that only the leader's lag rule (not the lease of the stopped
  // follower expiring at the controller) can take the follower out of the ISR. Followers here
  // fetch with unary Fetch calls (--no-replica-fetch-stream), the other clusters over streams.
  let isrCluster: TestCluster;
  beforeAll(async () => {
    isrCluster = await startCluster({
      name: 'broker-isr',
      brokers: 3,
      controllers: 1,
      brokerFlags: { 'replica-lag-time-max-ms': 1000, 'lease-ttl-ms': 60_000, 'replica-fetch-stream': false },
    });
  });
  afterAll(async () => {
    await isrCluster?.stop();
  });

  it('shrinks the ISR when a follower stops (SIGSTOP) so acks=all goes on, and expands it when it catches up (SIGCONT)', async () => {
    const anyClient = createClient(BrokerServiceClient, isrCluster.brokers.get(0)!.address);
    const clientsById = new Map([...isrCluster.brokers].map(([id, b]) => [id, createClient(BrokerServiceClient, b.address)]));
    try {
      const md0 = await unary(anyClient, 'metadata', { topics: [] });
      const adminClient = createClient(AdminServiceClient, `${md0.controllerHost}:${md0.controllerPort}`);
      await unary(adminClient, 'createTopics', { topics: [{ name: 'isr-test', numPartitions: 1, replicationFactor: 3, configs: {} }], validateOnly: false });
      adminClient.close();
      let part: MetadataResponse['topics'][number]['partitions'][number] | undefined;
      await waitFor(
        async () => {
          part = (await unary(anyClient, 'metadata', { topics: ['isr-test'] })).topics[0]?.partitions[0];
          return part !== undefined && part.leaderId >= 0;
        },
        { timeoutMs: 20_000, message: 'isr-test led' },
      );
      const leaderId = part!.leaderId;
      const follower = part!.replicaNodes.find((id) => id !== leaderId)!;
      // Every call goes to the leader: the stopped follower answers nothing.
      const leader = clientsById.get(leaderId)!;
      const send = async (value: string) =>
        (await unary(leader, 'produce', { acks: -1, timeoutMs: 20_000, topics: [{ name: 'isr-test', partitions: [{ index: 0, records: batch([value]) }] }] })).topics[0]!.partitions[0]!;
      const isrOf = async (): Promise<number[]> => (await unary(leader, 'metadata', { topics: ['isr-test'] })).topics[0]!.partitions[0]!.isrNodes;
      await waitFor(async () => (await send('before')).errorCode === ErrorCode.NONE, { timeoutMs: 20_000, message: 'a first acks=all write' });
      const stopped = isrCluster.brokers.get(follower)!.proc;
      stopped.kill('SIGSTOP');
      try {
        // The write waits for the stopped follower until the leader drops it from the ISR.
        expect(ErrorCode[(await send('while-stopped')).errorCode]).toBe('NONE');
        // The leader applied the new ISR from the controller's answer; metadata follows the push.
        await waitFor(async () => !(await isrOf()).includes(follower), { timeoutMs: 20_000, message: 'metadata showing the smaller ISR' });
      } finally {
        stopped.kill('SIGCONT');
      }
      await waitFor(async () => (await isrOf()).includes(follower), { timeoutMs: 30_000, message: 'the follower back in the ISR' });
      const fetched = await unary(leader, 'fetch', {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        topics: [{ name: 'isr-test', partitions: [{ index: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
      });
      expect(decodeBatches(fetched.topics[0]!.partitions[0]!.records).flatMap((b) => b.records).map((r) => r.value!.toString())).toEqual(['before', 'while-stopped']);
      const text = await isrCluster.brokers.get(leaderId)!.metrics();
      expect(text).toMatch(/^tributary_broker_isr_changes_total\{[^}]*kind="shrink"[^}]*\} [1-9]/m);
      expect(text).toMatch(/^tributary_broker_isr_changes_total\{[^}]*kind="expand"[^}]*\} [1-9]/m);
    } finally {
      anyClient.close();
      for (const c of clientsById.values()) c.close();
    }
  });

  it('refuses acks=all with 2 of 3 replicas stopped and min.insync.replicas=2, instead of acknowledging what one copy holds', async () => {
    const anyClient = createClient(BrokerServiceClient, isrCluster.brokers.get(0)!.address);
    const clientsById = new Map([...isrCluster.brokers].map(([id, b]) => [id, createClient(BrokerServiceClient, b.address)]));
    try {
      const md0 = await unary(anyClient, 'metadata', { topics: [] });
      const adminClient = createClient(AdminServiceClient, `${md0.controllerHost}:${md0.controllerPort}`);
      await unary(adminClient, 'createTopics', { topics: [{ name: 'min-isr', numPartitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }], validateOnly: false });
      adminClient.close();
      let part: MetadataResponse['topics'][number]['partitions'][number] | undefined;
      await waitFor(
        async () => {
          part = (await unary(anyClient, 'metadata', { topics: ['min-isr'] })).topics[0]?.partitions[0];
          return part !== undefined && part.leaderId >= 0;
        },
        { timeoutMs: 20_000, message: 'min-isr led' },
      );
      const leader = clientsById.get(part!.leaderId)!;
      const send = async (value: string) =>
        (await unary(leader, 'produce', { acks: -1, timeoutMs: 20_000, topics: [{ name: 'min-isr', partitions: [{ index: 0, records: batch([value]) }] }] })).topics[0]!.partitions[0]!;
      await waitFor(async () => (await send('acked-1')).errorCode === ErrorCode.NONE, { timeoutMs: 20_000, message: 'a first acks=all write' });
      const followers = part!.replicaNodes.filter((id) => id !== part!.leaderId).map((id) => isrCluster.brokers.get(id)!.proc);
      for (const f of followers) f.kill('SIGSTOP');
      const refusals = new Set<string>();
      try {
        // Until the ISR has shrunk the write waits and is refused after the append; then before it.
        await waitFor(
          async () => {
            const res = await send('not-acknowledged');
            refusals.add(ErrorCode[res.errorCode]!);
            return res.errorCode === ErrorCode.NOT_ENOUGH_REPLICAS;
          },
          { timeoutMs: 30_000, message: 'NOT_ENOUGH_REPLICAS' },
        );
      } finally {
        for (const f of followers) f.kill('SIGCONT');
      }
      // Never acknowledged while only the leader had the records.
      expect(refusals.has('NONE')).toBe(false);
      // Back to three in-sync replicas: acks=all writes go through again.
      await waitFor(async () => (await send('acked-2')).errorCode === ErrorCode.NONE, { timeoutMs: 30_000, message: 'acks=all accepted again' });
    } finally {
      anyClient.close();
      for (const c of clientsById.values()) c.close();
    }
  });
});
