/**
 * Authorization enforcement end to end on loopback: the real createGrpcServer with an
 * `authorizer` (a real Authorizer over an in-memory ACL source with the cache's matching) and
 * real gRPC clients. Principals come from a test interceptor (`x-user` / `x-service`
 * metadata), as the authenticator's would. The matrix: principals (anonymous, allowed,
 * denied by Deny, prefixed match, super user, service) × RPCs (a whole-call Cluster check,
 * a Group check reading the group id from the request, internal service-only APIs, a
 * per-topic filter in the handler) → OK or the gRPC status with its Kafka code.
 */
import * as grpc from '@grpc/grpc-js';
import * as proto from '@tributary/proto';
import {
  AdminServiceClient,
  AdminServiceService,
  AuthServiceClient,
  BrokerServiceClient,
  BrokerServiceService,
  FetchResponse,
  BrokerControlServiceClient,
  BrokerControlServiceService,
  CoordinationServiceClient,
  CoordinationServiceService,
  DescribeClusterResponse,
  GetResponse,
  GroupCoordinatorServiceClient,
  GroupCoordinatorServiceService,
  JoinGroupResponse,
  ListTopicsResponse,
  UpdateMetadataResponse,
} from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import { Writable } from 'node:stream';
import { createClient } from '../grpc-client';
import { ERROR_CODE_METADATA_KEY, Status } from '../grpc-errors';
import { createGrpcServer, type GrpcServer, type Interceptor } from '../grpc-server';
import { createLogger } from '../logger';
import { createMetrics, type Metrics } from '../metrics';
import type { AclBinding, AclOperation, PatternType, PermissionType, ResourceType } from './acl';
import { patternApplies } from './acl';
import { Authorizer, type AclSource } from './authorizer';
import { createAuthenticator } from './authenticator';
import { scramLogin } from './login';
import { MemorySecurityStore } from './memory-store';
import { setScramCredential } from './store';
import { TRIBUTARY_AUTHORIZATION_TABLE, authorize, filterAllowed, requireServicePrincipal, ruleFor, type AuthorizationTable } from './enforce';

const logLines: Array<Record<string, unknown>> = [];
const logger = createLogger({
  service: 'test',
  nodeId: 1,
  level: 'info',
  destination: new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  }),
});

const binding = (resourceType: ResourceType, name: string, patternType: PatternType, principal: string, permissionType: PermissionType, operation: AclOperation): AclBinding => ({
  pattern: { resourceType, name, patternType },
  entry: { principal, permissionType, operation, host: '*' },
});

/** Mutable: a test adds a binding to show a change applies to the next call. */
const bindings: AclBinding[] = [];
const source: AclSource = {
  matchingEntries: (type, name) => bindings.filter((b) => patternApplies(b.pattern, type, name)).map((b) => b.entry),
  bindingsOfType: (type) => bindings.filter((b) => b.pattern.resourceType === type),
};

function resetAcls(): void {
  bindings.length = 0;
  bindings.push(
    // alice: describes the cluster, reads group orders-app and groups prefixed team-, describes
    // topics prefixed orders- except orders-secret (Deny wins); an ACL granting ClusterAction
    // must not open internal APIs to her.
    binding('Cluster', 'kafka-cluster', 'LITERAL', 'User:alice', 'Allow', 'Describe'),
    binding('Cluster', 'kafka-cluster', 'LITERAL', 'User:alice', 'Allow', 'ClusterAction'),
    binding('Group', 'orders-app', 'LITERAL', 'User:alice', 'Allow', 'Read'),
    binding('Group', 'team-', 'PREFIXED', 'User:alice', 'Allow', 'Read'),
    binding('Topic', 'orders-', 'PREFIXED', 'User:alice', 'Allow', 'Describe'),
    binding('Topic', 'orders-secret', 'LITERAL', 'User:alice', 'Deny', 'Describe'),
    // mallory: All on the cluster and group orders-app, but Deny Describe on the cluster and
    // Deny Read on every group.
    binding('Cluster', 'kafka-cluster', 'LITERAL', 'User:mallory', 'Allow', 'All'),
    binding('Cluster', 'kafka-cluster', 'LITERAL', 'User:mallory', 'Deny', 'Describe'),
    binding('Group', 'orders-app', 'LITERAL', 'User:mallory', 'Allow', 'All'),
    binding('Group', '*', 'LITERAL', 'User:mallory', 'Deny', 'Read'),
  );
}

const TOPICS = ['orders-eu', 'orders-secret', 'payments', 'orders-us'];

/** `x-user: <name>` → a user; `x-service: <name>` → a service principal; nothing → anonymous. */
const principals: Interceptor = async (metadata) => {
  const user = metadata.get('x-user')[0];
  if (user !== undefined) return { kind: 'user', name: String(user) };
  const service = metadata.get('x-service')[0];
  return service === undefined ? undefined : { kind: 'service', name: String(service) };
};

interface Clients {
  admin: AdminServiceClient;
  broker: BrokerServiceClient;
  group: GroupCoordinatorServiceClient;
  control: BrokerControlServiceClient;
  coordination: CoordinationServiceClient;
}

async function startServer(options: { authorizer?: Authorizer; authorizationTable?: AuthorizationTable; metrics: Metrics }): Promise<{ server: GrpcServer; clients: Clients }> {
  const { metrics, ...security } = options;
  const server = createGrpcServer({ logger, registry: metrics.registry, interceptors: [principals], ...security });
  server.addService(AdminServiceService, {
    describeCluster: async () => DescribeClusterResponse.fromPartial({ controllerId: 7 }),
    // The per-topic helper, as ListTopics / Metadata will use it.
    listTopics: async (_request, ctx) => ListTopicsResponse.fromPartial({ names: filterAllowed(ctx, 'Describe', 'Topic', TOPICS) }),
  });
  server.addService(GroupCoordinatorServiceService, {
    joinGroup: async (request, ctx) => JoinGroupResponse.fromPartial({ memberId: `${request.groupId}:${authorize(ctx, 'Describe', 'Cluster', 'kafka-cluster')}` }),
  });
  server.addService(BrokerServiceService, {
    // As the broker's Fetch will: a follower's fetch (replica_id >= 0) needs a service principal.
    fetch: async (request, ctx) => {
      if (request.replicaId >= 0) requireServicePrincipal(ctx, 'Fetch with replica_id >= 0');
      return FetchResponse.fromPartial({});
    },
  });
  server.addService(BrokerControlServiceService, { updateMetadata: async () => UpdateMetadataResponse.fromPartial({}) });
  server.addService(CoordinationServiceService, { get: async () => GetResponse.fromPartial({ data: Buffer.from('ok') }) });
  const port = await server.listen('127.0.0.1', 0);
  const address = `127.0.0.1:${port}`;
  return {
    server,
    clients: {
      admin: createClient(AdminServiceClient, address),
      broker: createClient(BrokerServiceClient, address),
      group: createClient(GroupCoordinatorServiceClient, address),
      control: createClient(BrokerControlServiceClient, address),
      coordination: createClient(CoordinationServiceClient, address),
    },
  };
}

type Who = 'anonymous' | 'alice' | 'mallory' | 'root' | 'service';
type Rpc = 'describeCluster' | 'fetch as consumer' | 'fetch as replica' | 'joinGroup orders-app' | 'joinGroup team-blue' | 'joinGroup other' | 'updateMetadata' | 'coordination get';

/** What a call answered: OK with its response, or the gRPC status and the Kafka code. */
type Outcome = { ok: true; response: unknown } | { ok: false; status: Status; kafkaCode: number | undefined; details: string };

function metadataOf(who: Who): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (who === 'service') metadata.set('x-service', 'broker-1');
  else if (who !== 'anonymous') metadata.set('x-user', who);
  return metadata;
}

/** A raw grpc-js call, so the test sees the status code and trailers as sent. */
function call(clients: Clients, who: Who, rpc: Rpc): Promise<Outcome> {
  const metadata = metadataOf(who);
  return new Promise((resolve) => {
    const done = (error: grpc.ServiceError | null, response: unknown): void => {
      if (error === null) resolve({ ok: true, response });
      else {
        const code = error.metadata.get(ERROR_CODE_METADATA_KEY)[0];
        resolve({ ok: false, status: error.code, kafkaCode: code === undefined ? undefined : Number(code), details: error.details });
      }
    };
    switch (rpc) {
      case 'describeCluster':
        clients.admin.describeCluster({}, metadata, done);
        return;
      case 'joinGroup orders-app':
      case 'joinGroup team-blue':
      case 'joinGroup other':
        clients.group.joinGroup(proto.JoinGroupRequest.fromPartial({ groupId: rpc.split(' ')[1] }), metadata, done);
        return;
      case 'fetch as consumer':
      case 'fetch as replica':
        clients.broker.fetch(proto.FetchRequest.fromPartial({ replicaId: rpc === 'fetch as replica' ? 1 : -1 }), metadata, done);
        return;
      case 'updateMetadata':
        clients.control.updateMetadata(proto.UpdateMetadataRequest.fromPartial({}), metadata, done);
        return;
      case 'coordination get':
        clients.coordination.get(proto.GetRequest.fromPartial({ path: '/x' }), metadata, done);
        return;
    }
  });
}

const OK = 'OK' as const;
const CLUSTER_DENIED = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
const GROUP_DENIED = ErrorCode.GROUP_AUTHORIZATION_FAILED;

describe('authorization enforcement (authorizer on)', () => {
  let metrics: Metrics;
  let server: GrpcServer;
  let clients: Clients;

  beforeAll(async () => {
    resetAcls();
    metrics = createMetrics({ service: 'test', nodeId: 1, defaultMetrics: false });
    const authorizer = new Authorizer({ acls: source, superUsers: ['User:root'], logger, metrics });
    ({ server, clients } = await startServer({ authorizer, metrics }));
  });

  afterAll(async () => {
    for (const c of Object.values(clients)) c.close();
    await server.shutdown(100);
  });

  beforeEach(() => {
    resetAcls();
    logLines.length = 0;
  });

  const matrix: Array<[Who, Rpc, typeof OK | ErrorCode]> = [
    // Whole-call Cluster Describe (AdminService/DescribeCluster).
    ['anonymous', 'describeCluster', CLUSTER_DENIED],
    ['alice', 'describeCluster', OK],
    ['mallory', 'describeCluster', CLUSTER_DENIED], // Allow All, Deny Describe: Deny wins
    ['root', 'describeCluster', OK], // super user, no ACL
    // Group Read of the request's group id (GroupCoordinatorService/JoinGroup).
    ['anonymous', 'joinGroup orders-app', GROUP_DENIED],
    ['alice', 'joinGroup orders-app', OK],
    ['alice', 'joinGroup team-blue', OK], // prefixed team-
    ['alice', 'joinGroup other', GROUP_DENIED],
    ['mallory', 'joinGroup orders-app', GROUP_DENIED], // Allow All on it, Deny Read on *
    ['root', 'joinGroup other', OK],
    // Internal APIs: service principals only, whatever the ACLs say.
    ['anonymous', 'updateMetadata', CLUSTER_DENIED],
    ['alice', 'updateMetadata', CLUSTER_DENIED], // has Allow ClusterAction: still refused
    ['mallory', 'updateMetadata', CLUSTER_DENIED], // has Allow All on the cluster
    ['root', 'updateMetadata', OK], // super user
    ['service', 'updateMetadata', OK],
    ['alice', 'coordination get', CLUSTER_DENIED],
    ['anonymous', 'coordination get', CLUSTER_DENIED],
    ['service', 'coordination get', OK],
    // Fetch: per topic in the handler; as a replica (replica_id >= 0) service principals only.
    ['alice', 'fetch as consumer', OK],
    ['alice', 'fetch as replica', CLUSTER_DENIED],
    ['anonymous', 'fetch as replica', CLUSTER_DENIED],
    ['service', 'fetch as replica', OK],
    ['root', 'fetch as replica', OK],
  ];

  it.each(matrix.map(([who, rpc, expected]) => [who, rpc, expected === OK ? OK : ErrorCode[expected], expected] as const))('%s calls %s → %s', async (who, rpc, _label, expected) => {
    const outcome = await call(clients, who, rpc);
    if (expected === OK) {
      expect(outcome).toMatchObject({ ok: true });
    } else {
      expect(outcome).toMatchObject({ ok: false, status: Status.PERMISSION_DENIED, kafkaCode: expected });
    }
  });

  it('per-topic filter in the handler: each principal sees the topics it may Describe', async () => {
    const names = async (who: Who): Promise<string[]> =>
      new Promise((resolve, reject) => clients.admin.listTopics({}, metadataOf(who), (e, r) => (e ? reject(e) : resolve(r.names))));
    expect(await names('alice')).toEqual(['orders-eu', 'orders-us']); // prefixed orders-, orders-secret denied
    expect(await names('anonymous')).toEqual([]);
    expect(await names('mallory')).toEqual([]);
    expect(await names('root')).toEqual(TOPICS);
  });

  it('handlers see ctx.authorization for the caller (principal and per-resource answer)', async () => {
    const alice = await call(clients, 'alice', 'joinGroup orders-app');
    expect(alice).toMatchObject({ ok: true, response: { memberId: 'orders-app:true' } }); // alice may Describe the cluster
    bindings.push(binding('Cluster', 'kafka-cluster', 'LITERAL', 'User:alice', 'Deny', 'Describe'));
    const after = await call(clients, 'alice', 'joinGroup orders-app');
    expect(after).toMatchObject({ ok: true, response: { memberId: 'orders-app:false' } });
  });

  it('an ACL change applies to the next call (nothing cached per call)', async () => {
    expect(await call(clients, 'alice', 'joinGroup other')).toMatchObject({ ok: false, kafkaCode: GROUP_DENIED });
    bindings.push(binding('Group', 'other', 'LITERAL', 'User:alice', 'Allow', 'Read'));
    expect(await call(clients, 'alice', 'joinGroup other')).toMatchObject({ ok: true });
  });

  it('a denial tells the user what to do, is logged without request contents and is counted', async () => {
    const before = await denials(metrics, 'Read', 'Group');
    const outcome = await call(clients, 'alice', 'joinGroup other');
    expect(outcome).toMatchObject({ ok: false });
    expect((outcome as { details: string }).details).toMatch(/User:alice is not authorized to Read Group "other": ask an administrator for an ACL/);
    expect(await denials(metrics, 'Read', 'Group')).toBe(before + 1);
    const line = logLines.find((l) => l['msg'] === 'authorization denied' && l['resourceName'] === 'other');
    expect(line).toMatchObject({ principal: 'User:alice', host: '127.0.0.1', operation: 'Read', resourceType: 'Group' });
  });

  it('a refused internal call is logged and counted as ClusterAction on the cluster', async () => {
    const before = await denials(metrics, 'ClusterAction', 'Cluster');
    expect(await call(clients, 'alice', 'updateMetadata')).toMatchObject({ ok: false, kafkaCode: CLUSTER_DENIED });
    expect(await denials(metrics, 'ClusterAction', 'Cluster')).toBe(before + 1);
    expect(logLines.find((l) => l['msg'] === 'authorization denied' && l['operation'] === 'ClusterAction')).toMatchObject({
      principal: 'User:alice',
      method: 'tributary.v1.BrokerControlService/UpdateMetadata',
    });
  });
});

describe('authorization enforcement (no authorizer)', () => {
  it('allows everything exactly as before, and the per-topic helper keeps every name', async () => {
    const metrics = createMetrics({ service: 'test', nodeId: 1, defaultMetrics: false });
    const { server, clients } = await startServer({ metrics });
    try {
      for (const rpc of ['describeCluster', 'joinGroup other', 'updateMetadata', 'coordination get', 'fetch as replica'] as const) {
        expect(await call(clients, 'anonymous', rpc)).toMatchObject({ ok: true });
      }
      expect(await call(clients, 'anonymous', 'joinGroup other')).toMatchObject({ ok: true, response: { memberId: 'other:true' } });
      const names = await new Promise<string[]>((resolve, reject) => clients.admin.listTopics({}, metadataOf('anonymous'), (e, r) => (e ? reject(e) : resolve(r.names))));
      expect(names).toEqual(TOPICS);
    } finally {
      for (const c of Object.values(clients)) c.close();
      await server.shutdown(100);
    }
  });
});

describe('authorization enforcement with the real authenticator', () => {
  it('SCRAM users get what ACLs grant; super users (service principals) reach internal APIs; no token is refused first', async () => {
    const store = new MemorySecurityStore();
    await setScramCredential(store, 'alice', 'SCRAM-SHA-256', 'alice-secret');
    await setScramCredential(store, 'broker', 'SCRAM-SHA-256', 'broker-secret');
    const authenticator = createAuthenticator({ store, logger, superUsers: ['User:broker'], allowAnonymous: false });
    await authenticator.start();
    resetAcls();
    const metrics = createMetrics({ service: 'test', nodeId: 1, defaultMetrics: false });
    const authorizer = new Authorizer({ acls: source, superUsers: ['User:broker'], logger, metrics });
    const server = createGrpcServer({ logger, registry: metrics.registry, authenticator, authorizer });
    server.addService(AdminServiceService, { describeCluster: async () => DescribeClusterResponse.fromPartial({ controllerId: 7 }) });
    server.addService(BrokerControlServiceService, { updateMetadata: async () => UpdateMetadataResponse.fromPartial({}) });
    const address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
    const auth = createClient(AuthServiceClient, address);
    const admin = createClient(AdminServiceClient, address);
    const control = createClient(BrokerControlServiceClient, address);
    const bearer = (token: string | undefined): grpc.Metadata => {
      const m = new grpc.Metadata();
      if (token !== undefined) m.set('authorization', `Bearer ${token}`);
      return m;
    };
    const statusOf = (e: grpc.ServiceError | null): string => (e === null ? 'OK' : `${Status[e.code]}/${String(e.metadata.get(ERROR_CODE_METADATA_KEY)[0])}`);
    const describe = (token?: string): Promise<string> => new Promise((resolve) => admin.describeCluster({}, bearer(token), (e) => resolve(statusOf(e))));
    const update = (token?: string): Promise<string> =>
      new Promise((resolve) => control.updateMetadata(proto.UpdateMetadataRequest.fromPartial({}), bearer(token), (e) => resolve(statusOf(e))));
    try {
      // The login itself (AuthService) is public under the authorizer.
      const alice = await scramLogin(auth, { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'alice-secret' });
      const broker = await scramLogin(auth, { mechanism: 'SCRAM-SHA-256', username: 'broker', password: 'broker-secret' });
      await expect(scramLogin(auth, { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'wrong' })).rejects.toMatchObject({ code: ErrorCode.SASL_AUTHENTICATION_FAILED });

      expect(await describe(alice.token)).toBe('OK'); // Allow Describe on the cluster
      expect(await update(alice.token)).toBe(`PERMISSION_DENIED/${CLUSTER_DENIED}`); // client credentials: internal API refused
      expect(await describe(broker.token)).toBe('OK');
      expect(await update(broker.token)).toBe('OK');
      expect(await describe(undefined)).toBe(`UNAUTHENTICATED/${ErrorCode.SASL_AUTHENTICATION_FAILED}`); // authentication comes first
    } finally {
      auth.close();
      admin.close();
      control.close();
      await server.shutdown(100);
      authenticator.stop();
    }
  });
});

describe('authorization table', () => {
  it('has a rule for every method of every Tributary service', () => {
    const missing: string[] = [];
    let methods = 0;
    for (const [exported, value] of Object.entries(proto)) {
      if (!exported.endsWith('Service') || typeof value !== 'object' || value === null) continue;
      for (const def of Object.values(value as Record<string, { path?: unknown }>)) {
        if (typeof def?.path !== 'string') continue;
        methods++;
        if (ruleFor(TRIBUTARY_AUTHORIZATION_TABLE, def.path.replace(/^\//, '')) === undefined) missing.push(def.path);
      }
    }
    expect(methods).toBeGreaterThan(50);
    expect(missing).toEqual([]);
  });

  it('closes the internal APIs and ReplicaFetch to clients, and leaves the login open', () => {
    for (const method of [
      'tributary.v1.BrokerService/ReplicaFetch',
      'tributary.v1.BrokerControlService/LeaderAndIsr',
      'tributary.v1.BrokerToControllerService/AlterPartition',
      'tributary.v1.CoordinationService/Multi',
    ]) {
      expect(ruleFor(TRIBUTARY_AUTHORIZATION_TABLE, method)).toEqual({ kind: 'servicePrincipal' });
    }
    expect(ruleFor(TRIBUTARY_AUTHORIZATION_TABLE, 'tributary.v1.AuthService/ScramAuthenticateFirst')).toEqual({ kind: 'public' });
  });

  it('refuses a method without a rule once an authorizer is on (fail closed)', async () => {
    const metrics = createMetrics({ service: 'test', nodeId: 1, defaultMetrics: false });
    resetAcls();
    const authorizer = new Authorizer({ acls: source, superUsers: ['User:root'], metrics });
    const table: AuthorizationTable = { 'tributary.v1.AdminService/DescribeCluster': { kind: 'public' } };
    const { server, clients } = await startServer({ authorizer, authorizationTable: table, metrics });
    try {
      expect(await call(clients, 'anonymous', 'describeCluster')).toMatchObject({ ok: true });
      const outcome = await call(clients, 'root', 'joinGroup orders-app');
      expect(outcome).toMatchObject({ ok: false, status: Status.PERMISSION_DENIED, kafkaCode: CLUSTER_DENIED });
      expect((outcome as { details: string }).details).toMatch(/GroupCoordinatorService\/JoinGroup has no authorization rule/);
    } finally {
      for (const c of Object.values(clients)) c.close();
      await server.shutdown(100);
    }
  });

  it('an empty group id is authorized like any name (Kafka); a rule that finds no name refuses the call', async () => {
    const metrics = createMetrics({ service: 'test', nodeId: 1, defaultMetrics: false });
    resetAcls();
    const authorizer = new Authorizer({ acls: source, superUsers: ['User:root'], metrics });
    const table: AuthorizationTable = {
      ...TRIBUTARY_AUTHORIZATION_TABLE,
      'tributary.v1.AdminService/DescribeCluster': { kind: 'resource', resourceType: 'Group', operation: 'Describe', name: () => undefined },
    };
    const { server, clients } = await startServer({ authorizer, authorizationTable: table, metrics });
    const join = (who: Who): Promise<grpc.ServiceError | null> =>
      new Promise((resolve) => clients.group.joinGroup(proto.JoinGroupRequest.fromPartial({ groupId: '' }), metadataOf(who), (e) => resolve(e)));
    try {
      const alice = await join('alice');
      expect(alice?.code).toBe(Status.PERMISSION_DENIED);
      expect(alice?.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual([String(GROUP_DENIED)]);
      expect(await join('root')).toBeNull(); // reaches the handler (the coordinator answers INVALID_GROUP_ID)
      const broken = await call(clients, 'root', 'describeCluster');
      expect(broken).toMatchObject({ ok: false, status: Status.PERMISSION_DENIED, kafkaCode: GROUP_DENIED });
      expect((broken as { details: string }).details).toMatch(/finds no Group name in the request/);
    } finally {
      for (const c of Object.values(clients)) c.close();
      await server.shutdown(100);
    }
  });
});

async function denials(metrics: Metrics, operation: string, resourceType: string): Promise<number> {
  const metric = await metrics.registry.getSingleMetric('tributary_authorizer_denials_total')?.get();
  return metric?.values.find((v) => v.labels['operation'] === operation && v.labels['resource_type'] === resourceType)?.value ?? 0;
}
