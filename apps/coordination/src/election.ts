/**
 * Leader election on any Backend, with ZooKeeper's recipe: each candidate creates an
 * ephemeral sequential node `/elections/<name>/c-<10 digits>` under its lease; the lowest
 * sequence number leads; every other candidate watches only its predecessor (no herd
 * effect). A candidacy ends with its lease (expiry, revoke, process death) or on resign.
 *
 * Term (the fencing epoch callers stamp on their decisions): the leader's sequence number
 * + 1. Sequence numbers come from the election node's cversion, which only grows (the
 * election node is never deleted), and leaders take office in sequence order, so every new
 * leader's term is larger than every previous leader's.
 */
import type { Backend } from './backend';
import { CoordinationError } from './backend';
import { watchPath } from './watch';
import { ABORTED, orAbort } from './abort';

export const ELECTIONS_ROOT = '/elections';
const PREFIX = 'c-';

export interface Leadership {
  election: string;
  /** The candidate data of the leader (empty when there is none). */
  leader: Buffer;
  /** 0 when there is no leader. */
  term: bigint;
  /** The leader's candidacy node name ('' when none). */
  key: string;
}

export function validateElectionName(name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(name) || name === '.' || name === '..') {
    throw new CoordinationError('INVALID_ARGUMENT', `election name '${String(name)}' must be 1-128 characters of A-Z a-z 0-9 . _ -`);
  }
  return name;
}

function electionDir(name: string): string {
  return `${ELECTIONS_ROOT}/${name}`;
}

function sequenceOf(key: string): number {
  return Number(key.slice(PREFIX.length));
}

function candidates(names: string[]): string[] {
  return names.filter((n) => n.startsWith(PREFIX) && /^\d{10}$/.test(n.slice(PREFIX.length))).sort((a, b) => sequenceOf(a) - sequenceOf(b));
}

async function ensureNode(backend: Backend, path: string): Promise<void> {
  try {
    await backend.create(path, Buffer.alloc(0));
  } catch (e) {
    if (!(e instanceof CoordinationError) || e.code !== 'NODE_EXISTS') throw e;
  }
}

/**
 * Enters the election and resolves once this candidate leads. If `signal` aborts first, the
 * candidacy is withdrawn and the promise rejects with the signal's reason.
 */
export async function campaign(backend: Backend, name: string, candidate: Buffer, leaseId: bigint, signal: AbortSignal): Promise<Leadership> {
  validateElectionName(name);
  if (leaseId === 0n) throw new CoordinationError('INVALID_ARGUMENT', 'a campaign needs a lease (grant one first)');
  const dir = electionDir(name);
  await ensureNode(backend, ELECTIONS_ROOT);
  await ensureNode(backend, dir);
  const { path } = await backend.create(`${dir}/${PREFIX}`, candidate, { leaseId, sequential: true });
  const key = path.slice(dir.length + 1);
  try {
    for (;;) {
      signal.throwIfAborted();
      const order = candidates((await backend.children(dir)).names);
      const index = order.indexOf(key);
      if (index < 0) throw new CoordinationError('LEASE_EXPIRED', `the candidacy of lease ${leaseId} in election '${name}' ended (lease expired or revoked)`);
      if (index === 0) return { election: name, leader: candidate, term: BigInt(sequenceOf(key) + 1), key };
      const predecessor = await backend.getAndWatch(`${dir}/${order[index - 1]}`);
      if (!predecessor.node) {
        predecessor.cancel();
        continue;
      }
      const outcome = await orAbort(predecessor.changed, signal);
      if (outcome === ABORTED) predecessor.cancel();
    }
  } catch (e) {
    await resign(backend, name, key).catch(() => undefined);
    throw e;
  }
}

/** Withdraws a candidacy (or gives up leadership). No error if it is already gone. */
export async function resign(backend: Backend, name: string, key: string): Promise<void> {
  validateElectionName(name);
  if (!key.startsWith(PREFIX) || key.includes('/')) throw new CoordinationError('INVALID_ARGUMENT', `'${key}' is not a candidacy key`);
  try {
    await backend.delete(`${electionDir(name)}/${key}`, -1);
  } catch (e) {
    if (!(e instanceof CoordinationError) || e.code !== 'NO_NODE') throw e;
  }
}

/** The current leader, then every change of leader, until `signal` aborts. */
export async function* observe(backend: Backend, name: string, signal: AbortSignal): AsyncGenerator<Leadership> {
  validateElectionName(name);
  const dir = electionDir(name);
  await ensureNode(backend, ELECTIONS_ROOT);
  await ensureNode(backend, dir);
  let lastKey: string | undefined;
  for await (const update of watchPath(backend, dir, { children: true, fromRevision: -1n, signal })) {
    const order = update.type === 'children-changed' ? candidates(update.children) : [];
    let leader: Leadership = { election: name, leader: Buffer.alloc(0), term: 0n, key: '' };
    for (const key of order) {
      // The lowest candidate may vanish between the listing and this read: take the next.
      const node = await backend.exists(`${dir}/${key}`).then((s) => (s ? backend.get(`${dir}/${key}`).catch(() => undefined) : undefined));
      if (node) {
        leader = { election: name, leader: node.data, term: BigInt(sequenceOf(key) + 1), key };
        break;
      }
    }
    if (leader.key !== lastKey) {
      lastKey = leader.key;
      yield leader;
    }
  }
}
