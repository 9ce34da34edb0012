/**
 * Public entry of the local-cluster tool (what `npm start` runs; see README.md). Exported for
 * scripts and tests that start a cluster: the plan of processes and ports, the flag parser,
 * the launcher, and the shape of `<data>/local-cluster.json`.
 */
export { Launcher, LOCK_FILE, STATE_FILE, restartDelayMs } from './launcher';
export type { ClusterState, Output } from './launcher';
export { DEFAULT_BASE_PORT, LOG_LEVELS, UsageError, helpText, parseOptions } from './options';
export type { LauncherOptions, LogLevel } from './options';
export { ADMIN_USER, SERVICES, certFilesOf, planCluster, planPorts, securityArgs } from './services';
export type { ClusterPlan, PlanSecurity, PlannedService, ServiceSpec } from './services';
export { CertificateError, TLS_DIR, ensureCertificates } from './certs';
export type { CertFiles, CertReport, LocalCa } from './certs';
