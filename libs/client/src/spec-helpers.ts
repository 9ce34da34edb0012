/**
 * Test helper (not exported): a fake cluster of in-process gRPC servers — brokers serving
 * BrokerService (Produce, Fetch, ListOffsets, Metadata) over an in-memory log per partition,
 * controllers serving AdminService (one active, the others answering NOT_CONTROLLER), and
 * group coordinators serving GroupCoordinatorService (`startGroupCoordinators`: libs/groups'
 * real ConsumerGroup state machine on the real clock, offsets in memory; one instance owns
 * every group, the others answer NOT_COORDINATOR; brokers list them in Metadata) —
 * so the SDK's unit specs exercise real gRPC calls. Tests steer it: move leaders, inject
 * per-partition errors, truncate logs, hold fetches, and inspect the requests received.
 *
 * Not a broker: no durability, no replication, offsets assigned by rewriting baseOffset as a
 * real leader does. Integration tests against real processes live in tools/e2e.
 */
import { ConsumerGroup, decodeAssignment, joinGroupInput, syncGroupInput } from '@tributary/groups';
import type { GroupConfig, GroupTimers, JoinGroupResult } from '@tributary/groups';
import {
  AdminServiceService,
  BrokerServiceService,
  GroupCoordinatorServiceService,
  type FetchRequest,
  type FetchResponse,
  type MetadataResponse,
  type ProduceRequest,
  type ProduceResponse,
} from '@tributary/proto';
import { ErrorCode, TributaryError, batchLastOffsetDelta, batchMaxTimestamp, batchSize, setBatchBaseOffset, validateBatchAt } from '@tributary/records';
import { createGrpcServer, createLogger, createMetrics, type GrpcServer } from '@tributary/runtime';
import { Writable } from 'node:stream';

/** One partition's in-memory log. */
export interface FakePartition {
  leader: number;
  leaderEpoch: number;
  /** Stored batches (baseOffset rewritten). */
  batches: Buffer[];
  logStartOffset: number;
  nextOffset: number;
}

/** A Produce request as a broker received it. */
export interface ReceivedProduce {
  brokerId: number;
  acks: number;
  partitions: Array<{ topic: string; partition: number; batches: number; bytes: number; records: Buffer }>;
}

/** A Fetch request as a broker received it. */
export interface ReceivedFetch {
  brokerId: number;
  partitions: Array<{ topic: string; partition: number; fetchOffset: bigint }>;
}

const silent = createLogger({
  service: 'fake',
  nodeId: 0,
  level: 'fatal',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

/** A committed offset in the fake coordinator. */
export interface FakeCommittedOffset {
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
}

/** The real clock for ConsumerGroup. */
const REAL_TIMERS: GroupTimers = {
  nowMs: () => Date.now(),
  schedule: (delayMs, fire) => {
    const t = setTimeout(fire, delayMs);
    return { cancel: () => clearTimeout(t) };
  },
};

/** The fake cluster. */
export class FakeCluster {
  /** Group coordinator instance ports, by instance id. */
  readonly groupCoordinatorPorts: number[] = [];
  /** The instance owning every group (unless in `groupOwners`): FindCoordinator names it, the others answer NOT_COORDINATOR. */
  groupCoordinatorOwner = 0;
  /** Per-group owners overriding groupCoordinatorOwner. */
  readonly groupOwners = new Map<string, number>();
  /** Groups by id (shared by the instances, as if the owner loaded them from `__consumer_offsets`). */
  readonly groups = new Map<string, ConsumerGroup>();
  /** Committed offsets: group → "topic/partition" → offset. */
  readonly groupOffsets = new Map<string, Map<string, FakeCommittedOffset>>();
  /** Coordinator settings of new groups (short session bounds, no initial delay, for tests). */
  groupConfig: Partial<GroupConfig> = { minSessionTimeoutMs: 10, initialRebalanceDelayMs: 0 };
  /** Group calls received: instance id and method. */
  readonly groupCalls: Array<{ instance: number; method: string; groupId?: string; memberId?: string }> = [];
  /** Error codes the next calls of a method answer (whole-call error_code), in order. */
  readonly groupCallErrors = new Map<string, ErrorCode[]>();
  private readonly groupServers: GrpcServer[] = [];
  readonly topics = new Map<string, FakePartition[]>();
  readonly produces: ReceivedProduce[] = [];
  readonly fetches: ReceivedFetch[] = [];
  /** Metadata requests answered, per broker id. */
  metadataRequests = 0;
  /** InitProducerId requests answered; ids are handed out from `nextProducerId` on, at epoch 0. */
  initProducerIdRequests = 0;
  nextProducerId = 4000;
  /** Error codes the next InitProducerId calls answer, in order. */
  readonly initProducerIdErrors: ErrorCode[] = [];
  /** Admin calls answered by the active controller, by method. */
  readonly adminCalls: string[] = [];
  /** broker id → port. */
  readonly brokerPorts = new Map<number, number>();
  /** Controller ports, by index; `activeController` is the one that serves. */
  readonly controllerPorts: number[] = [];
  activeController = 0;
  /** Per "topic/partition": error codes the next produces answer, in order. */
  readonly produceErrors = new Map<string, ErrorCode[]>();
  /** Per broker id: whole-call failures the next produces get (a TributaryError). */
  readonly produceCallErrors = new Map<number, Error[]>();
  /** When set, produce answers wait for it (to hold requests in flight). */
  produceGate: Promise<void> | undefined;
  /** Metadata answers leave this topic out (as if unknown) while set. */
  hiddenTopics = new Set<string>();
  private readonly servers: GrpcServer[] = [];
  private readonly controllerServers: GrpcServer[] = [];
  private readonly appendWaiters = new Set<() => void>();

  /** Starts `brokers` brokers (ids 0..n-1) and `controllers` controllers on free ports. */
  static async start(brokers = 3, controllers = 1): Promise<FakeCluster> {
    const c = new FakeCluster();
    for (let id = 0; id < brokers; id++) c.brokerPorts.set(id, await c.startBroker(id));
    for (let i = 0; i < controllers; i++) c.controllerPorts.push(await c.startController(i));
    return c;
  }

  /** `host:port` of a broker. */
  address(brokerId: number): string {
    return `127.0.0.1:${this.brokerPorts.get(brokerId)!}`;
  }

  /** Creates a topic directly; partition p led by broker p % brokers. */
  createTopic(name: string, partitions: number): void {
    const list: FakePartition[] = [];
    for (let p = 0; p < partitions; p++) list.push({ leader: p % this.brokerPorts.size, leaderEpoch: 0, batches: [], logStartOffset: 0, nextOffset: 0 });
    this.topics.set(name, list);
  }

  /** Moves a partition's leadership (bumping its epoch). */
  moveLeader(topic: string, partition: number, leader: number): void {
    const p = this.topics.get(topic)![partition]!;
    p.leader = leader;
    p.leaderEpoch++;
  }

  /** Makes the next produces of a partition answer these codes. */
  failProduce(topic: string, partition: number, ...codes: ErrorCode[]): void {
    this.produceErrors.set(`${topic}/${partition}`, codes);
  }

  /** Deletes records below `offset` (as retention would, whole batches only). */
  truncateBefore(topic: string, partition: number, offset: number): void {
    const p = this.topics.get(topic)![partition]!;
    while (p.batches.length > 0) {
      const b = p.batches[0]!;
      const last = Number(b.readBigInt64BE(0)) + batchLastOffsetDelta(b);
      if (last >= offset) break;
      p.batches.shift();
    }
    p.logStartOffset = p.batches.length > 0 ? Number(p.batches[0]!.readBigInt64BE(0)) : p.nextOffset;
  }

  /** Appends already-encoded batches as the leader would (for consumer tests). */
  append(topic: string, partition: number, records: Buffer): number {
    const p = this.topics.get(topic)![partition]!;
    const base = p.nextOffset;
    let pos = 0;
    while (pos < records.length) {
      const size = validateBatchAt(records, pos);
      const batch = Buffer.from(records.subarray(pos, pos + size));
      setBatchBaseOffset(batch, 0, p.nextOffset);
      p.nextOffset += batchLastOffsetDelta(batch) + 1;
      p.batches.push(batch);
      pos += size;
    }
    for (const w of this.appendWaiters) w();
    return base;
  }

  /** Stops every server (and every group's timers). */
  async stop(): Promise<void> {
    for (const g of this.groups.values()) g.markDead();
    await Promise.all(this.servers.map((s) => s.shutdown(0)));
  }

  /** Starts `n` group coordinator instances (ids 0..n-1); instance 0 owns every group. */
  async startGroupCoordinators(n = 1): Promise<void> {
    for (let i = 0; i < n; i++) this.groupCoordinatorPorts.push(await this.startGroupCoordinator(i));
  }

  /** Kills a group coordinator instance (brokers stop listing it). */
  async stopGroupCoordinator(index: number): Promise<void> {
    await this.groupServers[index]!.shutdown(0);
    this.groupCoordinatorPorts[index] = 0;
  }

  /** The group, created Empty when unknown. */
  group(groupId: string): ConsumerGroup {
    let g = this.groups.get(groupId);
    if (g === undefined || g.state === 'Dead') {
      g = new ConsumerGroup(groupId, REAL_TIMERS, { config: this.groupConfig });
      this.groups.set(groupId, g);
    }
    return g;
  }

  /** The instance owning `groupId`. */
  ownerOf(groupId: string): number {
    return this.groupOwners.get(groupId) ?? this.groupCoordinatorOwner;
  }

  /** The partitions a member of a group was assigned (decoded), by member id. */
  groupAssignments(groupId: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const m of this.groups.get(groupId)?.memberList() ?? []) {
      out.set(m.memberId, decodeAssignment(m.assignment).partitions.flatMap((t) => t.partitions.map((p) => `${t.topic}-${p}`)).sort());
    }
    return out;
  }

  private async startGroupCoordinator(index: number): Promise<number> {
    const server = this.newServer();
    this.groupServers[index] = server;
    const owner = (method: string, groupId: string, memberId?: string): ErrorCode => {
      this.groupCalls.push({ instance: index, method, groupId, ...(memberId === undefined ? {} : { memberId }) });
      const injected = this.groupCallErrors.get(method)?.shift();
      if (injected !== undefined) return injected;
      return this.ownerOf(groupId) === index ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR;
    };
    const host = (peer: string): string => peer.replace(/:\d+$/, '');
    server.addService(GroupCoordinatorServiceService, {
      findCoordinator: async (req) => {
        this.groupCalls.push({ instance: index, method: 'findCoordinator' });
        return {
          coordinators: req.coordinatorKeys.map((key) => {
            const nodeId = this.ownerOf(key);
            const port = this.groupCoordinatorPorts[nodeId] ?? 0;
            return port > 0
              ? { key, nodeId, host: '127.0.0.1', port, errorCode: ErrorCode.NONE, errorMessage: '' }
              : { key, nodeId: -1, host: '', port: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'no owner' };
          }),
        };
      },
      joinGroup: async (req, ctx) => {
        const code = owner('joinGroup', req.groupId, req.memberId);
        const none = { errorMessage: '', generationId: -1, protocolType: '', protocolName: '', leader: '', memberId: req.memberId, members: [], skipAssignment: false };
        if (code !== ErrorCode.NONE) return { ...none, errorCode: code };
        return new Promise<JoinGroupResult>((resolve) =>
          this.group(req.groupId).join(
            joinGroupInput(req, host(ctx.peer)),
            resolve,
          ),
        );
      },
      syncGroup: async (req) => {
        const code = owner('syncGroup', req.groupId, req.memberId);
        if (code !== ErrorCode.NONE) return { errorCode: code, errorMessage: '', protocolType: '', protocolName: '', assignment: Buffer.alloc(0) };
        return new Promise((resolve) =>
          this.group(req.groupId).sync(
            syncGroupInput(req),
            resolve,
          ),
        );
      },
      heartbeat: async (req) => {
        const code = owner('heartbeat', req.groupId, req.memberId);
        if (code !== ErrorCode.NONE) return { errorCode: code, errorMessage: '' };
        return this.group(req.groupId).heartbeat(req);
      },
      leaveGroup: async (req) => {
        const code = owner('leaveGroup', req.groupId);
        if (code !== ErrorCode.NONE) return { errorCode: code, errorMessage: '', members: [] };
        return this.group(req.groupId).leave(req.members);
      },
      offsetCommit: async (req) => {
        const code = owner('offsetCommit', req.groupId, req.memberId);
        const answer = (errorCode: ErrorCode): { topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: ErrorCode }> }> } => ({
          topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
        });
        if (code !== ErrorCode.NONE) return answer(code);
        const verdict = this.group(req.groupId).validateOffsetCommit(req);
        if (verdict.errorCode !== ErrorCode.NONE) return answer(verdict.errorCode);
        let offsets = this.groupOffsets.get(req.groupId);
        if (offsets === undefined) this.groupOffsets.set(req.groupId, (offsets = new Map()));
        for (const t of req.topics) {
          for (const p of t.partitions) offsets.set(`${t.name}/${p.partitionIndex}`, { offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata });
        }
        return answer(ErrorCode.NONE);
      },
      offsetFetch: async (req) => {
        const code = owner('offsetFetch', req.groupId);
        if (code !== ErrorCode.NONE) return { errorCode: code, errorMessage: '', topics: [] };
        const offsets = this.groupOffsets.get(req.groupId) ?? new Map<string, FakeCommittedOffset>();
        const asked = req.allTopics
          ? [...offsets.keys()].map((k) => ({ name: k.slice(0, k.lastIndexOf('/')), index: Number(k.slice(k.lastIndexOf('/') + 1)) }))
          : req.topics.flatMap((t) => t.partitionIndexes.map((index) => ({ name: t.name, index })));
        const byTopic = new Map<string, Array<{ partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; metadata: string; errorCode: ErrorCode }>>();
        for (const { name, index } of asked) {
          const o = offsets.get(`${name}/${index}`);
          let list = byTopic.get(name);
          if (list === undefined) byTopic.set(name, (list = []));
          list.push({ partitionIndex: index, committedOffset: o?.offset ?? -1n, committedLeaderEpoch: o?.leaderEpoch ?? -1, metadata: o?.metadata ?? '', errorCode: ErrorCode.NONE });
        }
        return { errorCode: ErrorCode.NONE, errorMessage: '', topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
      },
      listGroups: async () => {
        this.groupCalls.push({ instance: index, method: 'listGroups' });
        const ids = new Set([...this.groups.keys(), ...this.groupOffsets.keys()].filter((id) => this.ownerOf(id) === index));
        return {
          errorCode: ErrorCode.NONE,
          errorMessage: '',
          groups: [...ids].filter((id) => this.groups.get(id)?.state !== 'Dead').map((id) => ({ groupId: id, protocolType: this.groups.get(id)?.protocolType ?? '', groupState: this.groups.get(id)?.state ?? 'Empty' })),
        };
      },
      describeGroups: async (req) => ({
        groups: req.groups.map((groupId) => {
          const code = owner('describeGroups', groupId);
          const g = this.groups.get(groupId);
          const base = { errorCode: code, errorMessage: '', groupId, groupState: 'Dead', protocolType: '', protocolData: '', members: [] };
          if (code !== ErrorCode.NONE || g === undefined) return base;
          return {
            ...base,
            groupState: g.state,
            protocolType: g.protocolType ?? '',
            protocolData: g.state === 'Stable' ? (g.protocol ?? '') : '',
            members: g.memberList().map((m) => ({
              memberId: m.memberId,
              groupInstanceId: m.groupInstanceId,
              clientId: m.clientId,
              clientHost: m.clientHost,
              memberMetadata: m.protocols.find((p) => p.name === g.protocol)?.metadata ?? Buffer.alloc(0),
              memberAssignment: m.assignment,
            })),
          };
        }),
      }),
      deleteGroups: async (req) => ({
        results: req.groupsNames.map((groupId) => {
          const code = owner('deleteGroups', groupId);
          if (code !== ErrorCode.NONE) return { groupId, errorCode: code };
          const g = this.groups.get(groupId);
          if (g === undefined && !this.groupOffsets.has(groupId)) return { groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND };
          if (g !== undefined && g.state !== 'Empty' && g.state !== 'Dead') return { groupId, errorCode: ErrorCode.NON_EMPTY_GROUP };
          g?.markDead();
          this.groups.delete(groupId);
          this.groupOffsets.delete(groupId);
          return { groupId, errorCode: ErrorCode.NONE };
        }),
      }),
    });
    return server.listen('127.0.0.1', 0);
  }

  private newServer(): GrpcServer {
    const server = createGrpcServer({ logger: silent, registry: createMetrics({ service: 'fake', nodeId: 0, defaultMetrics: false }).registry });
    this.servers.push(server);
    return server;
  }

  private metadata(topics: string[]): MetadataResponse {
    const names = topics.length === 0 ? [...this.topics.keys()] : topics;
    return {
      brokers: [...this.brokerPorts].map(([id, port]) => ({ nodeId: id, host: '127.0.0.1', port, rack: '' })),
      clusterId: 'fake',
      controllerId: this.activeController,
      controllerHost: this.controllerPorts.length > 0 ? '127.0.0.1' : '',
      controllerPort: this.controllerPorts[this.activeController] ?? 0,
      groupCoordinators: this.groupCoordinatorPorts.map((port, nodeId) => ({ nodeId, host: '127.0.0.1', port })).filter((g) => g.port > 0),
      topics: names.map((name) => {
        const partitions = this.hiddenTopics.has(name) ? undefined : this.topics.get(name);
        if (partitions === undefined) return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, isInternal: false, partitions: [] };
        return {
          name,
          errorCode: ErrorCode.NONE,
          isInternal: false,
          partitions: partitions.map((p, index) => ({
            errorCode: ErrorCode.NONE,
            index,
            leaderId: p.leader,
            leaderEpoch: p.leaderEpoch,
            replicaNodes: [p.leader],
            isrNodes: [p.leader],
            offlineReplicas: [],
          })),
        };
      }),
    };
  }

  private async produce(brokerId: number, request: ProduceRequest): Promise<ProduceResponse> {
    const received: ReceivedProduce = { brokerId, acks: request.acks, partitions: [] };
    this.produces.push(received);
    const callErrors = this.produceCallErrors.get(brokerId);
    if (callErrors !== undefined && callErrors.length > 0) throw callErrors.shift()!;
    if (this.produceGate !== undefined) await this.produceGate;
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((pd) => {
          let batches = 0;
          for (let pos = 0; pos < pd.records.length; pos += batchSize(pd.records, pos)) batches++;
          received.partitions.push({ topic: t.name, partition: pd.index, batches, bytes: pd.records.length, records: Buffer.from(pd.records) });
          const none = { index: pd.index, errorMessage: '', baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n };
          const p = this.topics.get(t.name)?.[pd.index];
          if (p === undefined) return { ...none, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `no partition ${t.name}-${pd.index}` };
          const injected = this.produceErrors.get(`${t.name}/${pd.index}`);
          if (injected !== undefined && injected.length > 0) return { ...none, errorCode: injected.shift()!, errorMessage: 'injected' };
          if (p.leader !== brokerId) return { ...none, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, errorMessage: `broker ${brokerId} is not the leader` };
          const base = this.append(t.name, pd.index, pd.records);
          return { ...none, errorCode: ErrorCode.NONE, baseOffset: BigInt(base), logStartOffset: BigInt(p.logStartOffset) };
        }),
      })),
    };
  }

  private fetchNow(brokerId: number, request: FetchRequest): { response: FetchResponse; bytes: number } {
    let bytes = 0;
    let budget = request.maxBytes;
    const response: FetchResponse = {
      throttleTimeMs: 0,
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((fp) => {
          const empty = { index: fp.index, errorMessage: '', highWatermark: -1n, logStartOffset: -1n, records: Buffer.alloc(0) };
          const p = this.topics.get(t.name)?.[fp.index];
          if (p === undefined) return { ...empty, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
          if (p.leader !== brokerId) return { ...empty, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
          const meta = { ...empty, highWatermark: BigInt(p.nextOffset), logStartOffset: BigInt(p.logStartOffset) };
          const offset = Number(fp.fetchOffset);
          if (offset < p.logStartOffset || offset > p.nextOffset) return { ...meta, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
          const out: Buffer[] = [];
          let size = 0;
          for (const b of p.batches) {
            const last = Number(b.readBigInt64BE(0)) + batchLastOffsetDelta(b);
            if (last < offset) continue;
            if (size + b.length > Math.min(fp.partitionMaxBytes, budget) && (size > 0 || bytes > 0)) break;
            out.push(b);
            size += b.length;
          }
          bytes += size;
          budget = Math.max(0, budget - size);
          return { ...meta, errorCode: ErrorCode.NONE, records: Buffer.concat(out) };
        }),
      })),
    };
    return { response, bytes };
  }

  private async fetch(
    brokerId: number,
    request: FetchRequest,
    signal: AbortSignal,
  ): Promise<FetchResponse> {
    this.fetches.push({ brokerId, partitions: request.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.index, fetchOffset: p.fetchOffset }))) });
    const deadline = Date.now() + request.maxWaitMs;
    for (;;) {
      const { response, bytes } = this.fetchNow(brokerId, request);
      const anyError = response.topics.some((t) => t.partitions.some((p) => p.errorCode !== ErrorCode.NONE));
      if (bytes >= Math.max(1, request.minBytes) || anyError || Date.now() >= deadline || signal.aborted) return response;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.appendWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
        this.appendWaiters.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  private async startBroker(id: number): Promise<number> {
    const server = this.newServer();
    server.addService(BrokerServiceService, {
      metadata: async (req) => {
        this.metadataRequests++;
        return this.metadata(req.topics);
      },
      produce: (req) => this.produce(id, req),
      initProducerId: async () => {
        this.initProducerIdRequests++;
        const errorCode = this.initProducerIdErrors.shift();
        if (errorCode !== undefined) return { errorCode, errorMessage: 'injected', producerId: -1n, producerEpoch: -1 };
        return { errorCode: ErrorCode.NONE, errorMessage: '', producerId: BigInt(this.nextProducerId++), producerEpoch: 0 };
      },
      fetch: (req, ctx) => this.fetch(id, req, ctx.signal),
      listOffsets: async (req) => ({
        topics: req.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((lp) => {
            const p = this.topics.get(t.name)?.[lp.index];
            const base = { index: lp.index, errorMessage: '', timestamp: -1n, leaderEpoch: -1 };
            if (p === undefined) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, offset: -1n };
            if (p.leader !== id) return { ...base, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, offset: -1n };
            if (lp.timestamp === -2n) return { ...base, errorCode: ErrorCode.NONE, offset: BigInt(p.logStartOffset) };
            if (lp.timestamp === -1n) return { ...base, errorCode: ErrorCode.NONE, offset: BigInt(p.nextOffset) };
            for (const b of p.batches) {
              if (BigInt(batchMaxTimestamp(b)) >= lp.timestamp) return { ...base, errorCode: ErrorCode.NONE, offset: b.readBigInt64BE(0), timestamp: BigInt(batchMaxTimestamp(b)) };
            }
            return { ...base, errorCode: ErrorCode.NONE, offset: -1n };
          }),
        })),
      }),
    });
    return server.listen('127.0.0.1', 0);
  }

  /** Kills a controller's server (its port stops answering). */
  async stopController(index: number): Promise<void> {
    await this.controllerServers[index]!.shutdown(0);
  }

  private async startController(index: number): Promise<number> {
    const server = this.newServer();
    this.controllerServers[index] = server;
    const guard = (method: string): void => {
      if (this.activeController !== index) {
        throw new TributaryError(ErrorCode.NOT_CONTROLLER, `controller ${index} is a standby; the active one is ${this.activeController}`);
      }
      this.adminCalls.push(method);
    };
    server.addService(AdminServiceService, {
      createTopics: async (req) => {
        guard('createTopics');
        return {
          results: req.topics.map((t) => {
            if (this.topics.has(t.name)) {
              return { name: t.name, errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, errorMessage: `topic '${t.name}' already exists`, numPartitions: 0, replicationFactor: 0 };
            }
            // -1: the cluster defaults (KIP-464), 1 and 1 here as in Kafka's broker defaults.
            const numPartitions = t.numPartitions === -1 ? 1 : t.numPartitions;
            const replicationFactor = t.replicationFactor === -1 ? 1 : t.replicationFactor;
            if (!req.validateOnly) this.createTopic(t.name, numPartitions);
            return { name: t.name, errorCode: ErrorCode.NONE, errorMessage: '', numPartitions, replicationFactor };
          }),
        };
      },
      deleteTopics: async (req) => {
        guard('deleteTopics');
        return {
          results: req.names.map((name) =>
            this.topics.delete(name)
              ? { name, errorCode: ErrorCode.NONE, errorMessage: '' }
              : { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic '${name}' does not exist` },
          ),
        };
      },
      createPartitions: async (req) => {
        guard('createPartitions');
        return {
          results: req.topics.map((t) => {
            const list = this.topics.get(t.name);
            if (list === undefined) return { name: t.name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'no such topic' };
            if (t.count <= list.length) return { name: t.name, errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `count ${t.count} is not above ${list.length}` };
            if (!req.validateOnly) {
              for (let p = list.length; p < t.count; p++) list.push({ leader: p % this.brokerPorts.size, leaderEpoch: 0, batches: [], logStartOffset: 0, nextOffset: 0 });
            }
            return { name: t.name, errorCode: ErrorCode.NONE, errorMessage: '' };
          }),
        };
      },
      listTopics: async () => {
        guard('listTopics');
        return { names: [...this.topics.keys()].sort() };
      },
      describeTopics: async (req) => {
        guard('describeTopics');
        const names = req.names.length === 0 ? [...this.topics.keys()].sort() : req.names;
        return {
          topics: names.map((name) => {
            const list = this.topics.get(name);
            if (list === undefined) return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic '${name}' does not exist`, partitions: [] };
            return {
              name,
              errorCode: ErrorCode.NONE,
              errorMessage: '',
              partitions: list.map((p, i) => ({ partition: i, leader: p.leader, leaderEpoch: p.leaderEpoch, replicas: [p.leader], isr: [p.leader] })),
            };
          }),
        };
      },
      describeConfigs: async (req) => {
        guard('describeConfigs');
        return {
          results: req.topics.map((topic) => ({
            topic,
            errorCode: ErrorCode.NONE,
            errorMessage: '',
            entries: [{ name: 'retention.ms', value: '604800000', isDefault: true, documentation: 'how long' }],
          })),
        };
      },
      alterConfigs: async (req) => {
        guard('alterConfigs');
        return {
          results: req.topics.map((t) =>
            t.ops.some((o) => o.name === 'bogus')
              ? { topic: t.topic, errorCode: ErrorCode.INVALID_CONFIG, errorMessage: "unknown config 'bogus'" }
              : { topic: t.topic, errorCode: ErrorCode.NONE, errorMessage: '' },
          ),
        };
      },
      describeCluster: async () => {
        guard('describeCluster');
        return {
          brokers: [...this.brokerPorts].map(([id, port]) => ({ id, host: '127.0.0.1', port, rack: '' })),
          controllerId: this.activeController,
          controllerEpoch: 7n,
          controllerHost: '127.0.0.1',
          controllerPort: this.controllerPorts[this.activeController]!,
          clusterId: 'fake',
        };
      },
    });
    return server.listen('127.0.0.1', 0);
  }
}
