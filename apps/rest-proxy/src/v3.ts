/**
 * Confluent REST Proxy API v3 (application/json): cluster, brokers, topics (list, create with
 * the num.partitions / default.replication.factor defaults, describe, delete), topic configs
 * (list, get, set, reset, batch alter — and PATCH as an alias of `:alter`), produce (one
 * record, or many concatenated in a streaming request with one delivery report each, in
 * order), `records:batch`, and — beyond Confluent — a stateless consume of one partition from
 * an offset.
 *
 * Resources carry Confluent's `kind`, `metadata.self` (absolute URL, from --advertised-url)
 * and `resource_name` (`crn:///kafka=<cluster>/topic=<t>`). Lists have `metadata.next: null`
 * (no paging).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import type { ProducerRecord, TopicInfo } from '@tributary/client';
import { readBody } from './body';
import { isLegalTopicName } from './cluster-view';
import type { ClusterClients } from './cluster-clients';
import type { RestProxyConfig } from './config';
import { RestError, RestErrorCode } from './errors';
import { ConcatenatedJsonSplitter } from './json-stream';
import { JSON_TYPE, checkV3ContentType } from './media';
import { errorMessage, sendAll } from './produce';
import { decodeBase64, parseJsonBody, parsePartitionParam, parseTimestamp, queryInteger, unprocessable } from './values';

export interface V3Deps {
  /** The cluster id (asked with the proxy's own identity: the same for every user). */
  clusterId: () => Promise<string>;
  config: RestProxyConfig;
  /** Base URL of `metadata.self` links (known once the server listens). */
  baseUrl: () => string;
  /** Counts records produced (acknowledged) and failed. */
  countRecords: (api: 'v3', ok: number, failed: number) => void;
}

type ClusterParams = { cluster: string };
type TopicParams = ClusterParams & { topic: string };
type ConfigParams = TopicParams & { name: string };
type PartitionParams = TopicParams & { partition: string };

/** Key/value types of v3 produce and consume. */
type DataType = 'BINARY' | 'JSON' | 'STRING';

function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply
    .code(status)
    .header('content-type', JSON_TYPE)
    .send(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
}

export function registerV3(app: FastifyInstance, deps: V3Deps): void {
  // Each request calls the cluster with its own clients (`cl`, from request.clients: its
  // user's with Basic authentication, else the proxy's).
  const { config } = deps;
  const url = (...parts: Array<string | number>): string => `${deps.baseUrl()}/v3/clusters/${parts.map((p) => encodeURIComponent(String(p))).join('/')}`;
  const crn = (cluster: string, ...more: string[]): string => [`crn:///kafka=${cluster}`, ...more].join('/');
  const related = (...parts: Array<string | number>): { related: string } => ({ related: url(...parts) });

  /** The cluster id named in the path, or 404 when it is not this cluster's. */
  const checkCluster = async (cluster: string): Promise<string> => {
    const id = await deps.clusterId().catch((e: unknown) => {
      throw RestError.from(e, 'v3');
    });
    if (cluster !== id) throw new RestError(RestErrorCode.NOT_FOUND, `Cluster ${cluster.slice(0, 128)} cannot be found: this proxy serves cluster ${id}`);
    return id;
  };
  const topicExists = async (cl: ClusterClients, topic: string): Promise<number> => cl.view.partitionCount(topic, 'v3');
  const v3 = <T>(p: Promise<T>): Promise<T> =>
    p.catch((e: unknown) => {
      throw RestError.from(e, 'v3');
    });
  const readJson = (request: FastifyRequest): unknown => {
    checkV3ContentType(request.headers['content-type']);
    return parseJsonBody(request.body);
  };

  const clusterJson = async (cl: ClusterClients, c: string): Promise<unknown> => {
    const info = await v3(cl.admin.describeCluster());
    return {
      kind: 'KafkaCluster',
      metadata: { self: url(c), resource_name: crn(c) },
      cluster_id: c,
      controller: related(c, 'brokers', info.controllerId),
      acls: related(c, 'acls'),
      brokers: related(c, 'brokers'),
      broker_configs: related(c, 'broker-configs'),
      consumer_groups: related(c, 'consumer-groups'),
      topics: related(c, 'topics'),
      partition_reassignments: related(c, 'topics', '-', 'partitions', '-', 'reassignment'),
    };
  };
  const topicJson = (c: string, t: TopicInfo): unknown => ({
    kind: 'KafkaTopic',
    metadata: { self: url(c, 'topics', t.name), resource_name: crn(c, `topic=${t.name}`) },
    cluster_id: c,
    topic_name: t.name,
    is_internal: t.name.startsWith('__'),
    replication_factor: t.partitions[0]?.replicas.length ?? 0,
    partitions_count: t.partitions.length,
    partitions: related(c, 'topics', t.name, 'partitions'),
    configs: related(c, 'topics', t.name, 'configs'),
    partition_reassignments: related(c, 'topics', t.name, 'partitions', '-', 'reassignment'),
    authorized_operations: [],
  });
  const configJson = (c: string, topic: string, e: { name: string; value: string; isDefault: boolean }): unknown => ({
    kind: 'KafkaTopicConfig',
    metadata: { self: url(c, 'topics', topic, 'configs', e.name), resource_name: crn(c, `topic=${topic}`, `config=${e.name}`) },
    cluster_id: c,
    topic_name: topic,
    name: e.name,
    value: e.value,
    is_default: e.isDefault,
    is_read_only: false,
    is_sensitive: false,
    source: e.isDefault ? 'DEFAULT_CONFIG' : 'DYNAMIC_TOPIC_CONFIG',
    synonyms: [],
  });
  const partitionJson = (c: string, topic: string, p: TopicInfo['partitions'][number]): unknown => ({
    kind: 'KafkaPartition',
    metadata: { self: url(c, 'topics', topic, 'partitions', p.partition), resource_name: crn(c, `topic=${topic}`, `partition=${p.partition}`) },
    cluster_id: c,
    topic_name: topic,
    partition_id: p.partition,
    leader: p.leader >= 0 ? related(c, 'topics', topic, 'partitions', p.partition, 'replicas', p.leader) : null,
    replicas: related(c, 'topics', topic, 'partitions', p.partition, 'replicas'),
    reassignment: related(c, 'topics', topic, 'partitions', p.partition, 'reassignment'),
  });
  const describeTopic = async (cl: ClusterClients, topic: string): Promise<TopicInfo> => {
    await topicExists(cl, topic);
    const [info] = await v3(cl.admin.describeTopics([topic]));
    if (info === undefined) throw new RestError(RestErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' not found`);
    return info;
  };

  app.get('/v3/clusters', async (request, reply) => {
    const c = await v3(deps.clusterId());
    return sendJson(reply, 200, { kind: 'KafkaClusterList', metadata: { self: `${deps.baseUrl()}/v3/clusters`, next: null }, data: [await clusterJson(request.clients, c)] });
  });

  app.get<{ Params: ClusterParams }>('/v3/clusters/:cluster', async (request, reply) => {
    const cl = request.clients;
    const c = await checkCluster(request.params.cluster);
    return sendJson(reply, 200, await clusterJson(cl, c));
  });

  const brokerJson = (c: string, b: { id: number; host: string; port: number; rack: string }): unknown => ({
    kind: 'KafkaBroker',
    metadata: { self: url(c, 'brokers', b.id), resource_name: crn(c, `broker=${b.id}`) },
    cluster_id: c,
    broker_id: b.id,
    host: b.host,
    port: b.port,
    rack: b.rack === '' ? null : b.rack,
    configs: related(c, 'brokers', b.id, 'configs'),
    partition_replicas: related(c, 'brokers', b.id, 'partition-replicas'),
  });

  app.get<{ Params: ClusterParams }>('/v3/clusters/:cluster/brokers', async (request, reply) => {
    const cl = request.clients;
    const c = await checkCluster(request.params.cluster);
    const info = await v3(cl.admin.describeCluster());
    const data = [...info.brokers].sort((a, b) => a.id - b.id).map((b) => brokerJson(c, b));
    return sendJson(reply, 200, { kind: 'KafkaBrokerList', metadata: { self: url(c, 'brokers'), next: null }, data });
  });

  app.get<{ Params: ClusterParams & { broker: string } }>('/v3/clusters/:cluster/brokers/:broker', async (request, reply) => {
    const cl = request.clients;
    const c = await checkCluster(request.params.cluster);
    const info = await v3(cl.admin.describeCluster());
    const b = info.brokers.find((x) => String(x.id) === request.params.broker);
    if (b === undefined) throw new RestError(RestErrorCode.NOT_FOUND, `Broker ${request.params.broker.slice(0, 64)} cannot be found`);
    return sendJson(reply, 200, brokerJson(c, b));
  });

  app.get<{ Params: ClusterParams }>('/v3/clusters/:cluster/topics', async (request, reply) => {
    const cl = request.clients;
    const c = await checkCluster(request.params.cluster);
    const topics = await v3(cl.admin.describeTopics([]));
    topics.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return sendJson(reply, 200, { kind: 'KafkaTopicList', metadata: { self: url(c, 'topics'), next: null }, data: topics.map((t) => topicJson(c, t)) });
  });

  app.post<{ Params: ClusterParams }>('/v3/clusters/:cluster/topics', async (request, reply) => {
    const cl = request.clients;
    const c = await checkCluster(request.params.cluster);
    const body = readJson(request) as Record<string, unknown> | null;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new RestError(RestErrorCode.BAD_REQUEST, 'the body must be a JSON object: {"topic_name": ..., "partitions_count": ..., "replication_factor": ..., "configs": [...]}');
    const name = body.topic_name;
    if (typeof name !== 'string' || !isLegalTopicName(name)) {
      throw new RestError(RestErrorCode.KAFKA_BAD_REQUEST, `topic_name ${JSON.stringify(String(name).slice(0, 300))} is not a legal topic name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'`);
    }
    // Absent or -1: the cluster's num.partitions / default.replication.factor, which the
    // controller applies (KIP-464), as Kafka's CreateTopics does.
    const count = optionalInt(body.partitions_count, 'partitions_count') ?? -1;
    const rf = optionalInt(body.replication_factor, 'replication_factor') ?? -1;
    const configs = configList(body.configs);
    const validateOnly = body.validate_only === true;
    const [created] = await v3(cl.admin.createTopics([{ name, numPartitions: count, replicationFactor: rf, configs: Object.fromEntries(configs.map((e) => [e.name, e.value ?? ''])) }], { validateOnly }));
    cl.view.forget(name);
    const info: TopicInfo = validateOnly
      ? {
          name,
          partitions: Array.from({ length: created!.numPartitions }, (_, partition) => ({
            partition,
            leader: -1,
            leaderEpoch: 0,
            replicas: Array.from({ length: created!.replicationFactor }, () => -1),
            isr: [],
          })),
        }
      : await describeTopic(cl, name);
    return sendJson(reply, 201, topicJson(c, info));
  });

  app.get<{ Params: TopicParams }>('/v3/clusters/:cluster/topics/:topic', async (request, reply) => {
    const cl = request.clients;
    const c = await checkCluster(request.params.cluster);
    return sendJson(reply, 200, topicJson(c, await describeTopic(cl, request.params.topic)));
  });

  // Grows a topic (Confluent's PATCH of partitions_count); never shrinks (keyed records would move).
  app.patch<{ Params: TopicParams }>('/v3/clusters/:cluster/topics/:topic', async (request, reply) => {
    const cl = request.clients;
    const c = await checkCluster(request.params.cluster);
    const { topic } = request.params;
    const body = readJson(request) as { partitions_count?: unknown } | null;
    const count = body !== null && typeof body === 'object' ? body.partitions_count : undefined;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) throw new RestError(RestErrorCode.BAD_REQUEST, 'the body must be {"partitions_count": <the new, larger, partition count>}');
    await topicExists(cl, topic);
    await v3(cl.admin.createPartitions([{ topic, count }]));
    cl.view.forget(topic);
    return sendJson(reply, 200, topicJson(c, await describeTopic(cl, topic)));
  });

  app.delete<{ Params: TopicParams }>('/v3/clusters/:cluster/topics/:topic', async (request, reply) => {
    const cl = request.clients;
    await checkCluster(request.params.cluster);
    await topicExists(cl, request.params.topic);
    await v3(cl.admin.deleteTopics([request.params.topic]));
    cl.view.forget(request.params.topic);
    return reply.code(204).send();
  });

  app.get<{ Params: TopicParams }>('/v3/clusters/:cluster/topics/:topic/partitions', async (request, reply) => {
    const cl = request.clients;
    const c = await checkCluster(request.params.cluster);
    const info = await describeTopic(cl, request.params.topic);
    return sendJson(reply, 200, {
      kind: 'KafkaPartitionList',
      metadata: { self: url(c, 'topics', info.name, 'partitions'), next: null },
      data: info.partitions.map((p) => partitionJson(c, info.name, p)),
    });
  });

  app.get<{ Params: PartitionParams }>('/v3/clusters/:cluster/topics/:topic/partitions/:partition', async (request, reply) => {
    const cl = request.clients;
    const c = await checkCluster(request.params.cluster);
    const { topic } = request.params;
    const partition = parsePartitionParam(request.params.partition, topic, 'v3');
    await cl.view.checkPartition(topic, partition, 'v3');
    const info = await describeTopic(cl, topic);
    const p = info.partitions.find((x) => x.partition === partition);
    if (p === undefined) throw new RestError(RestErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${partition} of topic '${topic}' not found`);
    return sendJson(reply, 200, partitionJson(c, topic, p));
  });

  // ---- configs --------------------------------------------------------------------------

  const topicConfigs = async (cl: ClusterClients, topic: string): Promise<Array<{ name: string; value: string; isDefault: boolean }>> => {
    await topicExists(cl, topic);
    const [configs] = await v3(cl.admin.describeConfigs([topic]));
    return configs?.entries ?? [];
  };

  app.get<{ Params: TopicParams }>('/v3/clusters/:cluster/topics/:topic/configs', async (request, reply) => {
    const cl = request.clients;
    const c = await checkCluster(request.params.cluster);
    const { topic } = request.params;
    const entries = await topicConfigs(cl, topic);
    return sendJson(reply, 200, { kind: 'KafkaTopicConfigList', metadata: { self: url(c, 'topics', topic, 'configs'), next: null }, data: entries.map((e) => configJson(c, topic, e)) });
  });

  app.get<{ Params: ConfigParams }>('/v3/clusters/:cluster/topics/:topic/configs/:name', async (request, reply) => {
    const cl = request.clients;
    const c = await checkCluster(request.params.cluster);
    const { topic, name } = request.params;
    const entry = (await topicConfigs(cl, topic)).find((e) => e.name === name);
    if (entry === undefined) throw new RestError(RestErrorCode.NOT_FOUND, `Config ${name.slice(0, 128)} cannot be found for topic ${topic}`);
    return sendJson(reply, 200, configJson(c, topic, entry));
  });

  app.put<{ Params: ConfigParams }>('/v3/clusters/:cluster/topics/:topic/configs/:name', async (request, reply) => {
    const cl = request.clients;
    await checkCluster(request.params.cluster);
    const { topic, name } = request.params;
    const body = readJson(request) as { value?: unknown } | null;
    if (body === null || typeof body !== 'object' || typeof body.value !== 'string') throw new RestError(RestErrorCode.BAD_REQUEST, 'the body must be {"value": "<string>"}');
    await topicExists(cl, topic);
    await v3(cl.admin.alterConfigs([{ topic, set: { [name]: body.value } }]));
    return reply.code(204).send();
  });

  app.delete<{ Params: ConfigParams }>('/v3/clusters/:cluster/topics/:topic/configs/:name', async (request, reply) => {
    const cl = request.clients;
    await checkCluster(request.params.cluster);
    const { topic, name } = request.params;
    await topicExists(cl, topic);
    await v3(cl.admin.alterConfigs([{ topic, delete: [name] }]));
    return reply.code(204).send();
  });

  const alterConfigs = async (request: FastifyRequest<{ Params: TopicParams }>, reply: FastifyReply): Promise<FastifyReply> => {
    await checkCluster(request.params.cluster);
    const { topic } = request.params;
    const body = readJson(request) as { data?: unknown; validate_only?: unknown } | null;
    if (body === null || typeof body !== 'object') throw new RestError(RestErrorCode.BAD_REQUEST, 'the body must be {"data": [{"name": ..., "value": ...} | {"name": ..., "operation": "DELETE"}]}');
    const set: Record<string, string> = {};
    const del: string[] = [];
    for (const e of configList(body.data, true)) {
      if (e.operation === 'DELETE') del.push(e.name);
      else set[e.name] = e.value ?? '';
    }
    const cl = request.clients;
    await topicExists(cl, topic);
    await v3(cl.admin.alterConfigs([{ topic, set, delete: del }], { validateOnly: body.validate_only === true }));
    return reply.code(204).send();
  };
  app.post<{ Params: TopicParams }>('/v3/clusters/:cluster/topics/:topic/configs::alter', alterConfigs);
  app.patch<{ Params: TopicParams }>('/v3/clusters/:cluster/topics/:topic/configs', alterConfigs);

  // ---- produce --------------------------------------------------------------------------

  const report = (c: string, topic: string, record: ProducerRecord, partition: number, offset: number, sizes: ReportSizes): string =>
    `{"error_code":200,"cluster_id":${JSON.stringify(c)},"topic_name":${JSON.stringify(topic)},"partition_id":${partition},"offset":${offset},"timestamp":"${new Date(record.timestamp ?? Date.now()).toISOString()}","key":${sizes.key},"value":${sizes.value}}`;

  // The records route reads its body as a stream: its own (encapsulated) content-type parser.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

    scope.post<{ Params: TopicParams }>('/v3/clusters/:cluster/topics/:topic/records', async (request, reply) => {
    const cl = request.clients;
      const body = request.body as Readable | undefined;
      const c = await checkCluster(request.params.cluster);
      checkV3ContentType(request.headers['content-type']);
      const { topic } = request.params;
      const partitions = await topicExists(cl, topic);
      if (body === undefined) throw new RestError(RestErrorCode.BAD_REQUEST, 'the request has no body: send one record {"key": ..., "value": ...} or several concatenated');
      const streaming = request.headers['transfer-encoding'] !== undefined && request.headers['content-length'] === undefined;
      if (!streaming) return produceWhole(cl, c, topic, partitions, await readBody(body, config.maxRequestBytes), reply);
      return produceStream(cl, c, topic, partitions, body, reply);
    });
  });

  /** A body with a length: one record → its report with its status; several → 200 and one report each. */
  const produceWhole = async (cl: ClusterClients, c: string, topic: string, partitions: number, raw: Buffer, reply: FastifyReply): Promise<FastifyReply> => {
    const splitter = new ConcatenatedJsonSplitter(config.maxRequestBytes);
    let texts: string[];
    try {
      texts = splitter.push(raw);
      if (splitter.unfinished) throw new Error('the body ends inside a JSON object');
    } catch (e) {
      throw new RestError(RestErrorCode.BAD_REQUEST, `malformed JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (texts.length === 0) throw new RestError(RestErrorCode.BAD_REQUEST, 'the request has no record: send {"key": ..., "value": ...}');
    const converted = texts.map((t) => {
      try {
        return convertV3Record(t, topic, partitions);
      } catch (e) {
        return RestError.from(e, 'v3');
      }
    });
    const good = converted.filter((x): x is ConvertedRecord => !(x instanceof RestError));
    const results = await v3(sendAll(cl.producer, topic, good.map((g) => g.record)));
    const reports: string[] = [];
    let status = 200;
    for (let i = 0, j = 0; i < converted.length; i++) {
      const x = converted[i]!;
      if (x instanceof RestError) {
        reports.push(x.body());
        status = x.status;
        continue;
      }
      const err = results.errors[j];
      if (err !== undefined) {
        const rest = RestError.from(err, 'v3');
        reports.push(JSON.stringify({ error_code: rest.status, message: errorMessage(err) }));
        status = rest.status;
      } else reports.push(report(c, topic, x.record, results.partitions[j]!, results.offsets[j]!, x.sizes));
      j++;
    }
    deps.countRecords('v3', results.count - results.failed, converted.length - good.length + results.failed);
    return sendJson(reply, converted.length === 1 ? status : 200, reports.join('\n'));
  };

  /** Chunked body: records produced as they arrive, reports written back in order as they complete. */
  const produceStream = (cl: ClusterClients, c: string, topic: string, partitions: number, body: Readable, reply: FastifyReply): FastifyReply => {
    const out = new PassThrough();
    const splitter = new ConcatenatedJsonSplitter(config.maxRequestBytes);
    // Reports in request order: slot i is filled when record i completes; the head is written as soon as it is filled.
    const slots: Array<string | undefined> = [];
    let head = 0;
    let inFlight = 0;
    let inputEnded = false;
    let ended = false;
    // Input is paused while the producer's buffer is full or the client does not read its reports.
    let waitingCapacity = false;
    let waitingDrain = false;
    const maybeResume = (): void => {
      if (!waitingCapacity && !waitingDrain && !inputEnded) body.resume();
    };
    // A client gone mid-stream: writes to the answer are dropped, never thrown.
    out.on('error', () => undefined);
    const flush = (): void => {
      while (head < slots.length && slots[head] !== undefined) {
        if (!out.destroyed && !out.write(`${slots[head]}\n`) && !waitingDrain) {
          waitingDrain = true;
          body.pause();
          out.once('drain', () => {
            waitingDrain = false;
            maybeResume();
          });
        }
        slots[head++] = undefined;
      }
      if (head > 1024 && head === slots.length) {
        slots.length = 0;
        head = 0;
      }
      if (inputEnded && inFlight === 0 && head === slots.length && !ended) {
        ended = true;
        out.end();
      }
    };
    const fail = (message: string): void => {
      // A broken stream: report it in order after what was sent, and read no further.
      slots.push(JSON.stringify({ error_code: 400, message }));
      inputEnded = true;
      body.removeAllListeners('data');
      body.resume();
      flush();
    };
    body.on('data', (chunk: Buffer) => {
      if (inputEnded) return;
      let texts: string[];
      try {
        texts = splitter.push(chunk);
      } catch (e) {
        fail(`malformed JSON: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      for (const text of texts) {
        const slot = slots.length;
        slots.push(undefined);
        let converted: ConvertedRecord;
        try {
          converted = convertV3Record(text, topic, partitions);
        } catch (e) {
          slots[slot] = RestError.from(e, 'v3').body();
          deps.countRecords('v3', 0, 1);
          continue;
        }
        inFlight++;
        const accepted = cl.producer.sendWithCallback(converted.record, (err, meta) => {
          inFlight--;
          deps.countRecords('v3', err === null ? 1 : 0, err === null ? 0 : 1);
          if (err !== null || meta === undefined) {
            const e = err ?? new Error('no delivery report');
            slots[slot] = JSON.stringify({ error_code: RestError.from(e, 'v3').status, message: errorMessage(e) });
          } else slots[slot] = report(c, topic, converted.record, meta.partition, Number(meta.offset), converted.sizes);
          flush();
        });
        if (!accepted && !waitingCapacity) {
          waitingCapacity = true;
          body.pause();
          void cl.producer.waitForCapacity().then(() => {
            waitingCapacity = false;
            maybeResume();
          });
        }
      }
      flush();
    });
    body.on('end', () => {
      if (!inputEnded && splitter.unfinished) {
        fail('malformed JSON: the stream ends inside a JSON object');
        return;
      }
      inputEnded = true;
      flush();
    });
    // The client aborted: what was read is still produced; nothing more is read.
    const aborted = (): void => {
      if (inputEnded) return;
      inputEnded = true;
      flush();
    };
    body.on('error', aborted);
    body.on('close', aborted);
    return reply.code(200).header('content-type', JSON_TYPE).send(out);
  };

  app.post<{ Params: TopicParams }>('/v3/clusters/:cluster/topics/:topic/records::batch', async (request, reply) => {
    const cl = request.clients;
    const c = await checkCluster(request.params.cluster);
    const { topic } = request.params;
    const body = readJson(request) as { entries?: unknown } | null;
    if (body === null || typeof body !== 'object' || !Array.isArray(body.entries)) throw new RestError(RestErrorCode.BAD_REQUEST, 'the body must be {"entries": [{"id": ..., "key": ..., "value": ...}, ...]}');
    const partitions = await topicExists(cl, topic);
    const entries = body.entries as unknown[];
    const ids = new Set<string>();
    const converted = entries.map((e, i) => {
      const id = (e as { id?: unknown } | null)?.id;
      if (typeof id !== 'string' || id === '' || id.length > 80) return { id: String(id ?? i), error: new RestError(RestErrorCode.BAD_REQUEST, 'each entry needs an "id": a string of 1 to 80 characters') };
      if (ids.has(id)) return { id, error: new RestError(RestErrorCode.BAD_REQUEST, `entry id '${id}' is used twice: ids must be unique in a batch`) };
      ids.add(id);
      try {
        return { id, record: convertV3Object(e, topic, partitions) };
      } catch (err) {
        return { id, error: RestError.from(err, 'v3') };
      }
    });
    const good = converted.filter((x): x is { id: string; record: ConvertedRecord } => 'record' in x && x.record !== undefined);
    const results = await v3(sendAll(cl.producer, topic, good.map((g) => g.record.record)));
    const successes: unknown[] = [];
    const failures: unknown[] = [];
    for (const x of converted) if ('error' in x && x.error !== undefined) failures.push({ id: x.id, error_code: x.error.status, message: x.error.message });
    good.forEach((g, j) => {
      const err = results.errors[j];
      if (err !== undefined) failures.push({ id: g.id, error_code: RestError.from(err, 'v3').status, message: errorMessage(err) });
      else successes.push({ id: g.id, ...(JSON.parse(report(c, topic, g.record.record, results.partitions[j]!, results.offsets[j]!, g.record.sizes)) as object) });
    });
    deps.countRecords('v3', successes.length, failures.length);
    return sendJson(reply, 207, { successes, failures });
  });

  // ---- stateless consume (beyond Confluent) ---------------------------------------------

  app.get<{ Params: PartitionParams; Querystring: Record<string, string | undefined> }>('/v3/clusters/:cluster/topics/:topic/partitions/:partition/records', async (request, reply) => {
    const cl = request.clients;
    const c = await checkCluster(request.params.cluster);
    const { topic } = request.params;
    const partition = parsePartitionParam(request.params.partition, topic, 'v3');
    await cl.view.checkPartition(topic, partition, 'v3');
    const q = request.query;
    const maxBytes = Math.max(1, Math.min(queryInteger(q.max_bytes, 'max_bytes', config.consumeMaxBytes), config.consumeMaxBytes));
    const timeoutMs = Math.min(queryInteger(q.timeout_ms ?? q.timeout, 'timeout_ms', config.consumeTimeoutMs), 60_000);
    const format = (q.format ?? 'BINARY').toUpperCase();
    if (format !== 'BINARY' && format !== 'JSON' && format !== 'STRING') throw new RestError(RestErrorCode.BAD_REQUEST, 'format must be BINARY, JSON or STRING');
    const [[start], [end]] = await Promise.all([v3(cl.admin.listOffsets(topic, 'earliest', [partition])), v3(cl.admin.listOffsets(topic, 'latest', [partition]))]);
    const logStart = start?.offset ?? 0n;
    const logEnd = end?.offset ?? 0n;
    const offset = q.offset === undefined || q.offset === '' ? logStart : BigInt(queryInteger(q.offset, 'offset', 0));
    if (offset < logStart || offset > logEnd) {
      throw new RestError(RestErrorCode.KAFKA_BAD_REQUEST, `offset ${offset} is out of range: partition ${partition} of '${topic}' has offsets ${logStart} to ${logEnd} (the next one written)`);
    }
    const data: unknown[] = [];
    let next = offset;
    if (offset < logEnd || timeoutMs > 0) {
      const consumer = cl.consumer({
        autoOffsetReset: 'none',
        fetchMaxBytes: maxBytes,
        maxPartitionFetchBytes: maxBytes,
        fetchMaxWaitMs: Math.min(timeoutMs, 500),
        requestTimeoutMs: config.requestTimeoutMs,
      });
      try {
        const tp = { topic, partition };
        consumer.assign([tp]);
        consumer.seek(tp, offset);
        const records = await v3(consumer.poll(timeoutMs));
        let bytes = 0;
        for (const r of records) {
          const size = (r.key?.length ?? 0) + (r.value?.length ?? 0);
          if (data.length > 0 && bytes + size > maxBytes) break;
          bytes += size;
          data.push({
            partition_id: r.partition,
            offset: Number(r.offset),
            timestamp: new Date(r.timestamp).toISOString(),
            key: encodeData(r.key, format),
            value: encodeData(r.value, format),
            headers: r.headers.map((h) => ({ name: h.key, value: h.value === null ? null : h.value.toString('base64') })),
          });
          next = r.offset + 1n;
        }
      } finally {
        await consumer.close().catch(() => undefined);
      }
    }
    return sendJson(reply, 200, {
      kind: 'KafkaRecordList',
      metadata: { self: url(c, 'topics', topic, 'partitions', partition, 'records'), next: null },
      cluster_id: c,
      topic_name: topic,
      partition_id: partition,
      next_offset: Number(next),
      data,
    });
  });
}

interface ReportSizes {
  /** `{"type":"JSON","size":7}` or `null`, as JSON text. */
  key: string;
  value: string;
}

interface ConvertedRecord {
  record: ProducerRecord;
  sizes: ReportSizes;
}

function convertV3Record(text: string, topic: string, partitions: number): ConvertedRecord {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new RestError(RestErrorCode.BAD_REQUEST, `malformed JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return convertV3Object(obj, topic, partitions);
}

/**
 * A v3 record `{partition_id?, headers?: [{name, value(base64)}], key?: {type, data},
 * value?: {type, data}, timestamp?}` → an SDK record. Type defaults to JSON.
 */
function convertV3Object(obj: unknown, topic: string, partitions: number): ConvertedRecord {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new RestError(RestErrorCode.BAD_REQUEST, 'a record must be a JSON object {"key": ..., "value": ...}');
  const r = obj as Record<string, unknown>;
  const key = v3Data(r.key, 'key');
  const value = v3Data(r.value, 'value');
  const record: ProducerRecord = { topic, key: key.bytes, value: value.bytes };
  if (r.partition_id !== undefined && r.partition_id !== null) {
    const p = r.partition_id;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0) throw unprocessable('partition_id must be a non-negative integer');
    if (p >= partitions) throw new RestError(RestErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${p} of topic '${topic}' not found: it has partitions 0 to ${partitions - 1}`);
    record.partition = p;
  }
  if (r.headers !== undefined && r.headers !== null) {
    if (!Array.isArray(r.headers)) throw unprocessable('headers must be a list of {"name": string, "value": base64 string or null}');
    record.headers = (r.headers as unknown[]).map((h) => {
      const e = h as { name?: unknown; value?: unknown } | null;
      if (typeof e?.name !== 'string') throw unprocessable('each header needs a "name" string');
      if (e.value !== null && e.value !== undefined && typeof e.value !== 'string') throw unprocessable(`header '${e.name}' value must be a base64 string or null`);
      return { key: e.name, value: typeof e.value === 'string' ? decodeBase64(e.value, `header '${e.name}'`) : null };
    });
  }
  record.timestamp = r.timestamp !== undefined && r.timestamp !== null ? parseTimestamp(r.timestamp, 'timestamp') : Date.now();
  return { record, sizes: { key: key.report, value: value.report } };
}

function v3Data(v: unknown, what: string): { bytes: Buffer | string | null; report: string } {
  if (v === undefined || v === null) return { bytes: null, report: 'null' };
  if (typeof v !== 'object' || Array.isArray(v)) throw unprocessable(`${what} must be an object {"type": "BINARY"|"JSON"|"STRING", "data": ...}`);
  const o = v as { type?: unknown; data?: unknown; schema_id?: unknown; schema_version?: unknown; subject?: unknown };
  if (o.schema_id !== undefined || o.schema_version !== undefined || o.subject !== undefined) {
    throw unprocessable(`${what}: schemas need a schema registry, which Tributary does not have; use type BINARY, JSON or STRING`);
  }
  const type = o.type === undefined ? 'JSON' : o.type;
  let bytes: Buffer | null;
  switch (type) {
    case 'BINARY':
      if (o.data === null || o.data === undefined) bytes = null;
      else if (typeof o.data !== 'string') throw unprocessable(`${what}.data must be a base64 string for type BINARY`);
      else bytes = decodeBase64(o.data, `${what}.data`);
      break;
    case 'JSON':
      bytes = o.data === undefined ? null : Buffer.from(JSON.stringify(o.data));
      break;
    case 'STRING':
      if (o.data === null || o.data === undefined) bytes = null;
      else if (typeof o.data !== 'string') throw unprocessable(`${what}.data must be a string for type STRING`);
      else bytes = Buffer.from(o.data);
      break;
    default:
      throw unprocessable(`${what}.type must be BINARY, JSON or STRING, not ${JSON.stringify(type)}`);
  }
  return { bytes, report: bytes === null ? 'null' : `{"type":"${type}","size":${bytes.length}}` };
}

function encodeData(b: Buffer | null, format: DataType): unknown {
  if (b === null) return null;
  switch (format) {
    case 'BINARY':
      return { type: 'BINARY', data: b.toString('base64') };
    case 'STRING':
      return { type: 'STRING', data: b.toString('utf8') };
    case 'JSON':
      try {
        return { type: 'JSON', data: JSON.parse(b.toString('utf8')) as unknown };
      } catch {
        // Not JSON: give it as base64 rather than fail the whole read.
        return { type: 'BINARY', data: b.toString('base64') };
      }
  }
}

function optionalInt(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new RestError(RestErrorCode.BAD_REQUEST, `${name} must be an integer`);
  // Kafka's -1: "the cluster default".
  return v === -1 ? undefined : v;
}

function configList(v: unknown, allowDelete = false): Array<{ name: string; value?: string; operation?: string }> {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new RestError(RestErrorCode.BAD_REQUEST, 'configs must be a list of {"name": ..., "value": ...}');
  return (v as unknown[]).map((e) => {
    const o = e as { name?: unknown; value?: unknown; operation?: unknown } | null;
    if (typeof o?.name !== 'string' || o.name === '') throw new RestError(RestErrorCode.BAD_REQUEST, 'each config needs a "name" string');
    const operation = typeof o.operation === 'string' ? o.operation.toUpperCase() : undefined;
    if (operation !== undefined && operation !== 'SET' && !(allowDelete && operation === 'DELETE')) throw new RestError(RestErrorCode.BAD_REQUEST, `config operation must be SET${allowDelete ? ' or DELETE' : ''}`);
    if (operation !== 'DELETE' && typeof o.value !== 'string') throw new RestError(RestErrorCode.BAD_REQUEST, `config '${o.name}' needs a string "value"`);
    return { name: o.name, value: typeof o.value === 'string' ? o.value : undefined, operation };
  });
}

