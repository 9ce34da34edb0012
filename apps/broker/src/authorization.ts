/**
 * The broker's per-resource authorization (libs/runtime security/README.md, "Handlers that
 * must call the per-resource helpers"): the interceptor lets BrokerService calls through, and
 * each handler hands its request to one function here, which checks every topic it names,
 * lets the replica manager answer the allowed ones and answers the others with the Kafka code
 * (TOPIC_AUTHORIZATION_FAILED per partition, no data), in request order.
 *
 * - Produce / ProduceStream: Write on each topic.
 * - Fetch: a request with replica_id >= 0 (a follower) needs a service principal (else
 *   CLUSTER_AUTHORIZATION_FAILED for the call); a consumer needs Read on each topic. When no
 *   topic is allowed the answer is immediate (no long poll on nothing).
 * - ListOffsets: Describe on each topic. OffsetsForLeaderEpoch: the same for clients; a
 *   follower (replica_id >= 0) needs a service principal.
 * - Metadata: Describe on each topic; listing all topics leaves out the others, naming one
 *   answers TOPIC_AUTHORIZATION_FAILED (whether it exists or not: no existence leak). Tributary
 *   brokers never auto-create topics, so there is no Create check here.
 * - InitProducerId (KIP-679): a transactional id needs Write on it; without one, IdempotentWrite
 *   on the cluster or Write on some topic. Refusals are answered in the response's error code.
 *
 * With no authorizer on the server, or every topic allowed, the request goes to the replica
 * manager as it is (no copy). Checks are per topic, never per partition or record.
 */
import type {
  FetchRequest,
  FetchResponse,
  FetchTopic,
  FetchTopicResponse,
  InitProducerIdRequest,
  InitProducerIdResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  ListOffsetsTopic,
  ListOffsetsTopicResponse,
  MetadataRequest,
  MetadataResponse,
  OffsetsForLeaderEpochRequest,
  OffsetsForLeaderEpochResponse,
  OffsetsForLeaderEpochTopic,
  OffsetsForLeaderEpochTopicResult,
  ProduceRequest,
  ProduceResponse,
  ProduceTopicData,
  ProduceTopicResponse,
} from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { AclOperation, AuthorizationContext } from '@tributary/runtime';
import { authorizationError, authorize, CLUSTER_RESOURCE_NAME, filterAllowed, mergeAuthorized, requireServicePrincipal, splitAuthorized, type AuthorizedSplit } from '@tributary/runtime';
import { INTERNAL_TOPICS } from './control';

const TOPIC_DENIED = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
const nameOf = (t: { name: string }): string => t.name;

/** The message of a refused topic (who, what, and to ask for an ACL). */
function deniedMessage(ctx: AuthorizationContext, operation: AclOperation, topic: string): string {
  return authorizationError(ctx.authorization?.principal ?? 'User:ANONYMOUS', operation, 'Topic', topic).message;
}

/**
 * Produce (and each request of ProduceStream): Write on each topic. Internal topics
 * (`__consumer_offsets`) take writes from service principals only (the group coordinator),
 * whatever the ACLs say: a client gets INVALID_TOPIC_EXCEPTION, as Kafka answers appends to
 * internal topics from clients.
 */
export async function authorizedProduce(ctx: AuthorizationContext, request: ProduceRequest, produce: (request: ProduceRequest) => Promise<ProduceResponse>): Promise<ProduceResponse> {
  const split = withInternalTopicsRefused(ctx, splitAuthorized(ctx, 'Write', 'Topic', request.topics, nameOf), request.topics);
  if (!split) return produce(request);
  const answered = split.allowed.length > 0 ? await produce({ ...request, topics: split.allowed }) : { topics: [], throttleTimeMs: 0 };
  const deny = (t: ProduceTopicData): ProduceTopicResponse => {
    const internal = INTERNAL_TOPICS.has(t.name) && !ctx.authorization?.servicePrincipal;
    const errorCode = internal ? ErrorCode.INVALID_TOPIC_EXCEPTION : TOPIC_DENIED;
    const errorMessage = internal ? `${t.name} is an internal topic: only the group coordinator writes it (commit offsets through the group API)` : deniedMessage(ctx, 'Write', t.name);
    return { name: t.name, partitions: t.partitions.map((p) => ({ index: p.index, errorCode, errorMessage, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n })) };
  };
  return { ...answered, topics: mergeAuthorized(request.topics, split, nameOf, answered.topics, deny) };
}

/** `split` with the internal topics of `topics` moved to the refused ones, for callers that are not services. */
function withInternalTopicsRefused(ctx: AuthorizationContext, split: AuthorizedSplit<ProduceTopicData> | undefined, topics: readonly ProduceTopicData[]): AuthorizedSplit<ProduceTopicData> | undefined {
  if (!ctx.authorization || ctx.authorization.servicePrincipal || !topics.some((t) => INTERNAL_TOPICS.has(t.name))) return split;
  const denied = new Set(split?.denied ?? []);
  for (const t of topics) if (INTERNAL_TOPICS.has(t.name)) denied.add(t.name);
  return { allowed: topics.filter((t) => !denied.has(t.name)), denied };
}

/** Fetch: a follower's (replica_id >= 0) needs a service principal; a consumer's, Read on each topic. */
export async function authorizedFetch(ctx: AuthorizationContext, request: FetchRequest, fetch: (request: FetchRequest) => Promise<FetchResponse>): Promise<FetchResponse> {
  if (request.replicaId >= 0) {
    requireServicePrincipal(ctx, `Fetch with replica_id ${request.replicaId}`);
    return fetch(request);
  }
  const split = splitAuthorized(ctx, 'Read', 'Topic', request.topics, nameOf);
  if (!split) return fetch(request);
  const answered = split.allowed.length > 0 ? await fetch({ ...request, topics: split.allowed }) : { topics: [], throttleTimeMs: 0 };
  const deny = (t: FetchTopic): FetchTopicResponse => {
    const errorMessage = deniedMessage(ctx, 'Read', t.name);
    return { name: t.name, partitions: t.partitions.map((p) => ({ index: p.index, errorCode: TOPIC_DENIED, errorMessage, highWatermark: -1n, logStartOffset: -1n, records: Buffer.alloc(0) })) };
  };
  return { ...answered, topics: mergeAuthorized(request.topics, split, nameOf, answered.topics, deny) };
}

/** ListOffsets: Describe on each topic. */
export function authorizedListOffsets(ctx: AuthorizationContext, request: ListOffsetsRequest, listOffsets: (request: ListOffsetsRequest) => ListOffsetsResponse): ListOffsetsResponse {
  const split = splitAuthorized(ctx, 'Describe', 'Topic', request.topics, nameOf);
  if (!split) return listOffsets(request);
  const answered = split.allowed.length > 0 ? listOffsets({ ...request, topics: split.allowed }) : { topics: [] };
  const deny = (t: ListOffsetsTopic): ListOffsetsTopicResponse => {
    const errorMessage = deniedMessage(ctx, 'Describe', t.name);
    return { name: t.name, partitions: t.partitions.map((p) => ({ index: p.index, errorCode: TOPIC_DENIED, errorMessage, timestamp: -1n, offset: -1n, leaderEpoch: -1 })) };
  };
  return { ...answered, topics: mergeAuthorized(request.topics, split, nameOf, answered.topics, deny) };
}

/** OffsetsForLeaderEpoch: a follower's (replica_id >= 0) needs a service principal; a client's, Describe on each topic. */
export function authorizedOffsetsForLeaderEpoch(
  ctx: AuthorizationContext,
  request: OffsetsForLeaderEpochRequest,
  offsetsForLeaderEpoch: (request: OffsetsForLeaderEpochRequest) => OffsetsForLeaderEpochResponse,
): OffsetsForLeaderEpochResponse {
  if (request.replicaId >= 0) {
    requireServicePrincipal(ctx, `OffsetsForLeaderEpoch with replica_id ${request.replicaId}`);
    return offsetsForLeaderEpoch(request);
  }
  const split = splitAuthorized(ctx, 'Describe', 'Topic', request.topics, nameOf);
  if (!split) return offsetsForLeaderEpoch(request);
  const answered = split.allowed.length > 0 ? offsetsForLeaderEpoch({ ...request, topics: split.allowed }) : { topics: [] };
  const deny = (t: OffsetsForLeaderEpochTopic): OffsetsForLeaderEpochTopicResult => {
    const errorMessage = deniedMessage(ctx, 'Describe', t.name);
    return { name: t.name, partitions: t.partitions.map((p) => ({ index: p.index, errorCode: TOPIC_DENIED, errorMessage, leaderEpoch: -1, endOffset: -1n })) };
  };
  return { ...answered, topics: mergeAuthorized(request.topics, split, nameOf, answered.topics, deny) };
}

/**
 * Metadata: Describe on each topic. All topics: the others are left out. Named topics: the
 * others answer TOPIC_AUTHORIZATION_FAILED with no partitions, whether they exist or not.
 */
export function authorizedMetadata(ctx: AuthorizationContext, request: MetadataRequest, describe: (request: MetadataRequest) => MetadataResponse): MetadataResponse {
  if (!ctx.authorization) return describe(request);
  if (request.topics.length === 0) {
    const all = describe(request);
    const visible = new Set(filterAllowed(ctx, 'Describe', 'Topic', all.topics.map(nameOf)));
    return visible.size === all.topics.length ? all : { ...all, topics: all.topics.filter((t) => visible.has(t.name)) };
  }
  const split = splitAuthorized(ctx, 'Describe', 'Topic', request.topics, (name) => name);
  if (!split) return describe(request);
  // Describing no topic would mean all of them: with none allowed, the brokers and controller
  // come from describing one name, whose entry is replaced by the refusal below.
  const answered = split.allowed.length > 0 ? describe({ ...request, topics: split.allowed }) : { ...describe({ topics: request.topics.slice(0, 1) }), topics: [] };
  return {
    ...answered,
    topics: mergeAuthorized(request.topics, split, (name) => name, answered.topics, (name) => ({ name, errorCode: TOPIC_DENIED, isInternal: false, partitions: [] })),
  };
}

/**
 * InitProducerId (KIP-679): the refusal to answer, or undefined when the caller may have a
 * producer id. With a transactional id: Write on it (TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
 * without: IdempotentWrite on the cluster or Write on some topic (CLUSTER_AUTHORIZATION_FAILED).
 */
export function initProducerIdRefusal(ctx: AuthorizationContext, request: InitProducerIdRequest): InitProducerIdResponse | undefined {
  const authorization = ctx.authorization;
  if (!authorization) return undefined;
  const refused = (error: { code: ErrorCode; message: string }): InitProducerIdResponse => ({ errorCode: error.code, errorMessage: error.message, producerId: -1n, producerEpoch: -1 });
  if (request.transactionalId !== '') {
    if (authorize(ctx, 'Write', 'TransactionalId', request.transactionalId)) return undefined;
    return refused(authorizationError(authorization.principal, 'Write', 'TransactionalId', request.transactionalId));
  }
  if (authorize(ctx, 'IdempotentWrite', 'Cluster', CLUSTER_RESOURCE_NAME) || authorization.authorizeByResourceType('Write', 'Topic')) return undefined;
  return refused(authorizationError(authorization.principal, 'IdempotentWrite', 'Cluster', CLUSTER_RESOURCE_NAME));
}
