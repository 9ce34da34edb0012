/**
 * The AUTHORIZATION MATRIX (issue 9) over a real secured cluster: coordination, a controller,
 * a broker and a group coordinator as processes, with TLS, SCRAM (SHA-256 and SHA-512) and the
 * ACL authorizer on; the services know each other by their certificates (service principals).
 * An administrator with a client certificate creates the SCRAM users and their ACLs through
 * the Admin API; then every client API is called, raw over gRPC (so each answer's exact Kafka
 * code is seen: the call's, or the named resource's in the response), by every principal:
 *
 * - anonymous (no token), a wrong password, an expired token (issued by a standby controller
 *   started with a one-second --token-lifetime-ms), a revoked token (AuthService.RevokeToken):
 *   SASL_AUTHENTICATION_FAILED everywhere;
 * - `lit`: LITERAL Allow ACLs on its topics and group, and Describe / Alter on the cluster;
 * - `deny`: Allow All on its resources and the cluster, beaten by Deny All ACLs (PREFIXED on
 *   its topics and group, LITERAL on the cluster);
 * - `pre`: PREFIXED Allow All on `pre-` topics and groups, nothing on the cluster;
 * - `admin`: a super user.
 *
 * Then: a client with Allow All on the cluster and every topic is still refused the internal
 * APIs (ReplicaFetch, Fetch / OffsetsForLeaderEpoch as a replica, BrokerControlService,
 * BrokerToControllerService, CoordinationService) with CLUSTER_AUTHORIZATION_FAILED; Metadata
 * and ListTopics hide the topics a principal may not Describe; an ACL added while the cluster
 * runs opens a refused call within seconds (polled); and no log line of any service holds a
 * password or a session token used in the run.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admin, ErrorCode, TributaryError } from '@tributary/client';
import {
  AclServiceClient,
  AdminServiceClient,
  AlterConfigOp_OpType,
  AuthServiceClient,
  BrokerControlServiceClient,
  BrokerServiceClient,
  BrokerToControllerServiceClient,
  CoordinationServiceClient,
  CoordinatorKeyType,
  ElectionType,
  GetRequest,
  GroupCoordinatorServiceClient,
  LeaderAndIsrRequest,
  StopReplicaRequest,
  UpdateMetadataRequest,
  UserAdminServiceClient,
} from '@tributary/proto';
import { encodeBatch } from '@tributary/records';
import type { AclBinding, AclOperation, PatternType, PermissionType, ResourceType } from '@tributary/runtime';
import { bidi, bindingToWire, createClient, filterToWire, saltedPassword, scramHash, scramLogin, unary } from '@tributary/runtime';
import type { SecureClusterSetup, TestCluster } from '@tributary/testing';
import { cleanupAll, registerTestSecret, secureClusterSetup, startCluster, waitFor } from '@tributary/testing';

jest.setTimeout(300_000);

const MECHANISM = 'SCRAM-SHA-512' as const;
/** Passwords of this run (random: the log grep must not match by chance); never printed. */
const PASSWORDS: Record<string, string> = Object.fromEntries(['lit', 'deny', 'pre', 'admin', 'ops', 'late'].map((u) => [u, `pw-${u}-${randomBytes(12).toString('hex')}`]));
const WRONG_PASSWORD = `wrong-${randomBytes(12).toString('hex')}`;
/** Every token obtained in the run, for the log grep. */
const TOKENS: string[] = [];

let cluster: TestCluster;
let setup: SecureClusterSetup;

// ---------------------------------------------------------------------------------------------
// Raw clients (TLS, no client certificate: the principal is the SCRAM token's)

type ServiceName = 'broker' | 'controller' | 'group' | 'coordination';
interface Endpoints {
  broker: string;
  controller: string;
  group: string;
  coordination: string;
}
let endpoints: Endpoints;
const tls = (): { caFile: string; serverName: string } => ({ caFile: setup.ca.certFile, serverName: 'localhost' });
/** One client per (generated client class, address); the class names of generated clients are not unique. */
const clients = new Map<unknown, Map<string, unknown>>();
function client<C>(ctor: new (...args: never[]) => C, address: string): C {
  let byAddress = clients.get(ctor);
  if (!byAddress) clients.set(ctor, (byAddress = new Map()));
  let c = byAddress.get(address) as C | undefined;
  if (!c) {
    c = createClient(ctor as never, address, { tls: tls() }) as C;
    byAddress.set(address, c);
  }
  return c;
}
const broker = (): BrokerServiceClient => client(BrokerServiceClient, endpoints.broker);
const adminService = (): AdminServiceClient => client(AdminServiceClient, endpoints.controller);
const aclService = (): AclServiceClient => client(AclServiceClient, endpoints.controller);
const userService = (): UserAdminServiceClient => client(UserAdminServiceClient, endpoints.controller);
const groupService = (): GroupCoordinatorServiceClient => client(GroupCoordinatorServiceClient, endpoints.group);

/** A SCRAM login against the AuthService at `address`; the token is remembered for the log grep. */
async function login(address: string, username: string, password: string): Promise<{ token: string; expiresAt: number }> {
  const result = await scramLogin(client(AuthServiceClient, address), { mechanism: MECHANISM, username, password });
  TOKENS.push(result.token);
  return { token: result.token, expiresAt: result.expiresAt };
}

// ---------------------------------------------------------------------------------------------
// Principals (the matrix's columns)

interface Principal {
  /** Column name. */
  name: string;
  /** Prefix of the resources it acts on (`<key>-topic`, `<key>-group`, ...). */
  key: string;
  /** Call metadata carrying its token (none: anonymous); a failing login throws its Kafka error. */
  metadata(service: ServiceName): Promise<Record<string, string>>;
}

const withToken = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

function loggedIn(name: string): Principal & { token?: string } {
  const p: Principal & { token?: string } = {
    name,
    key: name,
    metadata: async () => {
      p.token ??= (await login(endpoints.broker, name, PASSWORDS[name]!)).token;
      return withToken(p.token);
    },
  };
  return p;
}

const anonymous: Principal = { name: 'anonymous', key: 'anon', metadata: async () => ({}) };
/** Logs in with a wrong password at the service of the call, each time: the login's answer is the cell's. */
const wrongPassword: Principal = {
  name: 'wrong password',
  key: 'wrongpw',
  metadata: async (service) => withToken((await login(endpoints[service], 'lit', WRONG_PASSWORD)).token),
};
let expiredToken = '';
const expired: Principal = { name: 'expired token', key: 'expired', metadata: async () => withToken(expiredToken) };
let revokedToken = '';
const revoked: Principal = { name: 'revoked token', key: 'revoked', metadata: async () => withToken(revokedToken) };
const lit = loggedIn('lit');
const deny = loggedIn('deny');
const pre = loggedIn('pre');
const superUser = loggedIn('admin');

const PRINCIPALS: Principal[] = [anonymous, wrongPassword, expired, revoked, lit, deny, pre, superUser];
const UNAUTHENTICATED = new Set<Principal>([anonymous, wrongPassword, expired, revoked]);

// ---------------------------------------------------------------------------------------------
// ACLs

const binding = (principal: string, permissionType: PermissionType, operation: AclOperation, resourceType: ResourceType, name: string, patternType: PatternType = 'LITERAL'): AclBinding => ({
  pattern: { resourceType, name, patternType },
  entry: { principal, permissionType, operation, host: '*' },
});
const CLUSTER = 'kafka-cluster';
const ACLS: AclBinding[] = [
  // lit: literal names only.
  binding('User:lit', 'Allow', 'All', 'Topic', 'lit-topic'),
  binding('User:lit', 'Allow', 'All', 'Topic', 'lit-new'),
  binding('User:lit', 'Allow', 'All', 'Group', 'lit-group'),
  binding('User:lit', 'Allow', 'Describe', 'Cluster', CLUSTER),
  binding('User:lit', 'Allow', 'Alter', 'Cluster', CLUSTER),
  // deny: everything allowed, every Allow beaten by a Deny.
  binding('User:deny', 'Allow', 'All', 'Topic', 'deny-topic'),
  binding('User:deny', 'Allow', 'All', 'Topic', 'deny-new'),
  binding('User:deny', 'Allow', 'All', 'Group', 'deny-group'),
  binding('User:deny', 'Allow', 'All', 'Cluster', CLUSTER),
  binding('User:deny', 'Deny', 'All', 'Topic', 'deny-', 'PREFIXED'),
  binding('User:deny', 'Deny', 'All', 'Group', 'deny-', 'PREFIXED'),
  binding('User:deny', 'Deny', 'All', 'Cluster', CLUSTER),
  // pre: prefixed patterns only, nothing on the cluster.
  binding('User:pre', 'Allow', 'All', 'Topic', 'pre-', 'PREFIXED'),
  binding('User:pre', 'Allow', 'All', 'Group', 'pre-', 'PREFIXED'),
  // ops: Allow All on the cluster and every topic and group: still no internal API.
  binding('User:ops', 'Allow', 'All', 'Cluster', CLUSTER),
  binding('User:ops', 'Allow', 'All', 'Topic', '*'),
  binding('User:ops', 'Allow', 'All', 'Group', '*'),
];

// ---------------------------------------------------------------------------------------------
// The rows

/** A cell's answer: the Kafka code (of the call, or of the principal's resource in the response), or whether a listing left it out. */
type Outcome = ErrorCode | 'hidden';

/** State a principal's group rows carry from one to the next (join → sync → heartbeat → commit → leave). */
interface GroupState {
  memberId: string;
  generationId: number;
}

interface Row {
  api: string;
  service: ServiceName;
  run(p: Principal, call: { metadata: Record<string, string> }, group: GroupState): Promise<Outcome>;
  /** Expected of the authenticated principals (the others: SASL_AUTHENTICATION_FAILED). */
  expect: { lit: Outcome; deny: Outcome; pre: Outcome; admin: Outcome };
}

const NONE = ErrorCode.NONE;
const TOPIC = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
const GROUP = ErrorCode.GROUP_AUTHORIZATION_FAILED;
const CLUSTER_DENIED = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
const perTopic: Row['expect'] = { lit: NONE, deny: TOPIC, pre: NONE, admin: NONE };
const perGroup: Row['expect'] = { lit: NONE, deny: GROUP, pre: NONE, admin: NONE };
/** Listings (all topics, all groups): the principal's resource is listed, or left out for deny. */
const listed: Row['expect'] = { lit: NONE, deny: 'hidden', pre: NONE, admin: NONE };
/** Cluster rows: lit has Describe and Alter on the cluster, pre nothing. */
const onCluster: Row['expect'] = { lit: NONE, deny: CLUSTER_DENIED, pre: CLUSTER_DENIED, admin: NONE };

/** The first code other than NONE among `codes`, or NONE. */
const firstError = (codes: Iterable<ErrorCode>): ErrorCode => {
  for (const c of codes) if (c !== NONE) return c;
  return NONE;
};
const partitionsCode = (topics: Array<{ partitions: Array<{ errorCode: ErrorCode }> }>): ErrorCode => firstError(topics.flatMap((t) => t.partitions.map((p) => p.errorCode)));
const records = (): Buffer => encodeBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }]);
const topicOf = (p: Principal): string => `${p.key}-topic`;
const newTopicOf = (p: Principal): string => `${p.key}-new`;
const groupOf = (p: Principal): string => `${p.key}-group`;

const ROWS: Row[] = [
  // BrokerService
  {
    api: 'Produce',
    service: 'broker',
    expect: perTopic,
    run: async (p, o) => partitionsCode((await unary(broker(), 'produce', { acks: 1, timeoutMs: 5000, topics: [{ name: topicOf(p), partitions: [{ index: 0, records: records() }] }] }, o)).topics),
  },
  {
    api: 'ProduceStream',
    service: 'broker',
    expect: perTopic,
    run: async (p, o) => {
      const stream = bidi(broker(), 'produceStream', o);
      await stream.write({ correlationId: 1, request: { acks: 1, timeoutMs: 5000, topics: [{ name: topicOf(p), partitions: [{ index: 0, records: records() }] }] } });
      stream.end();
      let code: ErrorCode = ErrorCode.UNKNOWN_SERVER_ERROR;
      for await (const answer of stream) code = partitionsCode(answer.response?.topics ?? []);
      return code;
    },
  },
  {
    api: 'Fetch',
    service: 'broker',
    expect: perTopic,
    run: async (p, o) =>
      partitionsCode(
        (
          await unary(
            broker(),
            'fetch',
            { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, topics: [{ name: topicOf(p), partitions: [{ index: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }] },
            o,
          )
        ).topics,
      ),
  },
  {
    api: 'ListOffsets',
    service: 'broker',
    expect: perTopic,
    run: async (p, o) => partitionsCode((await unary(broker(), 'listOffsets', { replicaId: -1, topics: [{ name: topicOf(p), partitions: [{ index: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] }, o)).topics),
  },
  {
    api: 'OffsetsForLeaderEpoch',
    service: 'broker',
    expect: perTopic,
    run: async (p, o) => partitionsCode((await unary(broker(), 'offsetsForLeaderEpoch', { replicaId: -1, topics: [{ name: topicOf(p), partitions: [{ index: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] }, o)).topics),
  },
  {
    api: 'Metadata (named topic)',
    service: 'broker',
    expect: perTopic,
    run: async (p, o) => firstError((await unary(broker(), 'metadata', { topics: [topicOf(p)] }, o)).topics.map((t) => t.errorCode)),
  },
  {
    api: 'Metadata (all topics)',
    service: 'broker',
    expect: listed,
    run: async (p, o) => ((await unary(broker(), 'metadata', { topics: [] }, o)).topics.some((t) => t.name === topicOf(p)) ? NONE : 'hidden'),
  },
  {
    api: 'InitProducerId (idempotent)',
    service: 'broker',
    expect: { lit: NONE, deny: CLUSTER_DENIED, pre: NONE, admin: NONE },
    run: async (_p, o) => (await unary(broker(), 'initProducerId', { transactionalId: '', transactionTimeoutMs: 0 }, o)).errorCode,
  },
  // AdminService
  {
    api: 'CreateTopics',
    service: 'controller',
    expect: perTopic,
    run: async (p, o) => firstError((await unary(adminService(), 'createTopics', { topics: [{ name: newTopicOf(p), numPartitions: 1, replicationFactor: 1, configs: {} }], validateOnly: false }, o)).results.map((r) => r.errorCode)),
  },
  {
    api: 'DescribeTopics',
    service: 'controller',
    expect: perTopic,
    run: async (p, o) => firstError((await unary(adminService(), 'describeTopics', { names: [topicOf(p)] }, o)).topics.map((t) => t.errorCode)),
  },
  {
    api: 'ListTopics',
    service: 'controller',
    expect: listed,
    run: async (p, o) => ((await unary(adminService(), 'listTopics', {}, o)).names.includes(topicOf(p)) ? NONE : 'hidden'),
  },
  {
    api: 'CreatePartitions',
    service: 'controller',
    expect: perTopic,
    run: async (p, o) => firstError((await unary(adminService(), 'createPartitions', { topics: [{ name: newTopicOf(p), count: 2 }], validateOnly: false }, o)).results.map((r) => r.errorCode)),
  },
  {
    api: 'DescribeConfigs',
    service: 'controller',
    expect: perTopic,
    run: async (p, o) => firstError((await unary(adminService(), 'describeConfigs', { topics: [topicOf(p)] }, o)).results.map((r) => r.errorCode)),
  },
  {
    api: 'AlterConfigs',
    service: 'controller',
    expect: perTopic,
    run: async (p, o) =>
      firstError(
        (await unary(adminService(), 'alterConfigs', { topics: [{ topic: topicOf(p), ops: [{ name: 'retention.ms', op: AlterConfigOp_OpType.OP_TYPE_SET, value: '3600000' }] }], validateOnly: false }, o)).results.map(
          (r) => r.errorCode,
        ),
      ),
  },
  { api: 'DescribeCluster', service: 'controller', expect: onCluster, run: async (_p, o) => (await unary(adminService(), 'describeCluster', {}, o), NONE) },
  {
    api: 'ElectLeaders',
    service: 'controller',
    expect: onCluster,
    // Per-partition answers (ELECTION_NOT_NEEDED on a one-replica topic) are not authorization: the call's code is the cell.
    run: async (p, o) => (await unary(adminService(), 'electLeaders', { electionType: ElectionType.ELECTION_TYPE_PREFERRED, topics: [{ name: topicOf(p), partitions: [0] }] }, o), NONE),
  },
  { api: 'ListPartitionReassignments', service: 'controller', expect: onCluster, run: async (_p, o) => (await unary(adminService(), 'listPartitionReassignments', { topics: [] }, o), NONE) },
  {
    api: 'AlterPartitionReassignments',
    service: 'controller',
    expect: onCluster,
    run: async (_p, o) => firstError((await unary(adminService(), 'alterPartitionReassignments', { topics: [], throttleBytesPerSecond: 0n }, o)).responses.flatMap((t) => t.partitions.map((x) => x.errorCode))),
  },
  {
    api: 'DeleteTopics',
    service: 'controller',
    expect: perTopic,
    run: async (p, o) => firstError((await unary(adminService(), 'deleteTopics', { names: [newTopicOf(p)] }, o)).results.map((r) => r.errorCode)),
  },
  // AclService
  {
    api: 'CreateAcls',
    service: 'controller',
    expect: onCluster,
    run: async (p, o) =>
      firstError((await unary(aclService(), 'createAcls', { creations: [bindingToWire(binding('User:nobody', 'Allow', 'Read', 'Topic', `${p.key}-acl-probe`))] }, o)).results.map((r) => r.errorCode)),
  },
  {
    api: 'DescribeAcls',
    service: 'controller',
    expect: onCluster,
    run: async (p, o) => (await unary(aclService(), 'describeAcls', { filter: filterToWire({ resourceType: 'Topic', name: `${p.key}-acl-probe`, patternType: 'LITERAL' }) }, o)).errorCode,
  },
  {
    api: 'DeleteAcls',
    service: 'controller',
    expect: onCluster,
    run: async (p, o) => firstError((await unary(aclService(), 'deleteAcls', { filters: [filterToWire({ resourceType: 'Topic', name: `${p.key}-acl-probe`, patternType: 'LITERAL' })] }, o)).filterResults.map((r) => r.errorCode)),
  },
  // UserAdminService
  {
    api: 'AlterUserScramCredentials',
    service: 'controller',
    expect: onCluster,
    run: async (p, o) => {
      const salt = randomBytes(16);
      const upsertion = { name: `${p.key}-probe`, mechanism: MECHANISM, iterations: 4096, salt, saltedPassword: saltedPassword(scramHash(MECHANISM), `probe-${p.key}`, salt, 4096) };
      return firstError((await unary(userService(), 'alterUserScramCredentials', { deletions: [], upsertions: [upsertion] }, o)).results.map((r) => r.errorCode));
    },
  },
  { api: 'DescribeUserScramCredentials', service: 'controller', expect: onCluster, run: async (_p, o) => (await unary(userService(), 'describeUserScramCredentials', { users: [] }, o)).errorCode },
  // GroupCoordinatorService: one member's life in the principal's group, then the group calls.
  {
    api: 'FindCoordinator',
    service: 'group',
    expect: perGroup,
    run: async (p, o) => firstError((await unary(groupService(), 'findCoordinator', { keyType: CoordinatorKeyType.COORDINATOR_KEY_TYPE_GROUP, coordinatorKeys: [groupOf(p)] }, o)).coordinators.map((c) => c.errorCode)),
  },
  {
    api: 'JoinGroup',
    service: 'group',
    expect: perGroup,
    run: async (p, o, g) => {
      const join = (memberId: string) =>
        unary(
          groupService(),
          'joinGroup',
          { groupId: groupOf(p), sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 10_000, memberId, groupInstanceId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: '', clientId: 'matrix' },
          o,
        );
      let answer = await join('');
      if (answer.errorCode === ErrorCode.MEMBER_ID_REQUIRED) answer = await join(answer.memberId);
      g.memberId = answer.memberId;
      g.generationId = answer.generationId;
      return answer.errorCode;
    },
  },
  {
    api: 'SyncGroup',
    service: 'group',
    expect: perGroup,
    run: async (p, o, g) =>
      (
        await unary(
          groupService(),
          'syncGroup',
          { groupId: groupOf(p), generationId: g.generationId, memberId: g.memberId, groupInstanceId: '', protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: g.memberId, assignment: Buffer.alloc(0) }] },
          o,
        )
      ).errorCode,
  },
  {
    api: 'Heartbeat',
    service: 'group',
    expect: perGroup,
    run: async (p, o, g) => (await unary(groupService(), 'heartbeat', { groupId: groupOf(p), generationId: g.generationId, memberId: g.memberId, groupInstanceId: '' }, o)).errorCode,
  },
  {
    api: 'OffsetCommit',
    service: 'group',
    expect: perGroup,
    run: async (p, o, g) =>
      partitionsCode(
        (
          await unary(
            groupService(),
            'offsetCommit',
            {
              groupId: groupOf(p),
              generationId: g.generationId,
              memberId: g.memberId,
              groupInstanceId: '',
              topics: [{ name: topicOf(p), partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: '' }] }],
            },
            o,
          )
        ).topics,
      ),
  },
  {
    api: 'OffsetFetch',
    service: 'group',
    expect: perGroup,
    run: async (p, o) => {
      const answer = await unary(groupService(), 'offsetFetch', { groupId: groupOf(p), topics: [{ name: topicOf(p), partitionIndexes: [0] }], allTopics: false, requireStable: false }, o);
      return answer.errorCode !== NONE ? answer.errorCode : partitionsCode(answer.topics);
    },
  },
  {
    api: 'LeaveGroup',
    service: 'group',
    expect: perGroup,
    run: async (p, o, g) => {
      const answer = await unary(groupService(), 'leaveGroup', { groupId: groupOf(p), members: [{ memberId: g.memberId, groupInstanceId: '', reason: 'matrix' }] }, o);
      return answer.errorCode !== NONE ? answer.errorCode : firstError(answer.members.map((m) => m.errorCode));
    },
  },
  {
    api: 'DescribeGroups',
    service: 'group',
    expect: perGroup,
    run: async (p, o) => firstError((await unary(groupService(), 'describeGroups', { groups: [groupOf(p)] }, o)).groups.map((x) => x.errorCode)),
  },
  {
    api: 'ListGroups',
    service: 'group',
    // lit: Describe on the cluster lists all; pre: its groups by Group Describe; deny: left out.
    expect: listed,
    run: async (p, o) => ((await unary(groupService(), 'listGroups', { statesFilter: [] }, o)).groups.some((x) => x.groupId === groupOf(p)) ? NONE : 'hidden'),
  },
  {
    api: 'DeleteGroups',
    service: 'group',
    expect: perGroup,
    run: async (p, o) => firstError((await unary(groupService(), 'deleteGroups', { groupsNames: [groupOf(p)] }, o)).results.map((r) => r.errorCode)),
  },
];

/** The answer of one cell: what the call (or the login before it) answered. */
async function cell(row: Row, p: Principal, group: GroupState): Promise<Outcome> {
  try {
    return await row.run(p, { metadata: await p.metadata(row.service) }, group);
  } catch (e) {
    if (e instanceof TributaryError) return e.code;
    throw e;
  }
}

const label = (o: Outcome): string => (o === 'hidden' ? 'hidden' : (ErrorCode[o] ?? String(o)));

// ---------------------------------------------------------------------------------------------
// The cluster

/** The log files startCluster wrote: every service's whole output. */
const serviceLogs = (): string[] => {
  return readdirSync(cluster.logsDir)
    .filter((f) => f.endsWith('.log'))
    .map((f) => join(cluster.logsDir, f));
};

beforeAll(async () => {
  for (const secret of [...Object.values(PASSWORDS), WRONG_PASSWORD]) registerTestSecret(secret);
  // The standby controller started below issues one-second tokens: the expired token's source.
  setup = secureClusterSetup('security-matrix', { extraFlags: (service, id): Record<string, number> => (service === 'controller' && id === 1 ? { 'token-lifetime-ms': 1000 } : {}) });
  cluster = await startCluster({
    name: 'security-matrix',
    brokers: 1,
    controllers: 1,
    groupCoordinators: 1,
    logLevel: 'info',
    adminCaFile: setup.adminCaFile,
    commonFlags: setup.commonFlags,
    groupCoordinatorFlags: { 'offsets-topic-replication-factor': 1, 'group-initial-rebalance-delay-ms': 0 },
  });
  const activeId = await cluster.activeController();
  endpoints = {
    broker: cluster.brokers.get(0)!.address,
    controller: cluster.controllers.get(activeId)!.address,
    group: cluster.groupCoordinators.get(0)!.address,
    coordination: cluster.coordination.address,
  };

  // The administrator (a client certificate, CN admin: a super user) creates the users, topics and ACLs.
  const admin = new Admin({ bootstrap: [endpoints.broker], tls: setup.adminTls });
  try {
    await admin.alterUserScramCredentials(Object.entries(PASSWORDS).map(([user, password]) => ({ type: 'upsertion' as const, user, mechanism: MECHANISM, password })));
    await admin.createTopics(['lit', 'deny', 'pre', 'admin', 'ops'].map((key) => ({ name: `${key}-topic`, numPartitions: 1, replicationFactor: 1 })));
    await admin.createAcls(ACLS);
  } finally {
    await admin.close();
  }

  // Expired: a token of lit from the standby controller (one-second lifetime), waited out.
  await cluster.startController(1);
  const shortLived = await login(cluster.controllers.get(1)!.address, 'lit', PASSWORDS['lit']!);
  expiredToken = shortLived.token;
  await waitFor(async () => Date.now() > shortLived.expiresAt + 100, { timeoutMs: 10_000, message: 'the one-second token expires' });

  // Revoked: a token of lit, revoked by its owner; every service follows the revocation.
  revokedToken = (await login(endpoints.broker, 'lit', PASSWORDS['lit']!)).token;
  await unary(client(AuthServiceClient, endpoints.controller), 'revokeToken', { token: '' }, { metadata: withToken(revokedToken) });
  for (const row of [ROWS.find((r) => r.api === 'Metadata (named topic)')!, ROWS.find((r) => r.api === 'DescribeCluster')!, ROWS.find((r) => r.api === 'FindCoordinator')!]) {
    await waitFor(async () => (await cell(row, revoked, { memberId: '', generationId: -1 })) === ErrorCode.SASL_AUTHENTICATION_FAILED, {
      timeoutMs: 15_000,
      message: `${row.service} refuses the revoked token`,
    });
  }
});

afterAll(async () => {
  for (const byAddress of clients.values()) for (const c of byAddress.values()) (c as { close(): void }).close();
  await cleanupAll();
});

// ---------------------------------------------------------------------------------------------
// The matrix

test(`every client API × every principal answers the expected Kafka code (${ROWS.length} APIs × ${PRINCIPALS.length} principals)`, async () => {
  const expected: string[] = [];
  const actual: string[] = [];
  for (const p of PRINCIPALS) {
    const group: GroupState = { memberId: '', generationId: -1 };
    for (const row of ROWS) {
      const want = UNAUTHENTICATED.has(p) ? ErrorCode.SASL_AUTHENTICATION_FAILED : row.expect[p.name as keyof Row['expect']];
      expected.push(`${row.api} as ${p.name}: ${label(want)}`);
      actual.push(`${row.api} as ${p.name}: ${label(await cell(row, p, group))}`);
    }
  }
  expect(actual).toEqual(expected);
});

test('a client with Allow All on the cluster and every topic cannot call the internal APIs: CLUSTER_AUTHORIZATION_FAILED', async () => {
  const { token } = await login(endpoints.broker, 'ops', PASSWORDS['ops']!);
  const o = { metadata: withToken(token) };
  const codeOf = async (call: () => Promise<unknown>): Promise<string> => {
    try {
      await call();
      return 'OK';
    } catch (e) {
      return e instanceof TributaryError ? label(e.code) : String(e);
    }
  };
  const fetchAs = (replicaId: number) => ({
    replicaId,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    topics: [{ name: 'ops-topic', partitions: [{ index: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
  });
  const control = client(BrokerControlServiceClient, endpoints.broker);
  const toController = client(BrokerToControllerServiceClient, endpoints.controller);
  const coordination = client(CoordinationServiceClient, endpoints.coordination);
  const answers = {
    // The same principal's client calls work: its token and ACLs are fine.
    'Fetch as a consumer': await codeOf(() => unary(broker(), 'fetch', fetchAs(-1), o)),
    'Fetch with replica_id 1': await codeOf(() => unary(broker(), 'fetch', fetchAs(1), o)),
    'OffsetsForLeaderEpoch with replica_id 1': await codeOf(() =>
      unary(broker(), 'offsetsForLeaderEpoch', { replicaId: 1, topics: [{ name: 'ops-topic', partitions: [{ index: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] }, o),
    ),
    ReplicaFetch: await codeOf(async () => {
      const stream = bidi(broker(), 'replicaFetch', o);
      await stream.write(fetchAs(1));
      stream.end();
      for await (const _ of stream) void _;
    }),
    'BrokerControlService/UpdateMetadata': await codeOf(() => unary(control, 'updateMetadata', UpdateMetadataRequest.fromPartial({}), o)),
    'BrokerControlService/LeaderAndIsr': await codeOf(() => unary(control, 'leaderAndIsr', LeaderAndIsrRequest.fromPartial({}), o)),
    'BrokerControlService/StopReplica': await codeOf(() => unary(control, 'stopReplica', StopReplicaRequest.fromPartial({}), o)),
    'BrokerToControllerService/AlterPartition': await codeOf(() => unary(toController, 'alterPartition', { brokerId: 1, topics: [] }, o)),
    'BrokerToControllerService/ControlledShutdown': await codeOf(() => unary(toController, 'controlledShutdown', { brokerId: 1, incarnation: '' }, o)),
    'BrokerToControllerService/AllocateProducerIds': await codeOf(() => unary(toController, 'allocateProducerIds', { brokerId: 1, brokerEpoch: 0n }, o)),
    'CoordinationService/Get': await codeOf(() => unary(coordination, 'get', GetRequest.fromPartial({ path: '/acls' }), o)),
  };
  const denied = 'CLUSTER_AUTHORIZATION_FAILED';
  expect(answers).toEqual({
    'Fetch as a consumer': 'OK',
    'Fetch with replica_id 1': denied,
    'OffsetsForLeaderEpoch with replica_id 1': denied,
    ReplicaFetch: denied,
    'BrokerControlService/UpdateMetadata': denied,
    'BrokerControlService/LeaderAndIsr': denied,
    'BrokerControlService/StopReplica': denied,
    'BrokerToControllerService/AlterPartition': denied,
    'BrokerToControllerService/ControlledShutdown': denied,
    'BrokerToControllerService/AllocateProducerIds': denied,
    'CoordinationService/Get': denied,
  });
});

test('Metadata and ListTopics show a principal exactly the topics it may Describe', async () => {
  const topicsSeen = async (p: Principal): Promise<{ metadata: string[]; listTopics: string[] }> => {
    const metadata = (await unary(broker(), 'metadata', { topics: [] }, { metadata: await p.metadata('broker') })).topics.map((t) => t.name).filter((n) => !n.startsWith('__'));
    const listTopics = (await unary(adminService(), 'listTopics', {}, { metadata: await p.metadata('controller') })).names.filter((n) => !n.startsWith('__'));
    return { metadata: metadata.sort(), listTopics: listTopics.sort() };
  };
  expect(await topicsSeen(lit)).toEqual({ metadata: ['lit-topic'], listTopics: ['lit-topic'] });
  expect(await topicsSeen(pre)).toEqual({ metadata: ['pre-topic'], listTopics: ['pre-topic'] });
  expect(await topicsSeen(deny)).toEqual({ metadata: [], listTopics: [] });
  const all = ['admin-topic', 'deny-topic', 'lit-topic', 'ops-topic', 'pre-topic'];
  expect(await topicsSeen(superUser)).toEqual({ metadata: all, listTopics: all });
});

test('an ACL added while the cluster runs opens a refused call within seconds', async () => {
  const late = loggedIn('late');
  const describe = async (): Promise<Outcome> => cell(ROWS.find((r) => r.api === 'Metadata (named topic)')!, { ...late, key: 'lit' }, { memberId: '', generationId: -1 });
  const describeConfigs = async (): Promise<Outcome> => cell(ROWS.find((r) => r.api === 'DescribeConfigs')!, { ...late, key: 'lit' }, { memberId: '', generationId: -1 });
  expect(await describe()).toBe(TOPIC);
  expect(await describeConfigs()).toBe(TOPIC);
  const { token } = await login(endpoints.controller, 'admin', PASSWORDS['admin']!);
  await unary(aclService(), 'createAcls', { creations: [bindingToWire(binding('User:late', 'Allow', 'All', 'Topic', 'lit-topic'))] }, { metadata: withToken(token) });
  // Broker and controller each follow /acls/changes by watch: polled, no fixed sleep.
  await waitFor(async () => (await describe()) === NONE, { timeoutMs: 15_000, intervalMs: 100, message: 'the broker applies the new ACL' });
  await waitFor(async () => (await describeConfigs()) === NONE, { timeoutMs: 15_000, intervalMs: 100, message: 'the controller applies the new ACL' });
});

test('no log line of any service holds a password or a session token of the run', async () => {
  const files = serviceLogs();
  // coordination, controllers 0 and 1, the broker, the group coordinator.
  expect(files.length).toBeGreaterThanOrEqual(5);
  const logs = files.map((f) => readFileSync(f, 'utf8')).join('\n');
  expect(logs).toContain('authorization denied');
  expect(TOKENS.length).toBeGreaterThan(3);
  const secrets = [...Object.values(PASSWORDS), WRONG_PASSWORD, ...TOKENS];
  const found = secrets.filter((s) => logs.includes(s)).map((s) => (TOKENS.includes(s) ? 'a token' : 'a password'));
  expect(found).toEqual([]);
});
