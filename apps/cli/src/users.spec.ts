/**
 * `tributary users create|delete|list` as processes (`node apps/cli/dist/main.js`) against a
 * REAL small cluster (coordination, 1 controller, 1 broker): passwords only from a file or
 * stdin (`--password` refused, exit 2), Kafka's /config/users/<user> node, list as text and
 * JSON, delete by mechanism or all. The created credential logs in through the runtime's
 * scramLogin against a gRPC server built with createGrpcServer + createAuthenticator over the
 * same coordination store, and a wrong password does not. Finally no file under the run's
 * data dirs (coordination store included) and no process output contains a password.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { CoordinationClient } from '@tributary/coordination-client';
import { AuthServiceClient } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { Authenticator, GrpcServer, ScramMechanism } from '@tributary/runtime';
import { createAuthenticator, createClient, createGrpcServer, createLogger, createMetrics, scramLogin } from '@tributary/runtime';
import type { TestCluster } from '@tributary/testing';
import { WORKSPACE_ROOT, cleanupAll, startCluster, tempDir } from '@tributary/testing';
import { parseMechanism, passwordFrom } from './commands/users';

jest.setTimeout(120_000);

const CLI_MAIN = join(WORKSPACE_ROOT, 'apps', 'cli', 'dist', 'main.js');
const ALICE_256 = 'alice-secret-Zq81-never-on-disk';
const ALICE_512 = 'alice-512-Kp27-never-in-logs';
const BOB = 'bob-Wt55-stdin-only';
const PASSWORDS = [ALICE_256, ALICE_512, BOB];

let cluster: TestCluster;
let store: CoordinationClient;
let secrets: string;
let serverLog: string;
let auth: Authenticator;
let server: GrpcServer;
let address: string;
const outputs: string[] = [];

function cli(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.TRIBUTARY_BOOTSTRAP;
  const child = spawn(process.execPath, [CLI_MAIN, '--bootstrap', cluster.bootstrap, ...args], { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (input !== undefined) child.stdin!.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    }),
  );
}

async function login(username: string, password: string, mechanism: ScramMechanism = 'SCRAM-SHA-256'): Promise<string> {
  const client = createClient(AuthServiceClient, address, { settings: { unaryDeadlineMs: 5000 } });
  try {
    return (await scramLogin(client, { mechanism, username, password })).principal;
  } finally {
    client.close();
  }
}

async function loginError(username: string, password: string, mechanism: ScramMechanism = 'SCRAM-SHA-256'): Promise<unknown> {
  return login(username, password, mechanism).then(
    () => new Error('expected the login to fail'),
    (e: unknown) => e,
  );
}

beforeAll(async () => {
  cluster = await startCluster({ name: 'cli-users', brokers: 1, controllers: 1, logLevel: 'debug' });
  store = new CoordinationClient({ address: cluster.coordination.address });
  secrets = tempDir('cli-users-secrets');
  serverLog = join(cluster.dataDir, 'auth-server.log');
  const logger = createLogger({ service: 'users-it', nodeId: 0, level: 'debug', destination: pino.destination({ dest: serverLog, sync: true }) });
  auth = createAuthenticator({ store, logger });
  await auth.start();
  server = createGrpcServer({ logger, registry: createMetrics({ service: 'users-it', nodeId: '0', defaultMetrics: false }).registry, authenticator: auth });
  address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
}, 60_000);

afterAll(async () => {
  await server?.shutdown(1000);
  auth?.stop();
  store?.close();
  await cleanupAll();
});

describe('helpers', () => {
  it('takes the password without one trailing newline and refuses an empty one', () => {
    expect(passwordFrom('pw\n', 'f')).toBe('pw');
    expect(passwordFrom('pw\r\n', 'f')).toBe('pw');
    expect(passwordFrom('p w\n\n', 'f')).toBe('p w\n');
    expect(() => passwordFrom('\n', 'f')).toThrow(/empty/);
  });

  it('parses mechanisms', () => {
    expect(parseMechanism(undefined)).toBe('SCRAM-SHA-256');
    expect(parseMechanism('scram-sha-512')).toBe('SCRAM-SHA-512');
    expect(() => parseMechanism('PLAIN')).toThrow(/SCRAM-SHA-256 or SCRAM-SHA-512/);
  });
});

it('refuses a password on the command line, and a create without a password source (exit 2)', async () => {
  const onLine = await cli(['users', 'create', 'mallory', '--password', 'mallory-pw']);
  expect(onLine.code).toBe(2);
  expect(onLine.stderr).toMatch(/--password is not accepted.*process list.*--password-file.*--password-stdin/);
  const none = await cli(['users', 'create', 'mallory']);
  expect(none.code).toBe(2);
  expect(none.stderr).toMatch(/--password-file <file> or --password-stdin/);
  const low = await cli(['users', 'create', 'mallory', '--password-stdin', '--iterations', '4095'], 'x\n');
  expect(low.code).toBe(2);
  expect(low.stderr).toMatch(/4096 to 16384/);
  expect(await store.tryGet('/config/users/mallory')).toBeUndefined();
});

it('creates users from a password file and stdin; the node is Kafka format with no password', async () => {
  const file = join(secrets, 'alice.pw');
  writeFileSync(file, `${ALICE_256}\n`, { mode: 0o600 });
  const a = await cli(['users', 'create', 'alice', '--password-file', file, '--iterations', '8192']);
  expect(a).toMatchObject({ code: 0, stdout: 'Completed updating config for user alice: SCRAM-SHA-256 credential set (iterations 8192).\n' });
  const a512 = await cli(['users', 'create', 'alice', '--mechanism', 'SCRAM-SHA-512', '--password-stdin'], `${ALICE_512}\n`);
  expect(a512.code).toBe(0);
  const b = await cli(['users', 'create', 'bob', '--password-stdin'], BOB);
  expect(b.code).toBe(0);

  const node = JSON.parse((await store.get('/config/users/alice')).data.toString()) as { version: number; config: Record<string, string> };
  expect(node.version).toBe(1);
  expect(node.config['SCRAM-SHA-256']).toMatch(/^salt=[A-Za-z0-9+/]+=*,stored_key=[A-Za-z0-9+/]+=*,server_key=[A-Za-z0-9+/]+=*,iterations=8192$/);
  expect(node.config['SCRAM-SHA-512']).toMatch(/^salt=[A-Za-z0-9+/]+=*,stored_key=[A-Za-z0-9+/]+=*,server_key=[A-Za-z0-9+/]+=*,iterations=4096$/);
  // 64-byte keys for SHA-512.
  expect(Buffer.from(/stored_key=([^,]+)/.exec(node.config['SCRAM-SHA-512']!)![1]!, 'base64')).toHaveLength(64);
});

it('lists users with mechanisms and iterations, as text and JSON', async () => {
  const text = await cli(['users', 'list']);
  expect(text.code).toBe(0);
  expect(text.stdout).toBe('USER   CREDENTIALS\nalice  SCRAM-SHA-256 (iterations 8192), SCRAM-SHA-512 (iterations 4096)\nbob    SCRAM-SHA-256 (iterations 4096)\n');
  const json = await cli(['users', 'list', '--json']);
  expect(JSON.parse(json.stdout)).toEqual([
    {
      user: 'alice',
      credentials: [
        { mechanism: 'SCRAM-SHA-256', iterations: 8192 },
        { mechanism: 'SCRAM-SHA-512', iterations: 4096 },
      ],
    },
    { user: 'bob', credentials: [{ mechanism: 'SCRAM-SHA-256', iterations: 4096 }] },
  ]);
});

it('a created user logs in with SCRAM through the authenticator; a wrong password or mechanism-mismatched password fails', async () => {
  expect(await login('alice', ALICE_256)).toBe('User:alice');
  expect(await login('alice', ALICE_512, 'SCRAM-SHA-512')).toBe('User:alice');
  expect(await login('bob', BOB)).toBe('User:bob');
  for (const e of [await loginError('alice', 'wrong-password'), await loginError('alice', ALICE_512), await loginError('carol', 'anything')]) {
    expect(e).toBeInstanceOf(TributaryError);
    expect((e as TributaryError).code).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
  }
});

it('deletes one mechanism or all; deleting what is not there exits 1', async () => {
  const one = await cli(['users', 'delete', 'alice', '--mechanism', 'SCRAM-SHA-512']);
  expect(one).toMatchObject({ code: 0, stdout: 'Completed updating config for user alice: deleted SCRAM-SHA-512.\n' });
  expect((await loginError('alice', ALICE_512, 'SCRAM-SHA-512')) as TributaryError).toMatchObject({ code: ErrorCode.SASL_AUTHENTICATION_FAILED });
  expect(await login('alice', ALICE_256)).toBe('User:alice');
  const again = await cli(['users', 'delete', 'alice', '--mechanism', 'SCRAM-SHA-512']);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/alice has no SCRAM-SHA-512 credential/);
  const bob = await cli(['users', 'delete', 'bob']);
  expect(bob).toMatchObject({ code: 0, stdout: 'Completed updating config for user bob: deleted SCRAM-SHA-256.\n' });
  expect(await store.tryGet('/config/users/bob')).toBeUndefined();
  // The authenticator reads the store per login: the deleted user is refused at once.
  expect((await loginError('bob', BOB)) as TributaryError).toMatchObject({ code: ErrorCode.SASL_AUTHENTICATION_FAILED });
  const nobody = await cli(['users', 'delete', 'nobody']);
  expect(nobody.code).toBe(1);
  expect(nobody.stderr).toMatch(/nobody has no SCRAM credential/);
  expect((await cli(['users', 'list'])).stdout).toBe('USER   CREDENTIALS\nalice  SCRAM-SHA-256 (iterations 8192)\n');
});

it('no password in any file of the run (coordination store, broker logs, server log) nor in any process output', async () => {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(cluster.dataDir);
  expect(files.some((f) => f.includes('coordination'))).toBe(true);
  expect(files).toContain(serverLog);
  // The SCRAM logins above were logged: the log is not empty, so the grep means something.
  expect(readFileSync(serverLog, 'utf8')).toMatch(/alice/);
  const texts = [
    ...files.map((f) => ({ where: f, text: readFileSync(f).toString('latin1') })),
    ...[cluster.coordination, ...cluster.controllers.values(), ...cluster.brokers.values()].map((p) => ({ where: p.proc.name, text: p.proc.outputTail() })),
    ...outputs.map((text, i) => ({ where: `cli output ${i}`, text })),
  ];
  const leaks = texts.flatMap(({ where, text }) => PASSWORDS.filter((p) => text.includes(p)).map((p) => `${where}: ${p}`));
  expect(leaks).toEqual([]);
  // The controller logged the alterations (by user and mechanism), so its output was searched.
  expect([...cluster.controllers.values()].map((p) => p.proc.outputTail()).join('\n')).toMatch(/SCRAM credentials altered/);
});
