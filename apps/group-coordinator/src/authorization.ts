/**
 * The group coordinator's per-resource authorization (libs/runtime security/README.md,
 * "Handlers that must call the per-resource helpers"). The interceptor already checked the
 * group of JoinGroup, SyncGroup, Heartbeat, LeaveGroup (Read), OffsetCommit (Read) and
 * OffsetFetch (Describe); the handlers check here what the request names beyond it:
 *
 * - FindCoordinator: Describe on each group key (GROUP_AUTHORIZATION_FAILED for that key).
 * - OffsetCommit: Read on each topic; a refused topic's partitions answer
 *   TOPIC_AUTHORIZATION_FAILED and are not written.
 * - OffsetFetch: Describe on each topic; named topics answer TOPIC_AUTHORIZATION_FAILED per
 *   partition, all topics leave the others out (Kafka's).
 * - ListGroups: Describe on the cluster lists every group; else only the groups with Describe.
 * - DescribeGroups / DeleteGroups: Describe / Delete on each group (GROUP_AUTHORIZATION_FAILED
 *   in that group's entry), with `refusalsOf` in the handler.
 *
 * With no authorizer on the server, every function passes the request through unchanged.
 */
import type { ListGroupsResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetCommitTopic, OffsetFetchRequest, OffsetFetchResponse, OffsetFetchTopic } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { AuthorizationContext } from '@tributary/runtime';
import { authorize, CLUSTER_RESOURCE_NAME, filterAllowed, mergeAuthorized, splitAuthorized } from '@tributary/runtime';

const nameOf = (t: { name: string }): string => t.name;

/** OffsetCommit: Read on each topic; refused topics answer TOPIC_AUTHORIZATION_FAILED per partition, unwritten. */
export async function authorizedOffsetCommit(ctx: AuthorizationContext, request: OffsetCommitRequest, commit: (request: OffsetCommitRequest) => Promise<OffsetCommitResponse>): Promise<OffsetCommitResponse> {
  const split = splitAuthorized(ctx, 'Read', 'Topic', request.topics, nameOf);
  if (!split) return commit(request);
  const answered = split.allowed.length > 0 ? await commit({ ...request, topics: split.allowed }) : { topics: [] };
  const deny = (t: OffsetCommitTopic): OffsetCommitResponse['topics'][number] => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })),
  });
  return { ...answered, topics: mergeAuthorized(request.topics, split, nameOf, answered.topics, deny) };
}

/**
 * OffsetFetch: Describe on each topic. All topics: the others are left out. Named topics: the
 * others answer TOPIC_AUTHORIZATION_FAILED per partition. A group-level error stays as it is.
 */
export function authorizedOffsetFetch(ctx: AuthorizationContext, request: OffsetFetchRequest, fetch: (request: OffsetFetchRequest) => OffsetFetchResponse): OffsetFetchResponse {
  if (!ctx.authorization) return fetch(request);
  if (request.allTopics || request.topics.length === 0) {
    const all = fetch(request);
    const visible = new Set(filterAllowed(ctx, 'Describe', 'Topic', all.topics.map(nameOf)));
    return visible.size === all.topics.length ? all : { ...all, topics: all.topics.filter((t) => visible.has(t.name)) };
  }
  const split = splitAuthorized(ctx, 'Describe', 'Topic', request.topics, nameOf);
  if (!split) return fetch(request);
  // No topic named would mean all of them: fetch only when some are allowed.
  const answered = split.allowed.length > 0 ? fetch({ ...request, topics: split.allowed }) : { errorCode: ErrorCode.NONE, errorMessage: '', topics: [] };
  if (answered.errorCode !== ErrorCode.NONE) return answered;
  const deny = (t: OffsetFetchTopic): OffsetFetchResponse['topics'][number] => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })),
  });
  return { ...answered, topics: mergeAuthorized(request.topics, split, nameOf, answered.topics, deny) };
}

/** ListGroups: every group with Describe on the cluster, else only those with Describe on the group. */
export function authorizedListGroups(ctx: AuthorizationContext, list: () => ListGroupsResponse): ListGroupsResponse {
  const all = list();
  if (!ctx.authorization || authorize(ctx, 'Describe', 'Cluster', CLUSTER_RESOURCE_NAME)) return all;
  const visible = new Set(filterAllowed(ctx, 'Describe', 'Group', all.groups.map((g) => g.groupId)));
  return { ...all, groups: all.groups.filter((g) => visible.has(g.groupId)) };
}
