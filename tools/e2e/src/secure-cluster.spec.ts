/**
 * A secured cluster end to end: every service (coordination, controller, brokers, group
 * coordinator) with TLS on its listeners, client certificates requested, SCRAM logins and the
 * ACL authorizer on; the services know each other by their certificates (CN listed in
 * --super-users: service principals). An administrator with a client certificate creates a
 * SCRAM user and its ACLs; that user then produces and consumes over TLS with its login, and
 * callers without credentials are refused.
 */
import { Admin, Consumer, ErrorCode, Producer, TributaryError } from '@tributary/client';
import type { SecureClusterSetup, TestCluster } from '@tributary/testing';
import { cleanupAll, registerTestSecret, secureClusterSetup, startCluster } from '@tributary/testing';

jest.setTimeout(180_000);

let cluster: TestCluster;
let setup: SecureClusterSetup;
const bootstrap = (): string[] => [...cluster.brokers.values()].map((b) => b.address);
const tls = (): { ca: string; serverName: string } => setup.clientTls;

beforeAll(async () => {
  for (const secret of ['alice-secret-1', 'not-her-password']) registerTestSecret(secret);
  setup = secureClusterSetup('secure-e2e');
  cluster = await startCluster({
    name: 'secure-e2e',
    brokers: 2,
    groupCoordinators: 1,
    logLevel: 'info',
    adminCaFile: setup.adminCaFile,
    commonFlags: setup.commonFlags,
    groupCoordinatorFlags: { 'offsets-topic-replication-factor': 2 },
  });
});

afterAll(async () => {
  await cleanupAll();
});

test('an administrator with a client certificate creates a SCRAM user and its ACLs; the user produces and consumes over TLS', async () => {
  const admin = new Admin({ bootstrap: bootstrap(), tls: setup.adminTls });
  try {
    await admin.createTopics([{ name: 'orders', numPartitions: 2, replicationFactor: 2 }]);
    await admin.alterUserScramCredentials([{ type: 'upsertion', user: 'alice', mechanism: 'SCRAM-SHA-512', password: 'alice-secret-1' }]);
    const allow = (operation: 'Write' | 'Read' | 'Describe', resourceType: 'Topic' | 'Group', name: string) => ({
      pattern: { resourceType, name, patternType: 'LITERAL' as const },
      entry: { principal: 'User:alice', host: '*', operation, permissionType: 'Allow' as const },
    });
    await admin.createAcls([allow('Write', 'Topic', 'orders'), allow('Read', 'Topic', 'orders'), allow('Read', 'Group', 'alice-group')]);
  } finally {
    await admin.close();
  }

  const sasl = { mechanism: 'SCRAM-SHA-512' as const, username: 'alice', password: 'alice-secret-1' };
  const producer = new Producer({ bootstrap: bootstrap(), tls: tls(), sasl, acks: 'all' });
  try {
    for (let i = 0; i < 10; i++) await producer.send({ topic: 'orders', key: `k${i}`, value: `v${i}` });
  } finally {
    await producer.close();
  }
  const consumer = new Consumer({ bootstrap: bootstrap(), tls: tls(), sasl, groupId: 'alice-group', autoOffsetReset: 'earliest' });
  const seen: string[] = [];
  try {
    await consumer.subscribe(['orders']);
    const deadline = Date.now() + 60_000;
    while (seen.length < 10 && Date.now() < deadline) {
      for (const r of await consumer.poll(1000)) seen.push(r.value!.toString());
    }
  } finally {
    await consumer.close();
  }
  expect(seen.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`).sort());
});

test('callers without credentials, with a wrong password, or over plaintext are refused', async () => {
  const codeOf = async (p: Promise<unknown>): Promise<number | string> => {
    try {
      await p;
      return 'ok';
    } catch (e) {
      return e instanceof TributaryError ? e.code : (e as Error).message;
    }
  };
  const anonymous = new Admin({ bootstrap: bootstrap(), tls: tls(), metadataWaitMs: 5000, requestTimeoutMs: 5000 });
  const wrong = new Admin({ bootstrap: bootstrap(), tls: tls(), sasl: { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'not-her-password' }, metadataWaitMs: 5000, requestTimeoutMs: 5000 });
  const plaintext = new Admin({ bootstrap: bootstrap(), metadataWaitMs: 3000, requestTimeoutMs: 3000 });
  try {
    expect(await codeOf(anonymous.listTopics())).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    expect(await codeOf(wrong.listTopics())).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    expect(await codeOf(plaintext.listTopics())).not.toBe('ok');
  } finally {
    await Promise.all([anonymous.close(), wrong.close(), plaintext.close()]);
  }
});

test('no service wrote a password to its log', async () => {
  const logs = [...cluster.brokers.values(), ...cluster.controllers.values(), ...cluster.groupCoordinators.values(), cluster.coordination].map((s) => s.proc.outputTail()).join('\n');
  expect(logs).toContain('security on');
  expect(logs).not.toContain('alice-secret-1');
  expect(logs).not.toContain('not-her-password');
});
