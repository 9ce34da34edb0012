/**
 * `npm start -- --secure` for real: the launcher (start.js --no-build) as a child process on a
 * temp data directory and shifted ports, every service with TLS, SCRAM and the authorizer, and
 * the `tributary` CLI (apps/cli/dist/main.js) as a process:
 * - the printed SCRAM options (--tls-ca-file, --sasl-mechanism SCRAM-SHA-512, --sasl-username
 *   admin, TRIBUTARY_SASL_PASSWORD) create and list topics; so does the admin certificate;
 * - the same CLI without credentials, with a wrong password, or in plaintext is refused;
 * - the admin password is in no file under the data directory (logs included);
 * - a second start reuses the certificates and keeps the admin user (no new password);
 *   --reset-admin-password makes a new one and the old one stops working.
 * Needs `npx tsc -b` first (the apps' builds and the CLI's).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { removeTempDirs, stopAllProcesses, tempDir } from '@tributary/testing';
import type { SpawnedProcess } from '@tributary/testing';
import type { ClusterState } from './launcher';
import { STATE_FILE } from './launcher';
import { BANNER_END, ROOT, freeBasePort, launchCluster, untilPrinted } from './spec-helpers';

jest.setTimeout(90_000);

const CLI_MAIN = path.join(ROOT, 'apps', 'cli', 'dist', 'main.js');
const TOPIC = 'secure-orders';

let dataDir: string;
let basePort: number;
let launcher: SpawnedProcess;
let password: string;
let caFile: string;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI against the cluster's brokers, with `args` and only the environment given. */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const clean: NodeJS.ProcessEnv = { PATH: process.env['PATH'], ...env };
  const child = spawn(process.execPath, [CLI_MAIN, '--bootstrap', `127.0.0.1:${basePort + 200}`, '--request-timeout-ms', '8000', ...args], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const scram = (): string[] => ['--tls-ca-file', caFile, '--sasl-mechanism', 'SCRAM-SHA-512', '--sasl-username', 'admin'];

/** The password in the banner: the line after "stored nowhere:". */
function printedPassword(out: string): string {
  const m = /stored nowhere:\n\s*\n\s+(\S+)\n/.exec(out);
  if (!m) throw new Error(`no password in the launcher's output:\n${out}`);
  return m[1]!;
}

function readState(): ClusterState {
  return JSON.parse(fs.readFileSync(path.join(dataDir, STATE_FILE), 'utf8')) as ClusterState;
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

async function stop(): Promise<void> {
  launcher.kill('SIGTERM');
  expect((await launcher.exited).code).toBe(0);
}

beforeAll(async () => {
  dataDir = path.join(tempDir('local-cluster-secure'), 'data');
  basePort = await freeBasePort();
});

afterAll(async () => {
  await stopAllProcesses();
  removeTempDirs();
});

it('--secure: makes the CA and certificates, starts every service with TLS, and prints the admin password once with how to use it', async () => {
  launcher = launchCluster(dataDir, basePort, '--secure');
  await untilPrinted(launcher, BANNER_END, 60_000);
  const out = launcher.outputTail();
  expect(out).toContain('secure mode: made ca, coordination, controller, broker, group-coordinator, rest-proxy, admin in');
  expect(out).toContain('Tributary local cluster is ready (secure: TLS, SCRAM, ACLs)');
  password = printedPassword(out);
  expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
  const state = readState();
  expect(state.secure).toBe(true);
  caFile = state.caFile!;
  expect(caFile).toBe(path.join(dataDir, 'tls', 'ca.crt'));
  expect(out).toContain(`export TRIBUTARY_SASL_PASSWORD='${password}'`);
  expect(out).toContain(`--tls-ca-file ${caFile} --sasl-mechanism SCRAM-SHA-512 --sasl-username admin topics list`);
  expect(out).toContain(`--tls-cert-file ${path.join(dataDir, 'tls', 'admin.crt')} --tls-key-file ${path.join(dataDir, 'tls', 'admin.key')} topics list`);
  for (const f of fs.readdirSync(path.join(dataDir, 'tls')).filter((n) => n.endsWith('.key'))) {
    expect({ f, mode: fs.statSync(path.join(dataDir, 'tls', f)).mode & 0o777 }).toEqual({ f, mode: 0o600 });
  }
  // Every gRPC service's admin endpoint answers over HTTPS only, with a certificate of the
  // local CA; the banner shows https for each (and for any other listener serving TLS).
  for (const s of state.services) {
    const https = out.includes(`https://127.0.0.1:${s.adminPort}/metrics`);
    expect({ name: s.name, https }).toEqual({ name: s.name, https: s.api === 'grpc' ? true : https });
    if (!https) {
      expect(out).toMatch(new RegExp(`warning: --secure, but these listeners serve plaintext HTTP .*${s.name} admin`));
      continue;
    }
    expect(await httpsStatus(s.adminPort, '/readyz')).toBe(200);
    await expect(fetch(`http://127.0.0.1:${s.adminPort}/readyz`)).rejects.toThrow();
  }
});

it('the CLI with the printed SCRAM options creates and lists topics; the admin certificate works too', async () => {
  const env = { TRIBUTARY_SASL_PASSWORD: password };
  const created = await cli([...scram(), 'topics', 'create', TOPIC, '--partitions', '2', '--replication-factor', '1'], env);
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const listed = await cli([...scram(), 'topics', 'list'], env);
  expect(listed.code).toBe(0);
  expect(listed.stdout.split('\n')).toContain(TOPIC);
  const tls = path.join(dataDir, 'tls');
  const byCert = await cli(['--tls-ca-file', caFile, '--tls-cert-file', path.join(tls, 'admin.crt'), '--tls-key-file', path.join(tls, 'admin.key'), 'topics', 'list']);
  expect(byCert.code).toBe(0);
  expect(byCert.stdout.split('\n')).toContain(TOPIC);
});

it('refuses the CLI without credentials, with a wrong password, and in plaintext', async () => {
  const anonymous = await cli(['--tls-ca-file', caFile, 'topics', 'list']);
  expect(anonymous.code).toBe(1);
  expect(anonymous.stdout).not.toContain(TOPIC);
  expect(anonymous.stderr).toMatch(/^tributary: .*(SASL_AUTHENTICATION_FAILED|AUTHORIZATION_FAILED|requires authentication)/);
  const wrong = await cli([...scram(), 'topics', 'list'], { TRIBUTARY_SASL_PASSWORD: `${password}x` });
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toMatch(/^tributary: authentication of admin with SCRAM-SHA-512 failed \(SASL_AUTHENTICATION_FAILED.*check the user name \(--sasl-username\) and the password/);
  const plaintext = await cli(['--sasl-mechanism', 'SCRAM-SHA-512', '--sasl-username', 'admin', 'topics', 'list'], { TRIBUTARY_SASL_PASSWORD: password });
  expect(plaintext.code).toBe(1);
  expect(plaintext.stdout).toBe('');
  expect(plaintext.stderr).toMatch(/^tributary: /);
});

it('writes the admin password to no file under the data directory (logs and coordination store included)', () => {
  const files = filesUnder(dataDir);
  expect(files.some((f) => f.endsWith('.log'))).toBe(true);
  const holding = files.filter((f) => fs.readFileSync(f).includes(password));
  expect(holding).toEqual([]);
});

it('a second start reuses the certificates and keeps the admin user: no new password, the old one still works', async () => {
  const cert = fs.readFileSync(path.join(dataDir, 'tls', 'broker.crt'));
  await stop();
  launcher = launchCluster(dataDir, basePort, '--secure');
  await untilPrinted(launcher, BANNER_END, 60_000);
  const out = launcher.outputTail();
  expect(out).toContain('secure mode: reusing the CA and certificates in');
  expect(out).toContain('The SCRAM user admin exists (');
  expect(out).not.toContain('stored nowhere');
  expect(fs.readFileSync(path.join(dataDir, 'tls', 'broker.crt')).equals(cert)).toBe(true);
  const listed = await cli([...scram(), 'topics', 'list'], { TRIBUTARY_SASL_PASSWORD: password });
  expect(listed.code).toBe(0);
  expect(listed.stdout.split('\n')).toContain(TOPIC);
});

it('--reset-admin-password prints a new password; the old one is refused', async () => {
  await stop();
  launcher = launchCluster(dataDir, basePort, '--secure', '--reset-admin-password');
  await untilPrinted(launcher, BANNER_END, 60_000);
  const out = launcher.outputTail();
  expect(out).toContain('The SCRAM user admin has a new password');
  const fresh = printedPassword(out.slice(out.lastIndexOf('Tributary local cluster is ready')));
  expect(fresh).not.toBe(password);
  expect((await cli([...scram(), 'topics', 'list'], { TRIBUTARY_SASL_PASSWORD: fresh })).code).toBe(0);
  const old = await cli([...scram(), 'topics', 'list'], { TRIBUTARY_SASL_PASSWORD: password });
  expect(old.code).toBe(1);
  expect(old.stderr).toContain('SASL_AUTHENTICATION_FAILED');
  await stop();
});

/** Status of GET https://127.0.0.1:<port><path>, trusting the local CA (no client certificate). */
function httpsStatus(port: number, urlPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: urlPath, ca: fs.readFileSync(caFile), servername: 'localhost', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}
