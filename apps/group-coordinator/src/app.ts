/**
 * The group coordinator assembled: coordination client, SDK clients (Admin, Producer,
 * Consumer) for `__consumer_offsets`, the ownership of its partitions (ownership.ts), the
 * coordinator core (coordinator.ts) on a gRPC server, the admin HTTP server and metrics.
 * `main.ts` calls `startGroupCoordinator` with the loaded config; tests run the real process.
 */
import { Admin, Consumer, Producer, tlsOptionsFromFiles } from '@tributary/client';
import { GroupCoordinatorServiceService } from '@tributary/proto';
import type { Logger, Metrics } from '@tributary/runtime';
import { connectService, createGrpcServer, startAdminServer } from '@tributary/runtime';
import type { GroupCoordinatorConfig } from './config';
import { GroupCoordinator } from './coordinator';
import { ensureOffsetsTopic } from './offsets-topic';
import { Ownership } from './ownership';

export interface RunningGroupCoordinator {
  grpcPort: number;
  adminPort: number;
  coordinator: GroupCoordinator;
  /** Graceful stop: release every partition, revoke the lease, finish running calls (up to graceMs). */
  stop(graceMs: number): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export async function startGroupCoordinator(config: GroupCoordinatorConfig, logger: Logger, metrics: Metrics): Promise<RunningGroupCoordinator> {
  const connected = await connectService(config, { logger, registry: metrics.registry });
  const { client, security } = connected;
  // The SDK clients (offsets topic) act as this service: its certificate or its SCRAM login.
  const { tls, sasl } = security.clientOptions;
  const clientSecurity = { ...(tls ? { tls: tlsOptionsFromFiles(tls) } : {}), ...(sasl ? { sasl } : {}) };
  const bootstrap = config.bootstrap.split(',').map((s) => s.trim()).filter(Boolean);
  const clientLogger = logger.child({ component: 'client' });
  const clientId = `group-coordinator-${config.nodeId}`;
  const admin = new Admin({ bootstrap, clientId, logger: clientLogger, ...clientSecurity });
  const producer = new Producer({ bootstrap, clientId, logger: clientLogger, acks: 'all', idempotent: true, lingerMs: 1, ...clientSecurity });
  const loader = new Consumer({ bootstrap, clientId, logger: clientLogger, autoOffsetReset: 'earliest', ...clientSecurity });
  const coordinator = new GroupCoordinator({ config, logger, metrics, producer, admin, loader });

  const server = createGrpcServer({
    logger,
    registry: metrics.registry,
    ...(security.tls ? { tls: security.tls } : {}),
    ...(security.authenticator ? { authenticator: security.authenticator } : {}),
    ...(security.authorizer ? { authorizer: security.authorizer } : {}),
  });
  server.addService(GroupCoordinatorServiceService, coordinator.handlers);
  const grpcPort = await server.listen(config.host, config.grpcPort);

  let stopping = false;
  let ownership: Ownership | undefined;
  let settled = false;
  const registeredGauge = metrics.gauge({ name: 'tributary_group_coordinator_registered', help: '1 while this instance is registered under /group-coordinators/ids, else 0' });
  registeredGauge.set(0);

  const admin$ = await startAdminServer({
    host: config.host,
    port: config.adminPort,
    registry: metrics.registry,
    logger,
    ...(security.tls ? { tls: security.tls } : {}),
    isReady: () => {
      if (stopping) return { ready: false, reason: 'shutting down' };
      if (!ownership) return { ready: false, reason: `__consumer_offsets not ready yet (brokers at ${config.bootstrap})` };
      if (!ownership.registered) return { ready: false, reason: `not registered under /group-coordinators/ids yet (coordination at ${config.coordination})` };
      if (!settled) return { ready: false, reason: 'claiming partitions' };
      const pending = coordinator.loadsPending;
      return pending > 0 ? { ready: false, reason: `${pending} partition(s) of __consumer_offsets still loading` } : true;
    },
  });

  // In the background: the offsets topic (retried until the brokers answer), then ownership.
  const startup = (async () => {
    let numPartitions = 0;
    for (let attempt = 0; !stopping; attempt++) {
      try {
        numPartitions = await ensureOffsetsTopic(
          admin,
          { numPartitions: config.offsetsTopicNumPartitions, replicationFactor: config.offsetsTopicReplicationFactor, segmentBytes: config.offsetsTopicSegmentBytes },
          logger,
        );
        break;
      } catch (e) {
        logger.warn({ err: e, attempt }, '__consumer_offsets is not available yet; retrying');
        await sleep(Math.min(2000, 200 * 2 ** Math.min(attempt, 4)));
      }
    }
    if (stopping) return;
    const own = new Ownership(
      client,
      config.nodeId,
      { host: config.advertisedHost, port: grpcPort },
      config.leaseTtlMs,
      numPartitions,
      {
        onClaim: (p) => coordinator.onClaim(p),
        onUnload: (p) => coordinator.onUnload(p),
        drain: (p) => coordinator.drain(p),
        onRegistered: (registered) => {
          registeredGauge.set(registered ? 1 : 0);
          if (!registered) settled = false;
        },
      },
      logger.child({ component: 'ownership' }),
    );
    own.onSettled = () => (settled = true);
    coordinator.attach(own, numPartitions);
    ownership = own;
    await own.start();
  })().catch((e: unknown) => logger.error({ err: e }, 'group coordinator start-up failed'));

  logger.info({ grpcPort, adminPort: admin$.port, coordination: config.coordination, bootstrap: config.bootstrap }, 'group coordinator listening');
  return {
    grpcPort,
    adminPort: admin$.port,
    coordinator,
    async stop(graceMs: number) {
      stopping = true;
      coordinator.beginStop();
      await startup;
      await ownership?.stop();
      await server.shutdown(graceMs);
      await Promise.allSettled([producer.close({ timeoutMs: 1000 }), loader.close(), admin.close()]);
      connected.close();
      await admin$.close();
    },
  };
}
