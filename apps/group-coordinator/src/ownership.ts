/**
 * Registration and `__consumer_offsets` partition ownership through the coordination store
 * (ARCHITECTURE.md §5):
 *
 *   /group-coordinators/ids/<id>   ephemeral, JSON {"host", "port"}: this instance is alive
 *                                  (brokers list these in MetadataResponse.group_coordinators)
 *   /group-coordinators/<p>        ephemeral, JSON {"id", "host", "port"}: the owner of partition p
 *
 * Both live under one lease the instance keeps alive: when it dies (kill -9) the lease expires
 * after its TTL and every node goes at once, so the others take over. The plan of what to
 * claim and release is ownership-plan.ts; this file runs it whenever the registrations or the
 * owner nodes change (watches) and periodically, one run at a time. A lost lease stops serving
 * every partition at once (`onLeaseLost`) and registers again with a new lease.
 */
import type { CoordinationClient, LeaseKeeper } from '@tributary/coordination-client';
import { CoordinationClientError } from '@tributary/coordination-client';
import type { Logger } from '@tributary/runtime';
import { planOwnership } from './ownership-plan';

export const GROUP_COORDINATORS_PATH = '/group-coordinators';
export const GROUP_COORDINATOR_IDS_PATH = '/group-coordinators/ids';

export interface InstanceAddress {
  host: string;
  port: number;
}

export interface OwnershipHooks {
  /** A partition was claimed: load it (asynchronously). */
  onClaim(partition: number): void;
  /** Stop serving a partition now (release, loss or shutdown). */
  onUnload(partition: number): void;
  /** After onUnload at a handover: wait for its writes in flight before the node is deleted. */
  drain(partition: number): Promise<void>;
  /** Registration state changed (for readiness and logs). */
  onRegistered(registered: boolean): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

function parseJson(data: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(data.toString('utf8'));
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export class Ownership {
  private lease: LeaseKeeper | undefined;
  private stopped = false;
  private readonly held = new Set<number>();
  /** Owner id of each partition with an owner node, as last read. */
  readonly owners = new Map<number, number>();
  /** Registered instances, as last read. */
  readonly instances = new Map<number, InstanceAddress>();
  private readonly freeSince = new Map<number, number>();
  private reconciling: Promise<void> | undefined;
  private again = false;
  private watches: { cancel(): void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private signalStop!: () => void;
  /** Called after each check run under a lease (the first one: registered and claims made). */
  onSettled: () => void = () => undefined;
  private readonly stopSignal = new Promise<string>((resolve) => (this.signalStop = () => resolve('stopped')));

  constructor(
    private readonly client: CoordinationClient,
    private readonly selfId: number,
    private readonly address: InstanceAddress,
    private readonly ttlMs: number,
    private readonly numPartitions: number,
    private readonly hooks: OwnershipHooks,
    private readonly logger: Logger,
  ) {}

  get registered(): boolean {
    return this.lease !== undefined;
  }

  /** Partitions this instance holds now. */
  get heldPartitions(): ReadonlySet<number> {
    return this.held;
  }

  /** Where the owner of `partition` is, as last read (undefined: no owner yet). */
  ownerOf(partition: number): { id: number; address: InstanceAddress } | undefined {
    const id = this.owners.get(partition);
    if (id === undefined) return undefined;
    const address = id === this.selfId ? this.address : this.instances.get(id);
    return address ? { id, address } : undefined;
  }

  async start(): Promise<void> {
    await this.client.ensurePath(GROUP_COORDINATOR_IDS_PATH);
    const trigger = (): void => this.scheduleReconcile();
    const onError = (e: CoordinationClientError): void => this.logger.warn({ err: e }, 'watch failed');
    this.watches.push(this.client.watch(GROUP_COORDINATOR_IDS_PATH, { children: true, onEvent: trigger, onError }));
    this.watches.push(this.client.watch(GROUP_COORDINATORS_PATH, { children: true, onEvent: trigger, onError }));
    this.timer = setInterval(trigger, Math.max(200, Math.min(1000, Math.floor(this.ttlMs / 3))));
    this.timer.unref();
    this.loop = this.register();
  }

  private async register(): Promise<void> {
    const path = `${GROUP_COORDINATOR_IDS_PATH}/${this.selfId}`;
    let warnedTaken = false;
    for (let attempt = 0; !this.stopped; ) {
      let lease: LeaseKeeper | undefined;
      try {
        lease = await this.client.grantLease(this.ttlMs);
        if (this.stopped) {
          await lease.revoke().catch(() => undefined);
          return;
        }
        await this.client.create(path, Buffer.from(JSON.stringify({ host: this.address.host, port: this.address.port })), { leaseId: lease.id });
        this.lease = lease;
        attempt = 0;
        warnedTaken = false;
        this.logger.info({ path, ...this.address }, 'registered');
        this.hooks.onRegistered(true);
        this.scheduleReconcile();
        const reason = await Promise.race([lease.expired, this.stopSignal]);
        if (this.stopped) return;
        this.lease = undefined;
        this.logger.warn({ reason, partitions: this.held.size }, 'lease lost: no longer serving any partition; registering again');
        this.dropAll();
        this.hooks.onRegistered(false);
      } catch (e) {
        await lease?.revoke().catch(() => undefined);
        if (this.stopped) return;
        if (e instanceof CoordinationClientError && e.code === 'NODE_EXISTS') {
          if (!warnedTaken) {
            this.logger.warn({ path }, `group coordinator id ${this.selfId} is still registered (a previous run whose lease has not expired yet, or another instance with the same id); waiting for it to go`);
            warnedTaken = true;
          }
          await sleep(Math.min(1000, this.ttlMs / 4));
          continue;
        }
        this.logger.warn({ err: e, attempt }, 'registration failed; retrying');
        await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt++, 5)));
      }
    }
  }

  /** Stops serving every held partition at once (the lease, and so the nodes, are gone). */
  private dropAll(): void {
    for (const p of this.held) this.hooks.onUnload(p);
    this.held.clear();
  }

  scheduleReconcile(): void {
    if (this.stopped) return;
    if (this.reconciling) {
      this.again = true;
      return;
    }
    this.reconciling = (async () => {
      do {
        this.again = false;
        try {
          await this.reconcile();
        } catch (e) {
          if (!this.stopped) this.logger.warn({ err: e }, 'ownership check failed; retrying');
        }
      } while (this.again && !this.stopped);
    })().finally(() => (this.reconciling = undefined));
  }

  private async reconcile(): Promise<void> {
    // Settled (readiness) only by a run that saw this instance registered from its start.
    const leaseAtStart = this.lease;
    const { children: idNames } = await this.client.children(GROUP_COORDINATOR_IDS_PATH);
    const ids = idNames.filter((n) => /^\d+$/.test(n)).map(Number);
    const idNodes = await Promise.all(ids.map(async (id) => [id, await this.client.tryGet(`${GROUP_COORDINATOR_IDS_PATH}/${id}`)] as const));
    this.instances.clear();
    for (const [id, node] of idNodes) {
      const data = node ? parseJson(node.data) : undefined;
      if (data && typeof data['host'] === 'string' && typeof data['port'] === 'number') this.instances.set(id, { host: data['host'], port: data['port'] });
    }
    const { children } = await this.client.children(GROUP_COORDINATORS_PATH);
    const partitions = children.filter((n) => /^\d+$/.test(n)).map(Number);
    const nodes = await Promise.all(partitions.map(async (p) => [p, await this.client.tryGet(`${GROUP_COORDINATORS_PATH}/${p}`)] as const));
    this.owners.clear();
    for (const [p, node] of nodes) {
      const data = node ? parseJson(node.data) : undefined;
      if (data && typeof data['id'] === 'number') this.owners.set(p, data['id']);
    }
    const now = Date.now();
    for (let p = 0; p < this.numPartitions; p++) {
      if (this.owners.has(p)) this.freeSince.delete(p);
      else if (!this.freeSince.has(p)) this.freeSince.set(p, now);
    }
    const lease = this.lease;
    if (!lease || this.stopped) return;
    const plan = planOwnership({
      selfId: this.selfId,
      liveIds: [...this.instances.keys()],
      owners: this.owners,
      held: this.held,
      numPartitions: this.numPartitions,
      freeSinceMs: this.freeSince,
      nowMs: now,
      orphanGraceMs: this.ttlMs,
    });
    for (const p of plan.lost) {
      this.logger.warn({ partition: p }, 'owner node of a held partition is gone or taken: no longer serving it');
      this.held.delete(p);
      this.hooks.onUnload(p);
    }
    for (const p of plan.release) {
      if (this.stopped || this.lease !== lease) return;
      await this.release(p);
    }
    await Promise.all(
      plan.claim.map(async (p) => {
        if (this.stopped || this.lease !== lease) return;
        try {
          await this.client.create(`${GROUP_COORDINATORS_PATH}/${p}`, Buffer.from(JSON.stringify({ id: this.selfId, ...this.address })), { leaseId: lease.id });
        } catch (e) {
          if (e instanceof CoordinationClientError && e.code === 'NODE_EXISTS') return; // someone else was first: the watch tells
          throw e;
        }
        if (this.stopped || this.lease !== lease) return;
        this.owners.set(p, this.selfId);
        this.freeSince.delete(p);
        this.held.add(p);
        this.hooks.onClaim(p);
      }),
    );
    if (this.lease === lease && lease === leaseAtStart && this.instances.has(this.selfId) && !this.stopped) this.onSettled();
  }

  /** Stops serving `p`, then deletes its owner node so that its desired owner claims it. */
  private async release(p: number): Promise<void> {
    this.held.delete(p);
    this.hooks.onUnload(p);
    await this.hooks.drain(p);
    try {
      await this.client.delete(`${GROUP_COORDINATORS_PATH}/${p}`);
    } catch (e) {
      if (!(e instanceof CoordinationClientError && e.code === 'NO_NODE')) throw e;
    }
    this.owners.delete(p);
    this.logger.info({ partition: p }, 'released partition to its desired owner');
  }

  /** Graceful stop: releases every partition (others take over at once), then revokes the lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.signalStop();
    clearInterval(this.timer);
    for (const w of this.watches) w.cancel();
    await this.reconciling?.catch(() => undefined);
    const held = [...this.held];
    for (const p of held) this.hooks.onUnload(p);
    this.held.clear();
    await Promise.all(held.map(async (p) => {
      await this.hooks.drain(p);
      await this.client.delete(`${GROUP_COORDINATORS_PATH}/${p}`).catch(() => undefined);
    }));
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await lease.revoke().catch((e: unknown) => this.logger.warn({ err: e }, 'revoking the lease failed'));
    await this.loop?.catch(() => undefined);
  }
}
