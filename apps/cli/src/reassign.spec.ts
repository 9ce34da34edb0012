/**
 * `tributary partitions reassign` against a REAL cluster (coordination, a controller, 3
 * brokers as processes; libs/testing startCluster), each command its own process
 * (`node apps/cli/dist/main.js`): --generate, --execute --wait, --verify, --cancel, --list
 * as an operator runs them, exit codes and output.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestCluster } from '@tributary/testing';
import { WORKSPACE_ROOT, cleanupAll, startCluster, tempDir } from '@tributary/testing';

jest.setTimeout(120_000);

const CLI_MAIN = join(WORKSPACE_ROOT, 'apps', 'cli', 'dist', 'main.js');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let cluster: TestCluster;
let dir: string;

function cli(args: string[], input = ''): Promise<CliResult> {
  const env = { ...process.env };
  delete env.TRIBUTARY_BOOTSTRAP;
  const child = spawn(process.execPath, [CLI_MAIN, '--bootstrap', cluster.bootstrap, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

type Plan = { version: number; partitions: { topic: string; partition: number; replicas: number[] }[] };

beforeAll(async () => {
  cluster = await startCluster({ name: 'cli-reassign', brokers: 3, controllers: 1, logLevel: 'warn' });
  dir = tempDir('cli-reassign-files');
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await cleanupAll();
});

test('--generate, --execute --wait, --verify round trip moves every replica onto the listed brokers', async () => {
  const topic = 'cli-moved';
  expect((await cli(['topics', 'create', topic, '--partitions', '3', '--replication-factor', '2'])).code).toBe(0);
  const lines = Array.from({ length: 3000 }, (_, i) => `line-${i}-${'x'.repeat(200)}`).join('\n');
  expect((await cli(['produce', topic, '-q'], `${lines}\n`)).code).toBe(0);

  const generated = await cli(['partitions', 'reassign', '--generate', '--topics-to-move-json-file', file('topics.json', { version: 1, topics: [{ topic }] }), '--broker-list', '0,1']);
  expect(generated.stderr).toBe('');
  expect(generated.code).toBe(0);
  const [, currentJson, , , proposedJson] = generated.stdout.split('\n');
  expect(generated.stdout).toMatch(/^Current partition replica assignment\n.*\n\nProposed partition reassignment configuration\n.*\n$/);
  const current = JSON.parse(currentJson!) as Plan;
  const proposed = JSON.parse(proposedJson!) as Plan;
  expect(current.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
  expect(proposed.partitions).toHaveLength(3);
  for (const p of proposed.partitions) expect([...p.replicas].sort()).toEqual([0, 1]);
  // Before: broker 2 holds some of the partitions (RF 2 over 3 brokers).
  expect(current.partitions.some((p) => p.replicas.includes(2))).toBe(true);

  const plan = file('plan.json', proposedJson!);
  const executed = await cli(['partitions', 'reassign', '--execute', '--reassignment-json-file', plan, '--throttle', '2000000', '--wait', '--reporting-interval-ms', '100', '--timeout-ms', '60000']);
  expect(executed.code).toBe(0);
  const out = executed.stdout.split('\n');
  expect(out[0]).toBe('Current partition replica assignment');
  // The rollback file: the assignment before, as --generate printed it.
  expect(JSON.parse(out[2]!)).toEqual(current);
  expect(executed.stdout).toContain('Save this to use as the --reassignment-json-file option during rollback');
  expect(executed.stdout).toContain(`Successfully started partition reassignments for ${topic}-0,${topic}-1,${topic}-2`);
  expect(executed.stdout).toContain('throttled to 2000000 B/s');
  expect(executed.stdout).toMatch(/Reassignment of 3 partition\(s\) completed in [\d.]+ s\.\n$/);
  // Progress lines on stderr (not a terminal): partitions done and, while moving, how far behind.
  expect(executed.stderr).toMatch(/^\d\/3 partitions reassigned/m);
  expect(executed.stderr).toMatch(/3\/3 partitions reassigned\.\n$/);

  const verified = await cli(['partitions', 'reassign', '--verify', '--reassignment-json-file', plan]);
  expect(verified.code).toBe(0);
  for (let p = 0; p < 3; p++) expect(verified.stdout).toContain(`Reassignment of partition ${topic}-${p} is completed.`);
  expect(verified.stdout).toContain('no replication throttle is left');

  const described = await cli(['topics', 'describe', topic, '--json']);
  const [info] = JSON.parse(described.stdout) as { partitions: { partition: number; replicas: number[] }[] }[];
  expect(info!.partitions.map((p) => ({ topic, partition: p.partition, replicas: p.replicas }))).toEqual(proposed.partitions.map(({ topic: t, partition, replicas }) => ({ topic: t, partition, replicas })));
  for (let p = 0; p < 3; p++) expect(existsSync(join(cluster.logDir(2), `${topic}-${p}`))).toBe(false);

  // Verifying the rollback file now: not as asked, not moving: exit 1 saying so.
  const rollback = await cli(['partitions', 'reassign', '--verify', '--reassignment-json-file', file('rollback.json', currentJson!)]);
  expect(rollback.code).toBe(1);
  expect(rollback.stdout).toMatch(/There is no active reassignment of partition .*, but replica set is \[.*\] rather than \[.*\]\./);
  // Nothing to cancel, nothing listed.
  const cancel = await cli(['partitions', 'reassign', '--cancel', '--reassignment-json-file', plan]);
  expect(cancel.code).toBe(0);
  expect(cancel.stdout).toBe('None of the specified partition reassignments are active.\n');
  expect((await cli(['partitions', 'reassign', '--list'])).stdout).toBe('No partition reassignments found.\n');
});

test('usage and refused plans: exit 2 for a bad command line, 1 with the reason for a refused partition', async () => {
  const [none, two, badFile, unknownBroker] = await Promise.all([
    cli(['partitions', 'reassign']),
    cli(['partitions', 'reassign', '--verify', '--list']),
    cli(['partitions', 'reassign', '--execute', '--reassignment-json-file', file('bad.json', '{"partitions":[{"topic":"t","partition":0,"replicas":[1,1]}]}')]),
    cli(['partitions', 'reassign', '--generate', '--topics-to-move-json-file', file('t.json', { topics: [{ topic: 'x' }] }), '--broker-list', '0,7']),
  ]);
  expect(none.code).toBe(2);
  expect(none.stderr).toMatch(/exactly one of --generate, --execute, --verify, --cancel, --list/);
  expect(two.code).toBe(2);
  expect(badFile.code).toBe(2);
  expect(badFile.stderr).toMatch(/t-0 lists a broker twice/);
  expect(unknownBroker.code).toBe(1);
  expect(unknownBroker.stderr).toMatch(/broker\(s\) 7 in --broker-list are not registered/);

  const topic = 'cli-refused';
  expect((await cli(['topics', 'create', topic, '--partitions', '1', '--replication-factor', '1'])).code).toBe(0);
  const refused = await cli(['partitions', 'reassign', '--execute', '--reassignment-json-file', file('refused.json', { version: 1, partitions: [{ topic, partition: 0, replicas: [9] }] })]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(new RegExp(`reassignment of ${topic}-0 not started: .*broker\\(s\\) 9 are not registered`));
  const missing = await cli(['partitions', 'reassign', '--execute', '--reassignment-json-file', file('missing.json', { version: 1, partitions: [{ topic: 'no-such', partition: 0, replicas: [0] }] })]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/topic 'no-such' does not exist/);
});
