/**
 * A cluster whose services know each other by SCRAM logins instead of certificates (Kafka's
 * SASL_PLAINTEXT inter-broker listener): the first users come from the coordination service's
 * --scram-credentials-file, made with `tributary users hash` (salted, no password in it); every
 * other service logs in with --sasl-username / --sasl-password-file as a super user. The
 * cluster then works (replication, the group coordinator's offsets topic) and an
 * administrator logged in with SCRAM manages users and topics.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admin, ErrorCode, Producer, TributaryError } from '@tributary/client';
import type { TestCluster } from '@tributary/testing';
import { WORKSPACE_ROOT, cleanupAll, startCluster, tempDir } from '@tributary/testing';

jest.setTimeout(180_000);

const CLI_MAIN = join(WORKSPACE_ROOT, 'apps', 'cli', 'dist', 'main.js');
const SERVICE_PASSWORD = 'svc-pw-4f1d9c';
const ADMIN_PASSWORD = 'adm-pw-77e0b2';
let cluster: TestCluster;
let credentialsFile: string;

/** `tributary users hash <user> --password-stdin` → its output line. */
function hash(user: string, password: string): string {
  const run = spawnSync(process.execPath, [CLI_MAIN, 'users', 'hash', user, '--mechanism', 'SCRAM-SHA-512', '--password-stdin'], { input: `${password}\n`, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`users hash failed: ${run.stderr}`);
  return run.stdout.trim();
}

beforeAll(async () => {
  const dir = tempDir('secure-scram-services');
  credentialsFile = join(dir, 'scram-credentials');
  writeFileSync(credentialsFile, `# bootstrap users\n${hash('service', SERVICE_PASSWORD)}\n${hash('admin', ADMIN_PASSWORD)}\n`);
  const passwordFile = join(dir, 'service.password');
  writeFileSync(passwordFile, `${SERVICE_PASSWORD}\n`, { mode: 0o600 });
  const shared = { 'sasl-enabled-mechanisms': 'SCRAM-SHA-512', 'authorizer-enable': true, 'super-users': 'User:service,User:admin' };
  cluster = await startCluster({
    name: 'scram-services',
    brokers: 2,
    groupCoordinators: 1,
    commonFlags: (service) =>
      service === 'coordination'
        ? { ...shared, 'scram-credentials-file': credentialsFile }
        : { ...shared, 'sasl-username': 'service', 'sasl-password-file': passwordFile, 'sasl-mechanism': 'SCRAM-SHA-512' },
    groupCoordinatorFlags: { 'offsets-topic-replication-factor': 2 },
  });
});

afterAll(async () => {
  await cleanupAll();
});

test('the credentials file holds salted credentials only', () => {
  const text = readFileSync(credentialsFile, 'utf8');
  expect(text).toMatch(/^service SCRAM-SHA-512 salt=[^,]+,stored_key=[^,]+,server_key=[^,]+,iterations=4096$/m);
  expect(text).not.toContain(SERVICE_PASSWORD);
  expect(text).not.toContain(ADMIN_PASSWORD);
});

test('services logged in with SCRAM run the cluster; the bootstrap administrator manages it', async () => {
  const sasl = { mechanism: 'SCRAM-SHA-512' as const, username: 'admin', password: ADMIN_PASSWORD };
  const admin = new Admin({ bootstrap: [...cluster.brokers.values()].map((b) => b.address), sasl });
  try {
    await admin.createTopics([{ name: 'payments', numPartitions: 1, replicationFactor: 2 }]);
    await admin.alterUserScramCredentials([{ type: 'upsertion', user: 'carol', mechanism: 'SCRAM-SHA-512', password: 'carol-pw-1' }]);
    const users = (await admin.describeUserScramCredentials()).map((u) => u.user).sort();
    expect(users).toEqual(['admin', 'carol', 'service']);
  } finally {
    await admin.close();
  }
  // Replication between brokers goes through their service logins: acks=all needs both replicas.
  const producer = new Producer({ bootstrap: [...cluster.brokers.values()].map((b) => b.address), sasl, acks: 'all' });
  try {
    const meta = await producer.send({ topic: 'payments', value: 'p1' });
    expect(meta.offset).toBe(0n);
  } finally {
    await producer.close();
  }
  // carol has no ACL: authenticated, but not authorized to manage users (Cluster Alter).
  const carol = new Admin({ bootstrap: [...cluster.brokers.values()].map((b) => b.address), sasl: { mechanism: 'SCRAM-SHA-512', username: 'carol', password: 'carol-pw-1' } });
  try {
    const refused = await carol.alterUserScramCredentials([{ type: 'upsertion', user: 'carol', mechanism: 'SCRAM-SHA-512', password: 'carol-pw-2' }]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(TributaryError);
    expect((refused as TributaryError).code).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  } finally {
    await carol.close();
  }
});

test('a restart does not undo a password changed through the API', async () => {
  const sasl = { mechanism: 'SCRAM-SHA-512' as const, username: 'admin', password: ADMIN_PASSWORD };
  const admin = new Admin({ bootstrap: [...cluster.brokers.values()].map((b) => b.address), sasl });
  try {
    await admin.alterUserScramCredentials([{ type: 'upsertion', user: 'admin', mechanism: 'SCRAM-SHA-512', password: 'adm-pw-rotated' }]);
  } finally {
    await admin.close();
  }
  await cluster.restartCoordination();
  const rotated = new Admin({ bootstrap: [...cluster.brokers.values()].map((b) => b.address), sasl: { ...sasl, password: 'adm-pw-rotated' } });
  try {
    expect((await rotated.describeUserScramCredentials(['admin']))[0]?.user).toBe('admin');
  } finally {
    await rotated.close();
  }
});
