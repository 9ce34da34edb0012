/**
 * `npm start` for real: the launcher (start.js --no-build) as a child process on a temp data
 * directory and shifted ports, starting the built coordination, controller and broker
 * processes. Checks readiness and the printed endpoints, the lock against a second launcher,
 * a restart after kill -9 of a broker, a clean SIGINT, and that a second start on the same data
 * brings back a topic created through the Admin API. Needs `npx tsc -b` first (the Nx test
 * target depends on the apps' builds).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { AdminServiceClient } from '@tributary/proto';
import { createClient, unary } from '@tributary/runtime';
import { spawnProcess, stopAllProcesses, removeTempDirs, tempDir, waitFor } from '@tributary/testing';
import type { SpawnedProcess } from '@tributary/testing';
import type { ClusterState } from './launcher';
import { LOCK_FILE, STATE_FILE } from './launcher';
import { BANNER_END, START, freeBasePort, launchCluster, planned, untilPrinted } from './spec-helpers';

jest.setTimeout(45_000);

const READY_LINE = 'Tributary local cluster is ready';
const TOPIC = 'local-cluster-orders';

let dataDir: string;
let basePort: number;
let launcher: SpawnedProcess;
const admins = new Map<string, AdminServiceClient>();

function adminAt(address: string): AdminServiceClient {
  let admin = admins.get(address);
  if (admin === undefined) {
    admin = createClient(AdminServiceClient, address);
    admins.set(address, admin);
  }
  return admin;
}

function launch(...extra: string[]): SpawnedProcess {
  return launchCluster(dataDir, basePort, ...extra);
}

function readState(): ClusterState {
  return JSON.parse(fs.readFileSync(path.join(dataDir, STATE_FILE), 'utf8')) as ClusterState;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function ready(adminPort: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`).catch(() => undefined);
  return res?.status === 200;
}

/** The Admin API of whichever controller is active (standbys answer NOT_CONTROLLER). */
async function activeAdmin(): Promise<AdminServiceClient> {
  const controllers = readState().services.filter((s) => s.app === 'controller');
  return waitFor(
    async () => {
      for (const c of controllers) {
        const admin = adminAt(`127.0.0.1:${c.apiPort}`);
        const cluster = await unary(admin, 'describeCluster', {}, { deadlineMs: 2_000 }).catch(() => undefined);
        if (cluster !== undefined && cluster.brokers.length === readState().services.filter((s) => s.app === 'broker').length) return admin;
      }
      return undefined;
    },
    { timeoutMs: 20_000, message: 'an active controller seeing every broker' },
  );
}

beforeAll(async () => {
  const parent = tempDir('local-cluster');
  dataDir = path.join(parent, 'data');
  basePort = await freeBasePort();
});

afterAll(async () => {
  for (const a of admins.values()) a.close();
  await stopAllProcesses();
  removeTempDirs();
});

it('refuses to start when a port is taken, naming the port and its process', async () => {
  const held = net.createServer();
  await new Promise<void>((resolve) => held.listen(basePort + 1201, '127.0.0.1', resolve));
  try {
    const proc = launch();
    expect((await proc.exited).code).toBe(1);
    expect(proc.outputTail()).toContain(`cannot start: port ${basePort + 1201} (broker-1 admin) already in use`);
  } finally {
    await new Promise((resolve) => held.close(resolve));
  }
});

it('a service that fails at start stops the launch with its name and the tail of its log', async () => {
  const otherDir = path.join(dataDir, '..', 'failing');
  fs.mkdirSync(otherDir, { recursive: true });
  fs.writeFileSync(path.join(otherDir, 'broker-0'), 'a file where the log directory should be');
  const proc = launch('--data-dir', otherDir);
  expect((await proc.exited).code).toBe(1);
  const out = proc.outputTail();
  expect(out).toMatch(/cannot start the cluster: broker-0 exited( before it was ready)? \(exit code \d+\)/);
  expect(out).toContain(`last lines of ${path.join(otherDir, 'logs', 'broker-0.log')}:`);
  expect(out).toContain('coordination stopped');
  // Everything it had started is stopped again.
  for (const s of planned(basePort).services) expect(await ready(s.adminPort)).toBe(false);
});

it('starts coordination, the controllers and the brokers, each ready, and prints their endpoints', async () => {
  // A lock left by a launcher that died: taken over.
  const dead = spawnProcess({ command: process.execPath, args: ['-e', ''] });
  await dead.exited;
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(path.join(dataDir, LOCK_FILE), `${dead.pid}\n`);
  launcher = launch();
  await untilPrinted(launcher, BANNER_END);
  const out = launcher.outputTail();
  expect(out).toContain(READY_LINE);
  expect(out).toContain(`took over a stale lock (launcher pid ${dead.pid} is not running)`);
  const state = readState();
  expect(state.ready).toBe(true);
  expect(state.launcherPid).toBe(launcher.pid);
  const names = state.services.map((s) => s.name);
  expect(names).toEqual(expect.arrayContaining(['coordination', 'controller-0', 'controller-1', 'broker-0', 'broker-1', 'broker-2', 'group-coordinator', 'rest-proxy']));
  expect(names.indexOf('coordination')).toBe(0);
  for (const s of state.services) {
    expect(s.pid !== null && alive(s.pid)).toBe(true);
    expect(await ready(s.adminPort)).toBe(true);
    const api = s.api === 'grpc' ? `127.0.0.1:${s.apiPort}` : `http://127.0.0.1:${s.apiPort}`;
    expect(out).toMatch(new RegExp(`\\n\\s+${s.name}\\s+${api.replace(/\./g, '\\.')}\\s+http://127\\.0\\.0\\.1:${s.adminPort}/metrics\\n`));
    // JSON logs, one file per process.
    const firstLine = fs.readFileSync(path.join(dataDir, 'logs', `${s.name}.log`), 'utf8').split('\n')[0]!;
    expect(JSON.parse(firstLine)).toMatchObject({ level: expect.any(String), msg: expect.any(String) });
  }
  expect(state.services.find((s) => s.name === 'coordination')!.apiPort).toBe(basePort);
  expect(state.services.find((s) => s.name === 'broker-2')!.adminPort).toBe(basePort + 1202);
  expect(state.services.find((s) => s.name === 'group-coordinator')).toMatchObject({ apiPort: basePort + 300, adminPort: basePort + 1300 });
  expect(state.services.find((s) => s.name === 'rest-proxy')).toMatchObject({ api: 'http', apiPort: basePort + 1082, adminPort: basePort + 2082 });
  expect(out).toContain(`export TRIBUTARY_BOOTSTRAP=127.0.0.1:${basePort + 200}`);
  expect(fs.readFileSync(path.join(dataDir, LOCK_FILE), 'utf8').trim()).toBe(String(launcher.pid));
});

it('a second launcher on the same data directory refuses, naming the running one', async () => {
  const second = launch();
  const exit = await second.exited;
  expect(exit.code).toBe(1);
  expect(second.outputTail()).toContain(`a local cluster is already running on this data directory (launcher pid ${launcher.pid}`);
  expect(launcher.running).toBe(true);
});

it('a bad flag stops the launcher with one line and exit code 2', async () => {
  const bad = spawnProcess({ command: process.execPath, args: [START, '--no-build', '--brokers', '0'], name: 'bad-flags' });
  expect((await bad.exited).code).toBe(2);
  expect(bad.outputTail().trim()).toBe("local-cluster: invalid --brokers '0': expected an integer from 1 to 100");
});

it('creates a topic through the active controller', async () => {
  const admin = await activeAdmin();
  const res = await unary(admin, 'createTopics', { topics: [{ name: TOPIC, numPartitions: 3, replicationFactor: 3, configs: {} }], validateOnly: false });
  expect(res.results.map((r) => [r.name, r.errorCode, r.errorMessage])).toEqual([[TOPIC, 0, '']]);
  // The REST proxy of the same cluster sees it (Confluent's v2 GET /topics).
  const proxy = readState().services.find((s) => s.name === 'rest-proxy')!;
  await waitFor(
    async () => {
      const topics = (await (await fetch(`http://127.0.0.1:${proxy.apiPort}/topics`)).json()) as string[];
      return topics.includes(TOPIC);
    },
    { timeoutMs: 20_000, message: `the REST proxy lists ${TOPIC}` },
  );
});

it('restarts a broker killed with SIGKILL, with its data, and says so', async () => {
  const before = readState().services.find((s) => s.name === 'broker-1')!;
  process.kill(before.pid!, 'SIGKILL');
  await untilPrinted(launcher, `broker-1 (pid ${before.pid}) exited unexpectedly: killed by SIGKILL`);
  await untilPrinted(launcher, 'restarting broker-1 in 1 s');
  await untilPrinted(launcher, 'broker-1 is ready again');
  const after = readState().services.find((s) => s.name === 'broker-1')!;
  expect(after.pid).not.toBeNull();
  expect(after.pid).not.toBe(before.pid);
  expect(after.restarts).toBe(1);
  expect(alive(after.pid!)).toBe(true);
  expect(await ready(after.adminPort)).toBe(true);
  expect(fs.existsSync(path.join(dataDir, 'broker-1'))).toBe(true);
});

it('SIGINT stops every process and exits 0, removing the lock', async () => {
  const pids = readState().services.map((s) => s.pid!);
  launcher.kill('SIGINT');
  const exit = await launcher.exited;
  expect(launcher.outputTail(30)).toContain('stopped in');
  expect(exit).toEqual({ code: 0, signal: null });
  for (const pid of pids) expect(alive(pid)).toBe(false);
  expect(fs.existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
  expect(fs.existsSync(path.join(dataDir, STATE_FILE))).toBe(false);
});

it('starts again on the same data directory with the topic still there', async () => {
  launcher = launch();
  await untilPrinted(launcher, BANNER_END);
  const admin = await activeAdmin();
  const topics = await unary(admin, 'listTopics', {});
  expect(topics.names).toContain(TOPIC);
  const described = await unary(admin, 'describeTopics', { names: [TOPIC] });
  expect(described.topics[0]!.partitions).toHaveLength(3);
  launcher.kill('SIGTERM');
  expect((await launcher.exited).code).toBe(0);
});
