/**
 * The SDK's default (idempotent) producer end to end against a REAL cluster: coordination, a
 * controller and three brokers as processes on loopback. With acks=all on a topic replicated
 * three times, the leader of a partition is killed -9 (and restarted) three times under load; every
 * acknowledged record must then be stored exactly once, at its acknowledged offset, in send
 * order per key. (The same run with `idempotent: false` usually stores some retried batches twice: a
 * leader killed after replicating a batch but before answering.)
 */
import { Admin, Consumer, Producer } from '@tributary/client';
import type { ConsumerRecord, RecordMetadata } from '@tributary/client';
import type { TestCluster } from '@tributary/testing';
import { cleanupAll, startCluster, waitFor } from '@tributary/testing';

jest.setTimeout(240_000);

let cluster: TestCluster;
const bootstrap = (): string[] => [...cluster.brokers.values()].map((b) => b.address);

beforeAll(async () => {
  cluster = await startCluster({ name: 'idempotence-e2e', brokers: 3, controllers: 1, logLevel: 'warn' });
});

afterAll(async () => {
  await cluster?.stop();
  await cleanupAll();
});

it('stores every acknowledged record exactly once, in order per key, while partition leaders are killed -9 under load', async () => {
  const admin = new Admin({ bootstrap: bootstrap() });
  await admin.createTopics([{ name: 'exactly-once', numPartitions: 3, replicationFactor: 3 }]);
  const producer = new Producer({ bootstrap: bootstrap(), lingerMs: 2, requestTimeoutMs: 3_000 }); // idempotent, acks=all: the defaults
  const acknowledged: { i: number; m: RecordMetadata }[] = [];
  const failed: unknown[] = [];
  let stop = false;
  let n = 0;
  const load = (async () => {
    while (!stop) {
      const batch = Array.from({ length: 300 }, () => n++); // many batches in flight when a leader dies
      await Promise.all(
        batch.map((i) =>
          producer.send({ topic: 'exactly-once', key: `k${i % 30}`, value: `v${i}` }).then(
            (m) => void acknowledged.push({ i, m }),
            (e: unknown) => void failed.push(e),
          ),
        ),
      );
    }
  })();
  try {
    for (let round = 1; round <= 3; round++) {
      await waitFor(async () => acknowledged.length > round * 1_500, { timeoutMs: 60_000, message: `producing (round ${round})` });
      const leader = (await admin.describeTopics(['exactly-once']))[0]!.partitions.find((p) => p.partition === 0)!.leader;
      await cluster.stopBroker(leader, 'SIGKILL');
      await waitFor(async () => (await admin.describeTopics(['exactly-once']))[0]!.partitions.find((p) => p.partition === 0)!.leader !== leader, {
        timeoutMs: 30_000,
        message: 'a new leader for partition 0',
      });
      await cluster.startBroker(leader);
    }
    const mark = acknowledged.length;
    await waitFor(async () => acknowledged.length > mark + 1_500, { timeoutMs: 60_000, message: 'producing after the restarts' });
  } finally {
    stop = true;
    await load;
    await producer.close();
  }
  expect(failed).toEqual([]);

  const consumer = new Consumer({ bootstrap: bootstrap(), autoOffsetReset: 'earliest' });
  const records: ConsumerRecord[] = [];
  try {
    consumer.assign([0, 1, 2].map((partition) => ({ topic: 'exactly-once', partition })));
    await waitFor(
      async () => {
        records.push(...(await consumer.poll(500)));
        return records.length >= acknowledged.length;
      },
      { timeoutMs: 60_000, message: `${acknowledged.length} records` },
    );
    // Anything beyond the acknowledged records (a duplicate) would be there by now, too.
    records.push(...(await consumer.poll(1_000)));
  } finally {
    await consumer.close();
    await admin.close();
  }
  const values = records.map((r) => r.value!.toString());
  expect(values.length).toBe(acknowledged.length);
  expect(new Set(values).size).toBe(values.length);
  const stored = new Map(records.map((r) => [`${r.partition}:${r.offset}`, r.value!.toString()]));
  for (const { i, m } of acknowledged) expect(stored.get(`${m.partition}:${m.offset}`)).toBe(`v${i}`);
  // Per key (one partition each), in send order.
  const lastByKey = new Map<string, number>();
  const inOffsetOrder = [...records].sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset));
  for (const r of inOffsetOrder) {
    const i = Number(r.value!.toString().slice(1));
    expect(i).toBeGreaterThan(lastByKey.get(r.key!.toString()) ?? -1);
    lastByKey.set(r.key!.toString(), i);
  }
});
