/**
 * `tributary users create|delete|list`: SCRAM credentials, as
 * `kafka-configs.sh --alter --add-config 'SCRAM-SHA-256=[iterations=8192,password=…]'
 * --entity-type users --entity-name alice`, over the controller's UserAdminService (SDK
 * Admin.alterUserScramCredentials / describeUserScramCredentials, KIP-554).
 *
 * A password is never taken on the command line (it would be visible to every user of the
 * machine in the process list and kept in shell history): it comes from `--password-file` or
 * `--password-stdin` (one trailing newline removed). The SDK salts it here; only
 * SaltedPassword travels.
 */
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { ScramMechanism, UserScramCredentialsDescription } from '@tributary/client';
import { UserScramCredentialsError } from '@tributary/client';
import { ErrorCode } from '@tributary/records';
import { formatBootstrapCredential, scramCredential } from '@tributary/runtime';
import type { GlobalOptions, Io } from '../context';
import { withAdmin, writeOut } from '../context';
import { OperationError, UsageError, messageOf } from '../errors';

const MECHANISMS: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];
const MIN_ITERATIONS = 4096;
const MAX_ITERATIONS = 16384;

export interface CreateUserOptions {
  passwordFile?: string;
  passwordStdin?: boolean;
  mechanism?: string;
  iterations?: number;
  /** Refused: see the module comment. */
  password?: string;
}

export interface DeleteUserOptions {
  mechanism?: string;
}

/** `SCRAM-SHA-256`, `scram-sha-512` → the mechanism; else a UsageError. */
export function parseMechanism(value: string | undefined): ScramMechanism {
  if (value === undefined) return 'SCRAM-SHA-256';
  const m = MECHANISMS.find((x) => x === value.toUpperCase());
  if (!m) throw new UsageError(`unknown --mechanism '${value}': SCRAM-SHA-256 or SCRAM-SHA-512`);
  return m;
}

/** The password without one trailing newline (`\n` or `\r\n`); refuses an empty one. */
export function passwordFrom(text: string, source: string): string {
  const password = text.replace(/\r?\n$/, '');
  if (password.length === 0) throw new UsageError(`the password from ${source} is empty: put the password in it (one line)`);
  return password;
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function readPassword(io: Io, o: CreateUserOptions): Promise<string> {
  if (o.password !== undefined) {
    throw new UsageError(
      '--password is not accepted: a password on the command line is visible to other users (process list) and kept in shell history; use --password-file <file> or --password-stdin',
    );
  }
  if ((o.passwordFile === undefined) === (o.passwordStdin !== true)) throw new UsageError('give exactly one of --password-file <file> or --password-stdin');
  if (o.passwordFile !== undefined) {
    let text: string;
    try {
      text = await readFile(o.passwordFile, 'utf8');
    } catch (e) {
      throw new OperationError(`cannot read --password-file ${o.passwordFile}: ${messageOf(e)}`, { cause: e });
    }
    return passwordFrom(text, o.passwordFile);
  }
  return passwordFrom(await readAll(io.stdin), 'stdin');
}

/** The user name, mechanism and iterations of `users create|hash`, checked. */
function credentialOptions(name: string, o: CreateUserOptions): { mechanism: ScramMechanism; iterations: number } {
  if (name === '') throw new UsageError('the user name is empty');
  if (/\s/.test(name)) throw new UsageError(`the user name '${name}' contains white space`);
  const mechanism = parseMechanism(o.mechanism);
  const iterations = o.iterations ?? MIN_ITERATIONS;
  if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) throw new UsageError(`--iterations must be from ${MIN_ITERATIONS} to ${MAX_ITERATIONS} (Kafka's bounds), got ${iterations}`);
  return { mechanism, iterations };
}

/**
 * `tributary users hash`: the line for the coordination service's --scram-credentials-file
 * (Kafka's `kafka-storage format --add-scram` with a salted password): how the first users of
 * a cluster whose services log in with SCRAM come to exist. Local: no cluster is called.
 */
export async function hashUser(io: Io, name: string, o: CreateUserOptions): Promise<void> {
  const { mechanism, iterations } = credentialOptions(name, o);
  const password = await readPassword(io, o);
  await writeOut(io.stdout, `${formatBootstrapCredential({ user: name, mechanism, credential: scramCredential(mechanism, password, { iterations }) })}\n`);
}

export async function createUser(io: Io, global: GlobalOptions, name: string, o: CreateUserOptions): Promise<void> {
  const { mechanism, iterations } = credentialOptions(name, o);
  const password = await readPassword(io, o);
  await withAdmin(global, async (admin) => {
    await admin.alterUserScramCredentials([{ type: 'upsertion', user: name, mechanism, iterations, password }]);
  });
  await writeOut(io.stdout, `Completed updating config for user ${name}: ${mechanism} credential set (iterations ${iterations}).\n`);
}

export async function deleteUser(io: Io, global: GlobalOptions, name: string, o: DeleteUserOptions): Promise<void> {
  const only = o.mechanism === undefined ? undefined : parseMechanism(o.mechanism);
  await withAdmin(global, async (admin) => {
    let mechanisms: ScramMechanism[];
    if (only !== undefined) {
      mechanisms = [only];
    } else {
      try {
        const [described] = await admin.describeUserScramCredentials([name]);
        mechanisms = (described?.credentialInfos ?? []).map((c) => c.mechanism);
      } catch (e) {
        if (e instanceof UserScramCredentialsError && e.code === ErrorCode.RESOURCE_NOT_FOUND) throw new OperationError(`user ${name} has no SCRAM credential: nothing to delete`);
        throw e;
      }
    }
    try {
      await admin.alterUserScramCredentials(mechanisms.map((mechanism) => ({ type: 'deletion' as const, user: name, mechanism })));
    } catch (e) {
      if (e instanceof UserScramCredentialsError && e.code === ErrorCode.RESOURCE_NOT_FOUND) {
        throw new OperationError(`user ${name} has no ${mechanisms.join(', ')} credential: nothing deleted (see 'tributary users list')`);
      }
      throw e;
    }
    await writeOut(io.stdout, `Completed updating config for user ${name}: deleted ${mechanisms.join(', ')}.\n`);
  });
}

/** One line per user: `alice  SCRAM-SHA-256 (iterations 8192), SCRAM-SHA-512 (iterations 4096)` under a header. */
export function formatUsers(users: readonly UserScramCredentialsDescription[]): string {
  if (users.length === 0) return 'No SCRAM users.\n';
  const width = Math.max(4, ...users.map((u) => u.user.length));
  const lines = [`${'USER'.padEnd(width)}  CREDENTIALS`];
  for (const u of users) lines.push(`${u.user.padEnd(width)}  ${u.credentialInfos.map((c) => `${c.mechanism} (iterations ${c.iterations})`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

export async function listUsers(io: Io, global: GlobalOptions, o: { json?: boolean }): Promise<void> {
  const users = await withAdmin(global, (admin) => admin.describeUserScramCredentials());
  if (o.json === true) {
    await writeOut(io.stdout, `${JSON.stringify(users.map((u) => ({ user: u.user, credentials: u.credentialInfos })))}\n`);
    return;
  }
  await writeOut(io.stdout, formatUsers(users));
}
