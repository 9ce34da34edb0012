import { randomBytes } from 'node:crypto';
import type { ZooKeeperServer } from '@tributary/testing';
import { startZooKeeper } from '@tributary/testing';
import { describeBackendConformance } from './backend-conformance';
import { ZooKeeperBackend } from './zookeeper-backend';

jest.setTimeout(30_000);

let zk: ZooKeeperServer;
beforeAll(async () => {
  zk = await startZooKeeper({ tickTimeMs: 100, minSessionTimeoutMs: 1_000, maxSessionTimeoutMs: 20_000 });
});
afterAll(async () => {
  await zk?.cleanup();
});

const chroot = (): string => `/t-${randomBytes(4).toString('hex')}`;

describeBackendConformance('zookeeper', async () => {
  const backend = new ZooKeeperBackend({ connectionString: zk.connectionString, chroot: chroot(), sessionTimeoutMs: 4_000 });
  await backend.start();
  return { backend, cleanup: () => backend.close() };
});
