/**
 * The client's view of the cluster (Kafka's `Metadata` + `MetadataUpdater`): brokers,
 * the partitions of the topics the client uses with their leaders and leader epochs, and the
 * active controller's Admin API address — all from broker Metadata answers.
 *
 * Refreshed:
 * - on demand (`refresh()`; concurrent callers share one request),
 * - when a user of the cache reports a stale view (`requestUpdate()`, after
 *   NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE,
 *   FENCED_LEADER_EPOCH, a broker that stopped answering...), at most once per
 *   retry.backoff.ms,
 * - and at least every metadata.max.age.ms while the client is open (new partitions, moved
 *   leaders), by one unref'd timer.
 *
 * A request asks for the topics the client has shown interest in (`addTopics`), or every
 * topic when there is none. It goes to a known broker, then to the bootstrap list, in turn,
 * until one answers; when none does: NoBrokerAvailableError naming the bootstrap list.
 *
 * Concurrency: single-threaded; answers replace the topics they describe as a whole, and
 * `version` grows with each answer so that waiters can tell a newer view from the one they saw.
 */
import type { MetadataResponse } from '@tributary/proto';
import { ErrorCode, TributaryError, isRetriable } from '@tributary/records';
import { abortableSleep } from '@tributary/runtime';
import type { ResolvedClientOptions } from './config';
import { retryDelayMs } from './config';
import type { ConnectionPool } from './connections';
import { ClientClosedError, ClientTimeoutError, NoBrokerAvailableError, UnknownTopicError, explain } from './errors';

/** Answers to a Metadata request that are the cluster refusing this client, not a failure. */
const REFUSALS: ReadonlySet<number> = new Set([ErrorCode.SASL_AUTHENTICATION_FAILED, ErrorCode.CLUSTER_AUTHORIZATION_FAILED]);

/** A broker as Metadata describes it. */
export interface BrokerNode {
  id: number;
  host: string;
  port: number;
  rack: string;
  /** `host:port`. */
  address: string;
}

/** A group coordinator instance as Metadata lists it (where FindCoordinator may be asked). */
export interface GroupCoordinatorNode {
  id: number;
  host: string;
  port: number;
  /** `host:port`. */
  address: string;
}

/** One partition's leadership. */
export interface PartitionMetadata {
  partition: number;
  /** Broker id of the leader, -1 when none. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  errorCode: ErrorCode;
}

/** One topic's partitions (indexed by partition id). */
export interface TopicMetadata {
  name: string;
  errorCode: ErrorCode;
  partitions: PartitionMetadata[];
  /** Ids of the partitions that have a leader known to this cache. */
  availablePartitions: number[];
}

/** Errors after which a client's view of leadership is stale. */
const STALE_METADATA_CODES = new Set<ErrorCode>([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.BROKER_NOT_AVAILABLE,
  ErrorCode.REPLICA_NOT_AVAILABLE,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.NOT_CONTROLLER,
]);

/** Whether an error code means the client should refresh its metadata before retrying. */
export function invalidatesMetadata(code: ErrorCode): boolean {
  return STALE_METADATA_CODES.has(code);
}

type Options = Pick<ResolvedClientOptions, 'bootstrap' | 'requestTimeoutMs' | 'retryBackoffMs' | 'retryBackoffMaxMs' | 'metadataMaxAgeMs' | 'logger'> & Partial<Pick<ResolvedClientOptions, 'tls'>>;

/** The metadata cache of one client. */
export class Metadata {
  /** Brokers by id, from the latest answer. */
  brokers = new Map<number, BrokerNode>();
  /** `host:port` of the active controller's Admin API, when a broker knew it. */
  controllerAddress: string | undefined;
  /** The group coordinator instances registered in the coordination store, from the latest answer. */
  groupCoordinators: GroupCoordinatorNode[] = [];
  /**
   * Ask for every topic (a pattern subscription follows topics created later), whatever the
   * topics of interest; the answer then replaces the whole topic view.
   */
  allTopics = false;
  /** Grows with every answer applied. */
  version = 0;
  /** Epoch ms of the latest answer (0: none yet). */
  lastRefreshMs = 0;

  private readonly topics = new Map<string, TopicMetadata>();
  private readonly interest = new Set<string>();
  private inFlight: Promise<void> | undefined;
  private updateTimer: NodeJS.Timeout | undefined;
  private ageTimer: NodeJS.Timeout | undefined;
  private readonly listeners: Array<() => void> = [];
  private readonly abort = new AbortController();

  constructor(
    private readonly options: Options,
    private readonly pool: ConnectionPool,
  ) {}

  /** Whether close() was called. */
  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  /** Aborted by close(): waits that depend on metadata end with it. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Calls `listener` after every answer applied (the consumer follows partition counts with it). */
  onUpdate(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Topics the next requests ask for (in addition to those already asked for). */
  addTopics(names: Iterable<string>): boolean {
    let added = false;
    for (const name of names) {
      if (!this.interest.has(name)) {
        this.interest.add(name);
        added = true;
      }
    }
    return added;
  }

  /** Stops asking for these topics. */
  removeTopics(names: Iterable<string>): void {
    for (const name of names) {
      this.interest.delete(name);
      this.topics.delete(name);
    }
  }

  /** Names of the topics in the cached view that exist (no error). */
  knownTopics(): string[] {
    const out: string[] = [];
    for (const t of this.topics.values()) if (t.errorCode === ErrorCode.NONE) out.push(t.name);
    return out;
  }

  /** The cached view of `name`, if any (possibly with an error code). */
  topic(name: string): TopicMetadata | undefined {
    return this.topics.get(name);
  }

  /** The leader of a partition, if known and registered. */
  leaderOf(topic: string, partition: number): BrokerNode | undefined {
    const p = this.topics.get(topic)?.partitions[partition];
    if (p === undefined || p.leader < 0) return undefined;
    return this.brokers.get(p.leader);
  }

  /** Fetches metadata now (joining a request in flight). Rejects with NoBrokerAvailableError when no broker answers. */
  refresh(): Promise<void> {
    if (this.closed) return Promise.reject(new ClientClosedError('client'));
    this.inFlight ??= this.fetchMetadata().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /**
   * Asks for a refresh soon: at once unless the last answer is younger than retry.backoff.ms
   * (then when it is that old). Failures are logged, not thrown: whoever needs the metadata
   * notices it is still missing.
   */
  requestUpdate(): void {
    if (this.closed || this.updateTimer !== undefined) return;
    const waitMs = Math.max(0, this.lastRefreshMs + this.options.retryBackoffMs - Date.now());
    this.updateTimer = setTimeout(() => {
      this.updateTimer = undefined;
      this.refresh().catch((e: unknown) => this.options.logger.warn({ err: e }, 'metadata refresh failed'));
    }, waitMs);
  }

  /**
   * Waits until `name` is known with at least one partition, refreshing with backoff while
   * it is unknown or has no leader, for at most `waitMs`. Throws UnknownTopicError if it
   * still does not exist, a TributaryError for a topic error that retrying cannot fix
   * (invalid name, authorization), ClientTimeoutError otherwise.
   */
  async waitForTopic(name: string, waitMs: number): Promise<TopicMetadata> {
    const cached = this.topics.get(name);
    if (cached !== undefined && cached.errorCode === ErrorCode.NONE && cached.partitions.length > 0) return cached;
    const deadline = Date.now() + waitMs;
    if (this.addTopics([name]) || cached === undefined) await this.refreshIgnoringNetwork(deadline);
    for (let attempt = 0; ; attempt++) {
      const t = this.topics.get(name);
      if (t !== undefined && t.errorCode === ErrorCode.NONE && t.partitions.length > 0) return t;
      if (t !== undefined && t.errorCode !== ErrorCode.NONE && t.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && !isRetriable(t.errorCode)) {
        throw explain(t.errorCode, '', name);
      }
      const now = Date.now();
      if (now >= deadline) {
        if (t === undefined && this.lastRefreshMs === 0) throw new NoBrokerAvailableError(this.options.bootstrap, undefined, this.options.tls !== undefined);
        if (t === undefined || t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw new UnknownTopicError(name);
        throw new ClientTimeoutError(`topic '${name}' has no partition leader after ${waitMs} ms (${ErrorCode[t.errorCode] ?? t.errorCode}): are its brokers up?`);
      }
      await abortableSleep(Math.min(retryDelayMs(this.options, attempt), deadline - now), this.abort.signal).catch(() => {
        throw new ClientClosedError('client');
      });
      await this.refreshIgnoringNetwork(deadline);
    }
  }

  /** The active controller's address, refreshing metadata when none is known (or `force`). */
  async controller(force = false): Promise<string> {
    if (force || this.controllerAddress === undefined) await this.refresh();
    if (this.controllerAddress === undefined) {
      throw new TributaryError(ErrorCode.NOT_CONTROLLER, 'the brokers know no active controller yet: is a controller running? (`npm start` starts one)', {
        retriable: true,
      });
    }
    return this.controllerAddress;
  }

  /** Stops the timers; pending waits end with ClientClosedError. */
  close(): void {
    this.abort.abort(new ClientClosedError('client'));
    if (this.updateTimer !== undefined) clearTimeout(this.updateTimer);
    if (this.ageTimer !== undefined) clearTimeout(this.ageTimer);
    this.updateTimer = undefined;
    this.ageTimer = undefined;
  }

  // ---- internals -------------------------------------------------------------------------

  /** A refresh whose network failure only matters at the deadline (the caller loops). */
  private async refreshIgnoringNetwork(deadline: number): Promise<void> {
    try {
      await this.refresh();
    } catch (e) {
      if (this.closed) throw e;
      // Never reached any broker: the cluster is not running; say so at once instead of waiting.
      if (!(e instanceof NoBrokerAvailableError) || this.lastRefreshMs === 0 || Date.now() >= deadline) throw e;
    }
  }

  /** Broker addresses to ask something any broker answers: the known brokers (from a random one on), then the bootstrap list. */
  brokerCandidates(): string[] {
    return this.candidates();
  }

  private candidates(): string[] {
    const known = [...this.brokers.values()].map((b) => b.address);
    // Start at a random known broker so that many clients spread their metadata requests.
    const start = known.length === 0 ? 0 : Math.floor(Math.random() * known.length);
    const rotated = [...known.slice(start), ...known.slice(0, start)];
    for (const a of this.options.bootstrap) if (!rotated.includes(a)) rotated.push(a);
    return rotated;
  }

  private async fetchMetadata(): Promise<void> {
    const topics = this.allTopics ? [] : [...this.interest];
    let lastError: unknown;
    for (const address of this.candidates()) {
      if (this.closed) throw new ClientClosedError('client');
      try {
        const response = await this.pool.call(this.pool.broker(address), 'metadata', { topics }, Math.min(this.options.requestTimeoutMs, 10_000));
        this.apply(response, topics);
        return;
      } catch (e) {
        // A broker that refused our credentials answered: the next one will too, and retrying
        // cannot help (Kafka's clients fail with SaslAuthenticationException at once).
        if (e instanceof TributaryError && REFUSALS.has(e.code)) throw e;
        lastError = e;
        this.options.logger.debug({ address, err: e }, 'metadata request failed');
      }
    }
    throw new NoBrokerAvailableError(this.options.bootstrap, lastError, this.options.tls !== undefined);
  }

  /** Applies an answer: brokers and controller replaced, the topics it describes replaced. */
  private apply(response: MetadataResponse, asked: readonly string[]): void {
    const brokers = new Map<number, BrokerNode>();
    for (const b of response.brokers) brokers.set(b.nodeId, { id: b.nodeId, host: b.host, port: b.port, rack: b.rack, address: `${b.host}:${b.port}` });
    this.brokers = brokers;
    this.groupCoordinators = response.groupCoordinators.map((g) => ({ id: g.nodeId, host: g.host, port: g.port, address: `${g.host}:${g.port}` }));
    this.controllerAddress = response.controllerHost !== '' && response.controllerPort > 0 ? `${response.controllerHost}:${response.controllerPort}` : undefined;
    if (asked.length === 0) this.topics.clear();
    for (const t of response.topics) {
      const partitions: PartitionMetadata[] = [];
      for (const p of t.partitions) {
        partitions[p.index] = {
          partition: p.index,
          leader: p.leaderId,
          leaderEpoch: p.leaderEpoch,
          replicas: p.replicaNodes,
          isr: p.isrNodes,
          errorCode: p.errorCode,
        };
      }
      // A hole (a partition missing from the answer) would break partition counts: fill it.
      for (let i = 0; i < partitions.length; i++) {
        partitions[i] ??= { partition: i, leader: -1, leaderEpoch: -1, replicas: [], isr: [], errorCode: ErrorCode.LEADER_NOT_AVAILABLE };
      }
      const availablePartitions = partitions.filter((p) => p.leader >= 0 && brokers.has(p.leader)).map((p) => p.partition);
      this.topics.set(t.name, { name: t.name, errorCode: t.errorCode, partitions, availablePartitions });
    }
    this.version++;
    this.lastRefreshMs = Date.now();
    this.armAgeTimer();
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (e) {
        this.options.logger.error({ err: e }, 'metadata listener failed');
      }
    }
  }

  private armAgeTimer(): void {
    if (this.ageTimer !== undefined) clearTimeout(this.ageTimer);
    this.ageTimer = setTimeout(() => {
      this.ageTimer = undefined;
      this.refresh().catch((e: unknown) => {
        this.options.logger.warn({ err: e }, 'periodic metadata refresh failed');
        this.armAgeTimer();
      });
    }, this.options.metadataMaxAgeMs);
    this.ageTimer.unref();
  }
}
