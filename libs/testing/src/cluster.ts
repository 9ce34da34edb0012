/**
 * A REAL Tributary cluster for tests: the coordination service (embedded store), controllers,
 * brokers and (optionally) group coordinators as separate processes, each a built `apps/<service>/dist/main.js` (run
 * `tsc -b` first; `npm test` does), on free loopback ports, with data in a temp directory.
 *
 * Only paths are shared with the apps, never imports: libs do not import apps.
 */
import { join, resolve } from 'node:path';
import { freePorts } from './net';
import { startServiceProcess } from './service';
import type { ServiceProcess, ServiceProcessOptions } from './service';
import { tempDir } from './temp';
import { waitFor } from './wait';

/** The workspace root (this file is libs/testing/src/cluster.ts or libs/testing/dist/cluster.js). */
export const WORKSPACE_ROOT = resolve(__dirname, '..', '..', '..');
export const serviceMain = (service: string): string => join(WORKSPACE_ROOT, 'apps', service, 'dist', 'main.js');

export interface ClusterOptions {
  /** Name used in temp dirs and process names. */
  name?: string;
  brokers?: number;
  controllers?: number;
  /** Lease TTL of controllers and brokers (default 3000 ms: quick failover in tests). */
  leaseTtlMs?: number;
  /** Extra broker flags. */
  brokerFlags?: Record<string, string | number | boolean>;
  /** Extra controller flags. */
  controllerFlags?: Record<string, string | number | boolean>;
  logLevel?: string;
  /** Node options of the broker processes (e.g. `['--cpu-prof', '--cpu-prof-dir=/tmp/p']`). */
  brokerNodeArgs?: string[];
  /** Group coordinator instances (apps/group-coordinator) started after the brokers (default 0). */
  groupCoordinators?: number;
  /** Extra group coordinator flags (e.g. `{ 'group-min-session-timeout-ms': 500 }`). */
  groupCoordinatorFlags?: Record<string, string | number | boolean>;
  /**
   * Flags of EVERY service, coordination included (security: `tls-cert-file`,
   * `sasl-enabled-mechanisms`, `authorizer-enable`, `super-users`, ...); the per-service flags
   * above win. A function gets the service (`coordination`, `controller`, `broker`,
   * `group-coordinator`) and its id, e.g. for a certificate per service.
   */
  commonFlags?: Record<string, string | number | boolean> | ((service: string, id: number) => Record<string, string | number | boolean>);
  /** CA file the admin ports' HTTPS is verified with (set with TLS flags in `commonFlags`). */
  adminCaFile?: string;
}

export interface TestCluster {
  coordination: ServiceProcess;
  /** By controller id. */
  controllers: Map<number, ServiceProcess>;
  /** Running brokers by broker id. */
  brokers: Map<number, ServiceProcess>;
  /** `host:port` of every running broker, comma-separated. */
  readonly bootstrap: string;
  dataDir: string;
  /** Where every service's whole output goes: `<logsDir>/<process name>.log`. */
  logsDir: string;
  /** Log directory of a broker. */
  logDir(id: number): string;
  /** Starts (or restarts, on the same ports and data) broker `id`. */
  startBroker(id: number): Promise<ServiceProcess>;
  /** Stops broker `id` with `signal` (SIGTERM: graceful; SIGKILL: crash) and waits for its exit. */
  stopBroker(id: number, signal?: NodeJS.Signals): Promise<void>;
  startController(id: number): Promise<ServiceProcess>;
  /** Stops the coordination service (SIGTERM, if running) and starts it again on the same ports and data; updates `coordination`. */
  restartCoordination(): Promise<ServiceProcess>;
  /** Running group coordinators by instance id. */
  groupCoordinators: Map<number, ServiceProcess>;
  /** Starts (or restarts, on the same ports) group coordinator `id`. */
  startGroupCoordinator(id: number): Promise<ServiceProcess>;
  /** Stops group coordinator `id` with `signal` (SIGTERM: graceful; SIGKILL: crash) and waits for its exit. */
  stopGroupCoordinator(id: number, signal?: NodeJS.Signals): Promise<void>;
  /** The active controller's id, from the controllers' metrics. */
  activeController(): Promise<number>;
  /** SIGTERM to everything (brokers, controllers, coordination). */
  stop(): Promise<void>;
}

/**
 * Node flags of every broker process, as in production (deploy/docker/entrypoint.sh): a copy of
 * `BROKER_NODE_FLAGS` (libs/runtime node-flags.ts, which explains them and checks the copies).
 */
const BROKER_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=128'];

export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const name = options.name ?? 'cluster';
  const dataDir = tempDir(name);
  const logsDir = join(dataDir, 'logs');
  // Every service's whole output, appended across restarts (log greps, post-mortems).
  const startLogged = (o: ServiceProcessOptions): Promise<ServiceProcess> => startServiceProcess({ ...o, logFile: join(logsDir, `${o.name}.log`) });
  const leaseTtlMs = options.leaseTtlMs ?? 3000;
  const logLevel = options.logLevel ?? 'info';
  const common = (service: string, id: number): Record<string, string | number | boolean> =>
    typeof options.commonFlags === 'function' ? options.commonFlags(service, id) : (options.commonFlags ?? {});
  const admin = options.adminCaFile !== undefined ? { adminCaFile: options.adminCaFile } : {};
  const startCoordination = (ports?: { grpcPort: number; adminPort: number }): Promise<ServiceProcess> =>
    startLogged({
      name: `${name}-coordination`,
      main: serviceMain('coordination'),
      ...admin,
      ...(ports ? { ports } : {}),
      flags: { backend: 'embedded', 'data-dir': join(dataDir, 'coordination'), 'node-id': `${name}-coordination`, 'log-level': logLevel, ...common('coordination', 0) },
    });
  const coordination = await startCoordination();
  const controllers = new Map<number, ServiceProcess>();
  const brokers = new Map<number, ServiceProcess>();
  const brokerPorts = new Map<number, { grpcPort: number; adminPort: number }>();
  const controllerPorts = new Map<number, { grpcPort: number; adminPort: number }>();
  const groupCoordinators = new Map<number, ServiceProcess>();
  const groupCoordinatorPorts = new Map<number, { grpcPort: number; adminPort: number }>();
  const logDir = (id: number): string => join(dataDir, `broker-${id}`);

  const cluster: TestCluster = {
    coordination,
    controllers,
    brokers,
    groupCoordinators,
    dataDir,
    logsDir,
    logDir,
    get bootstrap() {
      return [...brokers.values()].map((b) => b.address).join(',');
    },
    async restartCoordination() {
      const old = cluster.coordination;
      if (old.proc.running) await old.proc.killAndWait('SIGTERM');
      cluster.coordination = await startCoordination({ grpcPort: old.grpcPort, adminPort: old.adminPort });
      return cluster.coordination;
    },
    async startController(id) {
      if (!controllerPorts.has(id)) {
        const [grpcPort, adminPort] = (await freePorts(2)) as [number, number];
        controllerPorts.set(id, { grpcPort, adminPort });
      }
      const proc = await startLogged({
        name: `${name}-controller-${id}`,
        main: serviceMain('controller'),
        ports: controllerPorts.get(id),
        ...admin,
        flags: { 'node-id': id, coordination: coordination.address, 'lease-ttl-ms': leaseTtlMs, 'log-level': logLevel, ...common('controller', id), ...options.controllerFlags },
      });
      controllers.set(id, proc);
      return proc;
    },
    async startBroker(id) {
      if (!brokerPorts.has(id)) {
        const [grpcPort, adminPort] = (await freePorts(2)) as [number, number];
        brokerPorts.set(id, { grpcPort, adminPort });
      }
      const proc = await startLogged({
        name: `${name}-broker-${id}`,
        main: serviceMain('broker'),
        // The broker's production Node flags (BROKER_NODE_FLAGS in libs/runtime node-flags.ts,
        // repeated here: this library does not depend on the runtime), then the caller's.
        nodeArgs: [...BROKER_NODE_FLAGS, ...(options.brokerNodeArgs ?? [])],
        ports: brokerPorts.get(id),
        // A restarted broker waits for its previous registration's lease to expire.
        readyTimeoutMs: 15_000 + 2 * leaseTtlMs,
        ...admin,
        flags: { 'node-id': id, coordination: coordination.address, 'log-dir': logDir(id), 'lease-ttl-ms': leaseTtlMs, 'log-level': logLevel, ...common('broker', id), ...options.brokerFlags },
      });
      brokers.set(id, proc);
      return proc;
    },
    async stopBroker(id, signal = 'SIGTERM') {
      const proc = brokers.get(id);
      if (!proc) return;
      brokers.delete(id);
      await proc.proc.killAndWait(signal);
    },
    async startGroupCoordinator(id) {
      if (!groupCoordinatorPorts.has(id)) {
        const [grpcPort, adminPort] = (await freePorts(2)) as [number, number];
        groupCoordinatorPorts.set(id, { grpcPort, adminPort });
      }
      const proc = await startLogged({
        name: `${name}-group-coordinator-${id}`,
        main: serviceMain('group-coordinator'),
        ports: groupCoordinatorPorts.get(id),
        // A restarted instance waits for its previous registration's lease to expire.
        readyTimeoutMs: 20_000 + 2 * leaseTtlMs,
        ...admin,
        flags: {
          'node-id': id,
          coordination: coordination.address,
          bootstrap: cluster.bootstrap,
          'lease-ttl-ms': leaseTtlMs,
          'log-level': logLevel,
          ...common('group-coordinator', id),
          ...options.groupCoordinatorFlags,
        },
      });
      groupCoordinators.set(id, proc);
      return proc;
    },
    async stopGroupCoordinator(id, signal = 'SIGTERM') {
      const proc = groupCoordinators.get(id);
      if (!proc) return;
      groupCoordinators.delete(id);
      await proc.proc.killAndWait(signal);
    },
    async activeController() {
      let active = -1;
      await waitFor(
        async () => {
          for (const [id, c] of controllers) {
            if (!c.proc.running) continue;
            const text = await c.metrics().catch(() => '');
            if (/^tributary_controller_active\S* 1$/m.test(text)) {
              active = id;
              return true;
            }
          }
          return false;
        },
        { timeoutMs: 20_000, message: 'an active controller' },
      );
      return active;
    },
    async stop() {
      for (const g of groupCoordinators.values()) await g.proc.killAndWait('SIGTERM').catch(() => undefined);
      groupCoordinators.clear();
      for (const b of brokers.values()) await b.proc.killAndWait('SIGTERM').catch(() => undefined);
      for (const c of controllers.values()) await c.proc.killAndWait('SIGTERM').catch(() => undefined);
      await cluster.coordination.proc.killAndWait('SIGTERM').catch(() => undefined);
      brokers.clear();
      controllers.clear();
    },
  };

  for (let id = 0; id < (options.controllers ?? 1); id++) await cluster.startController(id);
  await cluster.activeController();
  // Brokers start together: each is ready once the controller has sent it its state.
  await Promise.all(Array.from({ length: options.brokers ?? 3 }, (_, id) => cluster.startBroker(id)));
  // Group coordinators need the brokers (they create and read __consumer_offsets).
  await Promise.all(Array.from({ length: options.groupCoordinators ?? 0 }, (_, id) => cluster.startGroupCoordinator(id)));
  return cluster;
}
