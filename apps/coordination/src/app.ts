/**
 * The coordination service assembled: backend, handlers, gRPC server, admin server,
 * metrics. `main.ts` calls `startCoordination` with the loaded config; tests and the local
 * cluster run the real process.
 */
import type { Logger, Metrics } from '@tributary/runtime';
import { createGrpcServer, startAdminServer } from '@tributary/runtime';
import type { Backend } from './backend';
import type { CoordinationConfig } from './config';
import { EmbeddedBackend } from './embedded-backend';
import { ZooKeeperBackend } from './zookeeper-backend';
import { addCoordinationService } from './grpc';
import { CoordinationHandlers } from './service';

export interface RunningCoordination {
  grpcPort: number;
  adminPort: number;
  backend: Backend;
  /** Graceful stop: refuse new calls, finish running ones (up to graceMs), close the backend. */
  stop(graceMs: number): Promise<void>;
}

export async function createBackend(config: CoordinationConfig, logger: Logger): Promise<Backend> {
  if (config.backend === 'embedded') {
    return new EmbeddedBackend({ dataDir: config.dataDir });
  }
  const backend = new ZooKeeperBackend({
    connectionString: config.zookeeperConnect,
    chroot: config.zookeeperChroot,
    sessionTimeoutMs: config.zookeeperSessionTimeoutMs,
    logger: logger.child({ component: 'zookeeper' }),
  });
  await backend.start();
  return backend;
}

export async function startCoordination(config: CoordinationConfig, logger: Logger, metrics: Metrics): Promise<RunningCoordination> {
  const backend = await createBackend(config, logger);
  const handlers = new CoordinationHandlers(backend);

  const connected = metrics.gauge({
    name: 'tributary_coordination_backend_connected',
    help: '1 while the backend (embedded store or ZooKeeper session) is usable, else 0',
    labelNames: ['backend'],
  });
  connected.set({ backend: backend.kind }, backend.state === 'connected' ? 1 : 0);
  backend.onStateChange((state) => {
    connected.set({ backend: backend.kind }, state === 'connected' ? 1 : 0);
    logger.info({ backend: backend.kind, state }, 'backend state changed');
  });
  metrics.gauge({
    name: 'tributary_coordination_active_leases',
    help: 'Leases currently held through this coordination replica',
    collect() {
      this.set(backend.activeLeases);
    },
  });
  metrics.gauge({
    name: 'tributary_coordination_active_watches',
    help: 'Open Watch and Observe streams',
    collect() {
      this.set(handlers.counters.activeWatches);
    },
  });

  const server = createGrpcServer({ logger, registry: metrics.registry });
  addCoordinationService(server, handlers);
  const grpcPort = await server.listen(config.host, config.grpcPort);
  let stopping = false;
  const admin = await startAdminServer({
    host: config.host,
    port: config.adminPort,
    registry: metrics.registry,
    logger,
    isReady: () =>
      stopping
        ? { ready: false, reason: 'shutting down' }
        : backend.state === 'connected'
          ? true
          : { ready: false, reason: `backend ${backend.kind} is ${backend.state}` },
  });
  logger.info({ grpcPort, adminPort: admin.port, backend: backend.kind }, 'coordination service ready');
  return {
    grpcPort,
    adminPort: admin.port,
    backend,
    async stop(graceMs: number) {
      stopping = true;
      handlers.closeStreams();
      await server.shutdown(graceMs);
      // ZooKeeper: hand leases off instead of ending them — their sessions live on until
      // their TTL, so clients keeping them alive through another replica (or through this
      // one once restarted) adopt them. Ending them would cost every holder its ephemerals
      // and leadership at each rolling restart.
      if (backend instanceof ZooKeeperBackend) await backend.abandon();
      else await backend.close();
      await admin.close();
    },
  };
}
