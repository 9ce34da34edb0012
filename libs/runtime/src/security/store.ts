/**
 * What the security code needs from the coordination store, and where it keeps things
 * (Kafka's ZooKeeper layout where Kafka has one):
 * - `/config/users/<sanitized user>`: `{"version":1,"config":{"SCRAM-SHA-256":"salt=…,stored_key=…,server_key=…,iterations=…", …}}`
 *   (Kafka's user config node; client quotas share it (libs/runtime/src/quotas), so writes
 *   keep keys they do not own, and a node with quota children is never deleted);
 * - `/config/security/token-key`: the session token key ring (token.ts), created once with
 *   compare-and-set by whichever service needs it first;
 * - `/config/security/revoked-tokens/<expiry ms>.<token id>`: revoked tokens, deleted once
 *   expired.
 *
 * {@link SecurityStore} is the subset of `@tributary/coordination-client`'s
 * `CoordinationClient` used here (a `CoordinationClient` is one), so libs/runtime does not
 * depend on the client library.
 */
import { ErrorCode, TributaryError } from '@tributary/records';
import {
  SCRAM_DEFAULT_ITERATIONS,
  formatScramCredential,
  parseScramCredential,
  scramCredential,
  type ScramCredential,
  type ScramMechanism,
} from './scram';

/** The coordination-store operations the security code uses (a `CoordinationClient` fits). */
export interface SecurityStore {
  tryGet(path: string): Promise<{ data: Buffer } | undefined>;
  create(path: string, data: Buffer): Promise<unknown>;
  delete(path: string, expectedVersion?: number): Promise<void>;
  children(path: string): Promise<{ children: string[] }>;
  ensurePath(path: string): Promise<void>;
  /** Read-modify-write with CAS: `update` returns new data, `null` to delete, `undefined` to keep. */
  cas(path: string, update: (current: { data: Buffer } | undefined) => Buffer | null | undefined | Promise<Buffer | null | undefined>): Promise<unknown>;
  /** Follows a node or its children (optional: without it, revocations are polled and key rotation is noticed on use). */
  watch?(path: string, handlers: { children?: boolean; onEvent: (event: { children: string[] }) => void; onError?: (e: Error) => void }): { cancel(): void };
}

/** Parent of the user config nodes. */
export const USERS_PATH = '/config/users';
/** The token key ring node. */
export const TOKEN_KEY_PATH = '/config/security/token-key';
/** Parent of the revoked-token nodes. */
export const REVOKED_TOKENS_PATH = '/config/security/revoked-tokens';

/** Kafka's `Sanitizer.sanitize`: URL-encoding (with `*` as `%2A`), so any user name is one path segment. */
export function sanitizeUserName(name: string): string {
  return encodeURIComponent(name).replace(/\*/g, '%2A');
}

/** Inverse of {@link sanitizeUserName}. */
export function desanitizeUserName(segment: string): string {
  return decodeURIComponent(segment);
}

/** The config node of `user`. */
export function userConfigPath(user: string): string {
  if (user.length === 0) throw new TributaryError(ErrorCode.INVALID_REQUEST, 'the user name is empty');
  return `${USERS_PATH}/${sanitizeUserName(user)}`;
}

interface UserConfigNode {
  version: 1;
  config: Record<string, string>;
}

function parseUserConfig(data: Buffer | undefined): UserConfigNode {
  if (!data || data.length === 0) return { version: 1, config: {} };
  const json = JSON.parse(data.toString('utf8')) as Partial<UserConfigNode>;
  return { version: 1, config: json.config && typeof json.config === 'object' ? { ...json.config } : {} };
}

/**
 * Creates or replaces `user`'s credential for `mechanism` (Kafka's
 * `kafka-configs --alter --add-config 'SCRAM-SHA-256=[password=…]'`). Only the salted
 * credential is stored.
 */
export async function setScramCredential(
  store: SecurityStore,
  user: string,
  mechanism: ScramMechanism,
  password: string,
  iterations = SCRAM_DEFAULT_ITERATIONS,
): Promise<void> {
  await putScramCredential(store, user, mechanism, scramCredential(mechanism, password, { iterations }));
}

/**
 * Creates or replaces `user`'s credential for `mechanism` with an already salted credential
 * (Kafka's AlterUserScramCredentials, KIP-554: the client sends the salted password, so the
 * password never reaches the server). Other keys of the user's node are kept.
 */
export async function putScramCredential(store: SecurityStore, user: string, mechanism: ScramMechanism, credential: ScramCredential): Promise<void> {
  const text = formatScramCredential(credential);
  const path = userConfigPath(user);
  await store.ensurePath(USERS_PATH);
  await store.cas(path, (current) => {
    const node = parseUserConfig(current?.data);
    node.config[mechanism] = text;
    return Buffer.from(JSON.stringify(node));
  });
}

/**
 * Removes `user`'s credential for `mechanism` (the node stays if it holds other config, or
 * has children: the user's per-client-id quota nodes `/config/users/<user>/clients/...`).
 */
export async function deleteScramCredential(store: SecurityStore, user: string, mechanism: ScramMechanism): Promise<boolean> {
  let removed = false;
  const path = userConfigPath(user);
  const hasChildren = await store.children(path).then(
    (c) => c.children.length > 0,
    () => false,
  );
  await store.cas(path, (current) => {
    if (!current) return undefined;
    const node = parseUserConfig(current.data);
    if (!(mechanism in node.config)) return undefined;
    delete node.config[mechanism];
    removed = true;
    return Object.keys(node.config).length === 0 && !hasChildren ? null : Buffer.from(JSON.stringify(node));
  });
  return removed;
}

/** `user`'s stored credential for `mechanism`, or undefined. */
export async function getScramCredential(store: SecurityStore, user: string, mechanism: ScramMechanism): Promise<ScramCredential | undefined> {
  const node = await store.tryGet(userConfigPath(user));
  const text = parseUserConfig(node?.data).config[mechanism];
  return text === undefined ? undefined : parseScramCredential(text);
}

/** Users with a config node, and the SCRAM mechanisms each has. */
export async function listScramUsers(store: SecurityStore): Promise<Array<{ user: string; mechanisms: string[] }>> {
  let names: string[];
  try {
    names = (await store.children(USERS_PATH)).children;
  } catch (e) {
    if ((e as { code?: string }).code === 'NO_NODE') return [];
    throw e;
  }
  const out: Array<{ user: string; mechanisms: string[] }> = [];
  for (const name of names) {
    const node = await store.tryGet(`${USERS_PATH}/${name}`);
    const mechanisms = Object.keys(parseUserConfig(node?.data).config).filter((k) => k.startsWith('SCRAM-'));
    if (mechanisms.length > 0) out.push({ user: desanitizeUserName(name), mechanisms });
  }
  return out;
}
