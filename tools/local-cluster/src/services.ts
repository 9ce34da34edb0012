/**
 * The services of a local cluster, in start order — one table entry per service. Adding a
 * service is adding an entry: where its built entry point is, how many instances, its ports
 * (ARCHITECTURE.md §7 defaults, shifted by --base-port) and its flags. Entries whose
 * `apps/<app>/dist/main.js` does not exist are skipped (and reported), so the table can name
 * services before they are written.
 *
 * Start order is dependency order: every instance of an entry must answer /readyz before the
 * next entry starts; shutdown goes in reverse.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BROKER_NODE_FLAGS } from '@tributary/runtime';
import { TLS_DIR } from './certs';
import type { LauncherOptions } from './options';
import { DEFAULT_BASE_PORT, UsageError } from './options';

/** The SCRAM / certificate administrator of a `--secure` cluster (`User:admin`, a super user). */
export const ADMIN_USER = 'admin';

/** What an entry's `args` may use. */
export interface ClusterContext {
  options: LauncherOptions;
  /** Shifts a default port by --base-port. */
  port(defaultPort: number): number;
  /** `127.0.0.1:<port>` of coordination's gRPC API. */
  coordination: string;
  /** Broker gRPC addresses, comma-separated (a bootstrap list). */
  bootstrap: string;
}

export interface ServiceSpec {
  /** Folder under apps/. */
  app: string;
  /** Node/V8 flags before the script (the broker's BROKER_NODE_FLAGS). */
  nodeArgs?: readonly string[];
  instances(options: LauncherOptions): number;
  /** Process name (logs/<name>.log, console); unique. */
  name(index: number): string;
  /** Default (unshifted) port of the service's API: gRPC, or HTTP for the REST proxy. */
  defaultApiPort(index: number): number;
  /** Default admin HTTP port (/metrics, /healthz, /readyz). */
  defaultAdminPort(index: number): number;
  /** How the API is reached, for the endpoints table. */
  api: 'grpc' | 'http';
  /**
   * Service principal (`User:<principal>`) with `--secure`: the CN of the certificate every
   * instance serves with and presents to the services it calls.
   */
  principal: string;
  /** Flags besides `--log-level`, which every service gets. */
  args(index: number, ctx: ClusterContext, apiPort: number, adminPort: number): string[];
}

export const SERVICES: readonly ServiceSpec[] = [
  {
    app: 'coordination',
    principal: 'coordination',
    instances: () => 1,
    name: () => 'coordination',
    defaultApiPort: () => 7000,
    defaultAdminPort: () => 8000,
    api: 'grpc',
    args: (_i, ctx, grpc, admin) => [
      '--node-id', 'coordination-0', '--backend', 'embedded',
      '--data-dir', path.join(ctx.options.dataDir, 'coordination'),
      '--grpc-port', String(grpc), '--admin-port', String(admin),
    ],
  },
  {
    app: 'controller',
    principal: 'controller',
    instances: (o) => o.controllers,
    name: (i) => `controller-${i}`,
    defaultApiPort: (i) => 7100 + i,
    defaultAdminPort: (i) => 8100 + i,
    api: 'grpc',
    // Topics created without a replication factor (CLI, SDK, REST proxy) get min(3, brokers).
    args: (i, ctx, grpc, admin) => [
      '--node-id', String(i), '--coordination', ctx.coordination,
      '--default-replication-factor', String(Math.max(1, Math.min(3, ctx.options.brokers))),
      '--grpc-port', String(grpc), '--admin-port', String(admin),
    ],
  },
  {
    app: 'broker',
    principal: 'broker',
    instances: (o) => o.brokers,
    nodeArgs: BROKER_NODE_FLAGS,
    name: (i) => `broker-${i}`,
    defaultApiPort: (i) => 7200 + i,
    defaultAdminPort: (i) => 8200 + i,
    api: 'grpc',
    args: (i, ctx, grpc, admin) => [
      '--node-id', String(i), '--coordination', ctx.coordination,
      '--log-dir', path.join(ctx.options.dataDir, `broker-${i}`),
      '--grpc-port', String(grpc), '--admin-port', String(admin),
    ],
  },
  // apps/group-coordinator: instance 0, after the brokers (it creates and reads
  // __consumer_offsets through them).
  {
    app: 'group-coordinator',
    principal: 'group-coordinator',
    instances: () => 1,
    name: () => 'group-coordinator',
    defaultApiPort: () => 7300,
    defaultAdminPort: () => 8300,
    api: 'grpc',
    args: (_i, ctx, grpc, admin) => [
      '--node-id', '0', '--coordination', ctx.coordination, '--bootstrap', ctx.bootstrap,
      '--grpc-port', String(grpc), '--admin-port', String(admin),
    ],
  },
  // apps/rest-proxy: the Confluent REST Proxy API over the SDK, last (it needs the brokers).
  {
    app: 'rest-proxy',
    principal: 'rest-proxy',
    instances: () => 1,
    name: () => 'rest-proxy',
    defaultApiPort: () => 8082,
    defaultAdminPort: () => 9082,
    api: 'http',
    args: (_i, ctx, http, admin) => [
      '--bootstrap', ctx.bootstrap,
      '--port', String(http), '--admin-port', String(admin),
    ],
  },
];

/** One process to run. */
export interface PlannedService {
  name: string;
  app: string;
  /** Index of its entry in the table: processes of one stage start together. */
  stage: number;
  main: string;
  /** Node/V8 flags before `main`. */
  nodeArgs: readonly string[];
  args: string[];
  api: 'grpc' | 'http';
  apiPort: number;
  adminPort: number;
  /** Service principal name (the CN of its certificate with --secure). */
  principal: string;
}

export interface ClusterPlan {
  services: PlannedService[];
  /**
   * Entries not started because `main` (relative to root) is not built; `written` tells
   * whether the app exists at all (apps/<app>/package.json).
   */
  skipped: { app: string; main: string; written: boolean }[];
  /** Broker bootstrap list (empty when no broker is built). */
  bootstrap: string;
  /** With --secure: where the certificates are, and the super users every service gets. */
  security: PlanSecurity | undefined;
}

/** The files and principals of a `--secure` cluster. */
export interface PlanSecurity {
  /** `<data-dir>/tls`. */
  tlsDir: string;
  caFile: string;
  /** Certificate names to make: every service principal, then {@link ADMIN_USER}. */
  principals: string[];
  /** `User:<principal>` of every service and of the admin. */
  superUsers: string[];
}

/** The certificate and key of `name` in `tlsDir`. */
export function certFilesOf(tlsDir: string, name: string): { certFile: string; keyFile: string } {
  return { certFile: path.join(tlsDir, `${name}.crt`), keyFile: path.join(tlsDir, `${name}.key`) };
}

/**
 * The security flags of every service with --secure (libs/runtime securityConfigShape): TLS
 * on every listener with the service's own certificate (which it also presents when calling
 * the others: its service principal), client certificates requested (a certificate from the
 * CA names the caller; clients without one log in with SCRAM), SCRAM-SHA-256 and -512, the
 * ACL authorizer, and the services and the admin as super users.
 */
export function securityArgs(security: PlanSecurity, principal: string): string[] {
  const { certFile, keyFile } = certFilesOf(security.tlsDir, principal);
  return [
    '--tls-cert-file', certFile, '--tls-key-file', keyFile, '--tls-ca-file', security.caFile,
    '--tls-client-auth', 'requested',
    '--sasl-enabled-mechanisms', 'SCRAM-SHA-256,SCRAM-SHA-512',
    '--authorizer-enable',
    '--super-users', security.superUsers.join(','),
  ];
}

/** Every port a plan would use, for --base-port validation and the free-port check. */
export function planPorts(plan: ClusterPlan): { port: number; what: string }[] {
  return plan.services.flatMap((s) => [
    { port: s.apiPort, what: `${s.name} ${s.api === 'grpc' ? 'gRPC' : 'HTTP'}` },
    { port: s.adminPort, what: `${s.name} admin` },
  ]);
}

/**
 * The processes `options` asks for, with `exists` deciding which apps are built (default:
 * the file system under `root`).
 */
export function planCluster(
  options: LauncherOptions,
  root: string,
  exists: (file: string) => boolean = (f) => fs.existsSync(f),
  table: readonly ServiceSpec[] = SERVICES,
): ClusterPlan {
  const shift = options.basePort - DEFAULT_BASE_PORT;
  const port = (p: number): number => p + shift;
  const mainOf = (app: string): string => path.join(root, 'apps', app, 'dist', 'main.js');
  const built = table.filter((spec) => exists(mainOf(spec.app)));
  const brokerSpec = built.find((s) => s.app === 'broker');
  const bootstrap = brokerSpec
    ? Array.from({ length: brokerSpec.instances(options) }, (_, i) => `127.0.0.1:${port(brokerSpec.defaultApiPort(i))}`).join(',')
    : '';
  const ctx: ClusterContext = { options, port, coordination: `127.0.0.1:${port(7000)}`, bootstrap };
  let security: PlanSecurity | undefined;
  if (options.secure) {
    const tlsDir = path.join(options.dataDir, TLS_DIR);
    const principals = [...new Set([...built.map((spec) => spec.principal), ADMIN_USER])];
    security = { tlsDir, caFile: path.join(tlsDir, 'ca.crt'), principals, superUsers: principals.map((p) => `User:${p}`) };
  }
  const services: PlannedService[] = [];
  const skipped: ClusterPlan['skipped'] = [];
  table.forEach((spec, stage) => {
    const main = mainOf(spec.app);
    if (!exists(main)) {
      skipped.push({ app: spec.app, main: path.relative(root, main), written: exists(path.join(root, 'apps', spec.app, 'package.json')) });
      return;
    }
    for (let i = 0; i < spec.instances(options); i++) {
      const apiPort = port(spec.defaultApiPort(i));
      const adminPort = port(spec.defaultAdminPort(i));
      services.push({
        name: spec.name(i),
        app: spec.app,
        stage,
        main,
        nodeArgs: spec.nodeArgs ?? [],
        args: [...spec.args(i, ctx, apiPort, adminPort), ...(security ? securityArgs(security, spec.principal) : []), '--log-level', options.logLevel],
        api: spec.api,
        apiPort,
        adminPort,
        principal: spec.principal,
      });
    }
  });
  const plan = { services, skipped, bootstrap, security };
  const tooHigh = planPorts(plan).find((p) => p.port > 65535);
  if (tooHigh) throw new UsageError(`--base-port ${options.basePort} puts ${tooHigh.what} on port ${tooHigh.port}, above 65535; use a lower --base-port`);
  return plan;
}
