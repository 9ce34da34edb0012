/**
 * `tributary consume --group` and `tributary groups ...` against a REAL cluster (coordination,
 * a controller, 3 brokers and a group coordinator as processes), each command run as its own
 * process, as a user runs it.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admin, Producer } from '@tributary/client';
import type { TestCluster } from '@tributary/testing';
import { WORKSPACE_ROOT, cleanupAll, startCluster, tempDir, waitFor } from '@tributary/testing';

jest.setTimeout(180_000);

const CLI_MAIN = join(WORKSPACE_ROOT, 'apps', 'cli', 'dist', 'main.js');
const GROUP_PROPS = ['--consumer-property', 'session.timeout.ms=6000', '--consumer-property', 'heartbeat.interval.ms=500', '--consumer-property', 'auto.commit.interval.ms=300'];

let cluster: TestCluster;
let admin: Admin;

interface Running {
  lines(): string[];
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
  result: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function start(args: string[]): Running {
  const child = spawn(process.execPath, [CLI_MAIN, '--bootstrap', cluster.bootstrap, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return {
    lines: () => stdout.split('\n').filter((l) => l.length > 0),
    stderr: () => stderr,
    kill: (signal) => child.kill(signal),
    result: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))),
  };
}

const cli = (...args: string[]) => start(args).result;

async function produce(topic: string, n: number, prefix: string): Promise<void> {
  const producer = new Producer({ bootstrap: cluster.bootstrap.split(','), lingerMs: 2 });
  try {
    await Promise.all(Array.from({ length: n }, (_, i) => producer.send({ topic, key: `${prefix}${i}`, value: `${prefix}${i}` })));
  } finally {
    await producer.close();
  }
}

async function committed(group: string): Promise<Map<number, bigint>> {
  return new Map((await admin.listGroupOffsets(group)).map((o) => [o.partition, o.offset]));
}

async function stable(group: string, members: number): Promise<void> {
  await waitFor(
    async () => {
      const [d] = await admin.describeGroups([group]);
      return d?.state === 'Stable' && d.members.length === members && d.members.every((m) => m.assignment.length > 0);
    },
    { timeoutMs: 60_000, message: `group ${group} stable with ${members} members` },
  );
}

beforeAll(async () => {
  cluster = await startCluster({
    name: 'cli-groups',
    brokers: 3,
    controllers: 1,
    groupCoordinators: 1,
    logLevel: 'warn',
    groupCoordinatorFlags: { 'group-initial-rebalance-delay-ms': 0, 'group-min-session-timeout-ms': 1000 },
  });
  admin = new Admin({ bootstrap: cluster.bootstrap.split(',') });
  await admin.createTopics([{ name: 'orders', numPartitions: 4, replicationFactor: 2 }]);
});

afterAll(async () => {
  await admin?.close();
  await cluster?.stop();
  await cleanupAll();
});

it('consume --group: two members share the partitions, print every record once, and commit what they printed on exit', async () => {
  const members = [start(['consume', 'orders', '--group', 'billing', '--from-beginning', '--format', '%p %s\\n', ...GROUP_PROPS]), start(['consume', 'orders', '--group', 'billing', '--from-beginning', '--format', '%p %s\\n', ...GROUP_PROPS])];
  await stable('billing', 2);
  await produce('orders', 400, 'a');
  await waitFor(async () => new Set(members.flatMap((m) => m.lines())).size === 400 && members.every((m) => m.lines().length > 0), {
    timeoutMs: 60_000,
    message: 'both members printing',
  });
  // Disjoint partitions: no partition printed by both.
  const partitionsOf = (m: Running) => new Set(m.lines().map((l) => l.split(' ')[0]));
  const [p0, p1] = members.map(partitionsOf);
  for (const p of p0!) expect(p1!.has(p)).toBe(false);
  for (const m of members) m.kill('SIGTERM');
  const results = await Promise.all(members.map((m) => m.result));
  for (const r of results) {
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Processed a total of \d+ messages/);
  }
  expect(results.flatMap((r) => r.stdout.split('\n').filter((l) => l.length > 0)).length).toBe(400);
  const offsets = await committed('billing');
  expect([...offsets.values()].reduce((a, b) => a + b, 0n)).toBe(400n);
});

it('groups list and describe: state, offsets, log end and lag per partition (table and JSON)', async () => {
  await produce('orders', 12, 'lag');
  const list = await cli('groups', 'list');
  expect(list.code).toBe(0);
  expect(list.stdout.split('\n')).toContain('billing');
  const withState = await cli('groups', 'list', '--state');
  expect(withState.stdout).toMatch(/^GROUP\s+STATE\n[\s\S]*billing\s+Empty\n/);

  const described = await cli('groups', 'describe', 'billing');
  expect(described.code).toBe(0);
  expect(described.stdout).toContain("Consumer group 'billing' has no active members.");
  expect(described.stdout).toMatch(/GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+CONSUMER-ID\s+HOST\s+CLIENT-ID/);
  const rows = described.stdout.split('\n').filter((l) => l.startsWith('billing '));
  expect(rows).toHaveLength(4);
  let lag = 0;
  for (const row of rows) {
    const [, topic, , current, end, rowLag, consumer] = row.split(/\s+/);
    expect(topic).toBe('orders');
    expect(Number(end) - Number(current)).toBe(Number(rowLag));
    expect(consumer).toBe('-');
    lag += Number(rowLag);
  }
  expect(lag).toBe(12);

  const json = JSON.parse((await cli('groups', 'describe', 'billing', '--json')).stdout) as Array<{ group: string; partitions: Array<{ lag: number }> }>;
  expect(json[0]!.partitions.reduce((n, p) => n + p.lag, 0)).toBe(12);

  const missing = await cli('groups', 'describe', 'nobody-here');
  expect(missing.stderr).toContain("Consumer group 'nobody-here' does not exist.");
});

it('groups reset-offsets: a dry run by default, --execute applies, every spec; refused while members are active', async () => {
  const before = await committed('billing');
  const dry = await cli('groups', 'reset-offsets', 'billing', '--topic', 'orders', '--to-earliest');
  expect(dry.code).toBe(0);
  expect(dry.stdout).toMatch(/^GROUP\s+TOPIC\s+PARTITION\s+NEW-OFFSET\n/);
  expect(dry.stdout.split('\n').filter((l) => l.startsWith('billing')).map((l) => l.split(/\s+/)[3])).toEqual(['0', '0', '0', '0']);
  expect(dry.stderr).toContain('Dry run: nothing changed');
  expect(await committed('billing')).toEqual(before);

  expect((await cli('groups', 'reset-offsets', 'billing', '--topic', 'orders', '--to-earliest', '--execute')).code).toBe(0);
  expect([...(await committed('billing')).values()]).toEqual([0n, 0n, 0n, 0n]);
  expect((await cli('groups', 'reset-offsets', 'billing', '--topic', 'orders:1,3', '--shift-by', '5', '--execute')).code).toBe(0);
  const shifted = await committed('billing');
  expect([shifted.get(0), shifted.get(1), shifted.get(2), shifted.get(3)]).toEqual([0n, 5n, 0n, 5n]);
  expect((await cli('groups', 'reset-offsets', 'billing', '--all-topics', '--by-duration', 'PT0S', '--execute')).code).toBe(0);
  const ends = new Map((await admin.listOffsets('orders', 'latest')).map((o) => [o.partition, o.offset]));
  expect(await committed('billing')).toEqual(ends);

  // --export and --from-file round trip: back to the offsets saved before.
  await cli('groups', 'reset-offsets', 'billing', '--topic', 'orders', '--to-offset', '3', '--execute');
  const exported = await cli('groups', 'reset-offsets', 'billing', '--all-topics', '--to-current', '--export');
  expect(exported.stdout.trim().split('\n').sort()).toEqual(['orders,0,3', 'orders,1,3', 'orders,2,3', 'orders,3,3']);
  const file = join(tempDir('cli-groups-reset'), 'backup.csv');
  writeFileSync(file, exported.stdout);
  await cli('groups', 'reset-offsets', 'billing', '--all-topics', '--to-latest', '--execute');
  expect((await cli('groups', 'reset-offsets', 'billing', '--from-file', file, '--execute')).code).toBe(0);
  expect([...(await committed('billing')).values()]).toEqual([3n, 3n, 3n, 3n]);

  // Usage errors exit 2 before any work.
  const noScope = await cli('groups', 'reset-offsets', 'billing', '--to-earliest');
  expect(noScope.code).toBe(2);
  expect(noScope.stderr).toContain('--all-topics, or --topic');
  const twoSpecs = await cli('groups', 'reset-offsets', 'billing', '--all-topics', '--to-earliest', '--to-latest');
  expect(twoSpecs.code).toBe(2);

  // An active member: refused, nothing changed.
  const member = start(['consume', 'orders', '--group', 'billing', ...GROUP_PROPS]);
  try {
    await stable('billing', 1);
    const refused = await cli('groups', 'reset-offsets', 'billing', '--all-topics', '--to-earliest', '--execute');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("can only be reset if the group 'billing' is inactive, but the current state is Stable");
    const members = await cli('groups', 'describe', 'billing', '--members', '--verbose');
    expect(members.stdout).toMatch(/billing\s+\S+\s+-\s+\S+\s+tributary-cli\s+4\s+orders\(0,1,2,3\)/);
    const state = await cli('groups', 'describe', 'billing', '--state');
    expect(state.stdout).toMatch(/billing\s+127\.0\.0\.1:\d+ \(0\)\s+range\s+Stable\s+1/);
    const deleting = await cli('groups', 'delete', 'billing');
    expect(deleting.code).toBe(1);
    expect(deleting.stderr).toContain("'billing': it has active members");
  } finally {
    member.kill('SIGTERM');
    await member.result;
  }
});

it('groups delete removes an empty group and its offsets', async () => {
  const r = await cli('groups', 'delete', 'billing');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("Deletion of requested consumer groups ('billing') was successful.\n");
  expect((await cli('groups', 'list')).stdout.split('\n')).not.toContain('billing');
  const again = await cli('groups', 'delete', 'billing');
  expect(again.code).toBe(1);
  expect(again.stderr).toContain("'billing': it does not exist");
});

it('consume --group refuses manual positions with exit 2', async () => {
  const r = await cli('consume', 'orders', '--group', 'g', '--partition', '1');
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('cannot be used with --group');
  const prop = await cli('consume', 'orders', '--group', 'g', '--consumer-property', 'fetch.min.bytes=5');
  expect(prop.code).toBe(2);
  expect(prop.stderr).toContain('--consumer-property fetch.min.bytes is not supported');
});
