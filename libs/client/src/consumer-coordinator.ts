/**
 * The group side of the Consumer (Kafka's `ConsumerCoordinator` over `AbstractCoordinator`):
 * membership (JoinGroup / SyncGroup / Heartbeat / LeaveGroup), the leader's assignment,
 * the rebalance listener, and committed offsets (OffsetCommit / OffsetFetch, auto-commit).
 *
 * One background loop per consumer, started by the first poll after `subscribe()`:
 *
 *   unjoined ──JoinGroup(+MEMBER_ID_REQUIRED, KIP-394)──▶ SyncGroup ──▶ stable
 *      ▲                                                                  │ heartbeat every
 *      │      REBALANCE_IN_PROGRESS / subscription or partition change     │ heartbeat.interval.ms
 *      └──────────────────────────────(rejoin)────────────────────────────┘ (timer, KIP-62)
 *
 * Heartbeats run on a timer of their own, whether the application polls or not and while the
 * loop awaits the rebalance listener or computes the leader's assignment (not while a
 * JoinGroup is in flight: the coordinator keeps a joining member alive); a member whose
 * application has not called poll() for max.poll.interval.ms sends LeaveGroup (its
 * partitions are lost to it) and rejoins at the next poll, as Kafka's heartbeat thread does.
 *
 * Rebalance protocol (Kafka's rule): COOPERATIVE when every configured assignor supports it,
 * else EAGER.
 * - EAGER: before each JoinGroup, auto-commit, then `onPartitionsRevoked(all)` and the
 *   assignment is emptied; after SyncGroup, `onPartitionsAssigned(all new)`.
 * - COOPERATIVE (KIP-429): the member keeps fetching during the rebalance and sends what it
 *   owns (and its generation) in its subscription; after SyncGroup only the partitions taken
 *   away are revoked (auto-commit of those first), `onPartitionsAssigned(added)`, and a
 *   member that revoked something rejoins at once (the second round gives the revoked
 *   partitions to their new owners).
 * - A member that lost its generation (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, poll interval
 *   exceeded) calls `onPartitionsLost` (defaulting to onPartitionsRevoked, as Kafka) and
 *   does not commit them.
 * Partitions being revoked are paused in the fetcher first: no record of them is returned by
 * poll after revocation starts, while the listener may still commit their positions.
 *
 * Positions of newly assigned partitions: the group's committed offset (OffsetFetch with
 * require_stable), else auto.offset.reset. A seek in `onPartitionsAssigned` wins.
 *
 * Concurrency: single-threaded; the loop is one async task, commits run beside it.
 */
import type { JoinGroupResponse } from '@tributary/proto';
import { CONSUMER_PROTOCOL_TYPE, decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from '@tributary/groups';
import type { TopicPartitions } from '@tributary/groups';
import { ErrorCode, TributaryError, isRetriable } from '@tributary/records';
import type { PartitionAssignor, RebalanceProtocol } from './assignors/types';
import type { ResolvedClientOptions } from './config';
import { retryDelayMs } from './config';
import type { CommitOffset, CommittedOffset, GroupMetadata, RebalanceListener, TopicPartition } from './consumer-options';
import { ClientClosedError, CommitFailedError, GroupMembershipError, explain } from './errors';
import type { Fetcher } from './fetcher';
import type { GroupCoordinators } from './group-coordinators';
import type { Metadata } from './metadata';
import { tpKey } from './offsets';

/** What the coordinator needs besides the client's. */
export interface ConsumerCoordinatorOptions
  extends Pick<ResolvedClientOptions, 'clientId' | 'requestTimeoutMs' | 'retryBackoffMs' | 'retryBackoffMaxMs' | 'metadataWaitMs' | 'logger'> {
  groupId: string;
  groupInstanceId: string | undefined;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxPollIntervalMs: number;
  assignors: readonly PartitionAssignor[];
  enableAutoCommit: boolean;
  autoCommitIntervalMs: number;
}

/** Where the member is (a closed set, as the style asks). */
type MemberPhase =
  | { kind: 'idle' } // not subscribed, or not polled yet
  | { kind: 'unjoined' } // must (re)join
  | { kind: 'rebalancing' } // JoinGroup / SyncGroup in flight
  | { kind: 'stable' }
  | { kind: 'pollTimedOut' } // left after max.poll.interval.ms; rejoins at the next poll
  | { kind: 'failed'; error: TributaryError }
  | { kind: 'closed' };

/** Extra time a JoinGroup/SyncGroup is given beyond the rebalance timeout (Kafka's 5 s). */
const JOIN_GRACE_MS = 5_000;

/** Join errors rejoining cannot fix. */
const FATAL_JOIN_ERRORS = new Set<ErrorCode>([
  ErrorCode.FENCED_INSTANCE_ID,
  ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
  ErrorCode.INVALID_SESSION_TIMEOUT,
  ErrorCode.GROUP_MAX_SIZE_REACHED,
  ErrorCode.INVALID_GROUP_ID,
  ErrorCode.GROUP_AUTHORIZATION_FAILED,
]);

/** Commit errors that mean "not a member of the current generation". */
const COMMIT_FENCED = new Set<ErrorCode>([ErrorCode.ILLEGAL_GENERATION, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.FENCED_INSTANCE_ID, ErrorCode.REBALANCE_IN_PROGRESS]);

/** The rebalance protocol of a list of assignors: COOPERATIVE only if all support it (Kafka). */
export function rebalanceProtocolOf(assignors: readonly PartitionAssignor[]): RebalanceProtocol {
  return assignors.every((a) => a.supportedProtocols.includes('COOPERATIVE')) ? 'COOPERATIVE' : 'EAGER';
}

/** Groups partitions by topic, in the order met. */
export function byTopic(tps: readonly TopicPartition[]): TopicPartitions[] {
  const map = new Map<string, number[]>();
  for (const tp of tps) {
    let list = map.get(tp.topic);
    if (list === undefined) map.set(tp.topic, (list = []));
    list.push(tp.partition);
  }
  return [...map].map(([topic, partitions]) => ({ topic, partitions }));
}

/** Flattens topic → partitions lists. */
export function flatten(list: readonly TopicPartitions[]): TopicPartition[] {
  return list.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })));
}

function minus(a: readonly TopicPartition[], b: readonly TopicPartition[]): TopicPartition[] {
  const keys = new Set(b.map((tp) => tpKey(tp.topic, tp.partition)));
  return a.filter((tp) => !keys.has(tpKey(tp.topic, tp.partition)));
}

/** The group membership and offsets of one consumer. */
export class ConsumerCoordinator {
  readonly protocol: RebalanceProtocol;
  private phase: MemberPhase = { kind: 'idle' };
  private generationId = -1;
  private memberId = '';
  private protocolName = '';
  private leader = false;
  /** Partitions this member owns (assigned by the last SyncGroup, minus those revoked). */
  private owned: TopicPartition[] = [];
  /** Subscribed topics as resolved now (a pattern's matches), sorted. */
  private topics: string[] = [];
  /** The topics of the last JoinGroup, sorted (to notice a change). */
  private joinedTopics: string[] = [];
  /** Partition counts the leader assigned over (a change rebalances). */
  private assignedCounts = new Map<string, number>();
  private listener: RebalanceListener = {};
  private rejoinRequested = false;
  private lastPollMs = 0;
  private loop: Promise<void> | undefined;
  private loopAbort = new AbortController();
  private wake: (() => void) | undefined;
  /** Positions last committed, per tpKey (auto-commit skips unchanged ones). */
  private readonly lastCommitted = new Map<string, bigint>();
  /** Bumped at every assignment change: position lookups of an older one are dropped. */
  private assignmentVersion = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** A JoinGroup is in flight: no heartbeats (the coordinator keeps the member alive). */
  private joinInFlight = false;
  /** Next auto-commit of a manual assignment (epoch ms). */
  private nextManualAutoCommitMs = Date.now();

  constructor(
    private readonly options: ConsumerCoordinatorOptions,
    private readonly metadata: Metadata,
    private readonly coordinators: GroupCoordinators,
    private readonly fetcher: Fetcher,
  ) {
    this.protocol = rebalanceProtocolOf(options.assignors);
  }

  /** Kafka's groupMetadata(). */
  groupMetadata(): GroupMetadata {
    return { groupId: this.options.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: this.options.groupInstanceId };
  }

  /** Whether subscribe() was called (and not unsubscribe()/close()). */
  private hasSubscription = false;

  /** Whether the group manages the assignment (subscribe() called, not unsubscribed). */
  get active(): boolean {
    return this.hasSubscription;
  }

  /** subscribe(): the listener, and the topics the member subscribes to (resolved). */
  subscribe(listener: RebalanceListener | undefined): void {
    this.listener = listener ?? {};
    this.hasSubscription = true;
  }

  /** The resolved subscription changed (explicit list, or a pattern's matches): rejoin if it differs from the last join. */
  setTopics(topics: readonly string[]): void {
    this.topics = [...new Set(topics)].sort();
    if (this.phase.kind === 'stable' && !sameList(this.topics, this.joinedTopics)) this.requestRejoin('subscription changed');
  }

  /** After each metadata answer: the leader rebalances when a subscribed topic's partition count changed. */
  onMetadata(): void {
    if (!this.leader || this.phase.kind !== 'stable') return;
    for (const [topic, count] of this.assignedCounts) {
      const t = this.metadata.topic(topic);
      if (t !== undefined && t.errorCode === ErrorCode.NONE && t.partitions.length !== count) {
        this.requestRejoin(`partitions of '${topic}' changed`);
        return;
      }
    }
  }

  /** Called by every poll: starts the loop on the first, records liveness, throws a fatal group error. */
  onPoll(): void {
    if (this.phase.kind === 'failed') throw this.phase.error;
    if (!this.hasSubscription || this.phase.kind === 'closed') return;
    this.nextManualAutoCommitMs = Date.now() + this.options.autoCommitIntervalMs;
    this.lastPollMs = Date.now();
    if (this.phase.kind === 'idle' || this.phase.kind === 'pollTimedOut') {
      this.phase = { kind: 'unjoined' };
      this.startLoop();
    }
  }

  /**
   * Manual assignment (`assign()`) with a groupId: auto-commit runs from poll, as Kafka's
   * does (every autoCommitIntervalMs, generation -1: accepted while the group has no active
   * members). `positions` are the assigned partitions' positions.
   */
  maybeAutoCommitAssigned(positions: () => CommitOffset[], force = false): Promise<void> | undefined {
    if (!this.options.enableAutoCommit || this.hasSubscription) return undefined;
    const now = Date.now();
    if (!force && now < this.nextManualAutoCommitMs) return undefined;
    this.nextManualAutoCommitMs = now + this.options.autoCommitIntervalMs;
    const changed = positions().filter((o) => this.lastCommitted.get(tpKey(o.topic, o.partition)) !== o.offset);
    if (changed.length === 0) return undefined;
    return this.commit(changed).catch((e: unknown) => this.options.logger.warn({ groupId: this.options.groupId, err: e }, 'auto-commit failed'));
  }

  /** Asks for a rejoin at the next loop turn. */
  requestRejoin(reason: string): void {
    this.options.logger.info({ groupId: this.options.groupId, reason }, 'rejoining the group');
    this.rejoinRequested = true;
    this.wake?.();
  }

  /** The partitions owned now. */
  assignment(): TopicPartition[] {
    return [...this.owned];
  }

  /**
   * Commits `offsets` (default: the consumed positions of the owned partitions), retrying
   * retriable errors until metadataWaitMs. CommitFailedError when the coordinator says this
   * member is not in the current generation or the group rebalances.
   */
  async commit(offsets?: readonly CommitOffset[], signal?: AbortSignal): Promise<void> {
    const list = offsets ?? this.consumedPositions(this.owned);
    if (list.length === 0) return;
    for (const o of list) {
      if (typeof o.offset !== 'bigint' || o.offset < 0n) throw new RangeError(`cannot commit ${o.topic}-${o.partition} at ${String(o.offset)}: offsets are bigint >= 0`);
    }
    if (this.hasSubscription && (this.memberId === '' || this.generationId < 0)) {
      // Kafka's generationIfStable: a group-managed consumer between generations cannot commit.
      throw new CommitFailedError(this.options.groupId, ErrorCode.REBALANCE_IN_PROGRESS, 'this consumer is (re)joining the group and has no generation yet');
    }
    const deadlineMs = Date.now() + this.options.metadataWaitMs;
    let pending = [...list];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await this.sleep(retryDelayMs(this.options, attempt - 1), signal);
      if (Date.now() >= deadlineMs && attempt > 0) throw new TributaryError(ErrorCode.REQUEST_TIMED_OUT, `commit for group '${this.options.groupId}' did not complete within ${this.options.metadataWaitMs} ms`);
      const generationId = this.memberId === '' ? -1 : this.generationId;
      const response = await this.coordinators.call(
        this.options.groupId,
        'offsetCommit',
        {
          groupId: this.options.groupId,
          generationId,
          memberId: generationId < 0 ? '' : this.memberId,
          groupInstanceId: this.options.groupInstanceId ?? '',
          topics: byTopicCommit(pending),
        },
        (r) => firstCoordinatorError(r.topics.flatMap((t) => t.partitions.map((p) => p.errorCode))),
        { deadlineMs, ...(signal === undefined ? {} : { signal }) },
      );
      const retry: CommitOffset[] = [];
      const byKey = new Map(pending.map((o) => [tpKey(o.topic, o.partition), o]));
      for (const t of response.topics) {
        for (const p of t.partitions) {
          const o = byKey.get(tpKey(t.name, p.partitionIndex));
          if (o === undefined) continue;
          if (p.errorCode === ErrorCode.NONE) {
            this.lastCommitted.set(tpKey(o.topic, o.partition), o.offset);
            continue;
          }
          if (COMMIT_FENCED.has(p.errorCode)) {
            this.onCommitFenced(p.errorCode);
            throw new CommitFailedError(this.options.groupId, p.errorCode, ErrorCode[p.errorCode] ?? '');
          }
          if (isRetriable(p.errorCode)) retry.push(o);
          else throw explain(p.errorCode, '', t.name);
        }
      }
      pending = retry;
    }
  }

  /** The group's committed offsets of `partitions` (null where none), in request order. */
  async committed(partitions: readonly TopicPartition[], signal?: AbortSignal): Promise<Array<CommittedOffset | null>> {
    const deadlineMs = Date.now() + this.options.metadataWaitMs;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await this.sleep(retryDelayMs(this.options, attempt - 1), signal);
      const response = await this.coordinators.call(
        this.options.groupId,
        'offsetFetch',
        { groupId: this.options.groupId, topics: byTopic(partitions).map((t) => ({ name: t.topic, partitionIndexes: t.partitions })), allTopics: false, requireStable: true },
        (r) => r.errorCode,
        { deadlineMs, ...(signal === undefined ? {} : { signal }) },
      );
      if (response.errorCode !== ErrorCode.NONE) throw explain(response.errorCode, response.errorMessage);
      const found = new Map<string, CommittedOffset | null>();
      let unstable = false;
      for (const t of response.topics) {
        for (const p of t.partitions) {
          if (p.errorCode === ErrorCode.UNSTABLE_OFFSET_COMMIT) unstable = true;
          else if (p.errorCode !== ErrorCode.NONE && p.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw explain(p.errorCode, '', t.name);
          found.set(
            tpKey(t.name, p.partitionIndex),
            p.committedOffset < 0n ? null : { topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.metadata, leaderEpoch: p.committedLeaderEpoch },
          );
        }
      }
      if (unstable) {
        if (Date.now() < deadlineMs) continue;
        throw new TributaryError(ErrorCode.UNSTABLE_OFFSET_COMMIT, `group '${this.options.groupId}' still has a commit in progress after ${this.options.metadataWaitMs} ms: try again`);
      }
      return partitions.map((tp) => found.get(tpKey(tp.topic, tp.partition)) ?? null);
    }
  }

  /**
   * Stops membership: auto-commits (when enabled and still a member), revokes the owned
   * partitions through the listener (lost, when the generation is gone), and sends LeaveGroup
   * unless this is a static member (which keeps its place for sessionTimeoutMs, as Kafka).
   * With `closing` the coordinator cannot be started again.
   */
  async stop(closing: boolean): Promise<void> {
    const wasMember = this.memberId !== '' && this.generationId >= 0 && this.phase.kind !== 'failed';
    const knownMember = this.memberId !== '' && this.phase.kind !== 'failed';
    this.phase = closing ? { kind: 'closed' } : { kind: 'idle' };
    this.hasSubscription = false;
    this.loopAbort.abort(new ClientClosedError('consumer'));
    this.wake?.();
    await this.loop?.catch(() => undefined);
    this.loop = undefined;
    this.disarmHeartbeat();
    this.loopAbort = new AbortController();
    if (wasMember) {
      if (this.options.enableAutoCommit) await this.commitQuietly(this.owned, 'close');
      await this.revoke(this.owned);
    } else if (this.owned.length > 0) {
      await this.lose(this.owned);
    }
    // A member still joining is parked at the coordinator: leaving frees its place at once.
    if (knownMember && this.options.groupInstanceId === undefined) await this.leaveGroup('the consumer is closing');
    this.setOwned([]);
    this.resetGeneration(true);
  }

  // ---- the loop --------------------------------------------------------------------------

  private startLoop(): void {
    if (this.loop !== undefined) return;
    const loop = this.run().finally(() => {
      if (this.loop === loop) this.loop = undefined;
      // A poll that came while the loop was ending (after a poll timeout) rejoins now.
      if (this.phase.kind === 'unjoined' && !this.loopAbort.signal.aborted) this.startLoop();
    });
    this.loop = loop;
  }

  private async run(): Promise<void> {
    let nextAutoCommitMs = Date.now() + this.options.autoCommitIntervalMs;
    let failures = 0;
    this.armHeartbeat();
    try {
      while (!this.loopAbort.signal.aborted) {
        try {
          const kind = this.phase.kind;
          if (kind === 'closed' || kind === 'idle' || kind === 'failed' || kind === 'pollTimedOut') return;
          if (kind === 'unjoined' || kind === 'rebalancing' || this.rejoinRequested) {
            await this.joinGroup();
            failures = 0;
            continue;
          }
          const now = Date.now();
          const pollDeadlineMs = this.lastPollMs + this.options.maxPollIntervalMs;
          if (now >= pollDeadlineMs) {
            await this.leaveForPollTimeout();
            return;
          }
          if (this.options.enableAutoCommit && now >= nextAutoCommitMs) {
            nextAutoCommitMs = now + this.options.autoCommitIntervalMs;
            this.autoCommitAsync();
          }
          const until = Math.min(pollDeadlineMs, this.options.enableAutoCommit ? nextAutoCommitMs : Infinity);
          await this.sleep(until - now, this.loopAbort.signal, true);
        } catch (e) {
          if (this.loopAbort.signal.aborted) return;
          // A refusal the coordinator THROWS (the authorizer refuses the whole call: gRPC
          // PERMISSION_DENIED carrying GROUP_AUTHORIZATION_FAILED) is as final as the same code
          // in an answer: the next poll throws it (Kafka's GroupAuthorizationException).
          if (e instanceof TributaryError && FATAL_JOIN_ERRORS.has(e.code)) {
            this.fail(e.code, e.message);
            return;
          }
          this.options.logger.warn({ groupId: this.options.groupId, err: e }, 'group loop error: retrying');
          await this.sleep(retryDelayMs(this.options, failures++), this.loopAbort.signal, true).catch(() => undefined);
        }
      }
    } finally {
      this.disarmHeartbeat();
    }
  }

  // ---- heartbeats (their own timer, KIP-62) -------------------------------------------------

  /**
   * Heartbeats every heartbeat.interval.ms while the member has a generation and no JoinGroup
   * is in flight (the coordinator keeps a joining member alive by itself) — also while the
   * loop awaits the rebalance listener or the leader computes the assignment, as Kafka's
   * heartbeat thread does.
   */
  private armHeartbeat(): void {
    this.disarmHeartbeat();
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatTimer = undefined;
      void this.heartbeatOnce().finally(() => {
        if (this.loop !== undefined && !this.loopAbort.signal.aborted) this.armHeartbeat();
      });
    }, this.options.heartbeatIntervalMs);
  }

  private disarmHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Sleeps `ms`, or until `wake` (when `wakeable`) or the signal aborts (rejecting). */
  private sleep(ms: number, signal?: AbortSignal, wakeable = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason instanceof Error ? signal.reason : new ClientClosedError('consumer'));
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (wakeable && this.wake === done) this.wake = undefined;
        resolve();
      };
      const onAbort = (): void => {
        done();
        reject(signal?.reason instanceof Error ? signal.reason : new ClientClosedError('consumer'));
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (wakeable) this.wake = done;
    });
  }

  // ---- JoinGroup / SyncGroup -------------------------------------------------------------

  /** Kafka's joinGroupIfNeeded: prepare (commit, revoke or lose), join, sync, complete. */
  private async joinGroup(): Promise<void> {
    this.rejoinRequested = false;
    // Rebalancing from here: a heartbeat's REBALANCE_IN_PROGRESS during the revocation below
    // is this very rebalance, not a reason for another one.
    this.phase = { kind: 'rebalancing' };
    await this.onJoinPrepare();
    const signal = this.loopAbort.signal;
    const rebalanceTimeoutMs = this.options.maxPollIntervalMs;
    for (;;) {
      const topics = [...this.topics];
      const metadata = encodeSubscription({
        topics,
        userData: null,
        ownedPartitions: this.protocol === 'COOPERATIVE' ? byTopic(this.owned) : [],
        generationId: this.generationId,
        rackId: null,
      });
      this.joinInFlight = true;
      let response;
      try {
        response = await this.coordinators.call(
          this.options.groupId,
          'joinGroup',
          {
            groupId: this.options.groupId,
            sessionTimeoutMs: this.options.sessionTimeoutMs,
            rebalanceTimeoutMs,
            memberId: this.memberId,
            groupInstanceId: this.options.groupInstanceId ?? '',
            protocolType: CONSUMER_PROTOCOL_TYPE,
            protocols: this.options.assignors.map((a) => ({ name: a.name, metadata })),
            reason: '',
            clientId: this.options.clientId,
          },
          (r) => r.errorCode,
          { deadlineMs: Date.now() + this.options.metadataWaitMs, callTimeoutMs: rebalanceTimeoutMs + JOIN_GRACE_MS, signal },
        );
      } finally {
        this.joinInFlight = false;
      }
      const code = response.errorCode;
      if (code === ErrorCode.MEMBER_ID_REQUIRED) {
        this.memberId = response.memberId;
        continue;
      }
      if (code === ErrorCode.UNKNOWN_MEMBER_ID || code === ErrorCode.ILLEGAL_GENERATION) {
        this.resetGeneration(code === ErrorCode.UNKNOWN_MEMBER_ID);
        this.phase = { kind: 'unjoined' };
        this.rejoinRequested = true; // the next turn loses what is owned, then joins afresh
        return;
      }
      if (FATAL_JOIN_ERRORS.has(code)) {
        this.fail(code, response.errorMessage);
        return;
      }
      if (code !== ErrorCode.NONE) {
        if (!isRetriable(code) && code !== ErrorCode.REBALANCE_IN_PROGRESS) {
          this.fail(code, response.errorMessage);
          return;
        }
        await this.sleep(this.options.retryBackoffMs, signal);
        continue;
      }
      this.joinedTopics = topics;
      this.memberId = response.memberId;
      this.generationId = response.generationId;
      this.protocolName = response.protocolName;
      this.leader = response.leader === response.memberId;
      if (this.leader && !response.skipAssignment && !this.options.assignors.some((a) => a.name === response.protocolName)) {
        this.fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `the group chose assignor '${response.protocolName}', which this consumer does not have`);
        return;
      }
      const assignments = this.leader && !response.skipAssignment ? await this.assign(response) : [];
      const sync = await this.coordinators.call(
        this.options.groupId,
        'syncGroup',
        {
          groupId: this.options.groupId,
          generationId: this.generationId,
          memberId: this.memberId,
          groupInstanceId: this.options.groupInstanceId ?? '',
          protocolType: CONSUMER_PROTOCOL_TYPE,
          protocolName: this.protocolName,
          assignments,
        },
        (r) => r.errorCode,
        { deadlineMs: Date.now() + this.options.metadataWaitMs, callTimeoutMs: rebalanceTimeoutMs + JOIN_GRACE_MS, signal },
      );
      if (sync.errorCode === ErrorCode.NONE) {
        await this.onJoinComplete(flatten(decodeAssignment(sync.assignment).partitions));
        return;
      }
      if (sync.errorCode === ErrorCode.UNKNOWN_MEMBER_ID || sync.errorCode === ErrorCode.ILLEGAL_GENERATION) {
        this.resetGeneration(sync.errorCode === ErrorCode.UNKNOWN_MEMBER_ID);
      } else if (FATAL_JOIN_ERRORS.has(sync.errorCode)) {
        this.fail(sync.errorCode, sync.errorMessage);
        return;
      }
      // REBALANCE_IN_PROGRESS and the rest: join again (what is owned is kept or lost by the next prepare).
      this.phase = { kind: 'unjoined' };
      this.rejoinRequested = true;
      return;
    }
  }

  /** Kafka's onJoinPrepare: commit, then revoke all (EAGER) or lose all (no generation). */
  private async onJoinPrepare(): Promise<void> {
    if (this.owned.length === 0) return;
    const member = this.memberId !== '' && this.generationId >= 0;
    if (!member) {
      await this.lose(this.owned);
      this.setOwned([]);
      return;
    }
    if (this.options.enableAutoCommit) await this.commitQuietly(this.owned, 'rebalance');
    if (this.protocol === 'EAGER') {
      await this.revoke(this.owned);
      this.setOwned([]);
    }
  }

  /** The leader's part: runs the chosen assignor over every member's subscription. */
  private async assign(response: JoinGroupResponse): Promise<Array<{ memberId: string; assignment: Buffer }>> {
    const assignor = this.options.assignors.find((a) => a.name === response.protocolName);
    if (assignor === undefined) throw new GroupMembershipError(this.options.groupId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `the group chose assignor '${response.protocolName}', which this consumer does not have`);
    const members = response.members.map((m) => {
      const s = decodeSubscription(m.metadata);
      return {
        memberId: m.memberId,
        ...(m.groupInstanceId === '' ? {} : { groupInstanceId: m.groupInstanceId }),
        topics: s.topics,
        ownedPartitions: flatten(s.ownedPartitions),
        generation: s.generationId,
        ...(s.userData === null ? {} : { userData: s.userData }),
      };
    });
    const topics = new Set(members.flatMap((m) => m.topics));
    this.metadata.addTopics(topics);
    await this.metadata.refresh();
    const counts = new Map<string, number>();
    for (const topic of topics) {
      const t = this.metadata.topic(topic);
      if (t !== undefined && t.errorCode === ErrorCode.NONE && t.partitions.length > 0) counts.set(topic, t.partitions.length);
    }
    this.assignedCounts = counts;
    const result = assignor.assign(counts, members);
    this.options.logger.info({ groupId: this.options.groupId, generationId: response.generationId, assignor: assignor.name, members: members.length }, 'assigned partitions as the group leader');
    return members.map((m) => ({ memberId: m.memberId, assignment: encodeAssignment({ partitions: byTopic(result.get(m.memberId) ?? []), userData: null }) }));
  }

  /** Kafka's onJoinComplete: revoke what moved (COOPERATIVE), take the new assignment, assign the added. */
  private async onJoinComplete(assigned: TopicPartition[]): Promise<void> {
    const revoked = minus(this.owned, assigned);
    const added = minus(assigned, this.owned);
    if (revoked.length > 0) {
      // COOPERATIVE only (EAGER owns nothing here): commit those, revoke them, and rejoin.
      if (this.options.enableAutoCommit) await this.commitQuietly(revoked, 'revocation');
      await this.revoke(revoked);
      this.rejoinRequested = true;
    }
    this.setOwned(assigned);
    if (this.phase.kind === 'rebalancing') this.phase = { kind: 'stable' };
    // The subscription changed while joining (a pattern matched a new topic): once more.
    if (!sameList(this.topics, this.joinedTopics)) this.rejoinRequested = true;
    this.options.logger.info(
      { groupId: this.options.groupId, generationId: this.generationId, memberId: this.memberId, assigned: assigned.length, added: added.length, revoked: revoked.length },
      'joined the group',
    );
    await this.callListener('onPartitionsAssigned', added);
    if (added.length > 0) void this.initPositions(added, this.assignmentVersion);
  }

  /** Positions of newly assigned partitions from the group's committed offsets (retried until found or reassigned). */
  private async initPositions(tps: TopicPartition[], version: number): Promise<void> {
    for (let attempt = 0; version === this.assignmentVersion; attempt++) {
      const waiting = tps.filter((tp) => this.fetcher.awaitingPosition(tp));
      if (waiting.length === 0) return;
      try {
        const committed = await this.committed(waiting, this.loopAbort.signal);
        if (version !== this.assignmentVersion) return;
        waiting.forEach((tp, i) => {
          const c = committed[i];
          if (c != null) this.lastCommitted.set(tpKey(tp.topic, tp.partition), c.offset);
          this.fetcher.initPosition(tp, c?.offset ?? undefined);
        });
        return;
      } catch (e) {
        if (this.loopAbort.signal.aborted || this.phase.kind === 'closed') return;
        this.options.logger.warn({ groupId: this.options.groupId, err: e }, 'fetching committed offsets failed: retrying');
        await this.sleep(retryDelayMs(this.options, attempt), this.loopAbort.signal).catch(() => undefined);
      }
    }
  }

  // ---- Heartbeat / LeaveGroup -------------------------------------------------------------

  private async heartbeatOnce(): Promise<void> {
    if (this.joinInFlight || this.memberId === '' || this.generationId < 0) return;
    const { generationId, memberId } = this;
    const stale = (): boolean => this.joinInFlight || this.generationId !== generationId || this.memberId !== memberId;
    let response;
    try {
      response = await this.coordinators.call(
        this.options.groupId,
        'heartbeat',
        { groupId: this.options.groupId, generationId, memberId, groupInstanceId: this.options.groupInstanceId ?? '' },
        (r) => r.errorCode,
        { deadlineMs: Date.now() + Math.max(this.options.heartbeatIntervalMs, this.options.sessionTimeoutMs - this.options.heartbeatIntervalMs), signal: this.loopAbort.signal },
      );
    } catch (e) {
      if (!this.loopAbort.signal.aborted) this.options.logger.warn({ groupId: this.options.groupId, err: e }, 'heartbeat failed');
      return;
    }
    // An answer about a generation this member has since left (or a join started since) says nothing now.
    if (stale()) return;
    switch (response.errorCode) {
      case ErrorCode.NONE:
        return;
      case ErrorCode.REBALANCE_IN_PROGRESS:
        if (this.phase.kind === 'stable') this.requestRejoin('the group is rebalancing');
        return;
      case ErrorCode.ILLEGAL_GENERATION:
      case ErrorCode.UNKNOWN_MEMBER_ID:
        this.options.logger.warn({ groupId: this.options.groupId, error: ErrorCode[response.errorCode] }, 'no longer a member of the generation: rejoining');
        this.resetGeneration(response.errorCode === ErrorCode.UNKNOWN_MEMBER_ID);
        this.requestRejoin('fenced generation');
        return;
      case ErrorCode.FENCED_INSTANCE_ID:
        this.fail(response.errorCode, response.errorMessage);
        this.wake?.();
        return;
      default:
        this.options.logger.warn({ groupId: this.options.groupId, error: ErrorCode[response.errorCode] }, 'heartbeat answered an error');
    }
  }

  /** max.poll.interval.ms passed without poll: leave (Kafka's maybeLeaveGroup), lose the partitions, wait for poll. */
  private async leaveForPollTimeout(): Promise<void> {
    this.options.logger.warn(
      { groupId: this.options.groupId, maxPollIntervalMs: this.options.maxPollIntervalMs },
      'poll() was not called within max.poll.interval.ms: leaving the group (process records faster, lower maxPollRecords, or raise maxPollIntervalMs)',
    );
    if (this.options.groupInstanceId === undefined) await this.leaveGroup('consumer poll timeout has expired');
    this.resetGeneration(true);
    await this.lose(this.owned);
    this.setOwned([]);
    if (this.phase.kind !== 'closed' && this.phase.kind !== 'idle') this.phase = { kind: 'pollTimedOut' };
  }

  private async leaveGroup(reason: string): Promise<void> {
    if (this.memberId === '') return;
    try {
      await this.coordinators.call(
        this.options.groupId,
        'leaveGroup',
        { groupId: this.options.groupId, members: [{ memberId: this.memberId, groupInstanceId: this.options.groupInstanceId ?? '', reason }] },
        (r) => r.errorCode,
        { deadlineMs: Date.now() + this.options.requestTimeoutMs },
      );
    } catch (e) {
      this.options.logger.warn({ groupId: this.options.groupId, err: e }, 'LeaveGroup failed: the coordinator removes the member after sessionTimeoutMs');
    }
  }

  // ---- assignment changes and listener -----------------------------------------------------

  private setOwned(tps: TopicPartition[]): void {
    this.owned = tps;
    this.assignmentVersion++;
    this.fetcher.setAssignment(tps, true);
    for (const key of [...this.lastCommitted.keys()]) if (!tps.some((tp) => tpKey(tp.topic, tp.partition) === key)) this.lastCommitted.delete(key);
  }

  /** Pauses `tps` (no record of them is returned from now on), tells the listener, drops them. */
  private async revoke(tps: TopicPartition[]): Promise<void> {
    for (const tp of tps) if (this.fetcher.state(tp) !== undefined) this.fetcher.setPaused(tp, true);
    await this.callListener('onPartitionsRevoked', tps);
    this.setOwned(minus(this.owned, tps));
  }

  private async lose(tps: TopicPartition[]): Promise<void> {
    if (tps.length === 0) return;
    const lost = [...tps];
    this.setOwned(minus(this.owned, lost));
    if (this.listener.onPartitionsLost !== undefined) await this.callListener('onPartitionsLost', lost);
    else await this.callListener('onPartitionsRevoked', lost);
  }

  private async callListener(name: keyof RebalanceListener, tps: TopicPartition[]): Promise<void> {
    // Kafka calls onPartitionsAssigned even with nothing added; revoked/lost only with partitions.
    if (tps.length === 0 && name !== 'onPartitionsAssigned') return;
    const fn = this.listener[name];
    if (fn === undefined) return;
    try {
      await fn.call(this.listener, [...tps]);
    } catch (e) {
      this.options.logger.error({ groupId: this.options.groupId, listener: name, err: e }, 'rebalance listener failed');
    }
  }

  // ---- commits ---------------------------------------------------------------------------

  /** The consumed positions of `tps` (those with a position). */
  private consumedPositions(tps: readonly TopicPartition[]): CommitOffset[] {
    const out: CommitOffset[] = [];
    for (const tp of tps) {
      const position = this.fetcher.state(tp)?.position;
      if (position !== undefined) out.push({ topic: tp.topic, partition: tp.partition, offset: position });
    }
    return out;
  }

  private autoCommitAsync(): void {
    const changed = this.consumedPositions(this.owned).filter((o) => this.lastCommitted.get(tpKey(o.topic, o.partition)) !== o.offset);
    if (changed.length === 0) return;
    this.commit(changed, this.loopAbort.signal).catch((e: unknown) => {
      if (!this.loopAbort.signal.aborted) this.options.logger.warn({ groupId: this.options.groupId, err: e }, 'auto-commit failed');
    });
  }

  /** A sync commit whose failure is logged, not thrown (before a rebalance, revocation, close). */
  private async commitQuietly(tps: readonly TopicPartition[], why: string): Promise<void> {
    const offsets = this.consumedPositions(tps).filter((o) => this.lastCommitted.get(tpKey(o.topic, o.partition)) !== o.offset);
    if (offsets.length === 0) return;
    try {
      await this.commit(offsets);
    } catch (e) {
      this.options.logger.warn({ groupId: this.options.groupId, before: why, err: e }, 'auto-commit failed');
    }
  }

  private onCommitFenced(code: ErrorCode): void {
    if (code === ErrorCode.REBALANCE_IN_PROGRESS) {
      if (this.phase.kind === 'stable') this.requestRejoin('commit answered REBALANCE_IN_PROGRESS');
      return;
    }
    if (code === ErrorCode.FENCED_INSTANCE_ID) return;
    if (this.phase.kind === 'stable') {
      this.resetGeneration(code === ErrorCode.UNKNOWN_MEMBER_ID);
      this.requestRejoin(`commit answered ${ErrorCode[code]}`);
    }
  }

  // ---- state -----------------------------------------------------------------------------

  private resetGeneration(resetMemberId: boolean): void {
    this.generationId = -1;
    this.leader = false;
    if (resetMemberId) this.memberId = '';
  }

  private fail(code: ErrorCode, message: string): void {
    const error = new GroupMembershipError(this.options.groupId, code, message);
    this.options.logger.error({ groupId: this.options.groupId, err: error }, 'left the group for good');
    this.phase = { kind: 'failed', error };
    this.resetGeneration(true);
    this.fetcher.setAssignment([]);
    this.owned = [];
    this.fetcher.wakeup();
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The first coordinator-level error among per-partition codes (NONE if none). */
function firstCoordinatorError(codes: ErrorCode[]): ErrorCode {
  for (const c of codes) {
    if (c === ErrorCode.NOT_COORDINATOR || c === ErrorCode.COORDINATOR_NOT_AVAILABLE || c === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return c;
  }
  return ErrorCode.NONE;
}

/** OffsetCommit topics from a flat list. */
export function byTopicCommit(offsets: readonly CommitOffset[]): Array<{ name: string; partitions: Array<{ partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: string }> }> {
  const map = new Map<string, Array<{ partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: string }>>();
  for (const o of offsets) {
    let list = map.get(o.topic);
    if (list === undefined) map.set(o.topic, (list = []));
    list.push({ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch ?? -1, committedMetadata: o.metadata ?? '' });
  }
  return [...map].map(([name, partitions]) => ({ name, partitions }));
}
