/**
 * The group coordinator's core: the `__consumer_offsets` partitions this instance owns, the
 * groups and committed offsets in them, and the GroupCoordinatorService handlers.
 *
 * A claimed partition is `loading` (calls for its groups answer COORDINATOR_LOAD_IN_PROGRESS)
 * until its log has been read from the start to the end offset at claim time (offsets-state.ts
 * applies the records); then `active`. Unloading (release, lost lease, shutdown) drops it at
 * once and marks its groups Dead, so parked JoinGroup / SyncGroup calls are answered and every
 * later call answers NOT_COORDINATOR.
 *
 * Writes: offset commits, the group metadata at the leader's SyncGroup (ConsumerGroup's
 * `persist` hook), the Empty group after its last member left, and tombstones (DeleteGroups,
 * retention) go to the group's partition with the idempotent acks=all Producer. A call is
 * answered only after its write is acknowledged; memory changes only then. Commits of many
 * concurrent calls are batched by the Producer (no serial awaits per record).
 */
import type { Admin, Consumer, Producer } from '@tributary/client';
import { ConsumerGroup, CONSUMER_OFFSETS_TOPIC, MAX_STRING_BYTES, encodeGroupMetadataKey, encodeGroupMetadataValue, encodeOffsetCommitKey, encodeOffsetCommitValue, joinGroupInput, partitionFor, syncGroupInput } from '@tributary/groups';
import type { GroupConfig, GroupMetadataValue, GroupState, GroupTimers, JoinGroupResult, SyncGroupResult } from '@tributary/groups';
import type {
  DeleteGroupsRequest,
  DeleteGroupsResponse,
  DescribeGroupsRequest,
  DescribeGroupsResponse,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupRequest,
  LeaveGroupResponse,
  ListGroupsRequest,
  ListGroupsResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetCommitResponsePartition,
  OffsetFetchRequest,
  OffsetFetchResponse,
  SyncGroupRequest,
  SyncGroupResponse,
  GroupCoordinatorServiceService,
} from '@tributary/proto';
import { CoordinatorKeyType, ErrorCode } from '@tributary/proto';
import { TributaryError } from '@tributary/records';
import type { CallContext, Logger, Metrics, Refusal, ServiceHandlers } from '@tributary/runtime';
import { refusalsOf } from '@tributary/runtime';
import { authorizedListGroups, authorizedOffsetCommit, authorizedOffsetFetch } from './authorization';
import type { GroupCoordinatorConfig } from './config';
import { deleteOffset, expiredOffsets, offsetCount, PartitionLoad, setOffset, shouldDeleteGroup } from './offsets-state';
import type { GroupOffsets, LoadedGroup } from './offsets-state';
import type { Ownership } from './ownership';

const STATES: GroupState[] = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'];

interface GroupEntry {
  group: ConsumerGroup;
  offsets: GroupOffsets;
}

interface PartitionState {
  partition: number;
  status: 'loading' | 'active';
  groups: Map<string, GroupEntry>;
}

/** The real clock groups run on. */
const realTimers: GroupTimers = {
  nowMs: () => Date.now(),
  schedule(delayMs, fire) {
    const t = setTimeout(fire, delayMs);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

class WriteTimeoutError extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new WriteTimeoutError(`the write to ${CONSUMER_OFFSETS_TOPIC} was not acknowledged within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Kafka's mapping of a failed `__consumer_offsets` append (GroupMetadataManager.storeGroup / storeOffsets). */
export function writeErrorCode(e: unknown, forCommit: boolean): ErrorCode {
  if (e instanceof WriteTimeoutError) return forCommit ? ErrorCode.REQUEST_TIMED_OUT : ErrorCode.COORDINATOR_NOT_AVAILABLE;
  const code = e instanceof TributaryError ? e.code : undefined;
  switch (code) {
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
      return forCommit ? ErrorCode.INVALID_COMMIT_OFFSET_SIZE : ErrorCode.UNKNOWN_SERVER_ERROR;
    default:
      // UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS(_AFTER_APPEND), REQUEST_TIMED_OUT,
      // and anything else: the client finds the coordinator again and retries.
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  }
}

/** Kafka's client host: `/<ip>` of the caller. */
function clientHost(peer: string): string {
  const m = /^(?:ipv[46]:)?\[?([^\]]*?)\]?:\d+$/.exec(peer);
  return `/${m?.[1] ?? peer}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export interface CoordinatorDeps {
  config: GroupCoordinatorConfig;
  logger: Logger;
  metrics: Metrics;
  producer: Producer;
  admin: Admin;
  /** Consumer used to read partitions at takeover. */
  loader: Consumer;
}

export class GroupCoordinator {
  private readonly partitions = new Map<number, PartitionState>();
  private ownership: Ownership | undefined;
  private numPartitions = 0;
  private stopping = false;
  private readonly pendingLoads = new Set<number>();
  /** Writes in flight per partition (settled promises, never rejecting). */
  private readonly inflight = new Map<number, Set<Promise<unknown>>>();
  private loading: Promise<void> | undefined;
  private readonly groupConfig: Partial<GroupConfig>;
  private readonly log: Logger;
  private readonly rebalances;
  private readonly commits;
  private readonly loadSeconds;
  private readonly lag;
  private readonly lagSeries = new Map<string, { group: string; topic: string; partition: string }>();
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly deps: CoordinatorDeps) {
    const { config, metrics } = deps;
    this.log = deps.logger.child({ component: 'coordinator' });
    this.groupConfig = {
      minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      maxSize: config.groupMaxSize,
    };
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    metrics.gauge({
      name: 'tributary_group_coordinator_groups',
      help: 'Groups coordinated by this instance, by state (PreparingRebalance, CompletingRebalance, Stable, Empty, Dead)',
      labelNames: ['state'],
      collect() {
        const counts = new Map<string, number>(STATES.map((s) => [s, 0]));
        for (const st of self.partitions.values()) for (const e of st.groups.values()) counts.set(e.group.state, (counts.get(e.group.state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    metrics.gauge({
      name: 'tributary_group_coordinator_members',
      help: 'Members of the groups coordinated by this instance',
      collect() {
        let n = 0;
        for (const st of self.partitions.values()) for (const e of st.groups.values()) n += e.group.memberList().length;
        this.set(n);
      },
    });
    metrics.gauge({
      name: 'tributary_group_coordinator_owned_partitions',
      help: 'Partitions of __consumer_offsets this instance owns (loading or loaded)',
      collect() {
        this.set(self.partitions.size);
      },
    });
    metrics.gauge({
      name: 'tributary_group_coordinator_loading_partitions',
      help: 'Owned partitions of __consumer_offsets still being loaded',
      collect() {
        let n = 0;
        for (const st of self.partitions.values()) if (st.status === 'loading') n++;
        this.set(n);
      },
    });
    this.rebalances = metrics.counter({ name: 'tributary_group_coordinator_rebalances_total', help: 'Rebalances completed (joins answered with a new generation) by groups on this instance' });
    this.commits = metrics.counter({ name: 'tributary_group_coordinator_offset_commits_total', help: 'Partition offsets committed (written and acknowledged) on this instance' });
    this.loadSeconds = metrics.histogram({ name: 'tributary_group_coordinator_partition_load_duration_seconds', help: 'Time to read an owned __consumer_offsets partition at takeover' });
    this.lag = metrics.gauge({
      name: 'tributary_consumer_group_lag',
      help: 'Records a group is behind: log end offset minus its committed offset, per group, topic and partition (refreshed every lag-refresh-interval-ms)',
      labelNames: ['group', 'topic', 'partition'],
    });
    this.rebalances.inc(0);
    this.commits.inc(0);
  }

  // ------------------------------------------------------------------------------ lifecycle

  /** Serving starts once the offsets topic is known and ownership is wired. */
  attach(ownership: Ownership, numPartitions: number): void {
    this.ownership = ownership;
    this.numPartitions = numPartitions;
    const { config } = this.deps;
    const lagTimer = setInterval(() => void this.refreshLag(), config.lagRefreshIntervalMs);
    const retentionTimer = setInterval(() => void this.expireOffsets(), config.offsetsRetentionCheckIntervalMs);
    lagTimer.unref();
    retentionTimer.unref();
    this.timers.push(lagTimer, retentionTimer);
  }

  /** Ready: every owned partition loaded. */
  get loadsPending(): number {
    let n = 0;
    for (const st of this.partitions.values()) if (st.status === 'loading') n++;
    return n;
  }

  beginStop(): void {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
  }

  onClaim(partition: number): void {
    const st: PartitionState = { partition, status: 'loading', groups: new Map() };
    this.partitions.set(partition, st);
    this.pendingLoads.add(partition);
    this.loading ??= this.runLoads().finally(() => (this.loading = undefined));
  }

  onUnload(partition: number): void {
    const st = this.partitions.get(partition);
    this.pendingLoads.delete(partition);
    if (!st) return;
    this.partitions.delete(partition);
    for (const [groupId, e] of st.groups) {
      e.group.markDead();
      this.dropLag(groupId);
    }
    this.log.debug({ partition, groups: st.groups.size }, 'unloaded partition');
  }

  // ------------------------------------------------------------------------------ loading

  private async runLoads(): Promise<void> {
    while (this.pendingLoads.size > 0 && !this.stopping) {
      const batch = [...this.pendingLoads].sort((a, b) => a - b);
      this.pendingLoads.clear();
      const started = process.hrtime.bigint();
      try {
        const loaded = await this.readPartitions(batch);
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        let groups = 0;
        for (const [p, g] of loaded) groups += this.activate(p, g, seconds / batch.length);
        this.log.info({ partitions: batch, groups, seconds }, 'loaded partitions');
      } catch (e) {
        if (this.stopping) return;
        this.log.warn({ err: e, partitions: batch }, 'loading partitions failed; retrying');
        for (const p of batch) if (this.partitions.get(p)?.status === 'loading') this.pendingLoads.add(p);
        await sleep(500);
      }
    }
  }

  /** Reads partitions from their log start to their end offset now (the claim's high watermark). */
  private async readPartitions(batch: number[]): Promise<Map<number, Map<string, LoadedGroup>>> {
    const { admin, loader } = this.deps;
    const [starts, ends] = await Promise.all([admin.listOffsets(CONSUMER_OFFSETS_TOPIC, 'earliest', batch), admin.listOffsets(CONSUMER_OFFSETS_TOPIC, 'latest', batch)]);
    const end = new Map(ends.map((o) => [o.partition, o.offset]));
    const loads = new Map(batch.map((p) => [p, new PartitionLoad()]));
    const remaining = new Set(starts.filter((o) => o.offset < (end.get(o.partition) ?? 0n)).map((o) => o.partition));
    if (remaining.size > 0) {
      const tps = [...remaining].map((partition) => ({ topic: CONSUMER_OFFSETS_TOPIC, partition }));
      loader.assign(tps);
      for (const o of starts) if (remaining.has(o.partition)) loader.seek({ topic: CONSUMER_OFFSETS_TOPIC, partition: o.partition }, o.offset);
      try {
        while (remaining.size > 0) {
          if (this.stopping) throw new Error('stopping');
          for (const p of remaining) if (this.partitions.get(p)?.status !== 'loading') remaining.delete(p); // released meanwhile
          const records = await loader.poll(200);
          for (const r of records) {
            if (r.offset < (end.get(r.partition) ?? 0n)) loads.get(r.partition)?.applyRecord(r.key, r.value);
          }
          for (const p of [...remaining]) {
            const position = await loader.position({ topic: CONSUMER_OFFSETS_TOPIC, partition: p });
            if (position >= (end.get(p) ?? 0n)) remaining.delete(p);
          }
        }
      } finally {
        loader.assign([]);
      }
    }
    const result = new Map<number, Map<string, LoadedGroup>>();
    for (const [p, load] of loads) {
      if (load.skipped > 0) this.log.warn({ partition: p, skipped: load.skipped }, 'skipped unreadable or unknown records while loading');
      result.set(p, load.result());
    }
    return result;
  }

  /** Serves a loaded partition (unless released meanwhile); returns its group count. */
  private activate(partition: number, loaded: Map<string, LoadedGroup>, seconds: number): number {
    const st = this.partitions.get(partition);
    if (!st || st.status !== 'loading') return 0;
    for (const [groupId, g] of loaded) {
      const group = g.metadata ? ConsumerGroup.fromMetadata(groupId, g.metadata, realTimers, this.groupOptions(partition, groupId)) : this.newGroup(partition, groupId);
      st.groups.set(groupId, { group, offsets: g.offsets });
    }
    st.status = 'active';
    this.loadSeconds.observe(seconds);
    return loaded.size;
  }

  // ------------------------------------------------------------------------------ groups

  private groupOptions(partition: number, groupId: string): ConstructorParameters<typeof ConsumerGroup>[2] {
    return {
      config: this.groupConfig,
      persist: (value, done) => {
        this.writeGroup(partition, groupId, value).then(
          () => done(ErrorCode.NONE),
          (e: unknown) => {
            this.log.warn({ err: e, group: groupId }, 'storing the group metadata failed');
            done(writeErrorCode(e, false));
          },
        );
      },
      onStateChange: (_from, to) => {
        if (to === 'CompletingRebalance') this.rebalances.inc();
      },
    };
  }

  private newGroup(partition: number, groupId: string): ConsumerGroup {
    return new ConsumerGroup(groupId, realTimers, this.groupOptions(partition, groupId));
  }

  private async writeGroup(partition: number, groupId: string, value: GroupMetadataValue | null): Promise<void> {
    if (this.partitions.get(partition)?.status !== 'active') throw new TributaryError(ErrorCode.NOT_COORDINATOR, `partition ${partition} is no longer owned here`);
    await this.write(partition, encodeGroupMetadataKey(groupId), value === null ? null : encodeGroupMetadataValue(value));
  }

  private write(partition: number, key: Buffer, value: Buffer | null): Promise<unknown> {
    const sent = this.deps.producer.send({ topic: CONSUMER_OFFSETS_TOPIC, partition, key, value });
    let set = this.inflight.get(partition);
    if (!set) this.inflight.set(partition, (set = new Set()));
    const tracked = set;
    const settled: Promise<unknown> = sent.catch(() => undefined).finally(() => {
      tracked.delete(settled);
      if (tracked.size === 0 && this.inflight.get(partition) === tracked) this.inflight.delete(partition);
    });
    tracked.add(settled);
    return withTimeout(sent, this.deps.config.offsetsCommitTimeoutMs);
  }

  /**
   * Waits (at most offsets.commit.timeout.ms) for the writes to `partition` still in flight, so
   * that a handover (release, SIGTERM) deletes the owner node only once they are in the log:
   * the next owner's load then sees them.
   */
  async drain(partition: number): Promise<void> {
    const set = this.inflight.get(partition);
    if (!set || set.size === 0) return;
    await Promise.race([Promise.allSettled([...set]), sleep(this.deps.config.offsetsCommitTimeoutMs)]);
  }

  /**
   * Where a group's calls are served: its partition's state, or the error to answer
   * (INVALID_GROUP_ID, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS).
   */
  private route(groupId: string): { st: PartitionState; partition: number } | { error: ErrorCode; message: string } {
    if (!groupId) return { error: ErrorCode.INVALID_GROUP_ID, message: 'the group id is empty; set group.id' };
    if (Buffer.byteLength(groupId, 'utf8') > MAX_STRING_BYTES) return { error: ErrorCode.INVALID_GROUP_ID, message: `the group id is longer than ${MAX_STRING_BYTES} bytes; use a shorter group.id` };
    if (this.numPartitions === 0 || this.stopping) return { error: ErrorCode.COORDINATOR_NOT_AVAILABLE, message: 'this group coordinator is not serving (starting or stopping); find the coordinator again' };
    const partition = partitionFor(groupId, this.numPartitions);
    const st = this.partitions.get(partition);
    if (!st) return { error: ErrorCode.NOT_COORDINATOR, message: `this instance does not own ${CONSUMER_OFFSETS_TOPIC} partition ${partition} of group ${groupId}; call FindCoordinator again` };
    if (st.status === 'loading') return { error: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, message: `partition ${partition} is still being loaded; retry shortly` };
    return { st, partition };
  }

  // ------------------------------------------------------------------------------ handlers

  readonly handlers: ServiceHandlers<typeof GroupCoordinatorServiceService> = {
    findCoordinator: (req, ctx) => Promise.resolve(this.findCoordinator(req, refusalsOf(ctx, 'Describe', 'Group', req.coordinatorKeys))),
    joinGroup: (req, ctx) => this.joinGroup(req, ctx),
    syncGroup: (req) => this.syncGroup(req),
    heartbeat: (req) => Promise.resolve(this.heartbeat(req)),
    leaveGroup: (req) => Promise.resolve(this.leaveGroup(req)),
    offsetCommit: (req, ctx) => authorizedOffsetCommit(ctx, req, (r) => this.offsetCommit(r)),
    offsetFetch: (req, ctx) => Promise.resolve(authorizedOffsetFetch(ctx, req, (r) => this.offsetFetch(r))),
    listGroups: (req, ctx) => Promise.resolve(authorizedListGroups(ctx, () => this.listGroups(req))),
    describeGroups: (req, ctx) => Promise.resolve(this.describeGroups(req, refusalsOf(ctx, 'Describe', 'Group', req.groups))),
    deleteGroups: (req, ctx) => this.deleteGroups(req, refusalsOf(ctx, 'Delete', 'Group', req.groupsNames)),
  };

  /** `refusal`: the authorization refusal of a group key (Describe), if any. */
  findCoordinator(req: FindCoordinatorRequest, refusal: (key: string) => Refusal | undefined = () => undefined): FindCoordinatorResponse {
    const coordinators = req.coordinatorKeys.map((key) => {
      const fail = (errorCode: ErrorCode, errorMessage: string): FindCoordinatorResponse['coordinators'][number] => ({ key, nodeId: -1, host: '', port: 0, errorCode, errorMessage });
      if (req.keyType !== CoordinatorKeyType.COORDINATOR_KEY_TYPE_GROUP) return fail(ErrorCode.INVALID_REQUEST, 'only group coordinators exist (transactions are not supported yet)');
      const refused = refusal(key);
      if (refused) return fail(refused.errorCode, refused.errorMessage);
      if (!key) return fail(ErrorCode.INVALID_GROUP_ID, 'the group id is empty; set group.id');
      if (!this.ownership || this.numPartitions === 0) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${CONSUMER_OFFSETS_TOPIC} is not ready yet; retry`);
      const partition = partitionFor(key, this.numPartitions);
      const owner = this.ownership.ownerOf(partition);
      if (!owner) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, `no group coordinator owns ${CONSUMER_OFFSETS_TOPIC} partition ${partition} yet; retry`);
      return { key, nodeId: owner.id, host: owner.address.host, port: owner.address.port, errorCode: ErrorCode.NONE, errorMessage: '' };
    });
    return { coordinators };
  }

  private joinError(req: { memberId: string }, errorCode: ErrorCode, errorMessage: string): JoinGroupResponse {
    return { errorCode, errorMessage, generationId: -1, protocolType: '', protocolName: '', leader: '', memberId: req.memberId, members: [], skipAssignment: false };
  }

  private async joinGroup(req: JoinGroupRequest, ctx: CallContext): Promise<JoinGroupResponse> {
    const r = this.route(req.groupId);
    if ('error' in r) return this.joinError(req, r.error, r.message);
    let entry = r.st.groups.get(req.groupId);
    if (!entry) {
      if (req.memberId) return this.joinError(req, ErrorCode.UNKNOWN_MEMBER_ID, `group ${req.groupId} does not exist here; join again with an empty member id`);
      entry = { group: this.newGroup(r.partition, req.groupId), offsets: new Map() };
      r.st.groups.set(req.groupId, entry);
    }
    const group = entry.group;
    const result = await new Promise<JoinGroupResult>((resolve) => {
      group.join(joinGroupInput(req, clientHost(ctx.peer)), resolve);
    });
    // A new group whose first join failed holds nothing: forget it.
    if (group.state === 'Empty' && group.size === 0 && offsetCount(entry.offsets) === 0 && group.generationId === 0 && r.st.groups.get(req.groupId) === entry) {
      r.st.groups.delete(req.groupId);
    }
    return result;
  }

  private async syncGroup(req: SyncGroupRequest): Promise<SyncGroupResponse> {
    const r = this.route(req.groupId);
    const fail = (errorCode: ErrorCode, errorMessage: string): SyncGroupResponse => ({ errorCode, errorMessage, protocolType: '', protocolName: '', assignment: Buffer.alloc(0) });
    if ('error' in r) return fail(r.error, r.message);
    const entry = r.st.groups.get(req.groupId);
    if (!entry) return fail(ErrorCode.UNKNOWN_MEMBER_ID, `group ${req.groupId} does not exist here; join again`);
    return new Promise<SyncGroupResult>((resolve) => {
      entry.group.sync(syncGroupInput(req), resolve);
    });
  }

  private heartbeat(req: HeartbeatRequest): HeartbeatResponse {
    const r = this.route(req.groupId);
    if ('error' in r) return { errorCode: r.error, errorMessage: r.message };
    const entry = r.st.groups.get(req.groupId);
    if (!entry) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, errorMessage: `group ${req.groupId} does not exist here; join again` };
    return entry.group.heartbeat({ generationId: req.generationId, memberId: req.memberId, groupInstanceId: req.groupInstanceId });
  }

  private leaveGroup(req: LeaveGroupRequest): LeaveGroupResponse {
    const r = this.route(req.groupId);
    if ('error' in r) return { errorCode: r.error, errorMessage: r.message, members: [] };
    const entry = r.st.groups.get(req.groupId);
    if (!entry) {
      return { errorCode: ErrorCode.NONE, errorMessage: '', members: req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })) };
    }
    return entry.group.leave(req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })));
  }

  private async offsetCommit(req: OffsetCommitRequest): Promise<OffsetCommitResponse> {
    const answerAll = (errorCode: ErrorCode): OffsetCommitResponse => ({
      topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
    });
    const r = this.route(req.groupId);
    if ('error' in r) return answerAll(r.error);
    let entry = r.st.groups.get(req.groupId);
    if (!entry) {
      // Kafka: a commit outside group management creates the (Empty) group; a member's
      // commit for a group that does not exist is from an old generation.
      if (req.generationId >= 0) return answerAll(ErrorCode.ILLEGAL_GENERATION);
      entry = { group: this.newGroup(r.partition, req.groupId), offsets: new Map() };
      r.st.groups.set(req.groupId, entry);
    }
    const check = entry.group.validateOffsetCommit({ generationId: req.generationId, memberId: req.memberId, groupInstanceId: req.groupInstanceId });
    if (check.errorCode !== ErrorCode.NONE) return answerAll(check.errorCode);
    const target = entry;
    const st = r.st;
    const now = Date.now();
    const maxMetadata = this.deps.config.offsetMetadataMaxBytes;
    const topics = await Promise.all(
      req.topics.map(async (t) => ({
        name: t.name,
        partitions: await Promise.all(
          t.partitions.map(async (p): Promise<OffsetCommitResponsePartition> => {
            const answer = (errorCode: ErrorCode): OffsetCommitResponsePartition => ({ partitionIndex: p.partitionIndex, errorCode });
            if (!t.name || p.partitionIndex < 0) return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
            if (Buffer.byteLength(p.committedMetadata, 'utf8') > maxMetadata) return answer(ErrorCode.OFFSET_METADATA_TOO_LARGE);
            const stored = { offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata, commitTimestampMs: now };
            try {
              const key = encodeOffsetCommitKey(req.groupId, t.name, p.partitionIndex);
              const value = encodeOffsetCommitValue({ ...stored, expireTimestampMs: -1 });
              await this.write(r.partition, key, value);
            } catch (e) {
              if (e instanceof RangeError || (e instanceof TributaryError && e.code === ErrorCode.INVALID_REQUEST)) return answer(ErrorCode.INVALID_COMMIT_OFFSET_SIZE);
              this.log.warn({ err: e, group: req.groupId }, 'writing an offset commit failed');
              return answer(writeErrorCode(e, true));
            }
            // The partition may have been unloaded while writing: the next owner reads it from the log.
            if (this.partitions.get(r.partition) !== st || st.groups.get(req.groupId) !== target) return answer(ErrorCode.NOT_COORDINATOR);
            setOffset(target.offsets, t.name, p.partitionIndex, stored);
            this.commits.inc();
            return answer(ErrorCode.NONE);
          }),
        ),
      })),
    );
    return { topics };
  }

  private offsetFetch(req: OffsetFetchRequest): OffsetFetchResponse {
    const r = this.route(req.groupId);
    if ('error' in r) return { errorCode: r.error, errorMessage: r.message, topics: [] };
    const offsets: GroupOffsets = r.st.groups.get(req.groupId)?.offsets ?? new Map();
    const none = { committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE };
    if (req.allTopics || req.topics.length === 0) {
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        topics: [...offsets].map(([name, byPartition]) => ({
          name,
          partitions: [...byPartition]
            .sort((a, b) => a[0] - b[0])
            .map(([partitionIndex, o]) => ({ partitionIndex, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch, metadata: o.metadata, errorCode: ErrorCode.NONE })),
        })),
      };
    }
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => {
          const o = offsets.get(t.name)?.get(partitionIndex);
          return o ? { partitionIndex, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch, metadata: o.metadata, errorCode: ErrorCode.NONE } : { partitionIndex, ...none };
        }),
      })),
    };
  }

  private listGroups(req: ListGroupsRequest): ListGroupsResponse {
    if (this.stopping || this.numPartitions === 0) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'this group coordinator is not serving (starting or stopping)', groups: [] };
    const filter = new Set(req.statesFilter.map((s) => s.toLowerCase()));
    const groups: ListGroupsResponse['groups'] = [];
    let loading = false;
    for (const st of this.partitions.values()) {
      if (st.status === 'loading') loading = true;
      for (const [groupId, e] of st.groups) {
        if (filter.size > 0 && !filter.has(e.group.state.toLowerCase())) continue;
        groups.push({ groupId, protocolType: e.group.protocolType ?? '', groupState: e.group.state });
      }
    }
    groups.sort((a, b) => a.groupId.localeCompare(b.groupId));
    return loading
      ? { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, errorMessage: 'some partitions are still loading: the list may be incomplete', groups }
      : { errorCode: ErrorCode.NONE, errorMessage: '', groups };
  }

  private describeGroups(req: DescribeGroupsRequest, refusal: (groupId: string) => Refusal | undefined): DescribeGroupsResponse {
    return {
      groups: req.groups.map((groupId) => {
        const base = { groupId, groupState: '', protocolType: '', protocolData: '', members: [] };
        const refused = refusal(groupId);
        if (refused) return { ...base, ...refused };
        const r = this.route(groupId);
        if ('error' in r) return { ...base, errorCode: r.error, errorMessage: r.message };
        const entry = r.st.groups.get(groupId);
        if (!entry) return { ...base, groupState: 'Dead', errorCode: ErrorCode.NONE, errorMessage: '' };
        const g = entry.group;
        const protocol = g.protocol ?? '';
        return {
          errorCode: ErrorCode.NONE,
          errorMessage: '',
          groupId,
          groupState: g.state,
          protocolType: g.protocolType ?? '',
          protocolData: g.state === 'Stable' ? protocol : '',
          members: g.memberList().map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: g.state === 'Stable' ? (m.protocols.find((p) => p.name === protocol)?.metadata ?? Buffer.alloc(0)) : Buffer.alloc(0),
            memberAssignment: g.state === 'Stable' ? m.assignment : Buffer.alloc(0),
          })),
        };
      }),
    };
  }

  private async deleteGroups(req: DeleteGroupsRequest, refusal: (groupId: string) => Refusal | undefined): Promise<DeleteGroupsResponse> {
    const results = await Promise.all(
      req.groupsNames.map(async (groupId) => {
        const refused = refusal(groupId);
        if (refused) return { groupId, errorCode: refused.errorCode };
        const r = this.route(groupId);
        if ('error' in r) return { groupId, errorCode: r.error };
        const entry = r.st.groups.get(groupId);
        if (!entry || entry.group.state === 'Dead') return { groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND };
        if (entry.group.state !== 'Empty') return { groupId, errorCode: ErrorCode.NON_EMPTY_GROUP };
        try {
          await this.removeGroup(r.partition, r.st, groupId, entry);
        } catch (e) {
          this.log.warn({ err: e, group: groupId }, 'writing the tombstones of a deleted group failed');
          return { groupId, errorCode: writeErrorCode(e, false) };
        }
        return { groupId, errorCode: ErrorCode.NONE };
      }),
    );
    return { results };
  }

  /** Tombstones every offset and the metadata of an Empty group, then forgets it (Kafka: Dead). */
  private async removeGroup(partition: number, st: PartitionState, groupId: string, entry: GroupEntry): Promise<void> {
    const writes: Promise<unknown>[] = [];
    for (const [topic, byPartition] of entry.offsets) for (const p of byPartition.keys()) writes.push(this.write(partition, encodeOffsetCommitKey(groupId, topic, p), null));
    writes.push(this.write(partition, encodeGroupMetadataKey(groupId), null));
    await Promise.all(writes);
    if (st.groups.get(groupId) === entry && entry.group.state === 'Empty') {
      st.groups.delete(groupId);
      entry.group.markDead();
      this.dropLag(groupId);
    }
  }

  // ------------------------------------------------------------------------------ retention

  /** offsets.retention.minutes: expire offsets of groups Empty long enough, then delete groups left with none. */
  async expireOffsets(nowMs = Date.now()): Promise<void> {
    const retentionMs = this.deps.config.offsetsRetentionMinutes * 60_000;
    for (const st of [...this.partitions.values()]) {
      if (st.status !== 'active') continue;
      for (const [groupId, entry] of [...st.groups]) {
        const expired = expiredOffsets({ state: entry.group.state, stateSinceMs: entry.group.stateSinceMs }, entry.offsets, nowMs, retentionMs);
        try {
          if (expired.length > 0) {
            await Promise.all(expired.map((tp) => this.write(st.partition, encodeOffsetCommitKey(groupId, tp.topic, tp.partition), null)));
            for (const tp of expired) deleteOffset(entry.offsets, tp.topic, tp.partition);
            this.log.info({ group: groupId, offsets: expired.length }, 'expired offsets (offsets.retention.minutes)');
          }
          if (expired.length > 0 && shouldDeleteGroup(entry.group.state, entry.offsets)) {
            await this.removeGroup(st.partition, st, groupId, entry);
            this.log.info({ group: groupId }, 'deleted empty group without offsets');
          }
        } catch (e) {
          this.log.warn({ err: e, group: groupId }, 'expiring offsets failed; will retry at the next check');
        }
      }
    }
  }

  // ------------------------------------------------------------------------------ lag

  private dropLag(groupId: string): void {
    for (const [k, labels] of this.lagSeries) {
      if (labels.group === groupId) {
        this.lag.remove(labels);
        this.lagSeries.delete(k);
      }
    }
  }

  private refreshingLag = false;

  /** Refreshes tributary_consumer_group_lag from the log end offsets of partitions with commits (one run at a time). */
  async refreshLag(): Promise<void> {
    if (this.refreshingLag) return;
    this.refreshingLag = true;
    try {
      await this.refreshLagOnce();
    } catch (e) {
      this.log.debug({ err: e }, 'refreshing consumer lag failed');
    } finally {
      this.refreshingLag = false;
    }
  }

  private async refreshLagOnce(): Promise<void> {
    const byTopic = new Map<string, Set<number>>();
    for (const st of this.partitions.values()) {
      for (const e of st.groups.values()) {
        for (const [topic, byPartition] of e.offsets) {
          let set = byTopic.get(topic);
          if (!set) byTopic.set(topic, (set = new Set()));
          for (const p of byPartition.keys()) set.add(p);
        }
      }
    }
    const ends = new Map<string, bigint>();
    if (byTopic.size === 0 && this.lagSeries.size === 0) return;
    // Commits may name topics that do not exist (Kafka accepts them): ask only about real ones.
    const existing = new Set(await this.deps.admin.listTopics());
    await Promise.all(
      [...byTopic].filter(([topic]) => existing.has(topic)).map(async ([topic, parts]) => {
        try {
          for (const o of await this.deps.admin.listOffsets(topic, 'latest', [...parts])) ends.set(`${topic}\0${o.partition}`, o.offset);
        } catch (e) {
          this.log.debug({ err: e, topic }, 'reading log end offsets for lag failed');
        }
      }),
    );
    const seen = new Set<string>();
    for (const st of this.partitions.values()) {
      for (const [group, e] of st.groups) {
        for (const [topic, byPartition] of e.offsets) {
          for (const [p, o] of byPartition) {
            const end = ends.get(`${topic}\0${p}`);
            if (end === undefined) continue;
            const labels = { group, topic, partition: String(p) };
            const k = `${group}\0${topic}\0${p}`;
            seen.add(k);
            this.lagSeries.set(k, labels);
            this.lag.set(labels, Number(end > o.offset ? end - o.offset : 0n));
          }
        }
      }
    }
    for (const [k, labels] of this.lagSeries) {
      if (!seen.has(k)) {
        this.lag.remove(labels);
        this.lagSeries.delete(k);
      }
    }
  }
}
