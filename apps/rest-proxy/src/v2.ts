/**
 * Confluent REST Proxy API v2: topic and broker metadata, and produce (embedded formats json
 * and binary). Beyond Confluent: records may carry `headers` and `timestamp`.
 *
 * Produce body: `{"records":[{"key":K,"value":V,"partition":P,"headers":H,"timestamp":T}]}`
 * - json format: K and V are any JSON value, sent as their JSON text (null/absent: none);
 * - binary format: K and V are base64 strings (null/absent: none);
 * - `partition` (optional) an integer; `POST /topics/{t}/partitions/{p}` sets it for all;
 * - `headers` (optional): `{"name": "value", ...}` or `[{"key"|"name": "n", "value": "v"}]`
 *   with string values (base64 in the binary format) or null;
 * - `timestamp` (optional): epoch milliseconds or an ISO-8601 date.
 * Answer: `{"key_schema_id":null,"value_schema_id":null,"offsets":[{"partition","offset",
 * "error_code","error"}]}`, one entry per record in order; `error_code` 1 (fails again if
 * retried) or 2 (retriable) for a record that was not written.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ProducerRecord } from '@tributary/client';
import type { ClusterClients } from './cluster-clients';
import { RestError, RestErrorCode, isAuthorizationError, produceErrorCode } from './errors';
import type { EmbeddedFormat } from './media';
import { negotiateV2, v2EmbeddedFormat } from './media';
import { errorMessage, sendAll } from './produce';
import { decodeBase64, parseJsonBody, parsePartitionParam, parseTimestamp, unprocessable } from './values';

export interface V2Deps {
  /** Counts records produced (acknowledged) and failed. */
  countRecords: (api: 'v2', ok: number, failed: number) => void;
}

type Params = { topic: string; partition: string };

/** Sends `body` as bytes: fastify would append `; charset=utf-8` to a string's type, Confluent does not. */
function send(reply: FastifyReply, request: FastifyRequest, status: number, body: string): FastifyReply {
  return reply.code(status).header('content-type', negotiateV2(request.headers.accept)).send(Buffer.from(body));
}

export function registerV2(app: FastifyInstance, deps: V2Deps): void {
  // Each request calls the cluster with its own clients (request.clients: its user's with
  // Basic authentication, else the proxy's).
  // Negotiate before any work: a 406 must not depend on whether the topic exists.
  const accepts = async (request: FastifyRequest): Promise<void> => {
    negotiateV2(request.headers.accept);
  };

  app.get('/topics', { onRequest: accepts }, async (request, reply) => send(reply, request, 200, JSON.stringify(await request.clients.admin.listTopics())));

  app.get<{ Params: Params }>('/topics/:topic', { onRequest: accepts }, async (request, reply) => {
    const { topic } = request.params;
    const { view, admin } = request.clients;
    await view.partitionCount(topic, 'v2');
    const [[info], [configs]] = await Promise.all([admin.describeTopics([topic]), admin.describeConfigs([topic])]).catch((e: unknown) => {
      throw RestError.from(e, 'v2');
    });
    if (info === undefined) throw new RestError(RestErrorCode.TOPIC_NOT_FOUND, `topic '${topic}' not found`);
    const configMap: Record<string, string> = {};
    for (const e of configs?.entries ?? []) configMap[e.name] = e.value;
    return send(reply, request, 200, JSON.stringify({ name: topic, configs: configMap, partitions: info.partitions.map(partitionJson) }));
  });

  app.get<{ Params: Params }>('/topics/:topic/partitions', { onRequest: accepts }, async (request, reply) => {
    const info = await describeTopic(request.clients, request.params.topic);
    return send(reply, request, 200, JSON.stringify(info.partitions.map(partitionJson)));
  });

  app.get<{ Params: Params }>('/topics/:topic/partitions/:partition', { onRequest: accepts }, async (request, reply) => {
    const { topic } = request.params;
    const partition = parsePartitionParam(request.params.partition, topic, 'v2');
    await request.clients.view.checkPartition(topic, partition, 'v2');
    const info = await describeTopic(request.clients, topic);
    const p = info.partitions.find((x) => x.partition === partition);
    if (p === undefined) throw new RestError(RestErrorCode.PARTITION_NOT_FOUND, `partition ${partition} of topic '${topic}' not found`);
    return send(reply, request, 200, JSON.stringify(partitionJson(p)));
  });

  app.get<{ Params: Params }>('/topics/:topic/partitions/:partition/offsets', { onRequest: accepts }, async (request, reply) => {
    const { topic } = request.params;
    const partition = parsePartitionParam(request.params.partition, topic, 'v2');
    const { view, admin } = request.clients;
    await view.checkPartition(topic, partition, 'v2');
    const [[begin], [end]] = await Promise.all([admin.listOffsets(topic, 'earliest', [partition]), admin.listOffsets(topic, 'latest', [partition])]).catch((e: unknown) => {
      throw RestError.from(e, 'v2');
    });
    return send(reply, request, 200, `{"beginning_offset":${begin?.offset ?? 0},"end_offset":${end?.offset ?? 0}}`);
  });

  app.get('/brokers', { onRequest: accepts }, async (request, reply) => {
    const cluster = await request.clients.admin.describeCluster().catch((e: unknown) => {
      throw RestError.from(e, 'v2');
    });
    return send(reply, request, 200, JSON.stringify({ brokers: cluster.brokers.map((b) => b.id).sort((a, b) => a - b) }));
  });

  const produce = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, partition: number | undefined): Promise<FastifyReply> => {
    const format = v2EmbeddedFormat(request.headers['content-type']);
    const { topic } = request.params;
    const records = parseV2Records(request.body, topic, format, partition);
    const { view, producer } = request.clients;
    const count = await view.partitionCount(topic, 'v2');
    let highest = -1;
    for (const r of records) if (r.partition !== undefined && r.partition > highest) highest = r.partition;
    if (highest >= count) await view.checkPartition(topic, highest, 'v2');
    const results = await sendAll(producer, topic, records).catch((e: unknown) => {
      throw RestError.from(e, 'v2');
    });
    deps.countRecords('v2', results.count - results.failed, results.failed);
    let body = '{"key_schema_id":null,"value_schema_id":null,"offsets":[';
    for (let i = 0; i < results.count; i++) {
      if (i > 0) body += ',';
      const err = results.errors[i];
      if (err === undefined) body += `{"partition":${results.partitions[i]},"offset":${results.offsets[i]},"error_code":null,"error":null}`;
      else {
        const p = results.partitions[i]!;
        body += `{"partition":${p < 0 ? 'null' : p},"offset":null,"error_code":${produceErrorCode(err)},"error":${JSON.stringify(errorMessage(err))}}`;
      }
    }
    body += ']}';
    // Every record refused for want of an ACL: the request as a whole is 403 / 40301 (the
    // per-record codes say so too when only some are).
    if (allRefused(results)) {
      throw new RestError(RestErrorCode.AUTHORIZATION_FAILED, `Not authorized to write to topic '${topic}': ${errorMessage(results.errors[0]!)}`);
    }
    return send(reply, request, 200, body);
  };

  app.post<{ Params: Params }>('/topics/:topic', { onRequest: accepts }, (request, reply) => produce(request, reply, undefined));
  app.post<{ Params: Params }>('/topics/:topic/partitions/:partition', { onRequest: accepts }, async (request, reply) => {
    const partition = parsePartitionParam(request.params.partition, request.params.topic, 'v2');
    await request.clients.view.checkPartition(request.params.topic, partition, 'v2');
    return produce(request, reply, partition);
  });

  async function describeTopic({ view, admin }: ClusterClients, topic: string): Promise<{ partitions: Array<{ partition: number; leader: number; replicas: number[]; isr: number[] }> }> {
    await view.partitionCount(topic, 'v2');
    const [info] = await admin.describeTopics([topic]).catch((e: unknown) => {
      throw RestError.from(e, 'v2');
    });
    if (info === undefined) throw new RestError(RestErrorCode.TOPIC_NOT_FOUND, `topic '${topic}' not found`);
    return info;
  }
}

/** True when every record failed for want of an ACL. */
function allRefused(results: { count: number; failed: number; errors: Array<Error | undefined> }): boolean {
  if (results.count === 0 || results.failed !== results.count) return false;
  for (let i = 0; i < results.count; i++) if (!isAuthorizationError(results.errors[i])) return false;
  return true;
}

/** Confluent's partition object: leader and each replica with its leader / in-sync flags. */
function partitionJson(p: { partition: number; leader: number; replicas: number[]; isr: number[] }): unknown {
  return {
    partition: p.partition,
    leader: p.leader,
    replicas: p.replicas.map((broker) => ({ broker, leader: broker === p.leader, in_sync: p.isr.includes(broker) })),
  };
}

/**
 * Validates and converts a v2 produce body into SDK records (the whole request fails with
 * 400/422 on the first bad record: nothing is sent).
 */
export function parseV2Records(rawBody: unknown, topic: string, format: EmbeddedFormat, fixedPartition: number | undefined): ProducerRecord[] {
  const body = parseJsonBody(rawBody) as { records?: unknown } | null;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw unprocessable('the body must be a JSON object with a "records" array');
  const list = body.records;
  if (!Array.isArray(list)) throw unprocessable('"records" must be an array of {key, value, partition, headers, timestamp} objects');
  const out = new Array<ProducerRecord>(list.length);
  for (let i = 0; i < list.length; i++) {
    const r = list[i] as Record<string, unknown> | null;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw unprocessable(`records[${i}] must be an object with key, value, partition, headers, timestamp`);
    const record: ProducerRecord = { topic, key: embedded(r.key, format, i, 'key'), value: embedded(r.value, format, i, 'value') };
    if (fixedPartition !== undefined) record.partition = fixedPartition;
    else if (r.partition !== undefined && r.partition !== null) {
      if (typeof r.partition !== 'number' || !Number.isInteger(r.partition) || r.partition < 0) throw unprocessable(`records[${i}].partition must be a non-negative integer`);
      record.partition = r.partition;
    }
    if (r.headers !== undefined && r.headers !== null) record.headers = v2Headers(r.headers, format, i);
    if (r.timestamp !== undefined && r.timestamp !== null) record.timestamp = parseTimestamp(r.timestamp, `records[${i}].timestamp`);
    out[i] = record;
  }
  return out;
}

function embedded(v: unknown, format: EmbeddedFormat, i: number, what: 'key' | 'value'): Buffer | string | null {
  if (v === undefined || v === null) return null;
  if (format === 'json') return JSON.stringify(v);
  if (typeof v !== 'string') throw unprocessable(`records[${i}].${what} must be a base64 string in the binary format (or null)`);
  return decodeBase64(v, `records[${i}].${what}`);
}

function v2Headers(h: unknown, format: EmbeddedFormat, i: number): Array<{ key: string; value: Buffer | string | null }> {
  const out: Array<{ key: string; value: Buffer | string | null }> = [];
  const value = (v: unknown, name: string): Buffer | string | null => {
    if (v === null || v === undefined) return null;
    if (typeof v !== 'string') throw unprocessable(`records[${i}].headers['${name}'] must be a string or null`);
    return format === 'binary' ? decodeBase64(v, `records[${i}].headers['${name}']`) : v;
  };
  if (Array.isArray(h)) {
    for (const e of h as unknown[]) {
      const entry = e as { key?: unknown; name?: unknown; value?: unknown } | null;
      const name = entry?.key ?? entry?.name;
      if (typeof name !== 'string') throw unprocessable(`records[${i}].headers entries must be {"key": string, "value": string|null}`);
      out.push({ key: name, value: value(entry?.value, name) });
    }
  } else if (typeof h === 'object' && h !== null) {
    for (const [name, v] of Object.entries(h)) out.push({ key: name, value: value(v, name) });
  } else throw unprocessable(`records[${i}].headers must be an object or a list of {key, value}`);
  return out;
}
