/**
 * ACLs in the coordination store, Kafka's ZooKeeper layout under `/acls`:
 *
 *   /acls/literal/<ResourceType>/<escaped name>    {"version":1,"acls":[{"principal":"User:alice",
 *   /acls/prefixed/<ResourceType>/<escaped name>     "permissionType":"Allow","operation":"Read","host":"*"}]}
 *   /acls/changes/acl_changes_<epoch ms>_<seq>     {"version":1,"resourceType":..,"name":..,"patternType":..}
 *
 * (Kafka: /kafka-acl/<Type>/<name>, /kafka-acl-extended/prefixed/<Type>/<name> and the
 * acl_changes_ sequential notifications.) A resource node with no ACL left is deleted.
 *
 * Writes (`AclStore`): every update of a resource node is a read + Multi of [set (or create,
 * or delete) with the version read, create the change notification], retried on a
 * conflict, so concurrent writers never lose each other's entries and every change is
 * announced atomically with it. The writer then deletes notifications older than
 * {@link CHANGE_EXPIRATION_MS} (Kafka's 15 minutes), by the timestamp in their names.
 *
 * Reads (`AclCache`): one full load, then a children watch on /acls/changes; each new
 * notification re-reads the one resource it names. The watch resumes after reconnects
 * from the last revision seen; if the last notification processed has been purged and
 * none at or before it remains (the cache may have missed some), it loads everything again.
 * The cache is indexed by resource type and name; prefixed patterns are found by looking
 * up only the prefix lengths that exist, never by scanning every pattern.
 */
import type { NodeStat, Op, OpResult, WatchEvent } from '@tributary/proto';
import type { AclBinding, AclBindingFilter, AclEntry, ResourcePattern, ResourceType } from './acl';
import {
  ACL_CHANGES_PATH,
  ACL_CHANGE_PREFIX,
  InvalidAclError,
  PATTERN_TYPES,
  RESOURCE_TYPES,
  WILDCARD_RESOURCE,
  aclDirectories,
  decodeChange,
  decodeEntries,
  encodeChange,
  encodeEntries,
  filterMatches,
  patternKey,
  resourcePath,
  resourceTypeDir,
  sameEntry,
  unescapeName,
  validateBinding,
} from './acl';

/** Notifications older than this are deleted by writers (Kafka's 15 minutes). */
export const CHANGE_EXPIRATION_MS = 15 * 60_000;
const CAS_ATTEMPTS = 20;

/** What the ACL code needs of the coordination client (`CoordinationClient` fits). */
export interface AclStoreClient {
  tryGet(path: string): Promise<{ data: Buffer; stat: NodeStat } | undefined>;
  children(path: string): Promise<{ children: string[]; stat: NodeStat }>;
  multi(ops: Op[]): Promise<OpResult[]>;
  delete(path: string, expectedVersion?: number): Promise<void>;
  ensurePath(path: string): Promise<void>;
  watch(
    path: string,
    handlers: { children?: boolean; fromRevision?: bigint; onEvent: (event: WatchEvent) => void; onError?: (e: Error) => void },
  ): { cancel(): void };
}

const conflictCodes = new Set(['BAD_VERSION', 'NODE_EXISTS', 'NO_NODE']);
const isConflict = (e: unknown): boolean => conflictCodes.has(String((e as { code?: unknown } | undefined)?.code));
const isNoNode = (e: unknown): boolean => (e as { code?: unknown } | undefined)?.code === 'NO_NODE';

const op = {
  create: (path: string, data: Buffer, sequential = false): Op => ({ op: { $case: 'create', value: { path, data, leaseId: 0n, sequential } } }),
  set: (path: string, data: Buffer, expectedVersion: number): Op => ({ op: { $case: 'set', value: { path, data, expectedVersion } } }),
  delete: (path: string, expectedVersion: number): Op => ({ op: { $case: 'delete', value: { path, expectedVersion } } }),
};

/** Sequence and timestamp of a notification's name (`acl_changes_<ms>_<seq>`), or undefined. */
export function parseChangeName(name: string): { timestampMs: number; sequence: number } | undefined {
  const m = /^acl_changes_(\d+)_(\d+)$/.exec(name);
  return m ? { timestampMs: Number(m[1]), sequence: Number(m[2]) } : undefined;
}

/** Result of one binding of a CreateAcls: undefined when created (or already there). */
export type CreateAclResult = { error?: InvalidAclError };

export class AclStore {
  constructor(
    private readonly client: AclStoreClient,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates /acls and its directories (idempotent). */
  async ensurePaths(): Promise<void> {
    for (const dir of aclDirectories()) await this.client.ensurePath(dir);
  }

  /** Every stored binding. */
  async readAll(): Promise<AclBinding[]> {
    const out: AclBinding[] = [];
    for (const patternType of PATTERN_TYPES) {
      for (const resourceType of RESOURCE_TYPES) {
        let names: string[];
        try {
          names = (await this.client.children(resourceTypeDir(patternType, resourceType))).children;
        } catch (e) {
          if (isNoNode(e)) continue;
          throw e;
        }
        for (const segment of names) {
          const pattern: ResourcePattern = { resourceType, patternType, name: unescapeName(segment) };
          for (const entry of await this.readResource(pattern)) out.push({ pattern, entry });
        }
      }
    }
    return out;
  }

  /** The entries stored for one pattern (none when its node is absent). */
  async readResource(pattern: ResourcePattern): Promise<AclEntry[]> {
    const node = await this.client.tryGet(resourcePath(pattern));
    return node ? decodeEntries(node.data) : [];
  }

  /** Bindings matching `filter` (DescribeAcls). */
  async describe(filter: AclBindingFilter): Promise<AclBinding[]> {
    return (await this.readAll()).filter((b) => filterMatches(filter, b));
  }

  /** CreateAcls: one result per binding, in order; invalid ones get an InvalidAclError. Existing entries are kept once. */
  async create(bindings: readonly AclBinding[]): Promise<CreateAclResult[]> {
    const results: CreateAclResult[] = bindings.map(() => ({}));
    const byPattern = new Map<string, { pattern: ResourcePattern; entries: AclEntry[] }>();
    bindings.forEach((binding, i) => {
      try {
        validateBinding(binding);
      } catch (e) {
        if (!(e instanceof InvalidAclError)) throw e;
        results[i] = { error: e };
        return;
      }
      const key = patternKey(binding.pattern);
      const group = byPattern.get(key) ?? { pattern: binding.pattern, entries: [] };
      group.entries.push(binding.entry);
      byPattern.set(key, group);
    });
    for (const { pattern, entries } of byPattern.values()) {
      await this.update(pattern, (current) => {
        const next = [...current];
        for (const entry of entries) if (!next.some((e) => sameEntry(e, entry))) next.push(entry);
        return next.length === current.length ? undefined : next;
      });
    }
    return results;
  }

  /** DeleteAcls: for each filter, the bindings it removed (a binding matched by two filters is listed under both). */
  async delete(filters: readonly AclBindingFilter[]): Promise<AclBinding[][]> {
    const deleted: AclBinding[][] = filters.map(() => []);
    const patterns = new Map<string, ResourcePattern>();
    for (const b of await this.readAll()) if (filters.some((f) => filterMatches(f, b))) patterns.set(patternKey(b.pattern), b.pattern);
    for (const pattern of patterns.values()) {
      let removedNow: AclBinding[][] = [];
      await this.update(pattern, (current) => {
        removedNow = filters.map(() => []);
        const kept = current.filter((entry) => {
          const binding = { pattern, entry };
          let hit = false;
          filters.forEach((f, i) => {
            if (filterMatches(f, binding)) {
              removedNow[i]!.push(binding);
              hit = true;
            }
          });
          return !hit;
        });
        return kept.length === current.length ? undefined : kept;
      });
      removedNow.forEach((list, i) => deleted[i]!.push(...list));
    }
    return deleted;
  }

  /**
   * Read-modify-write of one resource node plus its change notification, in one Multi with
   * the version read; `change` returns the new entries or undefined for no change.
   */
  async update(pattern: ResourcePattern, change: (current: AclEntry[]) => AclEntry[] | undefined): Promise<void> {
    const path = resourcePath(pattern);
    for (let attempt = 1; ; attempt++) {
      const node = await this.client.tryGet(path);
      const current = node ? decodeEntries(node.data) : [];
      const next = change(current);
      if (next === undefined) return;
      const write =
        next.length === 0 ? (node ? op.delete(path, node.stat.version) : undefined) : node ? op.set(path, encodeEntries(next), node.stat.version) : op.create(path, encodeEntries(next));
      if (!write) return;
      try {
        await this.client.multi([write, op.create(`${ACL_CHANGES_PATH}/${ACL_CHANGE_PREFIX}${this.now()}_`, encodeChange(pattern), true)]);
        break;
      } catch (e) {
        if (!isConflict(e) || attempt >= CAS_ATTEMPTS) throw e;
      }
    }
    await this.purgeChanges().catch(() => undefined);
  }

  /** Deletes notifications older than CHANGE_EXPIRATION_MS (several writers may race: NO_NODE is fine). */
  async purgeChanges(): Promise<void> {
    const cutoff = this.now() - CHANGE_EXPIRATION_MS;
    for (const name of (await this.client.children(ACL_CHANGES_PATH)).children) {
      const parsed = parseChangeName(name);
      if (parsed && parsed.timestampMs < cutoff) {
        await this.client.delete(`${ACL_CHANGES_PATH}/${name}`).catch((e: unknown) => {
          if (!isNoNode(e)) throw e;
        });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The cache

interface TypeIndex {
  literal: Map<string, AclEntry[]>;
  prefixed: Map<string, AclEntry[]>;
  /** Distinct lengths of the prefixed names, ascending: the only prefixes worth looking up. */
  prefixLengths: number[];
}

export interface AclCacheOptions {
  logger?: { info(fields: object, msg: string): void; warn(fields: object, msg: string): void };
}

export class AclCache {
  private readonly store: AclStore;
  private readonly index = new Map<ResourceType, TypeIndex>();
  private watch: { cancel(): void } | undefined;
  /** Highest notification sequence applied (-1: none yet; undefined: everything must be reloaded). */
  private lastSequence: number | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<() => void>();
  private ready: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly client: AclStoreClient,
    private readonly options: AclCacheOptions = {},
  ) {
    this.store = new AclStore(client);
    for (const t of RESOURCE_TYPES) this.index.set(t, { literal: new Map(), prefixed: new Map(), prefixLengths: [] });
  }

  /** Loads everything and follows changes; resolves once the first load is done. */
  start(): Promise<void> {
    if (this.ready) return this.ready;
    this.ready = new Promise<void>((resolve, reject) => {
      let first = true;
      // The children watch reports at once only once the node exists.
      void this.store.ensurePaths().catch((e: unknown) => {
        first = false;
        reject(e as Error);
      });
      this.watch = this.client.watch(ACL_CHANGES_PATH, {
        children: true,
        onEvent: (event) => {
          const run = this.onChanges(event.children, first);
          if (first) {
            first = false;
            run.then(resolve, reject);
          }
        },
        onError: (e) => {
          this.options.logger?.warn({ err: e }, 'ACL change watch failed; ACLs no longer follow the store');
          if (first) reject(e);
        },
      });
    });
    return this.ready;
  }

  stop(): void {
    this.stopped = true;
    this.watch?.cancel();
  }

  /** Called after every applied change (tests, metrics). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The entries of every pattern that applies to `resourceType`/`name`: literal name, literal `*`, and prefixes. */
  matchingEntries(resourceType: ResourceType, name: string): AclEntry[] {
    const idx = this.index.get(resourceType)!;
    const out: AclEntry[] = [];
    const literal = idx.literal.get(name);
    if (literal) out.push(...literal);
    if (name !== WILDCARD_RESOURCE) {
      const wildcard = idx.literal.get(WILDCARD_RESOURCE);
      if (wildcard) out.push(...wildcard);
    }
    for (const length of idx.prefixLengths) {
      if (length > name.length) break;
      const prefixed = idx.prefixed.get(name.slice(0, length));
      if (prefixed) out.push(...prefixed);
    }
    return out;
  }

  /** Every cached binding of `resourceType` (authorizeByResourceType). */
  bindingsOfType(resourceType: ResourceType): AclBinding[] {
    const idx = this.index.get(resourceType)!;
    const out: AclBinding[] = [];
    for (const patternType of PATTERN_TYPES) {
      for (const [name, entries] of patternType === 'LITERAL' ? idx.literal : idx.prefixed) {
        for (const entry of entries) out.push({ pattern: { resourceType, name, patternType }, entry });
      }
    }
    return out;
  }

  /** Serialises change handling: notifications are applied in order, one at a time. */
  private onChanges(children: string[], initial: boolean): Promise<void> {
    const run = this.queue.then(() => this.apply(children, initial));
    this.queue = run.catch((e: unknown) => {
      this.options.logger?.warn({ err: e }, 'applying ACL changes failed; reloading all ACLs at the next change');
      this.lastSequence = undefined;
    });
    return run;
  }

  private async apply(children: string[], initial: boolean): Promise<void> {
    if (this.stopped) return;
    const changes = children
      .map((name) => ({ name, parsed: parseChangeName(name) }))
      .filter((c): c is { name: string; parsed: { timestampMs: number; sequence: number } } => c.parsed !== undefined)
      .sort((a, b) => a.parsed.sequence - b.parsed.sequence);
    const newest = changes.length > 0 ? changes[changes.length - 1]!.parsed.sequence : -1;
    if (initial || this.lastSequence === undefined) return this.reloadAllAt(newest);
    const last = this.lastSequence;
    if (newest <= last) return;
    // Notifications are purged oldest first: if none at or before the last one applied
    // remains, some after it may be gone too.
    if (last >= 0 && !changes.some((c) => c.parsed.sequence <= last)) return this.reloadAllAt(newest);
    for (const c of changes) {
      if (c.parsed.sequence <= last) continue;
      const node = await this.client.tryGet(`${ACL_CHANGES_PATH}/${c.name}`);
      // Purged between the event and this read: what it named is unknown.
      if (!node) return this.reloadAllAt(newest);
      const pattern = decodeChange(node.data);
      if (pattern) this.setEntries(pattern, await this.store.readResource(pattern));
      else this.options.logger?.warn({ notification: c.name }, 'unreadable ACL change notification ignored');
      this.lastSequence = c.parsed.sequence;
    }
    this.notify();
  }

  private async reloadAllAt(sequence: number): Promise<void> {
    await this.reloadAll();
    this.lastSequence = sequence;
    this.notify();
  }

  private async reloadAll(): Promise<void> {
    const bindings = await this.store.readAll();
    for (const idx of this.index.values()) {
      idx.literal.clear();
      idx.prefixed.clear();
      idx.prefixLengths = [];
    }
    const grouped = new Map<string, { pattern: ResourcePattern; entries: AclEntry[] }>();
    for (const b of bindings) {
      const key = patternKey(b.pattern);
      const g = grouped.get(key) ?? { pattern: b.pattern, entries: [] };
      g.entries.push(b.entry);
      grouped.set(key, g);
    }
    for (const { pattern, entries } of grouped.values()) this.setEntries(pattern, entries);
    this.options.logger?.info({ acls: bindings.length }, 'ACLs loaded');
  }

  private setEntries(pattern: ResourcePattern, entries: AclEntry[]): void {
    const idx = this.index.get(pattern.resourceType)!;
    const map = pattern.patternType === 'LITERAL' ? idx.literal : idx.prefixed;
    if (entries.length === 0) map.delete(pattern.name);
    else map.set(pattern.name, entries);
    if (pattern.patternType === 'PREFIXED') idx.prefixLengths = [...new Set([...idx.prefixed.keys()].map((k) => k.length))].sort((a, b) => a - b);
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }
}
