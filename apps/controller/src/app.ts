/**
 * The controller assembled: coordination client, election and metadata core (controller.ts),
 * the Admin API on a gRPC server, the admin HTTP server and metrics. `main.ts` calls
 * `startController` with the loaded config; tests run the real process.
 */
import { AclServiceService, AdminServiceService, BrokerToControllerServiceService, ClientQuotaServiceService, UserAdminServiceService } from '@tributary/proto';
import type { Logger, Metrics } from '@tributary/runtime';
import { AclStore, QuotaStore, connectService, createGrpcServer, startAdminServer } from '@tributary/runtime';
import { aclHandlers } from './acls';
import type { ControllerConfig } from './config';
import { Controller } from './controller';
import { quotaHandlers } from './quotas';
import { CONTROLLER_ROOTS } from './store';
import { userAdminHandlers } from './users';

export interface RunningController {
  grpcPort: number;
  adminPort: number;
  controller: Controller;
  /** Graceful stop: resign, refuse new calls, finish running ones (up to graceMs). */
  stop(graceMs: number): Promise<void>;
}

export async function startController(config: ControllerConfig, logger: Logger, metrics: Metrics): Promise<RunningController> {
  const connected = await connectService(config, { logger, registry: metrics.registry });
  const { client, security } = connected;
  const active = metrics.gauge({ name: 'tributary_controller_active', help: '1 while this controller is the active one, else 0' });
  const epochGauge = metrics.gauge({ name: 'tributary_controller_epoch', help: 'Controller epoch held by this controller while active (0 when standby)' });
  const offline = metrics.gauge({ name: 'tributary_controller_offline_partitions', help: 'Partitions without a leader (leader -1), as of the last leadership change seen by the active controller (0 when standby)' });
  const imbalance = metrics.gauge({
    name: 'tributary_controller_preferred_replica_imbalance',
    help: 'Partitions not led by their preferred replica (first of the assignment), as of the last leadership change seen by the active controller (0 when standby)',
  });
  const elections = metrics.counter({
    name: 'tributary_controller_leader_elections_total',
    help: 'Partition leaders elected by this controller, by type: clean (failover within the ISR), unclean (from outside the ISR), preferred (ElectLeaders or automatic rebalance), controlled_shutdown (a stopping broker handed over)',
    labelNames: ['type'],
  });
  const reassigning = metrics.gauge({
    name: 'tributary_controller_reassigning_partitions',
    help: 'Partitions being reassigned (KIP-455: target replicas not all in the ISR yet), as the active controller last saw them; 0 when standby',
  });
  active.set(0);
  offline.set(0);
  imbalance.set(0);
  reassigning.set(0);
  for (const type of ['clean', 'unclean', 'preferred', 'controlled_shutdown']) elections.inc({ type }, 0);
  epochGauge.set(0);

  const server = createGrpcServer({
    logger,
    registry: metrics.registry,
    ...(security.tls ? { tls: security.tls } : {}),
    ...(security.authenticator ? { authenticator: security.authenticator } : {}),
    ...(security.authorizer ? { authorizer: security.authorizer } : {}),
  });
  let controller: Controller | undefined = new Controller({
    client,
    self: { id: config.nodeId, host: config.host, port: config.grpcPort },
    leaseTtlMs: config.leaseTtlMs,
    logger: logger.child({ component: 'controller' }),
    clientOptions: security.clientOptions,
    onStateChange(isActive, epoch) {
      active.set(isActive ? 1 : 0);
      epochGauge.set(epoch === undefined ? 0 : Number(epoch));
    },
    onLeaderElections: (count, kind) => elections.inc({ type: kind }, count),
    onOfflinePartitions: (count) => offline.set(count),
    topicDefaults: { numPartitions: config.numPartitions, replicationFactor: config.defaultReplicationFactor },
    autoRebalance: {
      enabled: config.autoLeaderRebalanceEnable,
      percentage: config.leaderImbalancePerBrokerPercentage,
      intervalSeconds: config.leaderImbalanceCheckIntervalSeconds,
    },
    onPartitionHealth: (health) => {
      offline.set(health.offline);
      imbalance.set(health.preferredImbalance);
    },
    onReassigningPartitions: (count) => reassigning.set(count),
  });
  const running = controller;
  metrics.gauge({
    name: 'tributary_controller_shutting_down_brokers',
    help: 'Brokers in controlled shutdown (leadership being moved away; never elected leader meanwhile), as known to the active controller',
    collect() {
      this.set(running.isActive ? running.shuttingDown.size : 0);
    },
  });
  server.addService(AdminServiceService, controller.handlers);
  server.addService(BrokerToControllerServiceService, controller.brokerHandlers);
  const aclStore = new AclStore(client);
  server.addService(AclServiceService, aclHandlers({ store: aclStore, nodeId: config.nodeId, isActive: () => running.isActive, logger: logger.child({ component: 'acls' }) }));
  server.addService(
    UserAdminServiceService,
    userAdminHandlers({ store: client, nodeId: config.nodeId, isActive: () => running.isActive, logger: logger.child({ component: 'users' }) }),
  );
  const quotaStore = new QuotaStore(client);
  server.addService(ClientQuotaServiceService, quotaHandlers({ store: quotaStore, nodeId: config.nodeId, isActive: () => running.isActive, logger: logger.child({ component: 'quotas' }) }));
  const grpcPort = await server.listen(config.host, config.grpcPort);
  // The port advertised in /controller must be the real one when 0 was asked for.
  controller.advertisedPort = grpcPort;

  // Ready once coordination answered (the standby serves too: it answers NOT_CONTROLLER).
  for (const root of CONTROLLER_ROOTS) await client.ensurePath(root);
  await aclStore.ensurePaths();
  await quotaStore.ensurePaths();
  controller.start();

  let stopping = false;
  const admin = await startAdminServer({
    host: config.host,
    port: config.adminPort,
    registry: metrics.registry,
    logger,
    ...(security.tls ? { tls: security.tls } : {}),
    isReady: () => (stopping ? { ready: false, reason: 'shutting down' } : true),
  });
  logger.info({ grpcPort, adminPort: admin.port, coordination: config.coordination }, 'controller ready');
  return {
    grpcPort,
    adminPort: admin.port,
    controller,
    async stop(graceMs: number) {
      stopping = true;
      await controller?.stop();
      controller = undefined;
      await server.shutdown(graceMs);
      connected.close();
      await admin.close();
    },
  };
}
