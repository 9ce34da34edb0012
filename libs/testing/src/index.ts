// Test harness for integration tests: real ZooKeeper servers, free ports, service processes.
export { freePort, freePorts, fourLetterWord } from './net';
export { createIsolatedHost, netnsSupport } from './netns';
export type { IsolatedHost } from './netns';
export { exitedWithin, liveProcesses, spawnProcess, stopAllProcesses } from './process';
export type { ProcessExit, SpawnedProcess, SpawnOptions } from './process';
export { startTcpProxy } from './proxy';
export type { TcpProxy } from './proxy';
export { removeDir, removeTempDirs, tempDir } from './temp';
export { adminGet, startServiceProcess } from './service';
export { serviceMain, startCluster, WORKSPACE_ROOT } from './cluster';
export type { ClusterOptions, TestCluster } from './cluster';
export type { ServiceProcess, ServiceProcessOptions } from './service';
export { sleep, waitFor, withTimeout } from './wait';
export type { WaitForOptions } from './wait';
export {
  SLF4J_SIMPLE_JAR,
  startZooKeeper,
  startZooKeeperEnsemble,
  ZOOKEEPER_INSTALL_COMMAND,
  ZOOKEEPER_JAR,
  zooKeeperInstalled,
} from './zookeeper';
export type { StartOptions, ZooKeeperEnsemble, ZooKeeperMode, ZooKeeperOptions, ZooKeeperServer } from './zookeeper';

import { stopAllProcesses } from './process';
import { removeTempDirs } from './temp';
import { assertNoSecretsLogged } from './secrets';

/**
 * Stops every process this harness started in this test file (ZooKeeper servers included)
 * and removes its temp directories: `afterAll(cleanupAll)`.
 */
export async function cleanupAll(): Promise<void> {
  await stopAllProcesses();
  removeTempDirs();
  assertNoSecretsLogged();
}
export { assertNoSecretsLogged, registerTestSecret } from './secrets';
export { makeCa, makeCert } from './certs';
export type { TestCa, TestCert } from './certs';
export { CLUSTER_SERVICES, secureClusterSetup } from './secure-cluster';
export type { SecureClusterOptions, SecureClusterSetup } from './secure-cluster';
