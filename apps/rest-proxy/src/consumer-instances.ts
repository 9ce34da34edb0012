/**
 * v2 consumer instances: each one is an SDK group `Consumer` (libs/client) that an HTTP client
 * drives through `/consumers/{group}/instances/{name}/...`, as Confluent's REST Proxy v2.
 *
 * Concurrency contract:
 * - Requests to ONE instance run one at a time, in arrival order (`exclusive`): a consumer is
 *   not reentrant (a seek during a poll, two polls at once...). Requests to different instances
 *   run concurrently; nothing here blocks the event loop (the SDK's poll is asynchronous).
 * - An instance with no request for `idleTimeoutMs` (Confluent's consumer.instance.timeout.ms)
 *   is closed by a sweep: it commits (with auto-commit) and leaves its group, so the other
 *   members take its partitions over. A running request keeps its instance alive.
 * - Deleting an instance removes it from the registry at once (later requests get 40403),
 *   then closes it: a records request in flight is woken up and answers what it has.
 *
 * Positions: a records request returns what the consumer fetched within its timeout and
 * `max_bytes`; records polled past `max_bytes` are not dropped — the partitions they belong to
 * are sought back to the first one not returned, so the consumer's position is always "the
 * next record the HTTP client has not seen". Committing "everything fetched" (an empty commit
 * body) or auto-commit therefore commits exactly what the client received.
 */
import { randomUUID } from 'node:crypto';
import { Consumer } from '@tributary/client';
import type { ConsumerRecord, TopicPartition } from '@tributary/client';
import type { Logger } from '@tributary/runtime';
import type { ClientSecurity } from './cluster-clients';
import { RestError, RestErrorCode } from './errors';

/** The embedded format of an instance's records. */
export type InstanceFormat = 'json' | 'binary';

/** What an instance was told to read: a closed set of cases, as Kafka's SubscriptionState. */
export type InstanceTarget =
  | { kind: 'none' }
  | { kind: 'topics'; topics: string[] }
  | { kind: 'pattern'; pattern: string }
  | { kind: 'assigned'; partitions: TopicPartition[] };

/** An instance's settings, from the creation request. */
export interface InstanceSettings {
  format: InstanceFormat;
  autoOffsetReset: 'earliest' | 'latest' | 'none';
  autoCommit: boolean;
  /** fetch.min.bytes: a records request returns once this many key+value bytes came (<= 0: as soon as any record came). */
  responseMinBytes: number;
  /** consumer.request.timeout.ms: the records request's wait when it gives no `timeout`. */
  requestTimeoutMs: number;
}

export interface ConsumerInstancesOptions {
  bootstrap: string[];
  logger: Logger;
  /** request.timeout.ms of each instance's SDK consumer. */
  clientRequestTimeoutMs: number;
  /** consumer.instance.timeout.ms */
  idleTimeoutMs: number;
  /** Most instances held at once. */
  maxInstances: number;
  /** Prefetched bytes one instance may hold (its SDK consumer's maxBufferedBytes and fetchMaxBytes). */
  bufferBytes: number;
  /** Called for each instance closed by the idle sweep. */
  onExpired?: () => void;
}

/** Who an instance belongs to and how its consumer reaches the cluster. */
export interface InstanceOwner {
  /** `User:<name>` of the Basic-authenticated creator; undefined without authentication. */
  owner: string | undefined;
  /** The creator's TLS and SCRAM credentials: the instance reads with the creator's rights. */
  security: ClientSecurity;
}

/** Requests one instance may have queued or running; more get 429 (every queue is bounded). */
export const MAX_QUEUED_REQUESTS = 64;

/** Legal group and instance names: what can appear as one path segment without ambiguity. */
const NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** True when `name` can name a group or an instance (no '/', no '..', no control characters). */
export function isLegalName(name: string): boolean {
  return NAME.test(name) && name !== '.' && name !== '..';
}

export class ConsumerInstance {
  readonly consumer: Consumer;
  target: InstanceTarget = { kind: 'none' };
  /** Epoch ms of the end of the last request (or of the creation). */
  lastUsedMs = Date.now();
  /** Requests queued or running. */
  inFlight = 0;
  closed = false;
  /** `User:<name>` of the creator (only it may use the instance); undefined without authentication. */
  readonly owner: string | undefined;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    readonly group: string,
    readonly name: string,
    readonly settings: InstanceSettings,
    options: ConsumerInstancesOptions,
    owner: InstanceOwner,
  ) {
    this.owner = owner.owner;
    this.consumer = new Consumer({
      ...(owner.security.tls ? { tls: owner.security.tls } : {}),
      ...(owner.security.sasl ? { sasl: owner.security.sasl } : {}),
      bootstrap: options.bootstrap,
      logger: options.logger,
      requestTimeoutMs: options.clientRequestTimeoutMs,
      groupId: group,
      clientId: name,
      autoOffsetReset: settings.autoOffsetReset,
      enableAutoCommit: settings.autoCommit,
      // Bounded per instance: the proxy's memory is at most this times the instance count.
      maxBufferedBytes: options.bufferBytes,
      fetchMaxBytes: options.bufferBytes,
      maxPartitionFetchBytes: Math.min(options.bufferBytes, 1024 * 1024),
    });
  }

  /**
   * Runs `fn` once every earlier request of this instance is done (one at a time, in order).
   * Rejects with 40403 when the instance was deleted or expired meanwhile.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inFlight >= MAX_QUEUED_REQUESTS) {
      return Promise.reject(
        new RestError(
          RestErrorCode.TOO_MANY_CONSUMER_INSTANCES,
          `${this.inFlight} requests are already queued on consumer instance '${this.name}' (they run one at a time): wait for their answers before sending more`,
          429,
        ),
      );
    }
    this.inFlight++;
    const run = this.tail.then(async () => {
      if (this.closed) throw instanceNotFound(this.group, this.name);
      return fn();
    });
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run.finally(() => {
      this.inFlight--;
      this.lastUsedMs = Date.now();
    });
  }

  /**
   * Polls until `responseMinBytes` of keys and values came (any record when <= 0), `maxBytes`
   * is reached, or `timeoutMs` passed; always returns at least one record when one was
   * fetched (a record larger than `maxBytes` would otherwise block its partition). Records
   * polled past `maxBytes` are sought back (see the file comment). Call inside `exclusive`.
   */
  async read(timeoutMs: number, maxBytes: number): Promise<ConsumerRecord[]> {
    if (this.target.kind === 'none') {
      throw new RestError(RestErrorCode.ILLEGAL_STATE, 'Illegal state: this consumer instance is not subscribed to any topic nor assigned any partition: POST .../subscription or .../assignments first');
    }
    const deadline = Date.now() + timeoutMs;
    const out: ConsumerRecord[] = [];
    let bytes = 0;
    const minBytes = this.settings.responseMinBytes;
    for (;;) {
      let polled: ConsumerRecord[];
      try {
        polled = await this.consumer.poll(Math.max(0, deadline - Date.now()));
      } catch (e) {
        // The records of earlier rounds will not be answered: read them again next time.
        this.seekBack(out, 0);
        throw e;
      }
      let cut = polled.length;
      for (let i = 0; i < polled.length; i++) {
        const r = polled[i]!;
        const size = (r.key?.length ?? 0) + (r.value?.length ?? 0);
        if (out.length > 0 && bytes + size > maxBytes) {
          cut = i;
          break;
        }
        bytes += size;
        out.push(r);
      }
      if (cut < polled.length) {
        this.seekBack(polled, cut);
        return out;
      }
      if (this.closed || Date.now() >= deadline) return out;
      if (out.length > 0 && (minBytes <= 0 || bytes >= minBytes)) return out;
    }
  }

  /** Moves each partition with records at or after `cut` back to the first of them. */
  private seekBack(polled: readonly ConsumerRecord[], cut: number): void {
    const seen = new Set<string>();
    for (let i = cut; i < polled.length; i++) {
      const r = polled[i]!;
      const key = `${r.partition}\u0000${r.topic}`;
      if (seen.has(key)) continue;
      seen.add(key);
      try {
        this.consumer.seek({ topic: r.topic, partition: r.partition }, r.offset);
      } catch {
        // Revoked meanwhile: its new owner starts from the group's committed offset.
      }
    }
  }

  /** Closes the SDK consumer: commits with auto-commit, leaves the group. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.consumer.close();
  }
}

/** A 404 / 40403 for `group`/`name`. */
export function instanceNotFound(group: string, name: string): RestError {
  return new RestError(
    RestErrorCode.CONSUMER_INSTANCE_NOT_FOUND,
    `Consumer instance not found: no instance '${name.slice(0, 256)}' in group '${group.slice(0, 256)}' on this proxy (it was deleted, expired after being idle, or was created on another proxy process): create one with POST /consumers/{group}`,
  );
}

/** The registry of a proxy process's instances, keyed by (group, name), with the idle sweep. */
export class ConsumerInstances {
  private readonly instances = new Map<string, ConsumerInstance>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly options: ConsumerInstancesOptions) {
    const every = Math.max(50, Math.min(1000, Math.floor(options.idleTimeoutMs / 4)));
    this.sweeper = setInterval(() => this.expireIdle(), every);
    this.sweeper.unref();
  }

  get size(): number {
    return this.instances.size;
  }

  /** Creates an instance: 40902 when the name exists in the group, 42901 past the limit. */
  create(group: string, name: string | undefined, settings: InstanceSettings, owner: InstanceOwner): ConsumerInstance {
    const instanceName = name ?? `rest-consumer-${randomUUID()}`;
    const key = instanceKey(group, instanceName);
    if (this.instances.has(key)) {
      throw new RestError(
        RestErrorCode.CONSUMER_ALREADY_EXISTS,
        `Consumer with specified consumer ID already exists in the specified consumer group: '${instanceName}' in '${group}' (choose another name, or DELETE the existing instance first)`,
      );
    }
    if (this.instances.size >= this.options.maxInstances) {
      throw new RestError(
        RestErrorCode.TOO_MANY_CONSUMER_INSTANCES,
        `this proxy already holds ${this.instances.size} consumer instances (--max-consumer-instances): DELETE instances you no longer use, or raise the limit`,
      );
    }
    const instance = new ConsumerInstance(group, instanceName, settings, this.options, owner);
    this.instances.set(key, instance);
    return instance;
  }

  /** The instance, or 40403. */
  get(group: string, name: string): ConsumerInstance {
    const instance = this.instances.get(instanceKey(group, name));
    if (instance === undefined) throw instanceNotFound(group, name);
    return instance;
  }

  /** Removes the instance (40403 when unknown) and closes it: it leaves its group. */
  async delete(group: string, name: string): Promise<void> {
    const instance = this.get(group, name);
    this.instances.delete(instanceKey(group, name));
    await this.closeInstance(instance);
  }

  /** Closes every instance (shutdown). */
  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.instances.values()];
    this.instances.clear();
    await Promise.all([...all.map((i) => this.closeInstance(i)), ...this.closing]);
  }

  /** Closes instances idle for idleTimeoutMs (none with a request queued or running). */
  private expireIdle(): void {
    const now = Date.now();
    for (const [key, instance] of this.instances) {
      if (instance.inFlight === 0 && now - instance.lastUsedMs >= this.options.idleTimeoutMs) {
        this.instances.delete(key);
        this.options.logger.info({ group: instance.group, instance: instance.name, idleMs: now - instance.lastUsedMs }, 'consumer instance expired');
        this.options.onExpired?.();
        const p = this.closeInstance(instance).finally(() => this.closing.delete(p));
        this.closing.add(p);
      }
    }
  }

  private async closeInstance(instance: ConsumerInstance): Promise<void> {
    await instance.close().catch((e: unknown) => this.options.logger.warn({ err: e, group: instance.group, instance: instance.name }, 'closing a consumer instance failed'));
  }
}

function instanceKey(group: string, name: string): string {
  return `${group}\u0000${name}`;
}
