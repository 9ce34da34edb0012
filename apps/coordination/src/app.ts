/**
 * The coordination service assembled: backend, handlers, gRPC server, admin server,
 * metrics. `main.ts` calls `startCoordination` with the loaded config; tests and the local
 * cluster run the real process.
 */
import type { Logger, Metrics } from '@tributary/runtime';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationClient } from '@tributary/coordination-client';
import { applyBootstrapCredentials, ConfigError, createGrpcServer, parseBootstrapCredentials, startAdminServer, startServiceSecurity, type BootstrapCredential, type StartedServiceSecurity } from '@tributary/runtime';
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

  // Credentials, the token key ring and the ACLs live in this service's own tree: it reads
  // them through a CoordinationClient on a private unix socket (a 0700 directory, served
  // without authentication, never advertised) so the authenticator and the authorizer are the
  // same code as in every other service.
  const bootstrap = readBootstrapCredentials(config);
  const internal = needsOwnStore(config) ? await startInternalListener(handlers, logger, metrics) : undefined;
  let security: StartedServiceSecurity;
  try {
    if (internal && bootstrap.length > 0) await applyBootstrapCredentials(internal.client, bootstrap, logger);
    security = await startServiceSecurity(config, { logger, registry: metrics.registry, ...(internal ? { store: internal.client } : {}) });
  } catch (e) {
    await internal?.close();
    throw e;
  }
  const server = createGrpcServer({
    logger,
    registry: metrics.registry,
    ...(security.tls ? { tls: security.tls } : {}),
    ...(security.authenticator ? { authenticator: security.authenticator } : {}),
    ...(security.authorizer ? { authorizer: security.authorizer } : {}),
  });
  addCoordinationService(server, handlers);
  const grpcPort = await server.listen(config.host, config.grpcPort);
  let stopping = false;
  const admin = await startAdminServer({
    host: config.host,
    port: config.adminPort,
    registry: metrics.registry,
    logger,
    ...(security.tls ? { tls: security.tls } : {}),
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
      security.close();
      await internal?.close();
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

/** The credentials of --scram-credentials-file (a ConfigError for a bad file: fail at start). */
function readBootstrapCredentials(config: CoordinationConfig): BootstrapCredential[] {
  if (config.scramCredentialsFile === undefined) return [];
  let text: string;
  try {
    text = readFileSync(config.scramCredentialsFile, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read --scram-credentials-file ${config.scramCredentialsFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'scramCredentialsFile');
  }
  try {
    return parseBootstrapCredentials(text);
  } catch (e) {
    throw new ConfigError(`--scram-credentials-file ${config.scramCredentialsFile}: ${(e as Error).message}`, 'scramCredentialsFile');
  }
}

/** Whether the security settings read the store (credentials, token keys, ACLs). */
function needsOwnStore(config: CoordinationConfig): boolean {
  return config.saslEnabledMechanisms.length > 0 || config.tlsClientAuth !== 'none' || config.authorizerEnable || config.scramCredentialsFile !== undefined;
}

/** The private listener and the client of it (see startCoordination). */
async function startInternalListener(handlers: CoordinationHandlers, logger: Logger, metrics: Metrics): Promise<{ client: CoordinationClient; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-coordination-'));
  const socket = join(dir, 'internal.sock');
  const server = createGrpcServer({ logger: logger.child({ component: 'internal-listener' }), registry: metrics.registry });
  addCoordinationService(server, handlers);
  try {
    await server.listen(`unix:${socket}`, 0);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const client = new CoordinationClient({ address: `unix:${socket}`, logger: logger.child({ component: 'internal-client' }) });
  return {
    client,
    async close() {
      client.close();
      await server.shutdown(1000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
