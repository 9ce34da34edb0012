/**
 * Preferred-leader election in a REAL cluster (coordination, a controller, three brokers as
 * processes; libs/testing startCluster). A killed leader that comes back does not lead again
 * by itself until the automatic rebalance checks (hourly here); `tributary leaders elect` (the built CLI,
 * spawned as a user runs it) brings leadership back to it, and a second run finds nothing to
 * do. With `--leader-imbalance-check-interval-seconds 1` the controller does it on its own.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admin } from '@tributary/client';
import type { PartitionInfo } from '@tributary/client';
import type { TestCluster } from '@tributary/testing';
import { WORKSPACE_ROOT, cleanupAll, startCluster, tempDir, waitFor } from '@tributary/testing';

jest.setTimeout(180_000);

const CLI_MAIN = join(WORKSPACE_ROOT, 'apps', 'cli', 'dist', 'main.js');

function cli(bootstrap: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.TRIBUTARY_BOOTSTRAP;
  const child = spawn(process.execPath, [CLI_MAIN, '--bootstrap', bootstrap, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A sample of the active controller's metrics (first series of `name` with the label filter). */
async function metric(cluster: TestCluster, name: string, labels = ''): Promise<number> {
  const text = await cluster.controllers.get(await cluster.activeController())!.metrics();
  const m = new RegExp(`^${name}(?:\\{[^}]*${labels}[^}]*\\})? (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name}${labels} in the controller's metrics`);
  return Number(m[1]);
}

async function partition(admin: Admin, topic: string, index: number): Promise<PartitionInfo> {
  const [t] = await admin.describeTopics([topic]);
  return t!.partitions.find((p) => p.partition === index)!;
}

/**
 * Kills (-9) the leader of partition 0, waits for another leader, restarts it and waits until
 * it is back in the ISR. Returns the restarted broker: partition 0's preferred replica.
 */
async function bounceLeader(cluster: TestCluster, admin: Admin, topic: string): Promise<number> {
  const p0 = await partition(admin, topic, 0);
  const preferred = p0.replicas[0]!;
  expect(p0.leader).toBe(preferred);
  await cluster.stopBroker(preferred, 'SIGKILL');
  await waitFor(async () => {
    const p = await partition(admin, topic, 0);
    return p.leader !== preferred && p.leader >= 0;
  }, { timeoutMs: 30_000, message: `a new leader of ${topic}-0` });
  await cluster.startBroker(preferred);
  await waitFor(async () => (await partition(admin, topic, 0)).isr.includes(preferred), { timeoutMs: 30_000, message: `broker ${preferred} back in the ISR of ${topic}-0` });
  return preferred;
}

describe('tributary leaders elect', () => {
  const TOPIC = 'preferred';
  let cluster: TestCluster;
  let admin: Admin;

  beforeAll(async () => {
    // The automatic rebalance checks once an hour: only the command can move leadership back.
    cluster = await startCluster({ name: 'elect', brokers: 3, controllerFlags: { 'leader-imbalance-check-interval-seconds': 3600 } });
    admin = new Admin({ bootstrap: cluster.bootstrap.split(',') });
    await admin.createTopics([{ name: TOPIC, numPartitions: 3, replicationFactor: 3 }]);
  });

  afterAll(async () => {
    await admin?.close();
    await cluster?.stop();
    await cleanupAll();
  });

  it('moves leadership back to the restarted preferred replica, then reports it already elected', async () => {
    const preferred = await bounceLeader(cluster, admin, TOPIC);
    // Nothing moves it back by itself (no rebalance check within this test).
    const away = await partition(admin, TOPIC, 0);
    expect(away.leader).not.toBe(preferred);
    await waitFor(async () => (await metric(cluster, 'tributary_controller_preferred_replica_imbalance')) >= 1, { timeoutMs: 10_000, message: 'the imbalance gauge' });
    const preferredBefore = await metric(cluster, 'tributary_controller_leader_elections_total', 'type="preferred"');

    const first = await cli(cluster.bootstrap, ['leaders', 'elect', '--election-type', 'preferred', '--all-topic-partitions']);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(new RegExp(`^Successfully completed leader election \\(PREFERRED\\) for partitions .*\\b${TOPIC}-0\\b`, 'm'));
    const after = await partition(admin, TOPIC, 0);
    expect(after.leader).toBe(preferred);
    expect(after.leaderEpoch).toBeGreaterThan(away.leaderEpoch);
    const [t] = await admin.describeTopics([TOPIC]);
    for (const p of t!.partitions) expect(p.leader).toBe(p.replicas[0]);
    expect(await metric(cluster, 'tributary_controller_leader_elections_total', 'type="preferred"')).toBeGreaterThan(preferredBefore);
    await waitFor(async () => (await metric(cluster, 'tributary_controller_preferred_replica_imbalance')) === 0, { timeoutMs: 10_000, message: 'no imbalance left' });

    const second = await cli(cluster.bootstrap, ['leaders', 'elect', '--election-type', 'PREFERRED', '--topic', TOPIC]);
    expect(second).toMatchObject({ code: 0, stderr: '' });
    expect(second.stdout).toBe(`Valid replica already elected for partitions ${TOPIC}-0, ${TOPIC}-1, ${TOPIC}-2\n`);
  });

  it('takes the partitions from a JSON file in Kafka\'s format', async () => {
    const file = join(tempDir('election-json'), 'election.json');
    writeFileSync(file, JSON.stringify({ partitions: [{ topic: TOPIC, partition: 2 }, { topic: TOPIC, partition: 1 }] }));
    const r = await cli(cluster.bootstrap, ['leaders', 'elect', '--election-type', 'preferred', '--path-to-json-file', file]);
    expect(r).toMatchObject({ code: 0, stdout: `Valid replica already elected for partitions ${TOPIC}-2, ${TOPIC}-1\n`, stderr: '' });
  });

  it('exits 1 naming the partitions that could not be elected', async () => {
    const r = await cli(cluster.bootstrap, ['leaders', 'elect', '--election-type', 'preferred', '--topic', TOPIC, '--partition', '7']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^Error completing leader election \\(PREFERRED\\) for partition: ${TOPIC}-7: UNKNOWN_TOPIC_OR_PARTITION: `, 'm'));
    expect(r.stderr).toBe('tributary: 1 replica(s) could not be elected\n');
    const unclean = await cli(cluster.bootstrap, ['leaders', 'elect', '--election-type', 'unclean', '--topic', TOPIC, '--partition', '0']);
    expect(unclean).toMatchObject({ code: 0, stdout: `Valid replica already elected for partitions ${TOPIC}-0\n` });
  });
});

describe('automatic leader rebalance', () => {
  const TOPIC = 'rebalanced';
  let cluster: TestCluster;
  let admin: Admin;

  beforeAll(async () => {
    cluster = await startCluster({ name: 'rebalance', brokers: 3, controllerFlags: { 'leader-imbalance-check-interval-seconds': 1 } });
    admin = new Admin({ bootstrap: cluster.bootstrap.split(',') });
    await admin.createTopics([{ name: TOPIC, numPartitions: 3, replicationFactor: 3 }]);
  });

  afterAll(async () => {
    await admin?.close();
    await cluster?.stop();
    await cleanupAll();
  });

  it('gives leadership back to the preferred replica by itself once it is in sync again', async () => {
    const preferred = await bounceLeader(cluster, admin, TOPIC);
    await waitFor(async () => (await partition(admin, TOPIC, 0)).leader === preferred, { timeoutMs: 60_000, message: `broker ${preferred} leading ${TOPIC}-0 again` });
    expect(await metric(cluster, 'tributary_controller_leader_elections_total', 'type="preferred"')).toBeGreaterThanOrEqual(1);
    await waitFor(async () => (await metric(cluster, 'tributary_controller_preferred_replica_imbalance')) === 0, { timeoutMs: 10_000, message: 'no imbalance left' });
  });
});
