/**
 * The group coordinator instances a broker lists in its Metadata answers, so that a client
 * that knows only brokers can reach GroupCoordinatorService.FindCoordinator (in Kafka the
 * brokers are the group coordinators; here apps/group-coordinator is its own service).
 *
 * Each instance registers the ephemeral node `/group-coordinators/ids/<id>` with JSON
 * `{"host": ..., "port": ...}`. The broker watches the children of that path and reads each
 * new child once; a child's data never changes while it lives (an instance that moves
 * registers again under a new lease), so a removed-then-added id is read again.
 *
 * The list is advisory: a client that finds it stale (an instance gone) asks another one or
 * refreshes its metadata. Nothing here blocks the Metadata call.
 */
import type { CoordinationClient } from '@tributary/coordination-client';
import { WatchEvent_Type } from '@tributary/proto';
import type { GroupCoordinatorNode } from '@tributary/proto';
import type { Logger } from '@tributary/runtime';

export const GROUP_COORDINATOR_IDS_PATH = '/group-coordinators/ids';

/** Parses one registration node's data; undefined when it is not `{host, port}`. */
export function parseRegistration(id: number, data: Buffer): GroupCoordinatorNode | undefined {
  try {
    const value: unknown = JSON.parse(data.toString('utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const { host, port } = value as { host?: unknown; port?: unknown };
    if (typeof host !== 'string' || host.length === 0) return undefined;
    if (typeof port !== 'number' || !Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
    return { nodeId: id, host, port };
  } catch {
    return undefined;
  }
}

export class GroupCoordinatorDirectory {
  private readonly nodes = new Map<number, GroupCoordinatorNode>();
  /** Ids in the latest children list, read or not yet. */
  private live = new Set<number>();
  private sorted: GroupCoordinatorNode[] = [];
  private watch: { cancel(): void } | undefined;
  private stopped = false;
  private client!: CoordinationClient;

  constructor(private readonly logger: Logger) {}

  /** The registered instances, sorted by id. */
  list(): GroupCoordinatorNode[] {
    return this.sorted;
  }

  /** Follows the registrations through `client` until `stop()`. */
  start(client: CoordinationClient): void {
    this.client = client;
    void this.begin();
  }

  private async begin(): Promise<void> {
    // The path must exist for a children watch to report anything; create it if no
    // coordinator ever ran. Retried: coordination may not be reachable yet.
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.client.ensurePath(GROUP_COORDINATOR_IDS_PATH);
        break;
      } catch (e) {
        if (attempt === 0) this.logger.warn({ err: e }, `cannot create ${GROUP_COORDINATOR_IDS_PATH} yet; retrying`);
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** Math.min(attempt, 5))));
      }
    }
    if (this.stopped) return;
    this.watch = this.client.watch(GROUP_COORDINATOR_IDS_PATH, {
      children: true,
      onEvent: (event) => {
        if (event.type === WatchEvent_Type.TYPE_CHILDREN_CHANGED) this.onChildren(event.children);
        else if (event.type === WatchEvent_Type.TYPE_NODE_DELETED) this.onChildren([]);
      },
      onError: (e) => this.logger.error({ err: e }, `watching ${GROUP_COORDINATOR_IDS_PATH} failed; brokers will list no group coordinators`),
    });
  }

  private onChildren(children: string[]): void {
    const live = new Set(children.filter((c) => /^\d+$/.test(c)).map(Number));
    this.live = live;
    for (const id of [...this.nodes.keys()]) if (!live.has(id)) this.nodes.delete(id);
    this.publish();
    for (const id of live) if (!this.nodes.has(id)) void this.read(id);
  }

  private async read(id: number): Promise<void> {
    for (let attempt = 0; !this.stopped && this.live.has(id) && !this.nodes.has(id); attempt++) {
      try {
        const node = await this.client.tryGet(`${GROUP_COORDINATOR_IDS_PATH}/${id}`);
        if (!node) return; // gone again; the next children event says so
        const parsed = parseRegistration(id, node.data);
        if (!parsed) {
          this.logger.warn({ id, data: node.data.toString('utf8').slice(0, 200) }, 'ignoring a group coordinator registration that is not {"host","port"} JSON');
          return;
        }
        if (!this.live.has(id)) return;
        this.nodes.set(id, parsed);
        this.publish();
        this.logger.info({ id, host: parsed.host, port: parsed.port }, 'group coordinator registered');
        return;
      } catch (e) {
        if (attempt === 0) this.logger.warn({ err: e, id }, 'reading a group coordinator registration failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** Math.min(attempt, 5))));
      }
    }
  }

  private publish(): void {
    this.sorted = [...this.nodes.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  stop(): void {
    this.stopped = true;
    this.watch?.cancel();
  }
}
