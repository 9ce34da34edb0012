/**
 * Kafka's replication_test (tests/kafkatest/tests/core/replication_test.py), ported: three
 * brokers, a topic of 3 partitions with replication factor 3 and min.insync.replicas 2, an
 * idempotent producer at acks=all writing continuously while the harness repeatedly kill -9s
 * (and restarts) the leader of a partition — and, in the second case, the active controller.
 * Afterwards every acknowledged record is consumed exactly once and in order per partition,
 * and the three replicas of each partition hold byte-identical logs.
 *
 * Real processes over real gRPC on loopback (libs/testing startCluster); the SDK on the
 * client side, with its defaults (idempotence on, acks=all).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admin, Consumer, Producer } from '@tributary/client';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, sleep, startCluster, waitFor } from '@tributary/testing';

jest.setTimeout(300_000);

const PARTITIONS = 3;
const BROKERS = [0, 1, 2];

afterAll(cleanupAll);

/**
 * Writes `p<partition>-<seq>` to each partition in turn, with a bounded number of sends in
 * flight, until stopped; records which ones were acknowledged, in acknowledgement order.
 */
function startWriting(producer: Producer, topic: string) {
  const acknowledged: string[][] = Array.from({ length: PARTITIONS }, () => []);
  const failures: string[] = [];
  let stopped = false;
  let sent = 0;
  const inFlight = new Set<Promise<void>>();
  const done = (async () => {
    while (!stopped) {
      const partition = sent % PARTITIONS;
      const value = `p${partition}-${String(Math.floor(sent / PARTITIONS)).padStart(7, '0')}`;
      sent++;
      const p: Promise<void> = producer.send({ topic, partition, key: null, value }).then(
        () => void acknowledged[partition]!.push(value),
        (e: unknown) => void failures.push(`${value}: ${e instanceof Error ? e.message : String(e)}`),
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      if (inFlight.size >= 200) await Promise.race(inFlight);
      if (sent % 50 === 0) await sleep(5); // a steady stream, not a flood: faults land mid-stream
    }
    await Promise.all(inFlight);
  })();
  return {
    acknowledged,
    failures,
    get sent() {
      return sent;
    },
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** Every segment of one replica, concatenated in offset order. */
function replicaBytes(cluster: TestCluster, broker: number, topic: string, partition: number): Buffer {
  const dir = join(cluster.logDir(broker), `${topic}-${partition}`);
  return Buffer.concat(
    readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .sort()
      .map((f) => readFileSync(join(dir, f))),
  );
}

async function checkOutcome(cluster: TestCluster, admin: Admin, topic: string, writer: ReturnType<typeof startWriting>): Promise<void> {
  const bootstrap = cluster.bootstrap.split(',');
  // Every replica back in every ISR, then every replica byte-identical.
  await waitFor(async () => (await admin.describeTopics([topic]))[0]!.partitions.every((p) => p.isr.length === 3), { timeoutMs: 60_000, message: 'full ISRs' });
  for (let partition = 0; partition < PARTITIONS; partition++) {
    await waitFor(
      () => {
        const copies = BROKERS.map((b) => replicaBytes(cluster, b, topic, partition));
        return copies.every((c) => c.equals(copies[0]!));
      },
      { timeoutMs: 60_000, message: `byte-identical replicas of ${topic}-${partition}` },
    );
  }

  // Consume everything below the high watermark.
  const ends = await admin.listOffsets(topic, 'latest');
  const consumer = new Consumer({ bootstrap, autoOffsetReset: 'earliest' });
  const consumed: string[][] = Array.from({ length: PARTITIONS }, () => []);
  try {
    consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition })));
    const target = ends.reduce((n, e) => n + Number(e.offset), 0);
    let total = 0;
    await waitFor(
      async () => {
        for (const r of await consumer.poll(500)) {
          consumed[r.partition]!.push(r.value!.toString());
          total++;
        }
        return total >= target;
      },
      { timeoutMs: 60_000, message: `${target} records of ${topic}` },
    );
  } finally {
    await consumer.close();
  }

  expect(writer.failures).toEqual([]);
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const got = consumed[partition]!;
    // Every acknowledged record is there ...
    const present = new Set(got);
    const missing = writer.acknowledged[partition]!.filter((v) => !present.has(v));
    expect(missing).toEqual([]);
    // ... exactly once: no value twice (retries across leader changes never duplicate) ...
    expect(got.length - present.size).toBe(0);
    // ... in the order they were sent (sequence numbers only grow).
    expect(got).toEqual([...got].sort());
  }
}

async function leaderOf(admin: Admin, topic: string, partition: number): Promise<number> {
  let leader = -1;
  await waitFor(
    async () => {
      leader = (await admin.describeTopics([topic]))[0]!.partitions.find((p) => p.partition === partition)!.leader;
      return leader >= 0;
    },
    { timeoutMs: 30_000, message: `a leader for ${topic}-${partition}` },
  );
  return leader;
}

describe.each([
  ['the leader of a partition', 'leader'],
  ['the active controller', 'controller'],
] as const)('replication under kill -9 of %s', (_what, target) => {
  let cluster: TestCluster;
  let admin: Admin;
  const topic = `replicated-${target}`;

  beforeAll(async () => {
    cluster = await startCluster({ name: `replication-${target}`, brokers: 3, controllers: 2 });
    admin = new Admin({ bootstrap: cluster.bootstrap.split(',') });
    await admin.createTopics([{ name: topic, numPartitions: PARTITIONS, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
    await waitFor(async () => (await admin.describeTopics([topic]))[0]!.partitions.every((p) => p.leader >= 0 && p.isr.length === 3), {
      timeoutMs: 30_000,
      message: `${topic} led with full ISRs`,
    });
  });

  afterAll(async () => {
    await admin?.close();
    await cluster?.stop();
  });

  it('loses no acknowledged record and duplicates none; replicas end byte-identical', async () => {
    const producer = new Producer({ bootstrap: cluster.bootstrap.split(','), acks: 'all' });
    const writer = startWriting(producer, topic);
    try {
      for (let round = 0; round < 3; round++) {
        // Some records acknowledged before each fault.
        const before = writer.acknowledged.reduce((n, a) => n + a.length, 0);
        await waitFor(() => writer.acknowledged.reduce((n, a) => n + a.length, 0) >= before + 500, { timeoutMs: 60_000, message: 'records acknowledged' });
        if (target === 'leader') {
          const victim = await leaderOf(admin, topic, round % PARTITIONS);
          await cluster.stopBroker(victim, 'SIGKILL');
          // Writing goes on with the other two (min.insync.replicas 2) ...
          const during = writer.acknowledged[round % PARTITIONS]!.length;
          await waitFor(() => writer.acknowledged[round % PARTITIONS]!.length >= during + 200, { timeoutMs: 60_000, message: 'writes acknowledged without the killed leader' });
          // ... and the restarted broker catches up and rejoins.
          await cluster.startBroker(victim);
          await waitFor(async () => (await admin.describeTopics([topic]))[0]!.partitions.every((p) => p.isr.includes(victim)), { timeoutMs: 60_000, message: `broker ${victim} back in every ISR` });
        } else {
          const victim = await cluster.activeController();
          await cluster.controllers.get(victim)!.proc.killAndWait('SIGKILL');
          cluster.controllers.delete(victim);
          await cluster.activeController(); // the standby takes over
          await cluster.startController(victim);
          // A leader change under the new controller too: kill -9 a broker.
          const broker = await leaderOf(admin, topic, round % PARTITIONS);
          await cluster.stopBroker(broker, 'SIGKILL');
          await cluster.startBroker(broker);
          await waitFor(async () => (await admin.describeTopics([topic]))[0]!.partitions.every((p) => p.isr.includes(broker)), { timeoutMs: 60_000, message: `broker ${broker} back in every ISR` });
        }
      }
      const after = writer.acknowledged.reduce((n, a) => n + a.length, 0);
      await waitFor(() => writer.acknowledged.reduce((n, a) => n + a.length, 0) >= after + 300, { timeoutMs: 60_000, message: 'records acknowledged after the last fault' });
    } finally {
      await writer.stop();
      await producer.close();
    }
    await checkOutcome(cluster, admin, topic, writer);
  });
});
