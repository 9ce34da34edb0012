/**
 * The broker's per-topic authorization (authorization.ts) with a real Authorizer over
 * in-memory ACLs and the `ctx.authorization` the gRPC server gives handlers
 * (callAuthorization); the replica manager is a stub that records what it was asked, so the
 * spec sees that refused topics never reach it and that answers come back in request order.
 * The same functions on a running cluster: tools/e2e security-matrix.spec.ts.
 */
import type { FetchRequest, FetchResponse, ListOffsetsRequest, MetadataRequest, MetadataResponse, OffsetsForLeaderEpochRequest, ProduceRequest, ProduceResponse } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { AclBinding, AclOperation, AuthorizationContext, PatternType, PermissionType, ResourceType } from '@tributary/runtime';
import { Authorizer, callAuthorization, patternApplies } from '@tributary/runtime';
import { authorizedFetch, authorizedListOffsets, authorizedMetadata, authorizedOffsetsForLeaderEpoch, authorizedProduce, initProducerIdRefusal } from './authorization';

const bindings: AclBinding[] = [];
const allow = (resourceType: ResourceType, name: string, principal: string, operation: AclOperation, patternType: PatternType = 'LITERAL', permissionType: PermissionType = 'Allow'): void => {
  bindings.push({ pattern: { resourceType, name, patternType }, entry: { principal, permissionType, operation, host: '*' } });
};
const authorizer = new Authorizer({
  acls: {
    matchingEntries: (type, name) => bindings.filter((b) => patternApplies(b.pattern, type, name)).map((b) => b.entry),
    bindingsOfType: (type) => bindings.filter((b) => b.pattern.resourceType === type),
  },
  superUsers: ['User:admin'],
});
const as = (name: string, kind: 'user' | 'service' = 'user'): AuthorizationContext => ({ authorization: callAuthorization(authorizer, { kind, name }, '127.0.0.1:5000') });
const NO_AUTHORIZER: AuthorizationContext = {};

beforeEach(() => {
  bindings.length = 0;
  // alice writes and reads orders-*, but not orders-secret (Deny beats the prefixed Allow); she describes payments.
  allow('Topic', 'orders-', 'User:alice', 'Write', 'PREFIXED');
  allow('Topic', 'orders-', 'User:alice', 'Read', 'PREFIXED');
  allow('Topic', 'orders-secret', 'User:alice', 'All', 'LITERAL', 'Deny');
  allow('Topic', 'payments', 'User:alice', 'Describe');
});

const produceRequest = (...topics: string[]): ProduceRequest => ({
  acks: 1,
  timeoutMs: 0,
  topics: topics.map((name) => ({ name, partitions: [0, 1].map((index) => ({ index, records: Buffer.from(name) })) })),
});

/** A replica manager stub answering NONE for every partition it is given, recording the requests. */
function produceStub(): { asked: ProduceRequest[]; produce: (r: ProduceRequest) => Promise<ProduceResponse> } {
  const asked: ProduceRequest[] = [];
  return {
    asked,
    produce: async (r) => {
      asked.push(r);
      return {
        throttleTimeMs: 0,
        topics: r.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ index: p.index, errorCode: ErrorCode.NONE, errorMessage: '', baseOffset: 7n, logAppendTimeMs: -1n, logStartOffset: 0n })) })),
      };
    },
  };
}

const codes = (response: { topics: Array<{ name: string; partitions: Array<{ errorCode: ErrorCode }> }> }): Array<[string, ErrorCode[]]> =>
  response.topics.map((t) => [t.name, t.partitions.map((p) => p.errorCode)]);

describe('Produce', () => {
  it('refuses clients writing an internal topic, whatever the ACLs say; services and super users write it', async () => {
    allow('Topic', '__consumer_offsets', 'User:alice', 'All');
    const stub = produceStub();
    const answer = await authorizedProduce(as('alice'), produceRequest('orders-eu', '__consumer_offsets'), stub.produce);
    expect(codes(answer)).toEqual([
      ['orders-eu', [ErrorCode.NONE, ErrorCode.NONE]],
      ['__consumer_offsets', [ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.INVALID_TOPIC_EXCEPTION]],
    ]);
    expect(stub.asked.map((r) => r.topics.map((t) => t.name))).toEqual([['orders-eu']]);
    for (const ctx of [as('admin'), NO_AUTHORIZER]) {
      const passed = produceStub();
      await authorizedProduce(ctx, produceRequest('__consumer_offsets'), passed.produce);
      expect(passed.asked.map((r) => r.topics.map((t) => t.name))).toEqual([['__consumer_offsets']]);
    }
  });

  it('passes the very request through with no authorizer, or when every topic is allowed', async () => {
    for (const ctx of [NO_AUTHORIZER, as('alice'), as('admin')]) {
      const stub = produceStub();
      const request = produceRequest('orders-eu', 'orders-us');
      await authorizedProduce(ctx, request, stub.produce);
      expect(stub.asked).toEqual([request]);
      expect(stub.asked[0]).toBe(request);
    }
  });

  it('answers refused topics TOPIC_AUTHORIZATION_FAILED per partition, in request order, and never appends them', async () => {
    const stub = produceStub();
    const response = await authorizedProduce(as('alice'), produceRequest('payments', 'orders-eu', 'orders-secret', 'orders-us'), stub.produce);
    expect(stub.asked.map((r) => r.topics.map((t) => t.name))).toEqual([['orders-eu', 'orders-us']]);
    const denied = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    expect(codes(response)).toEqual([
      ['payments', [denied, denied]],
      ['orders-eu', [ErrorCode.NONE, ErrorCode.NONE]],
      ['orders-secret', [denied, denied]],
      ['orders-us', [ErrorCode.NONE, ErrorCode.NONE]],
    ]);
    const refused = response.topics[0]!.partitions[0]!;
    expect(refused.baseOffset).toBe(-1n);
    expect(refused.errorMessage).toContain('User:alice is not authorized to Write Topic "payments"');
  });

  it('never calls the replica manager when no topic is allowed (anonymous)', async () => {
    const stub = produceStub();
    const response = await authorizedProduce(as('ANONYMOUS'), produceRequest('orders-eu'), stub.produce);
    expect(stub.asked).toEqual([]);
    expect(codes(response)).toEqual([['orders-eu', [ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.TOPIC_AUTHORIZATION_FAILED]]]);
  });
});

describe('Fetch', () => {
  const fetchRequest = (replicaId: number, ...topics: string[]): FetchRequest => ({
    replicaId,
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 1000,
    topics: topics.map((name) => ({ name, partitions: [{ index: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 100 }] })),
  });
  const fetchStub = (): { asked: FetchRequest[]; fetch: (r: FetchRequest) => Promise<FetchResponse> } => {
    const asked: FetchRequest[] = [];
    return {
      asked,
      fetch: async (r) => {
        asked.push(r);
        return { throttleTimeMs: 0, topics: r.topics.map((t) => ({ name: t.name, partitions: [{ index: 0, errorCode: ErrorCode.NONE, errorMessage: '', highWatermark: 3n, logStartOffset: 0n, records: Buffer.from('data') }] })) };
      },
    };
  };

  it('gives consumers only the topics they may Read; the others carry no data', async () => {
    const stub = fetchStub();
    const response = await authorizedFetch(as('alice'), fetchRequest(-1, 'orders-eu', 'payments'), stub.fetch);
    expect(stub.asked.map((r) => r.topics.map((t) => t.name))).toEqual([['orders-eu']]);
    expect(codes(response)).toEqual([
      ['orders-eu', [ErrorCode.NONE]],
      ['payments', [ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
    ]);
    expect(response.topics[1]!.partitions[0]!.records.length).toBe(0);
  });

  it('answers at once, without a long poll, when no topic is allowed', async () => {
    const stub = fetchStub();
    const response = await authorizedFetch(as('bob'), fetchRequest(-1, 'orders-eu'), stub.fetch);
    expect(stub.asked).toEqual([]);
    expect(codes(response)).toEqual([['orders-eu', [ErrorCode.TOPIC_AUTHORIZATION_FAILED]]]);
  });

  it('refuses a fetch as a replica (replica_id >= 0) to a client, even one allowed to Read, with CLUSTER_AUTHORIZATION_FAILED', async () => {
    const stub = fetchStub();
    const refused = authorizedFetch(as('alice'), fetchRequest(2, 'orders-eu'), stub.fetch);
    await expect(refused).rejects.toBeInstanceOf(TributaryError);
    await expect(refused).rejects.toMatchObject({ code: ErrorCode.CLUSTER_AUTHORIZATION_FAILED });
    expect(stub.asked).toEqual([]);
    // A service principal (and a super user) replicates every topic, ACLs or not.
    await authorizedFetch(as('broker-1', 'service'), fetchRequest(2, 'payments'), stub.fetch);
    await authorizedFetch(as('admin'), fetchRequest(2, 'payments'), stub.fetch);
    expect(stub.asked).toHaveLength(2);
  });
});

describe('ListOffsets and OffsetsForLeaderEpoch', () => {
  it('answers topics without Describe TOPIC_AUTHORIZATION_FAILED', () => {
    const request: ListOffsetsRequest = {
      replicaId: -1,
      topics: ['payments', 'elsewhere'].map((name) => ({ name, partitions: [{ index: 0, currentLeaderEpoch: -1, timestamp: -1n }] })),
    };
    const asked: string[][] = [];
    const response = authorizedListOffsets(as('alice'), request, (r) => {
      asked.push(r.topics.map((t) => t.name));
      return { topics: r.topics.map((t) => ({ name: t.name, partitions: [{ index: 0, errorCode: ErrorCode.NONE, errorMessage: '', timestamp: -1n, offset: 5n, leaderEpoch: 0 }] })) };
    });
    expect(asked).toEqual([['payments']]);
    expect(codes(response)).toEqual([
      ['payments', [ErrorCode.NONE]],
      ['elsewhere', [ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
    ]);
  });

  it('OffsetsForLeaderEpoch: Describe per topic for clients, a service principal for replicas', () => {
    const request = (replicaId: number): OffsetsForLeaderEpochRequest => ({
      replicaId,
      topics: ['orders-eu', 'hidden'].map((name) => ({ name, partitions: [{ index: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] })),
    });
    const answer = (r: OffsetsForLeaderEpochRequest): ReturnType<Parameters<typeof authorizedOffsetsForLeaderEpoch>[2]> => ({
      topics: r.topics.map((t) => ({ name: t.name, partitions: [{ index: 0, errorCode: ErrorCode.NONE, errorMessage: '', leaderEpoch: 0, endOffset: 9n }] })),
    });
    expect(codes(authorizedOffsetsForLeaderEpoch(as('alice'), request(-1), answer))).toEqual([
      ['orders-eu', [ErrorCode.NONE]],
      ['hidden', [ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
    ]);
    expect(() => authorizedOffsetsForLeaderEpoch(as('alice'), request(1), answer)).toThrow(expect.objectContaining({ code: ErrorCode.CLUSTER_AUTHORIZATION_FAILED }));
    expect(codes(authorizedOffsetsForLeaderEpoch(as('broker-1', 'service'), request(1), answer))).toEqual([
      ['orders-eu', [ErrorCode.NONE]],
      ['hidden', [ErrorCode.NONE]],
    ]);
  });
});

describe('Metadata', () => {
  const known = ['orders-eu', 'orders-secret', 'payments', 'zeta'];
  const describe_ = (asked: MetadataRequest[]) => (r: MetadataRequest): MetadataResponse => {
    asked.push(r);
    const names = r.topics.length > 0 ? r.topics : known;
    return {
      brokers: [{ nodeId: 1, host: 'h', port: 1, rack: '' }],
      clusterId: 'c',
      controllerId: 1,
      controllerHost: 'h',
      controllerPort: 2,
      groupCoordinators: [],
      topics: names.map((name) => ({ name, errorCode: known.includes(name) ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, isInternal: false, partitions: [] })),
    };
  };

  it('leaves out the topics the caller may not Describe when listing all', () => {
    const response = authorizedMetadata(as('alice'), { topics: [] }, describe_([]));
    expect(response.topics.map((t) => t.name)).toEqual(['orders-eu', 'payments']);
    expect(response.brokers).toHaveLength(1);
    expect(authorizedMetadata(as('admin'), { topics: [] }, describe_([])).topics.map((t) => t.name)).toEqual(known);
    expect(authorizedMetadata(NO_AUTHORIZER, { topics: [] }, describe_([])).topics.map((t) => t.name)).toEqual(known);
  });

  it('answers named topics without Describe TOPIC_AUTHORIZATION_FAILED, existing or not', () => {
    const asked: MetadataRequest[] = [];
    const response = authorizedMetadata(as('alice'), { topics: ['zeta', 'orders-eu', 'nope', 'orders-new'] }, describe_(asked));
    expect(asked).toEqual([{ topics: ['orders-eu', 'orders-new'] }]);
    expect(response.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ['zeta', ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ['orders-eu', ErrorCode.NONE],
      ['nope', ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ['orders-new', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ]);
  });

  it('still names the brokers when no named topic is allowed (and never lists all topics instead)', () => {
    const asked: MetadataRequest[] = [];
    const response = authorizedMetadata(as('bob'), { topics: ['orders-eu', 'payments'] }, describe_(asked));
    expect(asked).toEqual([{ topics: ['orders-eu'] }]);
    expect(response.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ['orders-eu', ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ['payments', ErrorCode.TOPIC_AUTHORIZATION_FAILED],
    ]);
    expect(response.brokers).toHaveLength(1);
  });
});

describe('InitProducerId (KIP-679)', () => {
  it('gives an idempotent producer id to a caller with Write on some topic or IdempotentWrite on the cluster', () => {
    const request = { transactionalId: '', transactionTimeoutMs: 0 };
    expect(initProducerIdRefusal(NO_AUTHORIZER, request)).toBeUndefined();
    expect(initProducerIdRefusal(as('alice'), request)).toBeUndefined(); // Write on orders-* (prefixed)
    expect(initProducerIdRefusal(as('admin'), request)).toBeUndefined();
    expect(initProducerIdRefusal(as('carol'), request)).toMatchObject({ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, producerId: -1n });
    allow('Cluster', 'kafka-cluster', 'User:carol', 'IdempotentWrite');
    expect(initProducerIdRefusal(as('carol'), request)).toBeUndefined();
  });

  it('needs Write on the transactional id when one is given', () => {
    const request = { transactionalId: 'tx-1', transactionTimeoutMs: 60_000 };
    expect(initProducerIdRefusal(as('alice'), request)).toMatchObject({ errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED });
    allow('TransactionalId', 'tx-', 'User:alice', 'Write', 'PREFIXED');
    expect(initProducerIdRefusal(as('alice'), request)).toBeUndefined();
  });
});
