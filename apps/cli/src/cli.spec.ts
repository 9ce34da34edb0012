/**
 * The `tributary` command against a REAL cluster (coordination, a controller, 3 brokers as
 * processes; libs/testing startCluster), each command run as its own process
 * (`node apps/cli/dist/main.js`), as a user or a script runs it: exit codes, stdout, stderr.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { partitionForKey } from '@tributary/client';
import type { TestCluster } from '@tributary/testing';
import { WORKSPACE_ROOT, cleanupAll, freePort, startCluster, tempDir, waitFor } from '@tributary/testing';

// Every test spawns CLI processes (and the suite a cluster): generous on a loaded 2-core machine.
jest.setTimeout(120_000);

const CLI_MAIN = join(WORKSPACE_ROOT, 'apps', 'cli', 'dist', 'main.js');

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface RunningCli {
  readonly stdout: string;
  readonly stderr: string;
  kill(signal: NodeJS.Signals): void;
  result: Promise<CliResult>;
}

let cluster: TestCluster;

function start(args: string[], options: { input?: string; env?: Record<string, string>; bootstrap?: boolean } = {}): RunningCli {
  const fullArgs = options.bootstrap === false ? args : ['--bootstrap', cluster.bootstrap, ...args];
  const child = spawn(process.execPath, [CLI_MAIN, ...fullArgs], {
    env: { ...withoutBootstrapEnv(), ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  child.stdin.end(options.input ?? '');
  const result = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    kill: (signal) => child.kill(signal),
    result,
  };
}

function withoutBootstrapEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.TRIBUTARY_BOOTSTRAP;
  return env;
}

function cli(args: string[], options: { input?: string; env?: Record<string, string>; bootstrap?: boolean } = {}): Promise<CliResult> {
  return start(args, options).result;
}

beforeAll(async () => {
  cluster = await startCluster({ name: 'cli-it', brokers: 3, controllers: 1, logLevel: 'warn' });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await cleanupAll();
});

describe('usage', () => {
  it('exits 2 with one line naming --help on usage errors, 0 on --help and --version', async () => {
    const [none, unknown, badValue, missing, missingOption, help, version, subHelp] = await Promise.all([
      cli([], { bootstrap: false }),
      cli(['frobnicate'], { bootstrap: false }),
      cli(['topics', 'create', 'x', '--partitions', 'many'], { bootstrap: false }),
      cli(['topics', 'create'], { bootstrap: false }),
      cli(['perf', 'produce', '--topic', 't'], { bootstrap: false }),
      cli(['--help'], { bootstrap: false }),
      cli(['--version'], { bootstrap: false }),
      cli(['consume', '--help'], { bootstrap: false }),
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: tributary');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("tributary: unknown command 'frobnicate' (see `tributary --help`)\n");
    expect(badValue.code).toBe(2);
    expect(badValue.stderr).toMatch(/^tributary: option '--partitions <n>' argument 'many' is invalid\. expected an integer >= 1 \(see `tributary topics create --help`\)\n$/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing required argument 'name'/);
    expect(missingOption.code).toBe(2);
    expect(missingOption.stderr).toMatch(/required option '--num-records <n>' not specified/);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Commands:[\s\S]*topics[\s\S]*produce[\s\S]*consume[\s\S]*cluster[\s\S]*perf/);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(subHelp.code).toBe(0);
    expect(subHelp.stdout).toContain('--from-beginning');
  });

  it('refuses an unknown --format token and conflicting start options with exit 2', async () => {
    const [format, starts] = await Promise.all([
      cli(['consume', 'any', '--format', '%q']),
      cli(['consume', 'any', '--from-beginning', '--offset', '3']),
    ]);
    expect(format.code).toBe(2);
    expect(format.stderr).toMatch(/^tributary: unknown --format token '%q'/);
    expect(starts.code).toBe(2);
    expect(starts.stderr).toMatch(/--from-beginning and --offset both say where to start/);
  });
});

describe('cluster describe', () => {
  it('exits 0 with the controller and every broker (bootstrap from TRIBUTARY_BOOTSTRAP)', async () => {
    const r = await cli(['cluster', 'describe'], { bootstrap: false, env: { TRIBUTARY_BOOTSTRAP: cluster.bootstrap } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Cluster id: [A-Za-z0-9_-]{22}\nController: \d+ at 127\.0\.0\.1:\d+ \(epoch \d+\)\nBrokers: 3\n/m);
    for (const b of cluster.brokers.values()) expect(r.stdout).toContain(`Address: ${b.address}`);
    const json = await cli(['cluster', 'describe', '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { clusterId: string; brokers: Array<{ id: number }> };
    expect(parsed.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(parsed.brokers.map((b) => b.id).sort()).toEqual([...cluster.brokers.keys()].sort());
  });

  it('exits 1 with a clear message when nothing listens', async () => {
    const port = await freePort();
    const r = await cli(['cluster', 'describe', '--bootstrap', `127.0.0.1:${port}`], { bootstrap: false });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `tributary: no broker reachable at 127.0.0.1:${port}: start the local cluster with \`npm start\`, or point --bootstrap (or TRIBUTARY_BOOTSTRAP) at a running broker\n`,
    );
  });
});

describe('topics', () => {
  it('create, list, describe, alter-config, add-partitions, delete', async () => {
    const created = await cli(['topics', 'create', 'cli-topics', '--partitions', '3', '--replication-factor', '3', '--config', 'retention.ms=3600000']);
    expect(created).toMatchObject({ code: 0, stdout: 'Created topic cli-topics (3 partitions, replication factor 3).\n' });

    const again = await cli(['topics', 'create', 'cli-topics', '--partitions', '3']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^tributary: .*already exists/);
    expect((await cli(['topics', 'create', 'cli-topics', '--if-not-exists'])).code).toBe(0);

    const validated = await cli(['topics', 'create', 'cli-never', '--partitions', '2', '--validate-only']);
    expect(validated.code).toBe(0);
    const badRf = await cli(['topics', 'create', 'cli-bad', '--replication-factor', '4']);
    expect(badRf.code).toBe(1);
    expect(badRf.stderr).toMatch(/replication factor 4/);

    const list = await cli(['topics', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')).toContain('cli-topics');
    expect(list.stdout.split('\n')).not.toContain('cli-never');
    expect(JSON.parse((await cli(['topics', 'list', '--json'])).stdout)).toContain('cli-topics');

    const described = await cli(['topics', 'describe', 'cli-topics']);
    expect(described.code).toBe(0);
    const lines = described.stdout.replace(/\n$/, '').split('\n');
    expect(lines[0]).toBe('Topic: cli-topics\tPartitionCount: 3\tReplicationFactor: 3\tConfigs: retention.ms=3600000');
    expect(lines).toHaveLength(4);
    for (let p = 0; p < 3; p++) {
      expect(lines[p + 1]).toMatch(new RegExp(`^\\tTopic: cli-topics\\tPartition: ${p}\\tLeader: \\d\\tReplicas: \\d,\\d,\\d\\tIsr: [\\d,]+\\tOffline: $`));
    }

    const altered = await cli(['topics', 'alter-config', 'cli-topics', '--set', 'cleanup.policy=compact', '--set', 'retention.bytes=1048576', '--delete', 'retention.ms']);
    expect(altered).toMatchObject({ code: 0, stdout: 'Updated config of topic cli-topics.\n' });
    const afterAlter = JSON.parse((await cli(['topics', 'describe', 'cli-topics', '--json'])).stdout) as Array<{ configs: Record<string, string> }>;
    expect(afterAlter[0]!.configs).toEqual({ 'cleanup.policy': 'compact', 'retention.bytes': '1048576' });
    const badConfig = await cli(['topics', 'alter-config', 'cli-topics', '--set', 'no.such.config=1']);
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toMatch(/no\.such\.config/);
    expect((await cli(['topics', 'alter-config', 'cli-topics'])).code).toBe(2);

    expect(await cli(['topics', 'add-partitions', 'cli-topics', '--partitions', '5'])).toMatchObject({ code: 0, stdout: 'Topic cli-topics now has 5 partitions.\n' });
    const grown = JSON.parse((await cli(['topics', 'describe', 'cli-topics', '--json'])).stdout) as Array<{ partitionCount: number; replicationFactor: number }>;
    expect(grown[0]).toMatchObject({ partitionCount: 5, replicationFactor: 3 });
    expect((await cli(['topics', 'add-partitions', 'cli-topics', '--partitions', '2'])).code).toBe(1);

    const missing = await cli(['topics', 'describe', 'cli-missing']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("tributary: topic 'cli-missing' does not exist (create it with `tributary topics create cli-missing`, or see `tributary topics list`)\n");

    expect(await cli(['topics', 'delete', 'cli-topics'])).toMatchObject({ code: 0, stdout: 'Deleted topic cli-topics.\n' });
    expect((await cli(['topics', 'list'])).stdout.split('\n')).not.toContain('cli-topics');
    const deletedAgain = await cli(['topics', 'delete', 'cli-topics']);
    expect(deletedAgain.code).toBe(1);
    expect(deletedAgain.stderr).toMatch(/cli-topics.*does not exist/);
    expect(await cli(['topics', 'delete', 'cli-topics', '--if-exists'])).toMatchObject({ code: 0, stdout: '' });
  }, 40_000);
});

describe('produce and consume', () => {
  const topic = 'cli-keyed';
  const partitions = 6;
  const keys = Array.from({ length: 60 }, (_, i) => `key-${i % 20}`);
  const lines = keys.map((k, i) => `${k}\t${i}`);

  beforeAll(async () => {
    expect((await cli(['topics', 'create', topic, '--partitions', String(partitions), '--replication-factor', '2'])).code).toBe(0);
  });

  it('sends keyed lines to the Java client partitions, and consumes them in order per partition', async () => {
    const produced = await cli(['produce', topic, '--key-separator', '\\t', '--header', 'source=cli', '--header', 'run=1', '--acks', 'all'], { input: `${lines.join('\n')}\n` });
    expect(produced.stderr).toBe(`60 records sent to ${topic}\n`);
    expect(produced.code).toBe(0);

    const consumed = await cli(['consume', topic, '--from-beginning', '--max-messages', '60', '--format', '%p:%o:%k=%s\\n']);
    expect(consumed.code).toBe(0);
    expect(consumed.stderr).toBe('Processed a total of 60 messages\n');
    const perPartition = new Map<number, Array<{ offset: number; key: string; value: number }>>();
    for (const line of consumed.stdout.trimEnd().split('\n')) {
      const m = /^(\d+):(\d+):([^=]*)=(\d+)$/.exec(line);
      expect(m).not.toBeNull();
      const [, p, o, k, v] = m!;
      const list = perPartition.get(Number(p)) ?? [];
      list.push({ offset: Number(o), key: k!, value: Number(v) });
      perPartition.set(Number(p), list);
    }
    let total = 0;
    for (const [p, records] of perPartition) {
      total += records.length;
      // Offsets 0..n-1 in order, values in the order they were sent, keys where Kafka puts them.
      expect(records.map((r) => r.offset)).toEqual(records.map((_, i) => i));
      expect(records.map((r) => r.value)).toEqual([...records.map((r) => r.value)].sort((a, b) => a - b));
      for (const r of records) {
        expect(r.key).toBe(keys[r.value]);
        expect(p).toBe(partitionForKey(Buffer.from(r.key), partitions));
      }
    }
    expect(total).toBe(60);

    const headers = await cli(['consume', topic, '--from-beginning', '--max-messages', '1', '--partition', '0,1,2,3,4,5', '--format', '%h|%K|%S|%t\\n', '-q']);
    expect(headers).toMatchObject({ code: 0, stderr: '' });
    expect(headers.stdout).toMatch(/^source=cli,run=1\|\d+\|\d+\|cli-keyed\n$/);
  }, 30_000);

  it('reports lines without the key separator, sends the others, and exits 1', async () => {
    const file = join(tempDir('cli-produce'), 'lines.txt');
    writeFileSync(file, 'a:1\nno separator here\nb:2\n');
    const r = await cli(['produce', topic, '--file', file, '--key-separator', ':', '--partition', '5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("tributary: line 2: no key separator ':' in the line: record not sent\n");
    expect(r.stderr).toContain(`2 records sent to ${topic}, 1 failed\n`);
    const missingFile = await cli(['produce', topic, '--file', join(tempDir('cli-produce'), 'absent.txt')]);
    expect(missingFile.code).toBe(1);
    expect(missingFile.stderr).toMatch(/^tributary: cannot read .*absent\.txt: ENOENT/);
    const unknownTopic = await cli(['produce', 'cli-no-such-topic'], { input: 'x\n' });
    expect(unknownTopic.code).toBe(1);
    expect(unknownTopic.stderr).toMatch(/topic 'cli-no-such-topic' does not exist/);
  });

  it('starts at --timestamp (epoch ms or ISO-8601) and at --offset', async () => {
    const t = 'cli-time';
    expect((await cli(['topics', 'create', t, '--partitions', '2'])).code).toBe(0);
    expect((await cli(['produce', t, '-q'], { input: 'old-1\nold-2\nold-3\n' })).code).toBe(0);
    const since = Date.now() + 1;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await cli(['produce', t, '-q'], { input: 'new-1\nnew-2\n' })).code).toBe(0);

    const byMs = await cli(['consume', t, '--timestamp', String(since), '--max-messages', '2', '-q']);
    expect(byMs.code).toBe(0);
    expect(byMs.stdout.trimEnd().split('\n').sort()).toEqual(['new-1', 'new-2']);
    const byIso = await cli(['consume', t, '--timestamp', new Date(since).toISOString(), '--max-messages', '2', '-q']);
    expect(byIso.stdout.trimEnd().split('\n').sort()).toEqual(['new-1', 'new-2']);

    // Exactly the records there are, then idle: --timeout-ms ends it (exit 0 without --max-messages).
    const all = await cli(['consume', t, '--offset', 'earliest', '--timeout-ms', '1500', '--format', '%s,']);
    expect(all.code).toBe(0);
    expect(all.stdout.split(',').filter((s) => s !== '').sort()).toEqual(['new-1', 'new-2', 'old-1', 'old-2', 'old-3']);
    const short = await cli(['consume', t, '--from-beginning', '--max-messages', '9', '--timeout-ms', '1500', '-q']);
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/after 5 of 9 messages/);
    const outOfRange = await cli(['consume', t, '--offset', '1000', '--partition', '0', '--timeout-ms', '1500']);
    expect(outOfRange.code).toBe(1);
    expect(outOfRange.stderr).toMatch(/offset 1000 is out of range for cli-time-0/);
  }, 30_000);

  it('follows new records by default and exits 0 on SIGINT', async () => {
    const t = 'cli-follow';
    expect((await cli(['topics', 'create', t, '--partitions', '1'])).code).toBe(0);
    expect((await cli(['produce', t, '-q'], { input: 'before\n' })).code).toBe(0);
    const follower = start(['consume', t, '--format', '%o:%s\\n']);
    // Keep producing until the follower (which starts at the end) has printed a new record.
    let i = 0;
    await waitFor(
      async () => {
        await cli(['produce', t, '-q'], { input: `after-${i++}\n` });
        return follower.stdout.includes(':after-');
      },
      { timeoutMs: 20_000, intervalMs: 100, message: 'the follower to print a new record' },
    );
    follower.kill('SIGINT');
    const r = await follower.result;
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('before');
    expect(r.stderr).toMatch(/^Processed a total of \d+ messages?\n$/);
  }, 30_000);
});

describe('perf', () => {
  it('perf produce and perf consume print their figures as JSON', async () => {
    const missing = await cli(['perf', 'produce', '--topic', 'cli-perf', '--num-records', '10', '--record-size', '10']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/topic 'cli-perf' does not exist: .*--create-topic/);

    const produced = await cli([
      'perf', 'produce', '--topic', 'cli-perf', '--num-records', '5000', '--record-size', '100', '--throughput', '-1',
      '--acks', '1', '--create-topic', '--partitions', '3', '--json',
    ]);
    expect(produced.code).toBe(0);
    const figures = JSON.parse(produced.stdout) as Record<string, number>;
    expect(Object.keys(figures).sort()).toEqual(
      ['latency_avg_ms', 'latency_max_ms', 'latency_p50_ms', 'latency_p95_ms', 'latency_p999_ms', 'latency_p99_ms', 'mb_per_s', 'records', 'records_per_s'].sort(),
    );
    expect(figures.records).toBe(5000);
    expect(figures.latency_p50_ms).toBeLessThanOrEqual(figures.latency_p99_ms!);
    expect(figures.latency_p99_ms).toBeLessThanOrEqual(figures.latency_max_ms!);

    const capped = await cli(['perf', 'produce', '--topic', 'cli-perf', '--num-records', '300', '--record-size', '10', '--throughput', '1000']);
    expect(capped.code).toBe(0);
    expect(capped.stdout).toMatch(/^300 records sent, [\d.]+ records\/sec \([\d.]+ MB\/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency, [\d.]+ ms 50th, [\d.]+ ms 95th, [\d.]+ ms 99th, [\d.]+ ms 99\.9th\.\n$/);

    const consumed = await cli(['perf', 'consume', '--topic', 'cli-perf', '--messages', '5300', '--json']);
    expect(consumed.code).toBe(0);
    const c = JSON.parse(consumed.stdout) as Record<string, number>;
    expect(Object.keys(c).sort()).toEqual(['elapsed_s', 'mb_per_s', 'records', 'records_per_s']);
    expect(c.records).toBe(5300);
    // Without --messages: everything there is.
    const everything = await cli(['perf', 'consume', '--topic', 'cli-perf']);
    expect(everything.code).toBe(0);
    expect(everything.stdout).toMatch(/^5300 records consumed in [\d.]+ s, [\d.]+ records\/sec \([\d.]+ MB\/sec\)\.\n$/);
  }, 40_000);
});
