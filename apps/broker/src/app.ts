/**
 * The broker assembled: the log manager over `--log-dir`, the replica manager (produce,
 * long-poll fetch, list offsets), the controller's commands and the metadata cache
 * (control.ts), the registration under /brokers/ids (registration.ts), one gRPC server
 * carrying BrokerService and BrokerControlService, the admin HTTP server and metrics.
 * `main.ts` calls `startBroker` with the loaded config; tests run the real process.
 *
 * Limits: a request larger than `socket.request.max.bytes` is refused by gRPC itself
 * (RESOURCE_EXHAUSTED) without reaching a handler, and the connection keeps serving; a batch
 * larger than the topic's `max.message.bytes` (default `message.max.bytes`) gets
 * MESSAGE_TOO_LARGE for its partition; a fetch answer is capped at `fetch.max.bytes`.
 */
import { statfsSync } from 'node:fs';
import { getChannelzHandlers } from '@grpc/grpc-js';
import type { CleanerStats, LogConfig } from '@tributary/log';
import { DEFAULT_LOG_CONFIG, LogManager } from '@tributary/log';
import type { BrokerServiceService, FetchResponse, ProduceResponse } from '@tributary/proto';
import { BrokerControlServiceService, BrokerServiceFastService, ErrorCode, errorCodeToJSON } from '@tributary/proto';
import type { Logger, Metrics, ServiceHandlers } from '@tributary/runtime';
import { connectService, createGrpcServer, GrpcStatusError, startAdminServer, Status, unary } from '@tributary/runtime';
import { authorizedFetch, authorizedListOffsets, authorizedMetadata, authorizedOffsetsForLeaderEpoch, authorizedProduce, initProducerIdRefusal } from './authorization';
import type { BrokerConfig } from './config';
import { BrokerControl } from './control';
import { controlledShutdown } from './controlled-shutdown';
import { GroupCoordinatorDirectory } from './group-coordinators';
import { BrokerRegistration } from './registration';
import { IsrManager } from './isr-manager';
import { ProducerIdManager } from './producer-id-manager';
import { BrokerQuotas } from './quotas';
import { ReplicaFetcherManager } from './replica-fetcher';
import { ReplicationThrottle } from './throttle';
import { ReplicaManager } from './replica-manager';
import type { HostedPartition } from './replica-manager';

export interface RunningBroker {
  grpcPort: number;
  adminPort: number;
  replicaManager: ReplicaManager;
  control: BrokerControl;
  /** Graceful stop: deregister, refuse new calls, finish running ones (up to graceMs), close the logs cleanly. */
  stop(graceMs: number): Promise<void>;
}

export async function startBroker(config: BrokerConfig, logger: Logger, metrics: Metrics): Promise<RunningBroker> {
  const baseLogConfig: LogConfig = { ...DEFAULT_LOG_CONFIG, maxMessageBytes: config.messageMaxBytes };
  // Security first: its settings fail fast, and the server below needs the authenticator and
  // the ACLs loaded. The coordination client carries this broker's identity (service principal).
  const connected = await connectService(config, { logger, registry: metrics.registry });
  const { client, security } = connected;
  const flushSeconds = metrics.histogram({
    name: 'tributary_log_flush_duration_seconds',
    help: "Time of each partition log flush (fsync of the segments past the recovery point; Kafka's LogFlushRateAndTimeMs): by flush.messages / flush.ms, and at roll and clean shutdown",
  });
  const logManager = LogManager.open({
    logDirs: [config.logDir],
    defaultConfig: baseLogConfig,
    producerIdExpirationMs: config.producerIdExpirationMs,
    cleaner: {
      enable: config.logCleanerEnable,
      backoffMs: config.logCleanerBackoffMs,
      dedupeBufferSize: config.logCleanerDedupeBufferSize,
      ...(config.logCleanerIoMaxBytesPerSecond > 0 ? { ioMaxBytesPerSecond: config.logCleanerIoMaxBytesPerSecond } : {}),
    },
    logger: logger.child({ component: 'log-manager' }),
    onDirFailure: (dir, error) => logger.error({ dir, err: error }, 'log directory failed; its partitions are offline on this broker'),
    onFlush: (seconds) => flushSeconds.observe(seconds),
  });
  logManager.startup();

  const bytesIn = metrics.counter({ name: 'tributary_broker_bytes_in_total', help: 'Record batch bytes appended by produce requests, per topic', labelNames: ['topic'] });
  const messagesIn = metrics.counter({ name: 'tributary_broker_messages_in_total', help: 'Records appended by produce requests, per topic', labelNames: ['topic'] });
  const duplicateBatches = metrics.counter({
    name: 'tributary_broker_produce_duplicate_batches_total',
    help: 'Retried batches of idempotent producers that were already in the log: answered with their original offset, not written again, per topic',
    labelNames: ['topic'],
  });
  const bytesOut = metrics.counter({ name: 'tributary_broker_bytes_out_total', help: 'Record batch bytes returned by fetch requests, per topic', labelNames: ['topic'] });
  const messagesOut = metrics.counter({
    name: 'tributary_broker_messages_out_total',
    help: 'Records in the batches returned by consumer fetch requests, per topic (counted from the batch headers; a batch starting before the fetch offset counts whole)',
    labelNames: ['topic'],
  });
  // Kafka's FailedProduceRequestsPerSec / FailedFetchRequestsPerSec, with the reason: the
  // partitions of produce, fetch and replica_fetch answers that carried an error code.
  const partitionErrors = metrics.counter({
    name: 'tributary_broker_partition_errors_total',
    help: 'Partitions answered with an error code, by API (produce, fetch, replica_fetch) and Kafka error name; whole-call failures are in tributary_grpc_server_requests_total{code!="OK"}',
    labelNames: ['api', 'error'],
  });
  for (const api of ['produce', 'fetch', 'replica_fetch']) partitionErrors.inc({ api, error: 'NOT_LEADER_OR_FOLLOWER' }, 0);
  const registered = metrics.gauge({ name: 'tributary_broker_registered', help: '1 while this broker is registered under /brokers/ids, else 0' });
  registered.set(0);

  const replicaManager: ReplicaManager = new ReplicaManager({
    brokerId: config.nodeId,
    logManager,
    maxFetchWaitMs: config.maxFetchWaitMs,
    partitionExists: (topic: string, partition: number): boolean => control.partitionExists(topic, partition),
    onIsrCandidate: (hosted: HostedPartition): void => isr.maybeExpand(hosted),
    onAppend: (topic, info) => {
      bytesIn.inc({ topic }, info.bytes);
      messagesIn.inc({ topic }, info.recordCount);
    },
    onDuplicate: (topic) => duplicateBatches.inc({ topic }),
  });
  metrics.gauge({
    name: 'tributary_broker_partitions',
    help: 'Partition replicas hosted by this broker',
    collect() {
      this.set(replicaManager.allPartitions().length);
    },
  });
  metrics.gauge({
    name: 'tributary_broker_leader_partitions',
    help: 'Partitions this broker leads',
    collect() {
      this.set(replicaManager.allPartitions().filter((p) => p.role.kind === 'leader').length);
    },
  });
  // Kafka's kafka.log:type=Log,name=Size (summed per topic: partition labels would multiply
  // series by the partition count) and the log directory's disk, for "disk almost full".
  metrics.gauge({
    name: 'tributary_log_size_bytes',
    help: 'Bytes in the segments of the partition replicas this broker hosts, per topic',
    labelNames: ['topic'],
    collect() {
      const sizes = new Map<string, number>();
      for (const p of replicaManager.allPartitions()) sizes.set(p.topicPartition.topic, (sizes.get(p.topicPartition.topic) ?? 0) + p.log.size);
      this.reset();
      for (const [topic, bytes] of sizes) this.set({ topic }, bytes);
    },
  });
  const diskStats = (): { free: number; total: number } | undefined => {
    try {
      const st = statfsSync(config.logDir);
      return { free: st.bavail * st.bsize, total: st.blocks * st.bsize };
    } catch {
      return undefined; // an unreadable directory shows as tributary_log_offline_dirs
    }
  };
  metrics.gauge({
    name: 'tributary_log_dir_free_bytes',
    help: 'Bytes available to this broker on the file system of its log directory',
    collect() {
      const st = diskStats();
      if (st) this.set(st.free);
    },
  });
  metrics.gauge({
    name: 'tributary_log_dir_size_bytes',
    help: 'Size in bytes of the file system holding this broker\'s log directory',
    collect() {
      const st = diskStats();
      if (st) this.set(st.total);
    },
  });
  metrics.gauge({
    name: 'tributary_broker_active_connections',
    help: 'Open client connections (HTTP/2 sessions: clients, followers, controllers) of the gRPC server of this broker process (grpc-js channelz)',
    collect() {
      this.set(grpcServerConnections());
    },
  });
  metrics.gauge({
    name: 'tributary_log_offline_dirs',
    help: 'Log directories taken offline after an I/O error (Kafka OfflineLogDirectoryCount); their partitions are offline on this broker',
    collect() {
      this.set(logManager.offlineDirs.length);
    },
  });
  // Log compaction (Kafka's kafka.log:type=LogCleaner / LogCleanerManager metrics).
  const cleanerStats = (): Readonly<CleanerStats> => logManager.cleanerStats;
  metrics.counter({
    name: 'tributary_log_cleaner_runs_total',
    help: 'Log cleaner passes completed (one log compacted up to its first uncleanable offset, or as far as the offset map reached)',
    collect() {
      this.reset();
      this.inc(cleanerStats().runs);
    },
  });
  metrics.counter({
    name: 'tributary_log_cleaner_bytes_cleaned_total',
    help: 'Segment bytes the log cleaner read (offset map and rewrite)',
    collect() {
      this.reset();
      this.inc(cleanerStats().bytesRead);
    },
  });
  metrics.counter({
    name: 'tributary_log_cleaner_bytes_written_total',
    help: 'Bytes of cleaned segments the log cleaner wrote',
    collect() {
      this.reset();
      this.inc(cleanerStats().bytesWritten);
    },
  });
  metrics.counter({
    name: 'tributary_log_cleaner_records_removed_total',
    help: 'Records the log cleaner removed: superseded by a later record with the same key, or tombstones past delete.retention.ms',
    collect() {
      this.reset();
      this.inc(cleanerStats().recordsRemoved);
    },
  });
  metrics.gauge({
    name: 'tributary_log_cleaner_uncleanable_partitions',
    help: 'Compacted partitions the log cleaner skips since a clean failed on them (e.g. a corrupt batch) until the broker restarts',
    collect() {
      this.set(cleanerStats().uncleanableLogs);
    },
  });
  metrics.gauge({
    name: 'tributary_log_cleaner_max_dirty_ratio',
    help: 'Largest dirty ratio (uncompacted bytes / compactable bytes) among compacted logs, as of the last cleaner selection',
    collect() {
      this.set(cleanerStats().maxDirtyRatio);
    },
  });
  const replicaBytes = metrics.counter({ name: 'tributary_broker_replica_fetch_bytes_total', help: 'Record batch bytes this broker replicated from leaders as a follower, per topic', labelNames: ['topic'] });
  // Records each followed partition is behind its leader's high watermark, as of its last fetch.
  const replicaLag = new Map<string, number>();
  metrics.gauge({
    name: 'tributary_broker_replica_max_lag',
    help: "Largest number of records any partition this broker follows is behind its leader's high watermark (Kafka's ReplicaFetcherManager MaxLag)",
    collect() {
      let max = 0;
      for (const hosted of replicaManager.allPartitions()) {
        if (hosted.role.kind !== 'follower') continue;
        max = Math.max(max, replicaLag.get(`${hosted.topicPartition.topic}-${hosted.topicPartition.partition}`) ?? 0);
      }
      this.set(max);
    },
  });
  metrics.gauge({
    name: 'tributary_broker_replica_lag',
    help: "Records a followed partition is behind its leader's high watermark, as of its last replica fetch",
    labelNames: ['topic', 'partition'],
    collect() {
      this.reset();
      for (const hosted of replicaManager.allPartitions()) {
        if (hosted.role.kind !== 'follower') continue;
        const { topic, partition } = hosted.topicPartition;
        this.set({ topic, partition: String(partition) }, replicaLag.get(`${topic}-${partition}`) ?? 0);
      }
    },
  });
  const throttle = new ReplicationThrottle();
  metrics.gauge({
    name: 'tributary_broker_throttled_partitions',
    help: 'Partitions this broker is adding as a reassignment target whose replication is throttled',
    collect() {
      this.set(throttle.size);
    },
  });
  metrics.counter({
    name: 'tributary_broker_throttled_replication_bytes_total',
    help: 'Record batch bytes fetched by this broker for throttled (reassigned) partitions',
    collect() {
      this.reset();
      this.inc(throttle.throttledBytes);
    },
  });
  const fetchers = new ReplicaFetcherManager({
    brokerId: config.nodeId,
    clientOptions: security.clientOptions,
    replicaManager,
    throttle,
    addressOf: (id) => control.brokerAddress(id),
    useStream: config.replicaFetchStream,
    logger: logger.child({ component: 'replica-fetcher' }),
    onFetched: (topic, partition, bytes, lag) => {
      if (bytes > 0) replicaBytes.inc({ topic }, bytes);
      replicaLag.set(`${topic}-${partition}`, lag);
    },
  });
  const leaders = (): HostedPartition[] => replicaManager.allPartitions().filter((p) => p.role.kind === 'leader');
  metrics.gauge({
    name: 'tributary_broker_under_replicated_partitions',
    help: 'Partitions this broker leads whose ISR is smaller than their replica set',
    collect() {
      this.set(leaders().filter((p) => p.role.kind === 'leader' && p.role.isr.length < p.replicas.length).length);
    },
  });
  metrics.gauge({
    name: 'tributary_broker_under_min_isr_partitions',
    help: 'Partitions this broker leads whose ISR is smaller than min.insync.replicas (acks=all writes are refused)',
    collect() {
      this.set(leaders().filter((p) => p.role.kind === 'leader' && p.role.isr.length < p.minInsyncReplicas).length);
    },
  });
  metrics.gauge({
    name: 'tributary_broker_purgatory_size',
    help: 'Requests waiting in a purgatory: fetch (long-polls of consumers and followers), produce (acks=all waiting for the ISR)',
    labelNames: ['purgatory'],
    collect() {
      this.set({ purgatory: 'fetch' }, replicaManager.fetchPurgatory.size);
      this.set({ purgatory: 'produce' }, replicaManager.producePurgatory.size);
    },
  });
  const isrChanges = metrics.counter({ name: 'tributary_broker_isr_changes_total', help: 'ISR changes this broker made as a leader (through the controller): shrink, expand', labelNames: ['kind'] });
  isrChanges.inc({ kind: 'shrink' }, 0);
  isrChanges.inc({ kind: 'expand' }, 0);
  const controlledShutdowns = metrics.counter({
    name: 'tributary_broker_controlled_shutdowns_total',
    help: 'Controlled shutdowns this broker ran on SIGTERM, by result: succeeded (it led nothing when it deregistered), failed (retries exhausted or controller unreachable)',
    labelNames: ['result'],
  });
  const isr: IsrManager = new IsrManager({
    brokerId: config.nodeId,
    replicaManager,
    clientOptions: security.clientOptions,
    controllerAddress: () => control.controllerAddress,
    lagTimeMaxMs: config.replicaLagTimeMaxMs,
    logger: logger.child({ component: 'isr' }),
    isAlive: (id) => control.brokerAddress(id) !== undefined,
    onChange: (kind, n) => isrChanges.inc({ kind }, n),
  });
  isr.start();
  // Started once the coordination client exists (below); Metadata lists none until then.
  const groupCoordinators = new GroupCoordinatorDirectory(logger.child({ component: 'group-coordinators' }));
  const control: BrokerControl = new BrokerControl({
    brokerId: config.nodeId,
    replicaManager,
    baseLogConfig,
    throttle,
    logger: logger.child({ component: 'control' }),
    groupCoordinators: () => groupCoordinators.list(),
    // Followers fetch from their (new) leaders as soon as the controller says so.
    onApplied: (kind) => {
      if (kind !== 'updateMetadata') fetchers.update();
    },
  });

  const countOut = (response: FetchResponse, counter = bytesOut): FetchResponse => {
    const consumer = counter === bytesOut;
    for (const t of response.topics) {
      let bytes = 0;
      let records = 0;
      for (const p of t.partitions) {
        bytes += p.records.length;
        if (consumer && p.records.length > 0) records += recordCountOf(p.records);
        if (p.errorCode !== ErrorCode.NONE) partitionErrors.inc({ api: consumer ? 'fetch' : 'replica_fetch', error: errorCodeToJSON(p.errorCode) });
      }
      if (bytes > 0) counter.inc({ topic: t.name }, bytes);
      if (records > 0) messagesOut.inc({ topic: t.name }, records);
    }
    return response;
  };
  const countProduced = (response: ProduceResponse): ProduceResponse => {
    for (const t of response.topics) {
      for (const p of t.partitions) if (p.errorCode !== ErrorCode.NONE) partitionErrors.inc({ api: 'produce', error: errorCodeToJSON(p.errorCode) });
    }
    return response;
  };
  const replicationBytesOut = metrics.counter({
    name: 'tributary_broker_replication_bytes_out_total',
    help: 'Record batch bytes sent to followers over replica fetch streams, per topic',
    labelNames: ['topic'],
  });
  const producerIdsIssued = metrics.counter({ name: 'tributary_broker_producer_ids_issued_total', help: 'Producer ids handed to idempotent producers (InitProducerId)' });
  const producerIds = new ProducerIdManager({
    brokerId: config.nodeId,
    clientOptions: security.clientOptions,
    controllerAddress: () => control.controllerAddress,
    logger: logger.child({ component: 'producer-ids' }),
    onProducerId: () => producerIdsIssued.inc(),
  });
  const quotas = new BrokerQuotas({ samples: config.quotaWindowNum, windowSeconds: config.quotaWindowSizeSeconds, metrics, logger: logger.child({ component: 'quotas' }) });
  const handlers: ServiceHandlers<typeof BrokerServiceService> = {
    produce: async (request, ctx) => {
      const started = Date.now();
      return quotas.produce(ctx, request, started, countProduced(await authorizedProduce(ctx, request, (r) => replicaManager.produce(r))));
    },
    produceStream: async (requests, stream, ctx) => {
      // Appended in arrival order (produce() appends before its first await), answered as
      // each completes; the stream ends once the client half-closed and all are answered.
      const pending = new Set<Promise<void>>();
      let failed: unknown;
      for await (const message of requests) {
        if (failed !== undefined) break;
        const { correlationId } = message;
        const request = message.request ?? { acks: 1, timeoutMs: 0, topics: [] };
        const started = Date.now();
        const answered = authorizedProduce(ctx, request, (r) => replicaManager.produce(r))
          .then((response) => quotas.produce(ctx, request, started, countProduced(response)))
          .then((response) => stream.write({ correlationId, response }))
          .catch((e: unknown) => {
            failed ??= e;
          });
        pending.add(answered);
        void answered.finally(() => pending.delete(answered));
      }
      await Promise.all(pending);
      if (failed !== undefined) throw failed;
    },
    initProducerId: async (request, ctx) => initProducerIdRefusal(ctx, request) ?? producerIds.initProducerId(request),
    fetch: async (request, ctx) => {
      const started = Date.now();
      const maxBytes = request.maxBytes > 0 ? Math.min(request.maxBytes, config.fetchMaxBytes) : config.fetchMaxBytes;
      return quotas.fetch(ctx, started, countOut(await authorizedFetch(ctx, { ...request, maxBytes }, (r) => replicaManager.fetch(r))));
    },
    replicaFetch: async (requests, stream) => {
      // One request at a time: the next comes once the follower has applied this answer.
      for await (const request of requests) {
        if (request.replicaId < 0) throw new GrpcStatusError(Status.INVALID_ARGUMENT, 'ReplicaFetch is for followers: set replica_id to your broker id (consumers use Fetch)');
        const maxBytes = request.maxBytes > 0 ? Math.min(request.maxBytes, config.fetchMaxBytes) : config.fetchMaxBytes;
        await stream.write(countOut(await replicaManager.fetch({ ...request, maxBytes }), replicationBytesOut));
      }
    },
    listOffsets: async (request, ctx) => authorizedListOffsets(ctx, request, (r) => replicaManager.listOffsets(r)),
    offsetsForLeaderEpoch: async (request, ctx) => authorizedOffsetsForLeaderEpoch(ctx, request, (r) => replicaManager.offsetsForLeaderEpoch(r)),
    metadata: async (request, ctx) => authorizedMetadata(ctx, request, (r) => control.describe(r)),
  };

  const server = createGrpcServer({
    logger,
    registry: metrics.registry,
    ...(security.tls ? { tls: security.tls } : {}),
    ...(security.authenticator ? { authenticator: security.authenticator } : {}),
    ...(security.authorizer ? { authorizer: security.authorizer } : {}),
    maxReceiveMessageBytes: config.socketRequestMaxBytes,
    // A fetch answer carries up to fetch.max.bytes of records plus per-partition framing (and
    // one batch above the limit at most, itself capped by max.message.bytes).
    maxSendMessageBytes: config.fetchMaxBytes + 2 * config.messageMaxBytes + 1024 * 1024,
  });
  // Produce requests decode to views of the received message (records are not copied); fetch
  // answers are encoded at their exact size, each records payload copied once.
  server.addService(BrokerServiceFastService, handlers);
  server.addService(BrokerControlServiceService, control.handlers);
  const grpcPort = await server.listen(config.host, config.grpcPort);

  let isRegistered = false;
  const registration = new BrokerRegistration(
    client,
    config.nodeId,
    { host: config.advertisedHost, port: grpcPort, ...(config.rack ? { rack: config.rack } : {}) },
    config.leaseTtlMs,
    logger.child({ component: 'registration' }),
    (now) => {
      isRegistered = now;
      registered.set(now ? 1 : 0);
    },
  );
  registration.start();
  groupCoordinators.start(client);
  quotas.start(client);

  let stopping = false;
  const admin = await startAdminServer({
    host: config.host,
    port: config.adminPort,
    registry: metrics.registry,
    logger,
    ...(security.tls ? { tls: security.tls } : {}),
    isReady: () => {
      if (stopping) return { ready: false, reason: 'shutting down' };
      if (!isRegistered) return { ready: false, reason: `not registered under /brokers/ids yet (coordination at ${config.coordination})` };
      if (!control.hasState) return { ready: false, reason: 'waiting for the controller to send this broker its partitions and the cluster metadata' };
      return true;
    },
  });
  logger.info({ grpcPort, adminPort: admin.port, logDir: config.logDir, coordination: config.coordination }, 'broker started');
  return {
    grpcPort,
    adminPort: admin.port,
    replicaManager,
    control,
    async stop(graceMs: number) {
      stopping = true;
      const started = Date.now();
      // Controlled shutdown first (Kafka's): leadership moves to other in-sync replicas while
      // this broker still serves, within half the shutdown time so the rest still fits.
      if (config.controlledShutdownEnable && isRegistered) {
        const outcome = await controlledShutdown({
          brokerId: config.nodeId,
          incarnation: () => registration.incarnation,
          send: (request, timeoutMs) => {
            const client = isr.controllerClient();
            if (!client) return Promise.reject(new Error('no active controller known yet'));
            return unary(client, 'controlledShutdown', request, { deadlineMs: timeoutMs });
          },
          maxRetries: config.controlledShutdownMaxRetries,
          retryBackoffMs: config.controlledShutdownRetryBackoffMs,
          deadline: started + Math.max(1000, Math.floor(config.shutdownTimeoutMs / 2)),
          logger: logger.child({ component: 'controlled-shutdown' }),
        });
        controlledShutdowns.inc({ result: outcome.succeeded ? 'succeeded' : 'failed' });
      }
      // Then deregister: the controller fails over what this broker still leads (or marks
      // the partitions offline) while running calls finish.
      await registration.stop();
      groupCoordinators.stop();
      quotas.stop();
      fetchers.shutdown();
      isr.stop();
      producerIds.stop();
      replicaManager.shutdown();
      await server.shutdown(Math.max(100, graceMs - (Date.now() - started)));
      await logManager.shutdown();
      connected.close();
      await admin.close();
    },
  };
}

/**
 * Records in a run of RecordBatch v2 batches, read from their headers only: batchLength
 * (int32 at 8) frames each batch, recordsCount is the int32 at 57. A truncated last batch (a
 * fetch answer may end mid-batch) is not counted.
 */
export function recordCountOf(records: Buffer): number {
  let count = 0;
  let pos = 0;
  while (pos + 61 <= records.length) {
    const size = 12 + records.readInt32BE(pos + 8);
    if (size < 61 || pos + size > records.length) break;
    count += records.readInt32BE(pos + 57);
    pos += size;
  }
  return count;
}

/** Minimal shape of the unary channelz handlers used below (grpc-js answers them synchronously). */
type ChannelzUnary = (call: { request: Record<string, unknown> }, callback: (err: unknown, value?: Record<string, unknown>) => void) => void;

/**
 * Open connections of the gRPC servers of this process, from grpc-js' channelz registry (on by
 * default; `grpc.enable_channelz: 0` would make this 0): the server sockets of every server,
 * page by page. The broker process has one gRPC server.
 */
export function grpcServerConnections(): number {
  const handlers = getChannelzHandlers() as unknown as Record<'GetServers' | 'GetServerSockets', ChannelzUnary>;
  const page = (handler: ChannelzUnary, request: Record<string, unknown>): Record<string, unknown> => {
    let answer: Record<string, unknown> = {};
    handler({ request }, (err, value) => {
      if (!err && value) answer = value;
    });
    return answer;
  };
  let connections = 0;
  let nextServer = 0;
  for (;;) {
    const servers = page(handlers.GetServers, { start_server_id: nextServer, max_results: 100 });
    const list = (servers['server'] as { ref: { server_id: string | number } }[] | undefined) ?? [];
    for (const server of list) {
      const id = Number(server.ref.server_id);
      let nextSocket = 0;
      for (;;) {
        const sockets = page(handlers.GetServerSockets, { server_id: id, start_socket_id: nextSocket, max_results: 100 });
        const refs = (sockets['socket_ref'] as { socket_id: string | number }[] | undefined) ?? [];
        connections += refs.length;
        if (sockets['end'] !== false || refs.length === 0) break;
        nextSocket = Number(refs[refs.length - 1]!.socket_id) + 1;
      }
      nextServer = id + 1;
    }
    if (servers['end'] !== false || list.length === 0) break;
  }
  return connections;
}
