/**
 * One consumer group's membership state machine: Kafka's `GroupMetadata` plus the
 * JoinGroup / SyncGroup / Heartbeat / LeaveGroup logic of its (classic) `GroupCoordinator`,
 * and the generation/member checks of OffsetCommit.
 *
 * Pure: no network, no storage. Time comes from an injected `GroupTimers` (a real clock in
 * apps/group-coordinator, a fake one in tests). Requests that must wait (a JoinGroup until
 * the rebalance completes, a follower's SyncGroup until the leader's assignment) are parked
 * as callbacks and answered by the event that completes them: another join, a leave, a
 * session expiry or the rebalance timeout. Answers are plain objects carrying the proto's
 * `ErrorCode`, so a gRPC handler maps them field for field.
 *
 * States (Kafka's `GroupState`), as a closed union of names:
 *
 *   Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance
 *     ▲                 ▲        │ (no member left)                      │ leader's SyncGroup
 *     └─────────────────┼────────┘                                       ▼
 *                       └──────── join / leave / session expiry ──── Stable
 *   Dead: the group was deleted or unloaded; every request answers COORDINATOR_NOT_AVAILABLE.
 *
 * Concurrency: single-threaded and synchronous; callbacks are invoked inside the call (or
 * timer) that completes them, so a caller must not re-enter the group from a callback.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '@tributary/records';
import type { GroupMetadataValue } from './offsets-records';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

/** A cancellable scheduled callback. */
export interface GroupTimer {
  cancel(): void;
}

/** The clock and scheduler the group runs on (injected so tests are deterministic). */
export interface GroupTimers {
  nowMs(): number;
  schedule(delayMs: number, fire: () => void): GroupTimer;
}

/** Coordinator settings that bound a group (Kafka's broker configs of the same names). */
export interface GroupConfig {
  /** group.min.session.timeout.ms: smallest session timeout a member may ask for (Kafka: 6000). */
  minSessionTimeoutMs: number;
  /** group.max.session.timeout.ms: largest session timeout a member may ask for (Kafka: 1800000). */
  maxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms: wait for more members before the first rebalance of an Empty group (3000). */
  initialRebalanceDelayMs: number;
  /** group.max.size: most members a group may hold (Kafka: Integer.MAX_VALUE). */
  maxSize: number;
}

export const DEFAULT_GROUP_CONFIG: GroupConfig = {
  minSessionTimeoutMs: 6_000,
  maxSessionTimeoutMs: 1_800_000,
  initialRebalanceDelayMs: 3_000,
  maxSize: 2_147_483_647,
};

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinGroupInput {
  memberId: string;
  groupInstanceId: string;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
}

export interface JoinGroupResult {
  errorCode: ErrorCode;
  errorMessage: string;
  generationId: number;
  protocolType: string;
  protocolName: string;
  leader: string;
  memberId: string;
  /** Every member with its metadata for the chosen protocol: only in the leader's answer. */
  members: { memberId: string; groupInstanceId: string; metadata: Buffer }[];
  skipAssignment: boolean;
}

export interface SyncGroupInput {
  generationId: number;
  memberId: string;
  groupInstanceId: string;
  protocolType: string;
  protocolName: string;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface SyncGroupResult {
  errorCode: ErrorCode;
  errorMessage: string;
  protocolType: string;
  protocolName: string;
  assignment: Buffer;
}

export interface MemberRef {
  generationId: number;
  memberId: string;
  groupInstanceId: string;
}

export interface GroupAnswer {
  errorCode: ErrorCode;
  errorMessage: string;
}

export interface LeaveGroupResult {
  errorCode: ErrorCode;
  errorMessage: string;
  members: { memberId: string; groupInstanceId: string; errorCode: ErrorCode }[];
}

/** A member of the group (Kafka's `MemberMetadata`). */
export interface GroupMember {
  memberId: string;
  /** group.instance.id, '' for a dynamic member. */
  groupInstanceId: string;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
  assignment: Buffer;
}

interface MemberState extends GroupMember {
  awaitingJoin: ((r: JoinGroupResult) => void) | undefined;
  awaitingSync: ((r: SyncGroupResult) => void) | undefined;
  heartbeat: GroupTimer | undefined;
}

const EMPTY = Buffer.alloc(0);

function ok(): GroupAnswer {
  return { errorCode: ErrorCode.NONE, errorMessage: '' };
}

function fail(errorCode: ErrorCode, errorMessage: string): GroupAnswer {
  return { errorCode, errorMessage };
}

function joinError(memberId: string, errorCode: ErrorCode, errorMessage: string): JoinGroupResult {
  return { errorCode, errorMessage, generationId: -1, protocolType: '', protocolName: '', leader: '', memberId, members: [], skipAssignment: false };
}

function syncError(errorCode: ErrorCode, errorMessage: string): SyncGroupResult {
  return { errorCode, errorMessage, protocolType: '', protocolName: '', assignment: EMPTY };
}

function sameProtocols(a: GroupProtocol[], b: GroupProtocol[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]?.name && p.metadata.equals(b[i].metadata));
}

export interface ConsumerGroupOptions {
  config?: Partial<GroupConfig>;
  /** Member ids for new members; Kafka's `clientId + "-" + UUID` by default. */
  newMemberId?: (clientId: string) => string;
  /**
   * Persists the group (its GroupMetadataValue) to `__consumer_offsets`, as Kafka's
   * `storeGroup`. Called when the leader's SyncGroup brings the assignment: members are
   * answered only once `done(NONE)` is called; any other code is given to the waiting members
   * (e.g. COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR) and the group rebalances. Also called
   * (its outcome only logged by the caller) when a rebalance leaves the group Empty. Without
   * it, the assignment is answered at once (nothing is stored).
   */
  persist?: (value: GroupMetadataValue, done: (errorCode: ErrorCode) => void) => void;
  /** Told of every state change (metrics, the coordinator's bookkeeping). */
  onStateChange?: (from: GroupState, to: GroupState) => void;
}

export class ConsumerGroup {
  private stateValue: GroupState = 'Empty';
  private generation = 0;
  private leaderId: string | undefined;
  private protocolTypeValue: string | undefined;
  private protocolName: string | undefined;
  private readonly members = new Map<string, MemberState>();
  /** Members given an id with MEMBER_ID_REQUIRED that have not joined with it yet (KIP-394). */
  private readonly pendingMembers = new Map<string, GroupTimer>();
  private readonly staticMembers = new Map<string, string>();
  private joinTimer: GroupTimer | undefined;
  /** Members of the current generation that have not sent SyncGroup yet, and the deadline for them (Kafka's pending sync). */
  private readonly pendingSyncMembers = new Set<string>();
  private pendingSyncTimer: GroupTimer | undefined;
  /** Initial delayed join of an Empty group: rebalance-timeout budget left and whether someone joined meanwhile. */
  private initialDelay: { remainingMs: number; newMemberAdded: boolean } | undefined;
  private readonly config: GroupConfig;
  private readonly newMemberId: (clientId: string) => string;
  private readonly persist: ConsumerGroupOptions['persist'];
  private readonly onStateChange: ConsumerGroupOptions['onStateChange'];
  /** When the group last changed state (GroupMetadataValue's current_state_timestamp). */
  private stateTimestampMs: number;

  constructor(
    readonly groupId: string,
    private readonly timers: GroupTimers,
    options: ConsumerGroupOptions = {},
  ) {
    this.config = { ...DEFAULT_GROUP_CONFIG, ...options.config };
    this.newMemberId = options.newMemberId ?? ((clientId) => `${clientId}-${randomUUID()}`);
    this.persist = options.persist;
    this.onStateChange = options.onStateChange;
    this.stateTimestampMs = timers.nowMs();
  }

  /**
   * Rebuilds a group from its last GroupMetadataValue in `__consumer_offsets` (a coordinator
   * taking over the partition, as Kafka's `GroupMetadata.loadGroup`): generation, protocol,
   * leader, members with their subscription (for the group's protocol) and assignment. A
   * group with members is Stable, else Empty. Every member gets a fresh session timer, so
   * members that died with the old coordinator expire and the group rebalances.
   */
  static fromMetadata(groupId: string, value: GroupMetadataValue, timers: GroupTimers, options: ConsumerGroupOptions = {}): ConsumerGroup {
    const group = new ConsumerGroup(groupId, timers, options);
    group.generation = value.generation;
    group.protocolTypeValue = value.protocolType || undefined;
    group.protocolName = value.protocol ?? undefined;
    group.leaderId = value.leader ?? undefined;
    for (const m of value.members) {
      const member: MemberState = {
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId ?? '',
        clientId: m.clientId,
        clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        protocolType: value.protocolType,
        // Kafka keeps only the chosen protocol's metadata for a loaded member.
        protocols: [{ name: value.protocol ?? '', metadata: Buffer.from(m.subscription) }],
        assignment: Buffer.from(m.assignment),
        awaitingJoin: undefined,
        awaitingSync: undefined,
        heartbeat: undefined,
      };
      group.members.set(member.memberId, member);
      if (member.groupInstanceId) group.staticMembers.set(member.groupInstanceId, member.memberId);
    }
    if (group.members.size > 0) {
      group.stateValue = 'Stable';
      if (group.leaderId === undefined || !group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value;
      for (const m of group.members.values()) group.scheduleHeartbeat(m);
    } else {
      group.leaderId = undefined;
    }
    group.stateTimestampMs = value.currentStateTimestampMs >= 0 ? value.currentStateTimestampMs : timers.nowMs();
    return group;
  }

  /** The group as Kafka stores it (GroupMetadataValue): what `fromMetadata` reads back. */
  toMetadata(): GroupMetadataValue {
    const protocol = this.protocolName ?? null;
    return {
      protocolType: this.protocolTypeValue ?? '',
      generation: this.generation,
      protocol: this.members.size > 0 ? protocol : null,
      leader: this.members.size > 0 ? (this.leaderId ?? null) : null,
      currentStateTimestampMs: this.stateTimestampMs,
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId || null,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: m.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY,
        assignment: m.assignment,
      })),
    };
  }

  /** When the group last changed state (ms since the epoch, from the injected clock). */
  get stateSinceMs(): number {
    return this.stateTimestampMs;
  }

  private setState(to: GroupState): void {
    const from = this.stateValue;
    if (from === to) return;
    this.stateValue = to;
    this.stateTimestampMs = this.timers.nowMs();
    this.onStateChange?.(from, to);
  }

  get state(): GroupState {
    return this.stateValue;
  }
  get generationId(): number {
    return this.generation;
  }
  get leader(): string | undefined {
    return this.leaderId;
  }
  get protocolType(): string | undefined {
    return this.protocolTypeValue;
  }
  get protocol(): string | undefined {
    return this.protocolName;
  }
  /** The members, as DescribeGroups shows them. */
  memberList(): GroupMember[] {
    return [...this.members.values()].map(({ awaitingJoin: _j, awaitingSync: _s, heartbeat: _h, ...m }) => m);
  }
  get size(): number {
    return this.members.size + this.pendingMembers.size;
  }

  // ---------------------------------------------------------------------------- JoinGroup

  /** JoinGroup: `respond` is called once, maybe later (when the rebalance completes). */
  join(req: JoinGroupInput, respond: (r: JoinGroupResult) => void): void {
    if (this.stateValue === 'Dead') {
      respond(joinError(req.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE, `group ${this.groupId} is being unloaded or deleted; find its coordinator again and retry`));
      return;
    }
    if (req.sessionTimeoutMs < this.config.minSessionTimeoutMs || req.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      respond(joinError(req.memberId, ErrorCode.INVALID_SESSION_TIMEOUT, `session.timeout.ms ${req.sessionTimeoutMs} is outside the coordinator's bounds [${this.config.minSessionTimeoutMs}, ${this.config.maxSessionTimeoutMs}]; choose a value within them`));
      return;
    }
    if (!this.supportsProtocols(req.protocolType, req.protocols)) {
      respond(joinError(req.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `protocol type ${JSON.stringify(req.protocolType)} or protocols [${req.protocols.map((p) => p.name).join(', ')}] do not match group ${this.groupId} (type ${JSON.stringify(this.protocolTypeValue ?? '')}); every member must use the same type and share an assignor`));
      return;
    }
    if (req.memberId === '') this.joinUnknownMember(req, respond);
    else this.joinKnownMember(req, respond);
  }

  private joinUnknownMember(req: JoinGroupInput, respond: (r: JoinGroupResult) => void): void {
    const oldId = req.groupInstanceId ? this.staticMembers.get(req.groupInstanceId) : undefined;
    if (oldId === undefined && this.size >= this.config.maxSize) {
      respond(joinError('', ErrorCode.GROUP_MAX_SIZE_REACHED, `group ${this.groupId} already has group.max.size (${this.config.maxSize}) members`));
      return;
    }
    const memberId = this.newMemberId(req.clientId);
    if (req.groupInstanceId) {
      if (oldId !== undefined) this.replaceStaticMember(oldId, memberId, req, respond);
      else this.addMemberAndRebalance(memberId, req, respond);
      return;
    }
    // KIP-394: hand out the id first; the member joins again with it.
    this.pendingMembers.set(memberId, this.timers.schedule(req.sessionTimeoutMs, () => this.expirePendingMember(memberId)));
    respond(joinError(memberId, ErrorCode.MEMBER_ID_REQUIRED, 'join again with the member id given'));
  }

  private joinKnownMember(req: JoinGroupInput, respond: (r: JoinGroupResult) => void): void {
    const pending = this.pendingMembers.get(req.memberId);
    if (pending) {
      pending.cancel();
      this.pendingMembers.delete(req.memberId);
      this.addMemberAndRebalance(req.memberId, req, respond);
      return;
    }
    const invalid = this.validateMember(req.memberId, req.groupInstanceId);
    if (invalid) {
      respond(joinError(req.memberId, invalid.errorCode, invalid.errorMessage));
      return;
    }
    const member = this.members.get(req.memberId);
    if (!member || this.stateValue === 'Empty') {
      respond(joinError(req.memberId, ErrorCode.UNKNOWN_MEMBER_ID, `member ${req.memberId} is not in group ${this.groupId}; join again with an empty member id`));
      return;
    }
    const unchanged = sameProtocols(member.protocols, req.protocols);
    if (this.stateValue === 'PreparingRebalance') {
      this.updateMemberAndRebalance(member, req, respond);
    } else if (this.stateValue === 'CompletingRebalance') {
      // The member lost its join answer: give it again, or rebalance if it changed.
      if (unchanged) respond(this.joinResult(member));
      else this.updateMemberAndRebalance(member, req, respond);
    } else {
      // Stable: a follower with the same metadata just gets the current generation.
      if (member.memberId === this.leaderId || !unchanged) this.updateMemberAndRebalance(member, req, respond);
      else respond(this.joinResult(member));
    }
  }

  private addMemberAndRebalance(memberId: string, req: JoinGroupInput, respond: (r: JoinGroupResult) => void): void {
    const member: MemberState = {
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
      assignment: EMPTY,
      awaitingJoin: respond,
      awaitingSync: undefined,
      heartbeat: undefined,
    };
    if (this.members.size === 0) this.protocolTypeValue = req.protocolType;
    this.members.set(memberId, member);
    if (req.groupInstanceId) this.staticMembers.set(req.groupInstanceId, memberId);
    this.leaderId ??= memberId;
    if (this.initialDelay) this.initialDelay.newMemberAdded = true;
    this.scheduleHeartbeat(member);
    this.maybePrepareRebalance();
  }

  private updateMemberAndRebalance(member: MemberState, req: JoinGroupInput, respond: (r: JoinGroupResult) => void): void {
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.awaitingJoin?.(joinError(member.memberId, ErrorCode.UNKNOWN_MEMBER_ID, 'superseded by a newer JoinGroup from the same member'));
    member.awaitingJoin = respond;
    this.maybePrepareRebalance();
  }

  /** A static member rejoined without its id (restart): it takes over the old member's place (KIP-345). */
  private replaceStaticMember(oldId: string, newId: string, req: JoinGroupInput, respond: (r: JoinGroupResult) => void): void {
    const old = this.members.get(oldId);
    if (!old) return this.addMemberAndRebalance(newId, req, respond);
    const unchanged = sameProtocols(old.protocols, req.protocols);
    old.awaitingJoin?.(joinError(oldId, ErrorCode.FENCED_INSTANCE_ID, `instance ${req.groupInstanceId} rejoined as a new member`));
    old.awaitingSync?.(syncError(ErrorCode.FENCED_INSTANCE_ID, `instance ${req.groupInstanceId} rejoined as a new member`));
    old.heartbeat?.cancel();
    this.members.delete(oldId);
    const member: MemberState = {
      ...old,
      memberId: newId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocols: req.protocols,
      awaitingJoin: undefined,
      awaitingSync: undefined,
      heartbeat: undefined,
    };
    this.members.set(newId, member);
    this.staticMembers.set(req.groupInstanceId, newId);
    if (this.pendingSyncMembers.delete(oldId)) this.pendingSyncMembers.add(newId);
    if (this.leaderId === oldId) this.leaderId = newId;
    this.scheduleHeartbeat(member);
    // Kafka's updateStaticMemberAndRebalance: in Stable, a restarted static member does not
    // rebalance the group unless it changes the protocol the group would select (its metadata
    // may differ: a restarted consumer owns nothing yet and has no generation; KIP-814 lets a
    // static leader notice other changes and rebalance itself).
    if (this.stateValue === 'Stable' && (unchanged || this.selectProtocol() === this.protocolName)) {
      // No rebalance: the member resumes with the current generation and assignment; a
      // static leader is told to skip computing one (KIP-814).
      const result = this.joinResult(member);
      respond({ ...result, skipAssignment: newId === this.leaderId });
      return;
    }
    member.awaitingJoin = respond;
    if (this.stateValue === 'PreparingRebalance') this.tryCompleteJoin();
    else this.prepareRebalance();
  }

  private supportsProtocols(protocolType: string, protocols: GroupProtocol[]): boolean {
    if (this.members.size === 0) return protocolType !== '' && protocols.length > 0;
    return protocolType === this.protocolTypeValue && protocols.some((p) => this.candidateProtocols().has(p.name));
  }

  private candidateProtocols(): Set<string> {
    let candidates: Set<string> | undefined;
    for (const m of this.members.values()) {
      const names = new Set(m.protocols.map((p) => p.name));
      candidates = candidates ? new Set([...candidates].filter((n) => names.has(n))) : names;
    }
    return candidates ?? new Set();
  }

  /** Kafka's vote: each member votes for its most preferred candidate; most votes wins. */
  private selectProtocol(): string {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const choice = m.protocols.find((p) => candidates.has(p.name));
      if (choice) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
    }
    let best = '';
    let bestVotes = -1;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    return best;
  }

  private maybePrepareRebalance(): void {
    if (this.stateValue === 'PreparingRebalance') this.tryCompleteJoin();
    else this.prepareRebalance();
  }

  private prepareRebalance(): void {
    if (this.stateValue === 'CompletingRebalance') this.resetPendingSyncs();
    this.clearPendingSync();
    const wasEmpty = this.stateValue === 'Empty';
    this.setState('PreparingRebalance');
    this.joinTimer?.cancel();
    const rebalanceTimeoutMs = Math.max(0, ...[...this.members.values()].map((m) => m.rebalanceTimeoutMs));
    if (wasEmpty && this.config.initialRebalanceDelayMs > 0) {
      // Kafka's InitialDelayedJoin: wait for more members, extending while they keep coming,
      // within the rebalance timeout.
      const delayMs = Math.min(this.config.initialRebalanceDelayMs, rebalanceTimeoutMs);
      this.initialDelay = { remainingMs: Math.max(rebalanceTimeoutMs - delayMs, 0), newMemberAdded: false };
      this.joinTimer = this.timers.schedule(delayMs, () => this.onInitialDelayExpired());
      return;
    }
    this.joinTimer = this.timers.schedule(rebalanceTimeoutMs, () => this.completeJoin());
    this.tryCompleteJoin();
  }

  private onInitialDelayExpired(): void {
    const delay = this.initialDelay;
    if (delay && delay.newMemberAdded && delay.remainingMs > 0) {
      const delayMs = Math.min(this.config.initialRebalanceDelayMs, delay.remainingMs);
      this.initialDelay = { remainingMs: Math.max(delay.remainingMs - delayMs, 0), newMemberAdded: false };
      this.joinTimer = this.timers.schedule(delayMs, () => this.onInitialDelayExpired());
      return;
    }
    this.completeJoin();
  }

  private tryCompleteJoin(): void {
    if (this.stateValue !== 'PreparingRebalance' || this.initialDelay) return;
    const allJoined = this.pendingMembers.size === 0 && [...this.members.values()].every((m) => m.awaitingJoin);
    if (allJoined) this.completeJoin();
  }

  /** Kafka's onCompleteJoin: drop dynamic members that did not rejoin, start the next generation. */
  private completeJoin(): void {
    this.joinTimer?.cancel();
    this.joinTimer = undefined;
    this.initialDelay = undefined;
    for (const m of [...this.members.values()]) {
      if (!m.awaitingJoin && !m.groupInstanceId) this.removeMember(m);
    }
    this.generation += 1;
    if (this.members.size === 0) {
      this.setState('Empty');
      this.protocolName = undefined;
      this.protocolTypeValue = undefined;
      this.leaderId = undefined;
      // Kafka stores the now empty group (its offsets then age from here, KIP-211).
      this.persist?.(this.toMetadata(), () => undefined);
      return;
    }
    this.protocolName = this.selectProtocol();
    this.setState('CompletingRebalance');
    this.schedulePendingSync();
    const leader = this.leaderId !== undefined ? this.members.get(this.leaderId) : undefined;
    if (!leader?.awaitingJoin) {
      const joined = [...this.members.values()].find((m) => m.awaitingJoin);
      if (joined) this.leaderId = joined.memberId;
    }
    for (const m of this.members.values()) {
      const respond = m.awaitingJoin;
      m.awaitingJoin = undefined;
      this.scheduleHeartbeat(m);
      respond?.(this.joinResult(m));
    }
  }

  /**
   * Kafka's pending sync: every member of the new generation must send SyncGroup within the
   * rebalance timeout; those that do not (a leader that heartbeats but never assigns) are
   * removed and the group rebalances.
   */
  private schedulePendingSync(): void {
    this.pendingSyncTimer?.cancel();
    this.pendingSyncMembers.clear();
    for (const id of this.members.keys()) this.pendingSyncMembers.add(id);
    const rebalanceTimeoutMs = Math.max(0, ...[...this.members.values()].map((m) => m.rebalanceTimeoutMs));
    const generation = this.generation;
    this.pendingSyncTimer = this.timers.schedule(rebalanceTimeoutMs, () => this.onPendingSyncExpired(generation));
  }

  private clearPendingSync(): void {
    this.pendingSyncTimer?.cancel();
    this.pendingSyncTimer = undefined;
    this.pendingSyncMembers.clear();
  }

  private onPendingSyncExpired(generation: number): void {
    this.pendingSyncTimer = undefined;
    if (generation !== this.generation || (this.stateValue !== 'CompletingRebalance' && this.stateValue !== 'Stable')) return;
    const laggards = [...this.pendingSyncMembers].flatMap((id) => this.members.get(id) ?? []);
    this.pendingSyncMembers.clear();
    if (laggards.length === 0) return;
    for (const m of laggards) this.removeMember(m);
    this.prepareRebalance();
  }

  private joinResult(member: MemberState): JoinGroupResult {
    const isLeader = member.memberId === this.leaderId;
    const protocolName = this.protocolName ?? '';
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      generationId: this.generation,
      protocolType: this.protocolTypeValue ?? '',
      protocolName,
      leader: this.leaderId ?? '',
      memberId: member.memberId,
      members: isLeader
        ? [...this.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            metadata: m.protocols.find((p) => p.name === protocolName)?.metadata ?? EMPTY,
          }))
        : [],
      skipAssignment: false,
    };
  }

  // ---------------------------------------------------------------------------- SyncGroup

  /** SyncGroup: a follower's `respond` waits for the leader's assignment. */
  sync(req: SyncGroupInput, respond: (r: SyncGroupResult) => void): void {
    const invalid = this.validateGenerationalRequest(req);
    if (invalid) return respond(syncError(invalid.errorCode, invalid.errorMessage));
    if ((req.protocolType && req.protocolType !== this.protocolTypeValue) || (req.protocolName && req.protocolName !== this.protocolName)) {
      return respond(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `protocol ${req.protocolType}/${req.protocolName} is not the group's ${this.protocolTypeValue ?? ''}/${this.protocolName ?? ''}`));
    }
    const member = this.members.get(req.memberId);
    if (!member) return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID, `member ${req.memberId} is not in group ${this.groupId}`));
    if (this.stateValue === 'PreparingRebalance') {
      return respond(syncError(ErrorCode.REBALANCE_IN_PROGRESS, 'the group is rebalancing; join again'));
    }
    this.scheduleHeartbeat(member);
    this.pendingSyncMembers.delete(member.memberId);
    if (this.pendingSyncMembers.size === 0) this.clearPendingSync();
    if (this.stateValue === 'Stable') return respond(this.syncResult(member));
    // CompletingRebalance
    member.awaitingSync = respond;
    if (member.memberId === this.leaderId) {
      const given = new Map(req.assignments.map((a) => [a.memberId, a.assignment]));
      for (const m of this.members.values()) m.assignment = given.get(m.memberId) ?? EMPTY;
      if (!this.persist) return this.completeSync();
      // Kafka's storeGroup: members get their assignment once it is written.
      const generation = this.generation;
      this.persist(this.toMetadata(), (errorCode) => this.onAssignmentPersisted(generation, errorCode));
    }
  }

  private onAssignmentPersisted(generation: number, errorCode: ErrorCode): void {
    // A rebalance that started meanwhile has already answered the waiting members.
    if (generation !== this.generation || this.stateValue !== 'CompletingRebalance') return;
    if (errorCode === ErrorCode.NONE) return this.completeSync();
    // Kafka's resetAndPropagateAssignmentError, then a new rebalance.
    for (const m of this.members.values()) {
      m.assignment = EMPTY;
      const waiting = m.awaitingSync;
      m.awaitingSync = undefined;
      waiting?.(syncError(errorCode, 'storing the group assignment failed; find the coordinator again and rejoin'));
    }
    this.prepareRebalance();
  }

  private completeSync(): void {
    this.setState('Stable');
    for (const m of this.members.values()) {
      const waiting = m.awaitingSync;
      m.awaitingSync = undefined;
      waiting?.(this.syncResult(m));
    }
  }

  private syncResult(member: MemberState): SyncGroupResult {
    return { errorCode: ErrorCode.NONE, errorMessage: '', protocolType: this.protocolTypeValue ?? '', protocolName: this.protocolName ?? '', assignment: member.assignment };
  }

  private resetPendingSyncs(): void {
    for (const m of this.members.values()) {
      const waiting = m.awaitingSync;
      m.awaitingSync = undefined;
      waiting?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS, 'the group started another rebalance; join again'));
    }
  }

  // ---------------------------------------------------------------------------- Heartbeat

  heartbeat(req: MemberRef): GroupAnswer {
    const invalid = this.validateGenerationalRequest(req);
    if (invalid) return invalid;
    const member = this.members.get(req.memberId);
    if (!member) return fail(ErrorCode.UNKNOWN_MEMBER_ID, `member ${req.memberId} is not in group ${this.groupId}`);
    this.scheduleHeartbeat(member);
    if (this.stateValue === 'PreparingRebalance') return fail(ErrorCode.REBALANCE_IN_PROGRESS, 'the group is rebalancing; join again');
    return ok();
  }

  /** Checks shared by SyncGroup and Heartbeat, in Kafka's order. */
  private validateGenerationalRequest(req: MemberRef): GroupAnswer | undefined {
    if (this.stateValue === 'Dead') return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, `group ${this.groupId} is being unloaded or deleted; find its coordinator again`);
    const invalid = this.validateMember(req.memberId, req.groupInstanceId);
    if (invalid) return invalid;
    if (this.stateValue === 'Empty' || !this.members.has(req.memberId)) return fail(ErrorCode.UNKNOWN_MEMBER_ID, `member ${req.memberId} is not in group ${this.groupId}; join again with an empty member id`);
    if (req.generationId !== this.generation) return fail(ErrorCode.ILLEGAL_GENERATION, `generation ${req.generationId} is not the group's current ${this.generation}; join again`);
    return undefined;
  }

  /** FENCED_INSTANCE_ID when the instance id now belongs to another member id. */
  private validateMember(memberId: string, groupInstanceId: string): GroupAnswer | undefined {
    if (!groupInstanceId) return undefined;
    const current = this.staticMembers.get(groupInstanceId);
    if (current !== undefined && current !== memberId) {
      return fail(ErrorCode.FENCED_INSTANCE_ID, `group.instance.id ${groupInstanceId} is used by a newer member; this client was replaced and must stop`);
    }
    return undefined;
  }

  private scheduleHeartbeat(member: MemberState): void {
    member.heartbeat?.cancel();
    member.heartbeat = this.timers.schedule(member.sessionTimeoutMs, () => this.onSessionExpired(member.memberId));
  }

  private onSessionExpired(memberId: string): void {
    const member = this.members.get(memberId);
    if (!member) return;
    // Kafka's shouldKeepAlive: a member parked in a join or sync is alive.
    if (member.awaitingJoin || member.awaitingSync) {
      this.scheduleHeartbeat(member);
      return;
    }
    this.removeMemberAndUpdate(member);
  }

  private expirePendingMember(memberId: string): void {
    if (this.pendingMembers.delete(memberId)) this.tryCompleteJoin();
  }

  // ---------------------------------------------------------------------------- LeaveGroup

  /** LeaveGroup, batched: one answer per member, in request order. */
  leave(leaving: { memberId: string; groupInstanceId: string }[]): LeaveGroupResult {
    if (this.stateValue === 'Dead') {
      return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: `group ${this.groupId} is being unloaded or deleted; find its coordinator again`, members: [] };
    }
    const members = leaving.map(({ memberId, groupInstanceId }) => {
      const answer = (errorCode: ErrorCode): { memberId: string; groupInstanceId: string; errorCode: ErrorCode } => ({ memberId, groupInstanceId, errorCode });
      if (groupInstanceId) {
        const current = this.staticMembers.get(groupInstanceId);
        if (current === undefined) return answer(ErrorCode.UNKNOWN_MEMBER_ID);
        if (memberId && memberId !== current) return answer(ErrorCode.FENCED_INSTANCE_ID);
        const member = this.members.get(current);
        if (member) this.removeMemberAndUpdate(member);
        return answer(ErrorCode.NONE);
      }
      const pending = this.pendingMembers.get(memberId);
      if (pending) {
        pending.cancel();
        this.pendingMembers.delete(memberId);
        this.tryCompleteJoin();
        return answer(ErrorCode.NONE);
      }
      const member = this.members.get(memberId);
      if (!member) return answer(ErrorCode.UNKNOWN_MEMBER_ID);
      this.removeMemberAndUpdate(member);
      return answer(ErrorCode.NONE);
    });
    return { errorCode: ErrorCode.NONE, errorMessage: '', members };
  }

  private removeMember(member: MemberState): void {
    member.heartbeat?.cancel();
    member.awaitingJoin?.(joinError(member.memberId, ErrorCode.UNKNOWN_MEMBER_ID, 'the member left the group'));
    member.awaitingSync?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID, 'the member left the group'));
    this.members.delete(member.memberId);
    this.pendingSyncMembers.delete(member.memberId);
    if (member.groupInstanceId && this.staticMembers.get(member.groupInstanceId) === member.memberId) this.staticMembers.delete(member.groupInstanceId);
    if (this.leaderId === member.memberId) {
      const next = [...this.members.values()].find((m) => m.awaitingJoin) ?? this.members.values().next().value;
      this.leaderId = next?.memberId;
    }
  }

  /** Kafka's removeMemberAndUpdateGroup: a departure rebalances a Stable or completing group. */
  private removeMemberAndUpdate(member: MemberState): void {
    this.removeMember(member);
    if (this.stateValue === 'Stable' || this.stateValue === 'CompletingRebalance') this.prepareRebalance();
    else if (this.stateValue === 'PreparingRebalance') this.tryCompleteJoin();
  }

  // ---------------------------------------------------------------------------- OffsetCommit

  /**
   * The generation/member checks of OffsetCommit, in Kafka's order (storage is the caller's).
   * A commit outside group management (generation -1, no member id) is accepted only while
   * the group is Empty.
   */
  validateOffsetCommit(req: MemberRef): GroupAnswer {
    if (this.stateValue === 'Dead') return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, `group ${this.groupId} is being unloaded or deleted; find its coordinator again`);
    const fenced = this.validateMember(req.memberId, req.groupInstanceId);
    if (fenced) return fenced;
    if (req.generationId < 0 && this.stateValue === 'Empty') return ok();
    if (this.stateValue === 'CompletingRebalance') return fail(ErrorCode.REBALANCE_IN_PROGRESS, 'the group is rebalancing; commit again after SyncGroup');
    if (!this.members.has(req.memberId)) return fail(ErrorCode.UNKNOWN_MEMBER_ID, `member ${req.memberId || '(none)'} is not in group ${this.groupId}, which has active members; join the group or commit while it is empty`);
    if (req.generationId !== this.generation) return fail(ErrorCode.ILLEGAL_GENERATION, `generation ${req.generationId} is not the group's current ${this.generation}; the partitions may have moved, rejoin`);
    const member = this.members.get(req.memberId);
    if (member) this.scheduleHeartbeat(member);
    return ok();
  }

  // ---------------------------------------------------------------------------- lifecycle

  /** The group is deleted or its partition unloaded: answer every parked request and stop timers. */
  markDead(): void {
    const answer = 'the group is being unloaded or deleted; find its coordinator again';
    this.joinTimer?.cancel();
    this.clearPendingSync();
    for (const timer of this.pendingMembers.values()) timer.cancel();
    this.pendingMembers.clear();
    for (const m of this.members.values()) {
      m.heartbeat?.cancel();
      m.awaitingJoin?.(joinError(m.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE, answer));
      m.awaitingSync?.(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE, answer));
      m.awaitingJoin = undefined;
      m.awaitingSync = undefined;
    }
    this.setState('Dead');
  }
}
