/**
 * The AdminService's per-topic authorization (libs/runtime security/README.md, "Handlers that
 * must call the per-resource helpers"): the interceptor checks the whole-call rules
 * (DescribeCluster, ElectLeaders, reassignments: on the cluster); the topic calls are checked
 * here, topic by topic, and a refused topic gets TOPIC_AUTHORIZATION_FAILED in its own result
 * (Kafka's per-topic answers) while the others go through.
 *
 * - CreateTopics: Create on the cluster allows every topic; else Create on each topic.
 * - DeleteTopics / CreatePartitions / DescribeConfigs / AlterConfigs: Delete / Alter /
 *   DescribeConfigs / AlterConfigs on each topic (`refusalsOf`).
 * - ListTopics, DescribeTopics of all topics: the topics without Describe are left out;
 *   DescribeTopics of named topics: TOPIC_AUTHORIZATION_FAILED for those.
 */
import type { AuthorizationContext, Refusal } from '@tributary/runtime';
import { authorize, CLUSTER_RESOURCE_NAME, refusalsOf } from '@tributary/runtime';

/** CreateTopics: none refused with Create on the cluster (Kafka's), else Create on each topic. */
export function createTopicsRefusals(ctx: AuthorizationContext, names: readonly string[]): (name: string) => Refusal | undefined {
  if (!ctx.authorization || authorize(ctx, 'Create', 'Cluster', CLUSTER_RESOURCE_NAME)) return () => undefined;
  return refusalsOf(ctx, 'Create', 'Topic', names);
}
