/**
 * Confluent REST Proxy API v3 consumer groups (application/json), from the group coordinators
 * (libs/client Admin: ListGroups, DescribeGroups, OffsetFetch) and the partition leaders
 * (ListOffsets, for log end offsets):
 *
 * | request | answer |
 * |---|---|
 * | `GET /v3/clusters/{c}/consumer-groups` | `KafkaConsumerGroupList` |
 * | `GET .../consumer-groups/{g}` | `KafkaConsumerGroup` (`is_simple, partition_assignor, state, coordinator`) |
 * | `GET .../consumer-groups/{g}/consumers[/{id}]` | `KafkaConsumerList` / `KafkaConsumer` |
 * | `GET .../consumer-groups/{g}/consumers/{id}/assignments` | `KafkaConsumerAssignmentList` |
 * | `GET .../consumer-groups/{g}/lags` | `KafkaConsumerLagList`: per partition with a committed offset, `current_offset, log_end_offset, lag` and its consumer |
 * | `GET .../consumer-groups/{g}/lags/{t}/partitions/{p}` | `KafkaConsumerLag` |
 * | `GET .../consumer-groups/{g}/lag-summary` | `KafkaConsumerGroupLagSummary`: `max_lag` (and where), `total_lag` |
 *
 * Lag is `log_end_offset - current_offset` (never below 0), the log end being the high
 * watermark, as Kafka's tools compute it. A group the coordinators do not know (no members,
 * no committed offsets) is 404.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ErrorCode, TributaryError } from '@tributary/client';
import type { Admin, GroupDescription } from '@tributary/client';
import { RestError, RestErrorCode } from './errors';
import { JSON_TYPE } from './media';
import { parsePartitionParam } from './values';

export interface V3GroupDeps {
  /** The cluster id (asked with the proxy's own identity: the same for every user). */
  clusterId: () => Promise<string>;
  /** Base URL of `metadata.self` links (known once the server listens). */
  baseUrl: () => string;
}

type GroupParams = { cluster: string; group: string };

interface PartitionLag {
  topic: string;
  partition: number;
  currentOffset: bigint;
  logEndOffset: bigint;
  lag: bigint;
  consumerId: string;
  instanceId: string | null;
  clientId: string;
}

function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', JSON_TYPE).send(Buffer.from(JSON.stringify(body)));
}

/** 'PreparingRebalance' → 'PREPARING_REBALANCE' (Kafka's ConsumerGroupState names, as Confluent shows them). */
function stateName(state: string): string {
  return state === '' ? 'UNKNOWN' : state.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

export function registerV3Groups(app: FastifyInstance, deps: V3GroupDeps): void {
  // Each request asks the cluster with its own clients (request.clients.admin: its user's
  // with Basic authentication, else the proxy's).
  const url = (...parts: Array<string | number>): string => `${deps.baseUrl()}/v3/clusters/${parts.map((p) => encodeURIComponent(String(p))).join('/')}`;
  const crn = (cluster: string, ...more: string[]): string => [`crn:///kafka=${cluster}`, ...more].join('/');
  const related = (...parts: Array<string | number>): { related: string } => ({ related: url(...parts) });
  const v3 = <T>(p: Promise<T>): Promise<T> =>
    p.catch((e: unknown) => {
      throw RestError.from(e, 'v3');
    });
  const checkCluster = async (cluster: string): Promise<string> => {
    const id = await v3(deps.clusterId());
    if (cluster !== id) throw new RestError(RestErrorCode.NOT_FOUND, `Cluster ${cluster.slice(0, 128)} cannot be found: this proxy serves cluster ${id}`);
    return id;
  };
  const notFound = (group: string): RestError => new RestError(RestErrorCode.NOT_FOUND, `Consumer group ${group.slice(0, 256)} cannot be found: it has no members and no committed offsets`);

  /** The group's description; 404 when the coordinators know nothing of it. */
  const describe = async (admin: Admin, group: string): Promise<{ d: GroupDescription; offsets: Awaited<ReturnType<Admin['listGroupOffsets']>> }> => {
    const [[d], offsets] = await Promise.all([v3(admin.describeGroups([group])), v3(admin.listGroupOffsets(group))]);
    // A group the user may not Describe: 403 / 40301, not "not found".
    if (d !== undefined && d.errorCode === ErrorCode.GROUP_AUTHORIZATION_FAILED) throw RestError.from(new TributaryError(d.errorCode, `not authorized to describe consumer group '${group.slice(0, 256)}'`), 'v3');
    const committed = offsets.filter((o) => o.offset >= 0n);
    if (d === undefined || ((d.state === 'Dead' || d.state === '') && committed.length === 0)) throw notFound(group);
    return { d, offsets: committed };
  };

  const groupJson = (c: string, d: GroupDescription): unknown => ({
    kind: 'KafkaConsumerGroup',
    metadata: { self: url(c, 'consumer-groups', d.groupId), resource_name: crn(c, `consumer-group=${d.groupId}`) },
    cluster_id: c,
    consumer_group_id: d.groupId,
    is_simple: d.protocolType === '',
    partition_assignor: d.protocol,
    state: stateName(d.state === 'Dead' ? 'Empty' : d.state),
    coordinator: related(c, 'brokers', d.coordinator.nodeId),
    consumers: related(c, 'consumer-groups', d.groupId, 'consumers'),
    lag_summary: related(c, 'consumer-groups', d.groupId, 'lag-summary'),
  });
  const consumerJson = (c: string, group: string, m: GroupDescription['members'][number]): unknown => ({
    kind: 'KafkaConsumer',
    metadata: { self: url(c, 'consumer-groups', group, 'consumers', m.memberId), resource_name: crn(c, `consumer-group=${group}`, `consumer=${m.memberId}`) },
    cluster_id: c,
    consumer_group_id: group,
    consumer_id: m.memberId,
    instance_id: m.groupInstanceId === '' ? null : m.groupInstanceId,
    client_id: m.clientId,
    assignments: related(c, 'consumer-groups', group, 'consumers', m.memberId, 'assignments'),
  });
  const lagJson = (c: string, group: string, l: PartitionLag): unknown => ({
    kind: 'KafkaConsumerLag',
    metadata: {
      self: url(c, 'consumer-groups', group, 'lags', l.topic, 'partitions', l.partition),
      resource_name: crn(c, `consumer-group=${group}`, `lag=${l.topic}`, `partition=${l.partition}`),
    },
    cluster_id: c,
    consumer_group_id: group,
    topic_name: l.topic,
    partition_id: l.partition,
    current_offset: Number(l.currentOffset),
    log_end_offset: Number(l.logEndOffset),
    lag: Number(l.lag),
    consumer_id: l.consumerId,
    instance_id: l.instanceId,
    client_id: l.clientId,
  });

  /** Per partition with a committed offset: its lag and the member that owns it ('' when none). */
  const lags = async (admin: Admin, group: string): Promise<PartitionLag[]> => {
    const { d, offsets } = await describe(admin, group);
    const byTopic = new Map<string, number[]>();
    for (const o of offsets) {
      const list = byTopic.get(o.topic) ?? [];
      list.push(o.partition);
      byTopic.set(o.topic, list);
    }
    const ends = new Map<string, bigint>();
    await Promise.all(
      [...byTopic].map(async ([topic, partitions]) => {
        // A committed topic deleted since has no end: its partitions count as caught up.
        const answer = await admin.listOffsets(topic, 'latest', partitions).catch(() => []);
        for (const a of answer) ends.set(`${topic}\u0000${a.partition}`, a.offset);
      }),
    );
    const owner = new Map<string, GroupDescription['members'][number]>();
    for (const m of d.members) for (const tp of m.assignment) owner.set(`${tp.topic}\u0000${tp.partition}`, m);
    const out = offsets.map((o): PartitionLag => {
      const key = `${o.topic}\u0000${o.partition}`;
      const end = ends.get(key) ?? o.offset;
      const m = owner.get(key);
      return {
        topic: o.topic,
        partition: o.partition,
        currentOffset: o.offset,
        logEndOffset: end,
        lag: end > o.offset ? end - o.offset : 0n,
        consumerId: m?.memberId ?? '',
        instanceId: m === undefined || m.groupInstanceId === '' ? null : m.groupInstanceId,
        clientId: m?.clientId ?? '',
      };
    });
    return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  };

  app.get<{ Params: { cluster: string } }>('/v3/clusters/:cluster/consumer-groups', async (request, reply) => {
    const { admin } = request.clients;
    const c = await checkCluster(request.params.cluster);
    const listed = await v3(admin.listGroups());
    const ids = [...new Set(listed.map((g) => g.groupId))].sort();
    const described = ids.length === 0 ? [] : await v3(admin.describeGroups(ids));
    return sendJson(reply, 200, {
      kind: 'KafkaConsumerGroupList',
      metadata: { self: url(c, 'consumer-groups'), next: null },
      data: described.map((d) => groupJson(c, d)),
    });
  });

  app.get<{ Params: GroupParams }>('/v3/clusters/:cluster/consumer-groups/:group', async (request, reply) => {
    const { admin } = request.clients;
    const c = await checkCluster(request.params.cluster);
    const { d } = await describe(admin, request.params.group);
    return sendJson(reply, 200, groupJson(c, d));
  });

  app.get<{ Params: GroupParams }>('/v3/clusters/:cluster/consumer-groups/:group/consumers', async (request, reply) => {
    const { admin } = request.clients;
    const c = await checkCluster(request.params.cluster);
    const { group } = request.params;
    const { d } = await describe(admin, group);
    return sendJson(reply, 200, {
      kind: 'KafkaConsumerList',
      metadata: { self: url(c, 'consumer-groups', group, 'consumers'), next: null },
      data: d.members.map((m) => consumerJson(c, group, m)),
    });
  });

  const member = async (admin: Admin, group: string, consumer: string): Promise<GroupDescription['members'][number]> => {
    const { d } = await describe(admin, group);
    const m = d.members.find((x) => x.memberId === consumer);
    if (m === undefined) throw new RestError(RestErrorCode.NOT_FOUND, `Consumer ${consumer.slice(0, 256)} cannot be found in consumer group ${group.slice(0, 256)}`);
    return m;
  };

  app.get<{ Params: GroupParams & { consumer: string } }>('/v3/clusters/:cluster/consumer-groups/:group/consumers/:consumer', async (request, reply) => {
    const { admin } = request.clients;
    const c = await checkCluster(request.params.cluster);
    const { group, consumer } = request.params;
    return sendJson(reply, 200, consumerJson(c, group, await member(admin, group, consumer)));
  });

  app.get<{ Params: GroupParams & { consumer: string } }>('/v3/clusters/:cluster/consumer-groups/:group/consumers/:consumer/assignments', async (request, reply) => {
    const { admin } = request.clients;
    const c = await checkCluster(request.params.cluster);
    const { group, consumer } = request.params;
    const m = await member(admin, group, consumer);
    return sendJson(reply, 200, {
      kind: 'KafkaConsumerAssignmentList',
      metadata: { self: url(c, 'consumer-groups', group, 'consumers', consumer, 'assignments'), next: null },
      data: m.assignment.map((tp) => ({
        kind: 'KafkaConsumerAssignment',
        metadata: {
          self: url(c, 'consumer-groups', group, 'consumers', consumer, 'assignments', tp.topic, 'partitions', tp.partition),
          resource_name: crn(c, `consumer-group=${group}`, `consumer=${consumer}`, `assignment=${tp.topic}`, `partition=${tp.partition}`),
        },
        cluster_id: c,
        consumer_group_id: group,
        consumer_id: consumer,
        topic_name: tp.topic,
        partition_id: tp.partition,
        partition: related(c, 'topics', tp.topic, 'partitions', tp.partition),
        lag: related(c, 'consumer-groups', group, 'lags', tp.topic, 'partitions', tp.partition),
      })),
    });
  });

  app.get<{ Params: GroupParams }>('/v3/clusters/:cluster/consumer-groups/:group/lags', async (request, reply) => {
    const { admin } = request.clients;
    const c = await checkCluster(request.params.cluster);
    const { group } = request.params;
    const list = await lags(admin, group);
    return sendJson(reply, 200, {
      kind: 'KafkaConsumerLagList',
      metadata: { self: url(c, 'consumer-groups', group, 'lags'), next: null },
      data: list.map((l) => lagJson(c, group, l)),
    });
  });

  app.get<{ Params: GroupParams & { topic: string; partition: string } }>('/v3/clusters/:cluster/consumer-groups/:group/lags/:topic/partitions/:partition', async (request, reply) => {
    const { admin } = request.clients;
    const c = await checkCluster(request.params.cluster);
    const { group, topic } = request.params;
    const partition = parsePartitionParam(request.params.partition, topic, 'v3');
    const l = (await lags(admin, group)).find((x) => x.topic === topic && x.partition === partition);
    if (l === undefined) throw new RestError(RestErrorCode.NOT_FOUND, `Consumer group ${group.slice(0, 256)} has no committed offset for partition ${partition} of topic ${topic.slice(0, 256)}`);
    return sendJson(reply, 200, lagJson(c, group, l));
  });

  app.get<{ Params: GroupParams }>('/v3/clusters/:cluster/consumer-groups/:group/lag-summary', async (request, reply) => {
    const { admin } = request.clients;
    const c = await checkCluster(request.params.cluster);
    const { group } = request.params;
    const list = await lags(admin, group);
    let max: PartitionLag | undefined;
    let total = 0n;
    for (const l of list) {
      total += l.lag;
      if (max === undefined || l.lag > max.lag) max = l;
    }
    return sendJson(reply, 200, {
      kind: 'KafkaConsumerGroupLagSummary',
      metadata: { self: url(c, 'consumer-groups', group, 'lag-summary'), resource_name: crn(c, `consumer-group=${group}`, 'lag-summary') },
      cluster_id: c,
      consumer_group_id: group,
      max_lag_consumer_id: max?.consumerId ?? '',
      max_lag_instance_id: max?.instanceId ?? null,
      max_lag_client_id: max?.clientId ?? '',
      max_lag_topic_name: max?.topic ?? '',
      max_lag_partition_id: max?.partition ?? 0,
      max_lag: Number(max?.lag ?? 0n),
      total_lag: Number(total),
      max_lag_consumer: max === undefined || max.consumerId === '' ? null : related(c, 'consumer-groups', group, 'consumers', max.consumerId),
      max_lag_partition: max === undefined ? null : related(c, 'topics', max.topic, 'partitions', max.partition),
    });
  });
}
