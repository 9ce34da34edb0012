/**
 * The REST rows of issue 9's authorization matrix, end to end: a real secured cluster
 * (coordination, controller, broker, group coordinator: TLS, client certificates requested,
 * SCRAM logins, the ACL authorizer) and the real proxy process with HTTPS and HTTP Basic
 * (--sasl-enabled-mechanisms), acting on behalf of each user. Principals: anonymous (no
 * credentials), a wrong password, alice (ACLs on `orders`, group `g-alice`, Describe on the
 * cluster), bob (a SCRAM user without ACLs), carol (Describe on the cluster allowed AND
 * denied: Deny wins), dave (Read on `orders` and on the groups PREFIXED `team-`), admin (a
 * super user). Also: plain HTTP to the
 * HTTPS port fails, consumer instances belong to their creator, and no log of the proxy or
 * of the cluster holds a password used.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admin } from '@tributary/client';
import type { SecureClusterSetup, TestCluster } from '@tributary/testing';
import { cleanupAll, makeCert, registerTestSecret, secureClusterSetup, startCluster, waitFor } from '@tributary/testing';
import type { HttpsAnswer, ProxyProcess } from './spec-helpers';
import { V2, V2_JSON, basicAuth, http, httpsRequest, startSecureProxy } from './spec-helpers';

jest.setTimeout(240_000);

const PASSWORDS = { alice: 'alice-pw-Rq7Zt2', bob: 'bob-pw-Lm4Kx9', carol: 'carol-pw-Tb6Wd1', dave: 'dave-pw-Np2Gy8', admin: 'admin-pw-Vw8Hn5' };
const WRONG_PASSWORD = 'wrong-pw-Jc3Qs6';
type Who = 'anonymous' | 'wrong' | 'alice' | 'bob' | 'carol' | 'dave' | 'admin';
const WHO: Who[] = ['anonymous', 'wrong', 'alice', 'bob', 'carol', 'admin'];

let cluster: TestCluster;
let setup: SecureClusterSetup;
let caPem: Buffer;
let proxy: ProxyProcess;
let proxyLog: string;
let clusterId: string;

const headersOf = (who: Who): Record<string, string> => {
  switch (who) {
    case 'anonymous':
      return {};
    case 'wrong':
      return basicAuth('alice', WRONG_PASSWORD);
    default:
      return basicAuth(who, PASSWORDS[who]);
  }
};

async function call(who: Who, method: string, path: string, options: { body?: unknown; contentType?: string; accept?: string } = {}): Promise<HttpsAnswer> {
  return httpsRequest(proxy.url, method, path, { ca: caPem, headers: headersOf(who), ...options });
}

beforeAll(async () => {
  for (const secret of [...Object.values(PASSWORDS), WRONG_PASSWORD]) registerTestSecret(secret);
  setup = secureClusterSetup('rest-security');
  caPem = readFileSync(setup.ca.certFile);
  cluster = await startCluster({
    name: 'rest-security',
    brokers: 1,
    groupCoordinators: 1,
    adminCaFile: setup.adminCaFile,
    commonFlags: setup.commonFlags,
    // Few offsets partitions: fewer log lines (the password grep reads each service's kept output).
    groupCoordinatorFlags: { 'offsets-topic-replication-factor': 1, 'offsets-topic-num-partitions': 4 },
  });

  // Set up as the administrator, with a client certificate (CN=admin: a super user).
  const admin = new Admin({ bootstrap: cluster.bootstrap.split(','), tls: setup.adminTls });
  try {
    await admin.createTopics([
      { name: 'orders', numPartitions: 2, replicationFactor: 1 },
      { name: 'secret', numPartitions: 1, replicationFactor: 1 },
    ]);
    await admin.alterUserScramCredentials([
      { type: 'upsertion', user: 'alice', mechanism: 'SCRAM-SHA-512', password: PASSWORDS.alice },
      // bob has a SCRAM-SHA-256 credential only: the proxy tries the mechanisms in order.
      { type: 'upsertion', user: 'bob', mechanism: 'SCRAM-SHA-256', password: PASSWORDS.bob },
      { type: 'upsertion', user: 'carol', mechanism: 'SCRAM-SHA-512', password: PASSWORDS.carol },
      { type: 'upsertion', user: 'dave', mechanism: 'SCRAM-SHA-512', password: PASSWORDS.dave },
      { type: 'upsertion', user: 'admin', mechanism: 'SCRAM-SHA-512', password: PASSWORDS.admin },
    ]);
    const allow = (principal: string, operation: 'Write' | 'Read' | 'Describe' | 'DescribeConfigs', resourceType: 'Topic' | 'Group' | 'Cluster', name: string) => ({
      pattern: { resourceType, name, patternType: 'LITERAL' as const },
      entry: { principal, host: '*', operation, permissionType: 'Allow' as const },
    });
    await admin.createAcls([
      allow('User:alice', 'Write', 'Topic', 'orders'),
      allow('User:alice', 'Read', 'Topic', 'orders'),
      // GET /topics/{t} answers the topic's configs too.
      allow('User:alice', 'DescribeConfigs', 'Topic', 'orders'),
      allow('User:dave', 'Read', 'Topic', 'orders'),
      allow('User:alice', 'Read', 'Group', 'g-alice'),
      allow('User:alice', 'Describe', 'Cluster', 'kafka-cluster'),
      // The proxy's own identity (its certificate, CN=rest-proxy): only what readiness and the
      // cluster id need. Users never get its rights.
      allow('User:rest-proxy', 'Describe', 'Cluster', 'kafka-cluster'),
      allow('User:carol', 'Describe', 'Cluster', 'kafka-cluster'),
      { ...allow('User:carol', 'Describe', 'Cluster', 'kafka-cluster'), entry: { principal: 'User:carol', host: '*', operation: 'Describe' as const, permissionType: 'Deny' as const } },
      { pattern: { resourceType: 'Group' as const, name: 'team-', patternType: 'PREFIXED' as const }, entry: { principal: 'User:dave', host: '*', operation: 'Read' as const, permissionType: 'Allow' as const } },
    ]);
  } finally {
    await admin.close();
  }

  const proxyCert = makeCert(setup.dir, setup.ca, 'rest-proxy');
  proxyLog = join(setup.dir, 'rest-proxy.log');
  proxy = await startSecureProxy(
    cluster.bootstrap,
    {
      'tls-cert-file': proxyCert.certFile,
      'tls-key-file': proxyCert.keyFile,
      'tls-ca-file': setup.ca.certFile,
      'sasl-enabled-mechanisms': 'SCRAM-SHA-512,SCRAM-SHA-256',
      'log-level': 'debug',
    },
    caPem,
    proxyLog,
  );
  const clusters = await call('admin', 'GET', '/v3/clusters');
  expect(clusters.status).toBe(200);
  clusterId = clusters.json.data[0].cluster_id as string;
});

afterAll(async () => {
  await cleanupAll();
});

interface Row {
  name: string;
  method: string;
  path: () => string;
  body?: unknown;
  contentType?: string;
  accept?: string;
  /** Status per principal (anonymous and a wrong password: always 401). */
  expect: { alice: number; bob: number; carol: number; admin: number };
  check?: (who: Who, answer: HttpsAnswer) => void;
}

/** The topics a user lists: only those it may Describe (Kafka's metadata filtering). */
const topicNames = (who: Who, answer: HttpsAnswer, names: string[]): void => {
  const visible = names.filter((t) => t === 'orders' || t === 'secret').sort();
  expect(visible).toEqual(who === 'admin' ? ['orders', 'secret'] : who === 'alice' ? ['orders'] : []);
};

const ROWS: Row[] = [
  {
    name: 'v2 produce',
    method: 'POST',
    path: () => '/topics/orders',
    contentType: V2_JSON,
    body: { records: [{ key: 'k', value: { n: 1 } }] },
    expect: { alice: 200, bob: 403, carol: 403, admin: 200 },
    check: (_who, a) => expect(a.json.offsets[0].error_code).toBeNull(),
  },
  {
    name: 'v3 produce',
    method: 'POST',
    path: () => `/v3/clusters/${clusterId}/topics/orders/records`,
    contentType: 'application/json',
    body: { value: { type: 'JSON', data: { n: 2 } } },
    expect: { alice: 200, bob: 403, carol: 403, admin: 200 },
    check: (_who, a) => expect(a.json.error_code).toBe(200),
  },
  {
    name: 'v2 list topics (hidden topics)',
    method: 'GET',
    path: () => '/topics',
    accept: V2,
    expect: { alice: 200, bob: 200, carol: 200, admin: 200 },
    check: (who, a) => topicNames(who, a, a.json as string[]),
  },
  { name: 'v2 topic metadata', method: 'GET', path: () => '/topics/orders', accept: V2, expect: { alice: 200, bob: 403, carol: 403, admin: 200 } },
  { name: 'v2 partition offsets', method: 'GET', path: () => '/topics/orders/partitions/0/offsets', accept: V2, expect: { alice: 200, bob: 403, carol: 403, admin: 200 } },
  { name: 'v2 brokers (Cluster Describe)', method: 'GET', path: () => '/brokers', accept: V2, expect: { alice: 200, bob: 403, carol: 403, admin: 200 } },
  { name: 'v3 cluster', method: 'GET', path: () => `/v3/clusters/${clusterId}`, expect: { alice: 200, bob: 403, carol: 403, admin: 200 } },
  {
    name: 'v3 list topics (hidden topics)',
    method: 'GET',
    path: () => `/v3/clusters/${clusterId}/topics`,
    expect: { alice: 200, bob: 200, carol: 200, admin: 200 },
    check: (who, a) => topicNames(who, a, (a.json.data as Array<{ topic_name: string }>).map((t) => t.topic_name)),
  },
  { name: 'v3 brokers (Cluster Describe)', method: 'GET', path: () => `/v3/clusters/${clusterId}/brokers`, expect: { alice: 200, bob: 403, carol: 403, admin: 200 } },
  { name: 'v3 topic', method: 'GET', path: () => `/v3/clusters/${clusterId}/topics/orders`, expect: { alice: 200, bob: 403, carol: 403, admin: 200 } },
  { name: 'v3 partitions', method: 'GET', path: () => `/v3/clusters/${clusterId}/topics/orders/partitions`, expect: { alice: 200, bob: 403, carol: 403, admin: 200 } },
  { name: 'v3 a topic only the super user may see', method: 'GET', path: () => `/v3/clusters/${clusterId}/topics/secret`, expect: { alice: 403, bob: 403, carol: 403, admin: 200 } },
  { name: 'v2 produce to a topic only the super user may write', method: 'POST', path: () => '/topics/secret', contentType: V2_JSON, body: { records: [{ value: 1 }] }, expect: { alice: 403, bob: 403, carol: 403, admin: 200 } },
];

describe('authorization matrix, REST rows', () => {
  it.each(ROWS.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const answers = new Map<Who, HttpsAnswer>();
    for (const who of WHO) answers.set(who, await call(who, row.method, row.path(), { body: row.body, contentType: row.contentType, accept: row.accept }));
    const statuses = Object.fromEntries(WHO.map((w) => [w, answers.get(w)!.status]));
    expect(statuses).toEqual({ anonymous: 401, wrong: 401, ...row.expect });
    for (const who of WHO) {
      const a = answers.get(who)!;
      if (a.status === 401) {
        expect(a.json.error_code).toBe(40101);
        expect(a.headers['www-authenticate']).toBe('Basic realm="tributary"');
      } else if (a.status === 403) {
        // v3 produce reports the record's error with the HTTP status; everything else is Confluent's 40301.
        expect([40301, 403]).toContain(a.json.error_code);
      } else if (row.check) row.check(who, a);
    }
  });
});

describe('v2 consumer instances act as their creator', () => {
  const base = (group: string, name: string): string => `/consumers/${group}/instances/${name}`;
  const create = (who: Who, group: string, name: string): Promise<HttpsAnswer> =>
    call(who, 'POST', `/consumers/${group}`, { contentType: V2, body: { name, format: 'json', 'auto.offset.reset': 'earliest' } });
  const subscribe = (who: Who, group: string, name: string): Promise<HttpsAnswer> =>
    call(who, 'POST', `${base(group, name)}/subscription`, { contentType: V2, body: { topics: ['orders'] } });
  const records = (who: Who, group: string, name: string): Promise<HttpsAnswer> => call(who, 'GET', `${base(group, name)}/records?timeout=1000`, { accept: V2_JSON });

  it('alice reads `orders` in her group; bob and anonymous cannot use her instance', async () => {
    expect((await create('alice', 'g-alice', 'a1')).status).toBe(200);
    expect((await subscribe('alice', 'g-alice', 'a1')).status).toBe(204);
    const seen = await waitFor(
      async () => {
        const r = await records('alice', 'g-alice', 'a1');
        expect(r.status).toBe(200);
        return (r.json as unknown[]).length > 0 ? (r.json as Array<{ topic: string }>) : undefined;
      },
      { timeoutMs: 60_000, message: 'alice reads the records produced' },
    );
    expect(seen.every((r) => r.topic === 'orders')).toBe(true);
    expect((await call('alice', 'POST', `${base('g-alice', 'a1')}/offsets`, { contentType: V2 })).status).toBe(200);

    for (const who of ['bob', 'admin'] as const) {
      const r = await records(who, 'g-alice', 'a1');
      expect(r.status).toBe(403);
      expect(r.json.error_code).toBe(40301);
      expect((await call(who, 'DELETE', base('g-alice', 'a1'))).status).toBe(403);
    }
    expect((await records('anonymous', 'g-alice', 'a1')).status).toBe(401);
    expect((await records('wrong', 'g-alice', 'a1')).status).toBe(401);
  });

  it('the group is alice\'s: the v3 group routes follow the group ACLs', async () => {
    const path = `/v3/clusters/${clusterId}/consumer-groups/g-alice`;
    expect((await call('alice', 'GET', path)).status).toBe(200);
    expect((await call('admin', 'GET', path)).status).toBe(200);
    const bob = await call('bob', 'GET', path);
    expect(bob.status).toBe(403);
    expect(bob.json.error_code).toBe(40301);
    expect((await call('anonymous', 'GET', path)).status).toBe(401);
    const list = (who: Who): Promise<string[]> =>
      call(who, 'GET', `/v3/clusters/${clusterId}/consumer-groups`).then((a) => {
        expect(a.status).toBe(200);
        return (a.json.data as Array<{ consumer_group_id: string }>).map((g) => g.consumer_group_id);
      });
    expect(await list('alice')).toContain('g-alice');
    expect(await list('admin')).toContain('g-alice');
    expect(await list('bob')).not.toContain('g-alice');
  });

  it('a PREFIXED group ACL: dave reads in team-* groups, not in others', async () => {
    expect((await create('dave', 'team-1', 'd1')).status).toBe(200);
    expect((await subscribe('dave', 'team-1', 'd1')).status).toBe(204);
    const seen = await waitFor(
      async () => {
        const r = await records('dave', 'team-1', 'd1');
        expect(r.status).toBe(200);
        return (r.json as unknown[]).length > 0 ? r : undefined;
      },
      { timeoutMs: 60_000, message: 'dave reads in team-1' },
    );
    expect(seen.status).toBe(200);
    expect((await create('dave', 'other-1', 'd2')).status).toBe(200);
    expect((await subscribe('dave', 'other-1', 'd2')).status).toBe(204);
    const refused = await waitFor(
      async () => {
        const a = await records('dave', 'other-1', 'd2');
        return a.status === 200 ? undefined : a;
      },
      { timeoutMs: 30_000, message: "dave's read in other-1 refused" },
    );
    expect(refused.status).toBe(403);
    expect(refused.json.error_code).toBe(40301);
  });

  it('bob may create an instance in alice\'s group, but reading with it is refused by the group ACL', async () => {
    expect((await create('bob', 'g-alice', 'b1')).status).toBe(200);
    expect((await subscribe('bob', 'g-alice', 'b1')).status).toBe(204);
    // The consumer joins in the background: the first answers may be empty; once the
    // coordinator refused the join, every read is 403 / 40301.
    const r = await waitFor(
      async () => {
        const a = await records('bob', 'g-alice', 'b1');
        if (a.status === 200) {
          expect(a.json).toEqual([]);
          return undefined;
        }
        return a;
      },
      { timeoutMs: 30_000, message: "bob's read refused" },
    );
    expect(r.status).toBe(403);
    expect(r.json.error_code).toBe(40301);
    expect((await call('bob', 'DELETE', base('g-alice', 'b1'))).status).toBe(204);
  });
});

describe('transport and secrets', () => {
  it('plain HTTP to the HTTPS port fails', async () => {
    await expect(http(proxy.url.replace('https://', 'http://'), 'GET', '/topics', { headers: headersOf('alice') })).rejects.toThrow();
  });

  it('the proxy counts logins and holds the users it logged in', async () => {
    const metrics = await proxy.metrics();
    expect(metrics).toMatch(/tributary_rest_authentications_total\{result="ok"\} [1-9]/);
    expect(metrics).toMatch(/tributary_rest_authentications_total\{result="failed"\} [1-9]/);
    expect(metrics).toMatch(/tributary_rest_authenticated_users [1-9]/);
  });

  it('no log of the proxy or of the cluster holds a password used', async () => {
    const proxyLogs = readFileSync(proxyLog, 'utf8');
    expect(proxyLogs).toContain('"principal":"User:alice"');
    const tails = [...cluster.brokers.values(), ...cluster.controllers.values(), ...cluster.groupCoordinators.values(), cluster.coordination].map((s) => s.proc.outputTail());
    // Each service's kept output still starts at its start-up ('security on'): the whole run is
    // searched, not only its end.
    for (const tail of tails) expect(tail).toContain('security on');
    const clusterLogs = tails.join('\n');
    for (const secret of [...Object.values(PASSWORDS), WRONG_PASSWORD]) {
      expect(proxyLogs).not.toContain(secret);
      expect(clusterLogs).not.toContain(secret);
    }
    // Nor the Authorization header's encoded form.
    for (const who of ['alice', 'bob', 'admin'] as const) expect(proxyLogs).not.toContain(headersOf(who).authorization!.slice(6));
  });
});
