/**
 * Controlled shutdown in a REAL cluster (coordination, a controller, three brokers as
 * processes; libs/testing startCluster): an SDK producer writes continuously at acks=all to
 * a replication-factor-3 topic with min.insync.replicas=2 while the leader of a partition is
 * stopped with SIGTERM. The broker hands its leadership over through the controller before
 * it deregisters (the controller counts controlled_shutdown elections and no failover
 * election), exits 0, and every acknowledged record can be consumed afterwards. Without a
 * controller, a broker gives up after controlled.shutdown.max.retries and stops anyway.
 */
import { Admin, Consumer, Producer } from '@tributary/client';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, startCluster, waitFor } from '@tributary/testing';

jest.setTimeout(120_000);

const TOPIC = 'handover';
const PARTITIONS = 3;
let cluster: TestCluster;
let admin: Admin;

/** A counter of the active controller's `tributary_controller_leader_elections_total{type}`. */
async function elections(type: string): Promise<number> {
  const text = await cluster.controllers.get(await cluster.activeController())!.metrics();
  const m = new RegExp(`^tributary_controller_leader_elections_total\\{[^}]*type="${type}"[^}]*\\} (\\d+)`, 'm').exec(text);
  if (!m) throw new Error(`no elections counter of type ${type} in:\n${text}`);
  return Number(m[1]);
}

beforeAll(async () => {
  // Leases longer than the test: only the controlled shutdown (or the broker's own
  // deregistration) can move leadership, never an expired lease.
  cluster = await startCluster({ name: 'controlled-shutdown', brokers: 3, leaseTtlMs: 30_000, brokerFlags: { 'controlled-shutdown-retry-backoff-ms': 300 } });
  admin = new Admin({ bootstrap: cluster.bootstrap.split(',') });
  await admin.createTopics([{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
});

afterAll(async () => {
  await admin?.close();
  await cluster?.stop();
  await cleanupAll();
});

it('SIGTERM on a leader moves its leadership before it deregisters, exits 0, and loses no acknowledged record', async () => {
  const producer = new Producer({ bootstrap: cluster.bootstrap.split(','), acks: 'all', lingerMs: 1 });
  const acked = new Map<number, Set<string>>();
  let failures = 0;
  let stop = false;
  let sent = 0;
  const writers = Array.from({ length: 4 }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const value = `w${w}-${i}`;
      sent++;
      try {
        const md = await producer.send({ topic: TOPIC, value });
        const set = acked.get(md.partition) ?? new Set<string>();
        acked.set(md.partition, set.add(value));
      } catch {
        failures++;
      }
    }
  });
  const ackedCount = (): number => [...acked.values()].reduce((n, s) => n + s.size, 0);
  await waitFor(() => ackedCount() >= 300, { timeoutMs: 30_000, message: 'the producer acknowledged 300 records' });

  const [before] = await admin.describeTopics([TOPIC]);
  const victim = before!.partitions[0]!.leader;
  const led = before!.partitions.filter((p) => p.leader === victim).map((p) => p.partition);
  const cleanBefore = await elections('clean');
  const handedBefore = await elections('controlled_shutdown');

  const proc = cluster.brokers.get(victim)!.proc;
  await cluster.stopBroker(victim, 'SIGTERM');
  expect(await proc.exited).toEqual({ code: 0, signal: null });
  expect(proc.outputTail()).toContain('controlled shutdown succeeded');

  // Leadership moved by the controlled shutdown, not by the failover after deregistration.
  expect((await elections('controlled_shutdown')) - handedBefore).toBeGreaterThanOrEqual(led.length);
  expect((await elections('clean')) - cleanBefore).toBe(0);
  const [after] = await admin.describeTopics([TOPIC]);
  for (const p of after!.partitions) {
    expect(p.leader).not.toBe(victim);
    expect([...cluster.brokers.keys()]).toContain(p.leader);
    expect(p.isr).not.toContain(victim);
  }

  // Writes go on with the other two in-sync replicas (min.insync.replicas 2).
  const afterStop = ackedCount();
  await waitFor(() => ackedCount() >= afterStop + 300, { timeoutMs: 30_000, message: '300 more acknowledged records after the shutdown' });
  stop = true;
  await Promise.all(writers);
  await producer.close();
  expect(sent).toBeGreaterThan(0);

  // Every acknowledged record is consumable (it may appear twice: the producer is not idempotent yet).
  const ends = await admin.listOffsets(TOPIC, 'latest');
  const consumer = new Consumer({ bootstrap: cluster.bootstrap.split(','), autoOffsetReset: 'earliest' });
  consumer.assign(ends.map((e) => ({ topic: TOPIC, partition: e.partition })));
  const seen = new Map<number, Set<string>>();
  const done = new Set<number>();
  try {
    await waitFor(
      async () => {
        for (const r of await consumer.poll(500)) {
          const set = seen.get(r.partition) ?? new Set<string>();
          seen.set(r.partition, set.add(r.value!.toString()));
          if (r.offset + 1n >= ends.find((e) => e.partition === r.partition)!.offset) done.add(r.partition);
        }
        return ends.every((e) => e.offset === 0n || done.has(e.partition));
      },
      { timeoutMs: 60_000, message: 'consumed every partition up to its high watermark' },
    );
  } finally {
    await consumer.close();
  }
  for (const [partition, values] of acked) {
    const missing = [...values].filter((v) => !seen.get(partition)?.has(v));
    expect({ partition, missing }).toEqual({ partition, missing: [] });
  }
  expect(failures).toBe(0);
});

it('gives up after the retries and still stops cleanly when no controller answers', async () => {
  const [id] = [...cluster.brokers.keys()];
  const proc = cluster.brokers.get(id!)!.proc;
  for (const c of cluster.controllers.values()) await c.proc.killAndWait('SIGKILL');
  await cluster.stopBroker(id!, 'SIGTERM');
  expect(await proc.exited).toEqual({ code: 0, signal: null });
  const log = proc.outputTail();
  expect(log.match(/controlled shutdown: the controller could not be reached/g)).toHaveLength(3);
  expect(log).toContain('controlled shutdown did not complete; shutting down anyway');
});
