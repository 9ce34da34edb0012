/**
 * Client quotas keyed on the authenticated user, on a REAL secured cluster (coordination, a
 * controller and a broker with TLS, SCRAM logins and the ACL authorizer; quota.window.num 3).
 * An administrator (client certificate, super user) creates the SCRAM users alice and bob,
 * their ACLs, and a producer_byte_rate quota on the user alice — written to the same
 * /config/users/alice node as her SCRAM credential, which keeps working. Raw produces over
 * TLS with each user's session token and the SAME client id: alice's answers are throttled,
 * bob's are not; a <default> user quota then applies to bob too.
 */
import { Admin } from '@tributary/client';
import { AuthServiceClient, BrokerServiceClient } from '@tributary/proto';
import { ErrorCode, encodeBatch } from '@tributary/records';
import { CLIENT_ID_METADATA_KEY, createClient, scramLogin, unary } from '@tributary/runtime';
import type { SecureClusterSetup, TestCluster } from '@tributary/testing';
import { cleanupAll, registerTestSecret, secureClusterSetup, startCluster, waitFor } from '@tributary/testing';

jest.setTimeout(180_000);

const TOPIC = 'secure-quota';
const BATCH = encodeBatch(Array.from({ length: 16 }, () => ({ key: null, value: Buffer.alloc(4000, 3) })));

let cluster: TestCluster;
let setup: SecureClusterSetup;
let admin: Admin;
const clients: BrokerServiceClient[] = [];

/** A BrokerService client logged in as `user`, sending client id `app`. */
async function brokerAs(user: string, password: string): Promise<BrokerServiceClient> {
  const address = cluster.brokers.get(0)!.address;
  const tls = { caFile: setup.ca.certFile, serverName: 'localhost' };
  const auth = createClient(AuthServiceClient, address, { tls });
  const { token, principal } = await scramLogin(auth, { mechanism: 'SCRAM-SHA-256', username: user, password }).finally(() => auth.close());
  expect(principal).toBe(`User:${user}`);
  const client = createClient(BrokerServiceClient, address, { tls, authToken: () => token, metadata: { [CLIENT_ID_METADATA_KEY]: 'app' } });
  clients.push(client);
  return client;
}

async function produce(client: BrokerServiceClient): Promise<number> {
  const res = await unary(client, 'produce', { acks: 1, timeoutMs: 10_000, topics: [{ name: TOPIC, partitions: [{ index: 0, records: BATCH }] }] });
  expect(ErrorCode[res.topics[0]!.partitions[0]!.errorCode]).toBe('NONE');
  return res.throttleTimeMs;
}

beforeAll(async () => {
  for (const secret of ['alice-pw-quota', 'bob-pw-quota']) registerTestSecret(secret);
  setup = secureClusterSetup('quotas-secure', { saslMechanisms: 'SCRAM-SHA-256' });
  cluster = await startCluster({
    name: 'quotas-secure-it',
    brokers: 1,
    controllers: 1,
    adminCaFile: setup.adminCaFile,
    brokerFlags: { 'quota-window-num': 3 },
    commonFlags: setup.commonFlags,
  });
  admin = new Admin({ bootstrap: [cluster.bootstrap], tls: setup.adminTls });
  await admin.createTopics([{ name: TOPIC, numPartitions: 1, replicationFactor: 1 }]);
  await admin.alterUserScramCredentials([
    { type: 'upsertion', user: 'alice', mechanism: 'SCRAM-SHA-256', password: 'alice-pw-quota' },
    { type: 'upsertion', user: 'bob', mechanism: 'SCRAM-SHA-256', password: 'bob-pw-quota' },
  ]);
  await admin.createAcls(
    ['alice', 'bob'].map((u) => ({ pattern: { resourceType: 'Topic' as const, name: TOPIC, patternType: 'LITERAL' as const }, entry: { principal: `User:${u}`, host: '*', operation: 'Write' as const, permissionType: 'Allow' as const } })),
  );
});

afterAll(async () => {
  for (const c of clients) c.close();
  await admin?.close();
  await cleanupAll();
});

it("throttles the user with the quota, not another user with the same client id; the quota shares alice's node with her credential", async () => {
  await admin.alterClientQuotas([{ entity: { user: 'alice' }, ops: [{ key: 'producer_byte_rate', value: 1024 }] }]);
  expect(await admin.describeClientQuotas()).toEqual([{ entity: { user: 'alice' }, values: { producer_byte_rate: 1024 } }]);
  // The credential in /config/users/alice survived the quota write: alice still logs in.
  expect((await admin.describeUserScramCredentials(['alice']))[0]!.credentialInfos.map((c) => c.mechanism)).toEqual(['SCRAM-SHA-256']);
  const alice = await brokerAs('alice', 'alice-pw-quota');
  const bob = await brokerAs('bob', 'bob-pw-quota');
  await waitFor(async () => (await produce(alice)) > 0, { timeoutMs: 30_000, intervalMs: 1, message: 'alice throttled' });
  for (let i = 0; i < 20; i++) expect(await produce(bob)).toBe(0);
});

it('applies a <default> user quota to the other authenticated users', async () => {
  await admin.alterClientQuotas([{ entity: { user: null }, ops: [{ key: 'producer_byte_rate', value: 1024 }] }]);
  const bob = await brokerAs('bob', 'bob-pw-quota');
  await waitFor(async () => (await produce(bob)) > 0, { timeoutMs: 30_000, intervalMs: 1, message: 'bob throttled by the default user quota' });
});
