/**
 * `npm start -- --secure`: the bootstrap SCRAM user `admin`. Once the services are ready, the
 * launcher runs the `tributary` CLI (apps/cli/dist/main.js) with the admin's client
 * certificate (CN=admin: a super user through mutual TLS, no password needed) to see whether
 * `admin` has SCRAM credentials and, when it has none (first start) or
 * `--reset-admin-password` asks, to create them for SCRAM-SHA-512 and SCRAM-SHA-256 with one
 * random password through the controller's UserAdminService (`tributary users create
 * --password-stdin`: salted in the CLI, only the salted keys travel, KIP-554).
 *
 * The password goes to the CLI over a pipe and is returned for the launcher to print ONCE: it
 * is written to no file (not the data directory, not the logs, not local-cluster.json).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PlanSecurity } from './services';
import { ADMIN_USER, certFilesOf } from './services';

/** The mechanisms the admin gets a credential for (the same password). */
export const ADMIN_MECHANISMS = ['SCRAM-SHA-512', 'SCRAM-SHA-256'] as const;

export type AdminOutcome =
  /** Credentials made now (first start, or reset): the password to print once. */
  | { kind: 'created' | 'reset'; password: string }
  /** `admin` already had credentials; nothing changed. */
  | { kind: 'exists'; mechanisms: string[] }
  /** The CLI is not built: nothing done. */
  | { kind: 'no-cli'; main: string };

/** The admin bootstrap failed: the message says why (with the CLI's last line). */
export class AdminBootstrapError extends Error {
  override readonly name = 'AdminBootstrapError';
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment variables of the CLI that would change what it does (a user's own session). */
const CLI_ENV = ['TRIBUTARY_BOOTSTRAP', 'TRIBUTARY_TLS_CA_FILE', 'TRIBUTARY_TLS_CERT_FILE', 'TRIBUTARY_TLS_KEY_FILE', 'TRIBUTARY_SASL_MECHANISM', 'TRIBUTARY_SASL_USERNAME', 'TRIBUTARY_SASL_PASSWORD_FILE', 'TRIBUTARY_SASL_PASSWORD'];

/** A random password: 24 bytes, base64url (32 characters, no shell-special characters). */
export function randomPassword(): string {
  return randomBytes(24).toString('base64url');
}

export interface AdminBootstrapOptions {
  root: string;
  bootstrap: string;
  security: PlanSecurity;
  reset: boolean;
  /** How long to keep retrying while the controller and the ACL caches settle. */
  timeoutMs: number;
  signal: AbortSignal;
}

/** Runs the CLI as the admin's certificate; `input` goes to its stdin. */
function runCli(main: string, o: AdminBootstrapOptions, args: string[], input?: string): Promise<CliResult> {
  const env = { ...process.env };
  for (const name of CLI_ENV) delete env[name];
  const admin = certFilesOf(o.security.tlsDir, ADMIN_USER);
  const child = spawn(
    process.execPath,
    [main, '--bootstrap', o.bootstrap, '--request-timeout-ms', '10000', '--tls-ca-file', o.security.caFile, '--tls-cert-file', admin.certFile, '--tls-key-file', admin.keyFile, ...args],
    { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] },
  );
  if (input !== undefined) child.stdin!.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return new Promise((resolve) => {
    child.on('error', (e) => (stderr += e.message));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function lastLine(r: CliResult): string {
  return r.stderr.trim().split('\n').pop() ?? `exit code ${r.code}`;
}

/** `users list --json`, retried until it answers or the deadline passes. */
async function adminMechanisms(main: string, o: AdminBootstrapOptions): Promise<string[]> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const r = await runCli(main, o, ['users', 'list', '--json']);
    if (r.code === 0) {
      const users = JSON.parse(r.stdout) as { user: string; credentials: { mechanism: string }[] }[];
      return users.find((u) => u.user === ADMIN_USER)?.credentials.map((c) => c.mechanism) ?? [];
    }
    if (o.signal.aborted) throw new AdminBootstrapError('stopped');
    if (r.code === 2 || Date.now() >= deadline) throw new AdminBootstrapError(`cannot list the SCRAM users with the admin certificate: ${lastLine(r)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Makes sure `admin` has SCRAM credentials (see the module comment). */
export async function bootstrapAdmin(o: AdminBootstrapOptions): Promise<AdminOutcome> {
  const main = path.join(o.root, 'apps', 'cli', 'dist', 'main.js');
  if (!fs.existsSync(main)) return { kind: 'no-cli', main: path.relative(o.root, main) };
  const existing = await adminMechanisms(main, o);
  if (existing.length > 0 && !o.reset) return { kind: 'exists', mechanisms: existing };
  const password = randomPassword();
  for (const mechanism of ADMIN_MECHANISMS) {
    const r = await runCli(main, o, ['users', 'create', ADMIN_USER, '--password-stdin', '--mechanism', mechanism], `${password}\n`);
    if (r.code !== 0) throw new AdminBootstrapError(`cannot create the ${mechanism} credential of ${ADMIN_USER}: ${lastLine(r)}`);
  }
  return { kind: existing.length > 0 ? 'reset' : 'created', password };
}
