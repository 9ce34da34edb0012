/**
 * Client quotas in the coordination store (layout and precedence in model.ts).
 *
 * Writes (`QuotaStore.alter`): per entity, a read + Multi of [set (or create) the entity node
 * with the version read, create the change notification], retried on a conflict, so a quota
 * write never loses a concurrent SCRAM credential write to the same user node (keys it does
 * not own are kept) and every change is announced atomically with it. A node left without any
 * config is kept (it may have children: `/config/users/<user>/clients/...`, and SCRAM writes
 * may share it) with an empty config. Writers delete notifications older than 15 minutes.
 *
 * Reads (`QuotaCache`): one full load, then a children watch on /config/changes; every
 * notification batch reloads the quota entities (quota configs are few and small, so a
 * full reload is simpler than tracking sequences and is always consistent). Reloads are
 * serialised and coalesced: changes arriving during a reload cause one more reload.
 */
import type { Op } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { AclStoreClient } from '../security/acl-store';
import {
  CONFIG_CHANGES_PATH,
  CONFIG_CHANGE_PREFIX,
  QUOTA_CLIENTS_PATH,
  QUOTA_KEYS,
  QUOTA_USERS_PATH,
  desanitizeEntityName,
  entityKey,
  entityNodePath,
  entityPath,
  quotaValuesOf,
  validateEntity,
  validateQuotaValue,
  type QuotaEntity,
  type QuotaKey,
} from './model';

/** The coordination operations the quota code uses (a `CoordinationClient` fits). */
export type QuotaStoreClient = AclStoreClient;

/** Notifications older than this are deleted by writers (Kafka's 15 minutes). */
export const QUOTA_CHANGE_EXPIRATION_MS = 15 * 60_000;
const CAS_ATTEMPTS = 20;

const conflictCodes = new Set(['BAD_VERSION', 'NODE_EXISTS', 'NO_NODE']);
const isConflict = (e: unknown): boolean => conflictCodes.has(String((e as { code?: unknown } | undefined)?.code));
const isNoNode = (e: unknown): boolean => (e as { code?: unknown } | undefined)?.code === 'NO_NODE';

/** One change of one quota: `value` to set it, undefined to remove it (KIP-546's Op). */
export interface QuotaOp {
  key: string;
  value?: number;
}

/** An entity and its quota values. */
export interface QuotaEntry {
  entity: QuotaEntity;
  values: Partial<Record<QuotaKey, number>>;
}

/** A component filter of DescribeClientQuotas (KIP-546): exact name, the default entity, or any entity of the type. */
export interface QuotaFilterComponent {
  entityType: 'user' | 'client-id';
  match: { kind: 'exact'; name: string } | { kind: 'default' } | { kind: 'any' };
}

interface ConfigNode {
  version: 1;
  config: Record<string, unknown>;
}

function parseNode(data: Buffer | undefined): ConfigNode {
  if (!data || data.length === 0) return { version: 1, config: {} };
  try {
    const json = JSON.parse(data.toString('utf8')) as Partial<ConfigNode>;
    return { version: 1, config: json.config && typeof json.config === 'object' ? { ...json.config } : {} };
  } catch {
    return { version: 1, config: {} };
  }
}

/** Sequence and timestamp of a notification's name (`config_change_<ms>_<seq>`), or undefined. */
export function parseConfigChangeName(name: string): { timestampMs: number; sequence: number } | undefined {
  const m = /^config_change_(\d+)_(\d+)$/.exec(name);
  return m ? { timestampMs: Number(m[1]), sequence: Number(m[2]) } : undefined;
}

/** Checks a whole alteration (entity and ops) before anything is written; throws INVALID_REQUEST. */
export function validateAlteration(entity: QuotaEntity, ops: readonly QuotaOp[]): void {
  validateEntity(entity);
  const seen = new Set<string>();
  for (const o of ops) {
    if (seen.has(o.key)) throw new TributaryError(ErrorCode.INVALID_REQUEST, `quota '${o.key}' is altered more than once for ${entityPath(entity)}: alter it once`);
    seen.add(o.key);
    if (o.value === undefined) {
      if (!(QUOTA_KEYS as readonly string[]).includes(o.key)) throw new TributaryError(ErrorCode.INVALID_REQUEST, `unknown quota '${o.key}': use ${QUOTA_KEYS.join(', ')}`);
    } else {
      validateQuotaValue(o.key, o.value);
    }
  }
}

export class QuotaStore {
  constructor(
    private readonly client: QuotaStoreClient,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates /config/users, /config/clients and /config/changes (idempotent). */
  async ensurePaths(): Promise<void> {
    for (const p of [QUOTA_USERS_PATH, QUOTA_CLIENTS_PATH, CONFIG_CHANGES_PATH]) await this.client.ensurePath(p);
  }

  /** The quota values stored on one entity (empty when none). */
  async read(entity: QuotaEntity): Promise<Partial<Record<QuotaKey, number>>> {
    const node = await this.client.tryGet(entityNodePath(entity));
    return quotaValuesOf(parseNode(node?.data).config);
  }

  /** Every entity with at least one quota value. */
  async readAll(): Promise<QuotaEntry[]> {
    const out: QuotaEntry[] = [];
    const add = async (entity: QuotaEntity): Promise<void> => {
      const values = await this.read(entity);
      if (Object.keys(values).length > 0) out.push({ entity, values });
    };
    for (const segment of await this.childrenOf(QUOTA_USERS_PATH)) {
      const user = desanitizeEntityName(segment);
      await add({ user });
      for (const c of await this.childrenOf(`${QUOTA_USERS_PATH}/${segment}/clients`)) await add({ user, clientId: desanitizeEntityName(c) });
    }
    for (const segment of await this.childrenOf(QUOTA_CLIENTS_PATH)) await add({ clientId: desanitizeEntityName(segment) });
    return out;
  }

  /** Entries matching every component of `filter` (DescribeClientQuotas; `strict`: the entity has no other component). */
  async describe(filter: readonly QuotaFilterComponent[], strict: boolean): Promise<QuotaEntry[]> {
    return (await this.readAll()).filter((e) => entryMatches(e.entity, filter, strict)).sort((a, b) => (entityKey(a.entity) < entityKey(b.entity) ? -1 : 1));
  }

  /**
   * Applies `ops` to `entity` (validated first: throws INVALID_REQUEST and writes nothing)
   * and announces the change. `validateOnly`: checks only.
   */
  async alter(entity: QuotaEntity, ops: readonly QuotaOp[], validateOnly = false): Promise<void> {
    validateAlteration(entity, ops);
    if (validateOnly || ops.length === 0) return;
    const path = entityNodePath(entity);
    const parent = path.slice(0, path.lastIndexOf('/'));
    await this.client.ensurePath(parent);
    await this.client.ensurePath(CONFIG_CHANGES_PATH);
    for (let attempt = 1; ; attempt++) {
      const node = await this.client.tryGet(path);
      const parsed = parseNode(node?.data);
      let changed = false;
      for (const o of ops) {
        if (o.value === undefined) {
          if (o.key in parsed.config) {
            delete parsed.config[o.key];
            changed = true;
          }
        } else if (parsed.config[o.key] !== String(o.value)) {
          // Kafka stores quota values as strings ("1048576", "200.0").
          parsed.config[o.key] = String(o.value);
          changed = true;
        }
      }
      if (!changed) return;
      const data = Buffer.from(JSON.stringify(parsed));
      const write: Op = node ? opSet(path, data, node.stat.version) : opCreate(path, data);
      const notification = Buffer.from(JSON.stringify({ version: 2, entity_path: entityPath(entity) }));
      try {
        await this.client.multi([write, opCreate(`${CONFIG_CHANGES_PATH}/${CONFIG_CHANGE_PREFIX}${this.now()}_`, notification, true)]);
        break;
      } catch (e) {
        if (!isConflict(e) || attempt >= CAS_ATTEMPTS) throw e;
      }
    }
    await this.purgeChanges().catch(() => undefined);
  }

  /** Deletes quota change notifications older than 15 minutes (several writers may race: NO_NODE is fine). */
  async purgeChanges(): Promise<void> {
    const cutoff = this.now() - QUOTA_CHANGE_EXPIRATION_MS;
    for (const name of await this.childrenOf(CONFIG_CHANGES_PATH)) {
      const parsed = parseConfigChangeName(name);
      if (parsed && parsed.timestampMs < cutoff) {
        await this.client.delete(`${CONFIG_CHANGES_PATH}/${name}`).catch((e: unknown) => {
          if (!isNoNode(e)) throw e;
        });
      }
    }
  }

  private async childrenOf(path: string): Promise<string[]> {
    try {
      return (await this.client.children(path)).children;
    } catch (e) {
      if (isNoNode(e)) return [];
      throw e;
    }
  }
}

function opSet(path: string, data: Buffer, expectedVersion: number): Op {
  return { op: { $case: 'set', value: { path, data, expectedVersion } } };
}
function opCreate(path: string, data: Buffer, sequential = false): Op {
  return { op: { $case: 'create', value: { path, data, leaseId: 0n, sequential } } };
}

/** Whether `entity` matches every component of `filter` (and, when `strict`, has no other component). */
export function entryMatches(entity: QuotaEntity, filter: readonly QuotaFilterComponent[], strict: boolean): boolean {
  for (const c of filter) {
    const value = c.entityType === 'user' ? entity.user : entity.clientId;
    if (value === undefined) return false;
    if (c.match.kind === 'default' && value !== null) return false;
    if (c.match.kind === 'exact' && value !== c.match.name) return false;
  }
  if (strict) {
    const types = new Set(filter.map((c) => c.entityType));
    if (entity.user !== undefined && !types.has('user')) return false;
    if (entity.clientId !== undefined && !types.has('client-id')) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The cache

export interface QuotaCacheOptions {
  logger?: { info(fields: object, msg: string): void; warn(fields: object, msg: string): void };
}

/** Every service's view of the quotas: loaded once, then reloaded at each change notification. */
export class QuotaCache {
  private readonly store: QuotaStore;
  private entries = new Map<string, Partial<Record<QuotaKey, number>>>();
  private list: QuotaEntry[] = [];
  private watch: { cancel(): void } | undefined;
  private ready: Promise<void> | undefined;
  private queue: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private stopped = false;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly client: QuotaStoreClient,
    private readonly options: QuotaCacheOptions = {},
  ) {
    this.store = new QuotaStore(client);
  }

  /** Loads everything and follows changes; resolves once the first load is done. */
  start(): Promise<void> {
    if (this.ready) return this.ready;
    this.ready = new Promise<void>((resolve, reject) => {
      let first = true;
      void this.store.ensurePaths().then(
        () => {
          this.watch = this.client.watch(CONFIG_CHANGES_PATH, {
            children: true,
            onEvent: () => {
              const run = this.reload();
              if (first) {
                first = false;
                run.then(resolve, reject);
              }
            },
            onError: (e) => {
              this.options.logger?.warn({ err: e }, 'quota change watch failed; quotas no longer follow the store');
              if (first) reject(e);
            },
          });
        },
        (e: unknown) => reject(e as Error),
      );
    });
    return this.ready;
  }

  stop(): void {
    this.stopped = true;
    this.watch?.cancel();
  }

  /** Called after every reload (tests, metrics). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The values stored on `entity` (undefined when none). */
  valuesOf(entity: QuotaEntity): Partial<Record<QuotaKey, number>> | undefined {
    return this.entries.get(entityKey(entity));
  }

  /** Every entity with a quota. */
  all(): readonly QuotaEntry[] {
    return this.list;
  }

  /** Reloads (serialised; calls made before a queued reload starts share it). */
  reload(): Promise<void> {
    if (this.queued) return this.queued;
    const run = this.queue
      .catch(() => undefined)
      .then(async () => {
        this.queued = undefined;
        if (this.stopped) return;
        try {
          const list = await this.store.readAll();
          this.entries = new Map(list.map((e) => [entityKey(e.entity), e.values]));
          this.list = list;
        } catch (e) {
          this.options.logger?.warn({ err: e }, 'reloading quotas failed; retried at the next change');
          throw e;
        }
        for (const l of this.listeners) l();
      });
    this.queued = run;
    this.queue = run;
    return run;
  }
}
