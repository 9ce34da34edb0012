/**
 * A partition leader cut off from the network (issue 5's isolation test): broker 3 runs in a
 * network namespace of its own (libs/testing netns.ts), the rest of the cluster next to it.
 * Once the link is cut, the isolated leader can append what a client inside its namespace
 * sends, but can never get it acknowledged at acks=all (its followers cannot fetch, the
 * controller cannot be told); the rest of the cluster elects a new leader from the ISR and
 * goes on. After healing, the old leader learns it follows, asks the new leader where their
 * logs diverge (OffsetsForLeaderEpoch) and drops its unacknowledged tail: all three replicas
 * end byte-identical, with every acknowledged record and none of the isolated ones.
 *
 * Needs root and `ip netns` (CI runs as root); elsewhere it is skipped with the reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdminServiceClient, BrokerServiceClient } from '@tributary/proto';
import type { MetadataResponse } from '@tributary/proto';
import { encodeBatch, ErrorCode } from '@tributary/records';
import { createClient, unary } from '@tributary/runtime';
import type { IsolatedHost, ServiceProcess } from '@tributary/testing';
import { cleanupAll, createIsolatedHost, netnsSupport, serviceMain, spawnProcess, startServiceProcess, tempDir, waitFor, WORKSPACE_ROOT } from '@tributary/testing';

jest.setTimeout(180_000);

const unsupported = netnsSupport();
const LEASE_TTL_MS = 3000;
const TOPIC = 'iso';

let host: IsolatedHost | undefined;
const brokers = new Map<number, ServiceProcess>();
const clients: BrokerServiceClient[] = [];

afterAll(async () => {
  for (const c of clients) c.close();
  host?.heal();
  await cleanupAll();
  host?.destroy();
});

const batch = (values: string[]): Buffer => encodeBatch(values.map((v) => ({ key: null, value: Buffer.from(v) })));

/** Every segment of a partition replica, concatenated in offset order. */
function logBytes(logDir: string, partition: number): Buffer {
  const dir = join(logDir, `${TOPIC}-${partition}`);
  const segments = readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
  return Buffer.concat(segments.map((f) => readFileSync(join(dir, f))));
}

(unsupported ? it.skip : it)(`an isolated leader cannot acknowledge acks=all writes, and truncates its divergent tail after healing${unsupported ? ` (skipped: ${unsupported})` : ''}`, async () => {
  host = createIsolatedHost();
  const dataDir = tempDir('isolation');
  const root = host.rootAddress;
  const coordination = await startServiceProcess({
    name: 'iso-coordination',
    main: serviceMain('coordination'),
    host: root,
    flags: { backend: 'embedded', 'data-dir': join(dataDir, 'coordination'), 'node-id': 'iso-coordination' },
  });
  await startServiceProcess({
    name: 'iso-controller',
    main: serviceMain('controller'),
    host: root,
    flags: { 'node-id': 0, coordination: coordination.address, 'lease-ttl-ms': LEASE_TTL_MS },
  });
  const logDir = (id: number): string => join(dataDir, `broker-${id}`);
  for (const id of [1, 2, 3]) {
    const isolated = id === 3;
    brokers.set(
      id,
      await startServiceProcess({
        name: `iso-broker-${id}`,
        main: serviceMain('broker'),
        host: isolated ? host.nsAddress : root,
        ...(isolated ? { wrapper: host.wrapper } : {}),
        flags: { 'node-id': id, coordination: coordination.address, 'log-dir': logDir(id), 'lease-ttl-ms': LEASE_TTL_MS },
      }),
    );
  }
  const client = (id: number): BrokerServiceClient => {
    const c = createClient(BrokerServiceClient, brokers.get(id)!.address);
    clients.push(c);
    return c;
  };
  const [b1, b3] = [client(1), client(3)];
  const md0 = await unary(b1, 'metadata', { topics: [] });
  const admin = createClient(AdminServiceClient, `${md0.controllerHost}:${md0.controllerPort}`);
  await unary(admin, 'createTopics', { topics: [{ name: TOPIC, numPartitions: 3, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }], validateOnly: false });
  admin.close();
  let md: MetadataResponse | undefined;
  const partitionState = (m: MetadataResponse, index: number) => m.topics[0]!.partitions.find((p) => p.index === index)!;
  await waitFor(
    async () => {
      md = await unary(b1, 'metadata', { topics: [TOPIC] });
      const t = md.topics[0];
      return t?.errorCode === ErrorCode.NONE && t.partitions.length === 3 && t.partitions.every((p) => p.leaderId >= 0 && p.isrNodes.length === 3);
    },
    { timeoutMs: 30_000, message: `${TOPIC} led with full ISRs` },
  );
  // Three partitions, three brokers: one is led by the broker in the namespace.
  const partition = md!.topics[0]!.partitions.find((p) => p.leaderId === 3)!.index;
  const produce = async (via: BrokerServiceClient, values: string[], timeoutMs = 20_000) =>
    (await unary(via, 'produce', { acks: -1, timeoutMs, topics: [{ name: TOPIC, partitions: [{ index: partition, records: batch(values) }] }] }, { deadlineMs: timeoutMs + 10_000 })).topics[0]!
      .partitions[0]!;
  const acknowledged: string[] = [];
  for (let i = 0; i < 5; i++) {
    const values = [`before-${i}-a`, `before-${i}-b`];
    expect(ErrorCode[(await produce(b3, values)).errorCode]).toBe('NONE');
    acknowledged.push(...values);
  }

  host.cut();
  // A client inside the namespace keeps writing to the isolated leader: appended there, never
  // acknowledged (its followers cannot fetch, and the controller cannot shrink the ISR).
  const script = `
    const { BrokerServiceClient } = require('@tributary/proto');
    const { createClient, unary } = require('@tributary/runtime');
    const { encodeBatch } = require('@tributary/records');
    (async () => {
      const client = createClient(BrokerServiceClient, ${JSON.stringify(brokers.get(3)!.address)});
      const codes = [];
      for (let i = 0; i < 3; i++) {
        const records = encodeBatch([{ key: null, value: Buffer.from('isolated-' + i) }]);
        try {
          const res = await unary(client, 'produce', { acks: -1, timeoutMs: 2000, topics: [{ name: ${JSON.stringify(TOPIC)}, partitions: [{ index: ${partition}, records }] }] }, { deadlineMs: 15000 });
          codes.push(res.topics[0].partitions[0].errorCode);
        } catch (e) { codes.push('call failed: ' + e.message); }
      }
      console.log('CODES ' + JSON.stringify(codes));
      client.close();
    })();`;
  const inside = spawnProcess({ name: 'iso-client', command: host.wrapper[0]!, args: [...host.wrapper.slice(1), process.execPath, '-e', script], cwd: WORKSPACE_ROOT });
  const exit = await inside.exited;
  const codesLine = inside.outputTail().split('\n').find((l) => l.startsWith('CODES '));
  expect({ exit: exit.code, codesLine }).toEqual({ exit: 0, codesLine: expect.any(String) });
  const codes = JSON.parse(codesLine!.slice('CODES '.length)) as (number | string)[];
  expect(codes).toHaveLength(3);
  expect(codes).not.toContain(ErrorCode.NONE);

  // The rest of the cluster: broker 3's lease expires, a leader is elected from the ISR.
  await waitFor(
    async () => {
      const p = partitionState(await unary(b1, 'metadata', { topics: [TOPIC] }), partition);
      return p.leaderId !== 3 && p.leaderId >= 0 && !p.isrNodes.includes(3);
    },
    { timeoutMs: 60_000, message: 'a new leader without the isolated broker' },
  );
  for (let i = 0; i < 5; i++) {
    const leader = partitionState(await unary(b1, 'metadata', { topics: [TOPIC] }), partition).leaderId;
    const values = [`after-${i}`];
    expect(ErrorCode[(await produce(client(leader), values)).errorCode]).toBe('NONE');
    acknowledged.push(...values);
  }

  // The divergent tail is really there before healing.
  expect(logBytes(logDir(3), partition).toString('latin1')).toContain('isolated-2');
  host.heal();
  await waitFor(async () => partitionState(await unary(b1, 'metadata', { topics: [TOPIC] }), partition).isrNodes.includes(3), {
    timeoutMs: 90_000,
    message: 'the formerly isolated broker back in the ISR',
  });
  // Every replica converges on the same bytes: the acknowledged records, none of the isolated ones.
  let replicas: Buffer[] = [];
  await waitFor(
    () => {
      replicas = [1, 2, 3].map((id) => logBytes(logDir(id), partition));
      return replicas.every((r) => r.equals(replicas[0]!));
    },
    { timeoutMs: 30_000, message: 'byte-identical replicas' },
  );
  const text = replicas[0]!.toString('latin1');
  for (const v of acknowledged) expect(text).toContain(v);
  expect(text).not.toContain('isolated-');
  // The formerly isolated broker logged the truncation of its divergent tail.
  expect(brokers.get(3)!.proc.outputTail()).toMatch(/truncating the records that diverge from the leader/);
});
