/**
 * Confluent REST Proxy API v2 consumer instances (`/consumers/{group}/...`): each instance is an
 * SDK group Consumer held by this proxy process (consumer-instances.ts).
 *
 * | request | answer |
 * |---|---|
 * | `POST /consumers/{g}` `{name?, format?, auto.offset.reset?, auto.commit.enable?, fetch.min.bytes?, consumer.request.timeout.ms?}` | `{instance_id, base_uri}` |
 * | `DELETE .../instances/{i}` | 204 (leaves the group) |
 * | `POST .../subscription` `{topics}` or `{topic_pattern}` | 204 |
 * | `GET .../subscription` / `DELETE` | `{topics}` / 204 |
 * | `POST .../assignments` `{partitions: [{topic, partition}]}` / `GET` | 204 / `{partitions}` |
 * | `POST .../positions` `{offsets: [{topic, partition, offset}]}` | 204 (seek) |
 * | `POST .../positions/beginning` / `end` `{partitions}` | 204 |
 * | `GET .../records?timeout=&max_bytes=` | `[{topic, key, value, partition, offset, headers, timestamp}]` |
 * | `POST .../offsets` `{offsets: [{topic, partition, offset, metadata?}]}` or no body | 200 (commit) |
 * | `GET .../offsets` with a body `{partitions}` | `{offsets: [{topic, partition, offset, metadata}]}` |
 *
 * As Confluent: an explicit commit names the offset of the last record PROCESSED (offset + 1
 * is committed); an empty commit commits the position after every record returned so far.
 * Beyond Confluent: records carry `headers` (`[{key, value}]`, values as strings in the json
 * format, base64 in the binary one) and `timestamp` (epoch ms).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConsumerRecord, TopicPartition } from '@tributary/client';
import { readBody } from './body';
import type { ConsumerInstance, ConsumerInstances, InstanceFormat, InstanceSettings } from './consumer-instances';
import { instanceNotFound, isLegalName } from './consumer-instances';
import type { RestProxyConfig } from './config';
import { RestError, RestErrorCode } from './errors';
import { JSON_TYPE, KAFKA_JSON, V2_BINARY_EMBEDDED, V2_JSON, V2_JSON_EMBEDDED, mediaType, negotiateV2 } from './media';
import { parseJsonBody, queryInteger, unprocessable } from './values';

export interface V2ConsumerDeps {
  instances: ConsumerInstances;
  config: RestProxyConfig;
  /** Base URL of `base_uri` (known once the server listens). */
  baseUrl: () => string;
}

type GroupParams = { group: string };
type InstanceParams = GroupParams & { instance: string };

const EMBEDDED_TYPES: Record<string, InstanceFormat | 'unsupported'> = {
  [V2_JSON_EMBEDDED]: 'json',
  [V2_BINARY_EMBEDDED]: 'binary',
  'application/vnd.kafka.avro.v2+json': 'unsupported',
  'application/vnd.kafka.protobuf.v2+json': 'unsupported',
  'application/vnd.kafka.jsonschema.v2+json': 'unsupported',
};

function send(reply: FastifyReply, request: FastifyRequest, status: number, body?: string): FastifyReply {
  const r = reply.code(status).header('content-type', negotiateV2(request.headers.accept));
  return body === undefined ? r.send() : r.send(Buffer.from(body));
}

export function registerV2Consumers(app: FastifyInstance, deps: V2ConsumerDeps): void {
  const { instances, config } = deps;
  const base = '/consumers/:group/instances/:instance';

  const accepts = async (request: FastifyRequest): Promise<void> => {
    negotiateV2(request.headers.accept);
  };
  /** The instance of the path, or 40403 (also for names that cannot be instances: '..', '/'...). */
  const instanceOf = (request: { params: InstanceParams; principal: string | undefined }): ConsumerInstance => {
    const { params } = request;
    if (!isLegalName(params.group) || !isLegalName(params.instance)) throw instanceNotFound(params.group, params.instance);
    const instance = instances.get(params.group, params.instance);
    // An instance belongs to the principal that created it (it reads with that user's rights).
    if (instance.owner !== request.principal) {
      throw new RestError(
        RestErrorCode.AUTHORIZATION_FAILED,
        `consumer instance '${params.instance}' of group '${params.group}' was created by another user: only its creator may use it (create your own with POST /consumers/{group})`,
      );
    }
    return instance;
  };
  /** Runs `fn` on the path's instance, after its earlier requests. */
  const onInstance = <T>(request: { params: InstanceParams; principal: string | undefined }, fn: (i: ConsumerInstance) => Promise<T>): Promise<T> => {
    const instance = instanceOf(request);
    return instance.exclusive(() =>
      fn(instance).catch((e: unknown) => {
        throw consumerError(e);
      }),
    );
  };

  app.post<{ Params: GroupParams }>('/consumers/:group', { onRequest: accepts }, async (request, reply) => {
    const { group } = request.params;
    if (!isLegalName(group)) {
      throw new RestError(RestErrorCode.NOT_FOUND, `'${group.slice(0, 256)}' cannot name a consumer group here: use 1 to 249 of the characters A-Z a-z 0-9 . _ - (not '.' or '..')`);
    }
    const body = readConsumerBody(request, true) ?? {};
    const { name, settings } = parseInstanceRequest(body, config);
    const instance = instances.create(group, name, settings, { owner: request.principal, security: request.clients.security });
    const baseUri = `${deps.baseUrl()}/consumers/${encodeURIComponent(group)}/instances/${encodeURIComponent(instance.name)}`;
    return send(reply, request, 200, JSON.stringify({ instance_id: instance.name, base_uri: baseUri }));
  });

  app.delete<{ Params: InstanceParams }>(base, { onRequest: accepts }, async (request, reply) => {
    instanceOf(request);
    await instances.delete(request.params.group, request.params.instance);
    return send(reply, request, 204);
  });

  // ---- subscription ---------------------------------------------------------------------

  app.post<{ Params: InstanceParams }>(`${base}/subscription`, { onRequest: accepts }, async (request, reply) => {
    const body = objectBody(readConsumerBody(request, false));
    await onInstance(request, async (instance) => {
      const hasTopics = body.topics !== undefined && body.topics !== null;
      const hasPattern = body.topic_pattern !== undefined && body.topic_pattern !== null;
      if (hasTopics && hasPattern) throw illegalState('Subscription to topics and to a topic pattern are mutually exclusive: give "topics" or "topic_pattern", not both');
      if (!hasTopics && !hasPattern) throw unprocessable('the body needs "topics" (a list of topic names) or "topic_pattern" (a regular expression)');
      if (instance.target.kind === 'assigned') throw illegalState('Subscription to topics, partitions and pattern are mutually exclusive: this instance has a manual assignment (DELETE .../subscription first)');
      if (hasTopics) {
        if (!Array.isArray(body.topics) || body.topics.length === 0 || !(body.topics as unknown[]).every((t) => typeof t === 'string' && t !== '')) {
          throw unprocessable('"topics" must be a non-empty list of topic names');
        }
        const topics = [...new Set(body.topics as string[])];
        instance.consumer.subscribe(topics);
        instance.target = { kind: 'topics', topics };
      } else {
        if (typeof body.topic_pattern !== 'string' || body.topic_pattern === '') throw unprocessable('"topic_pattern" must be a regular expression string');
        const unsafe = unsafePattern(body.topic_pattern);
        if (unsafe !== undefined) throw unprocessable(`"topic_pattern" ${unsafe}`);
        let pattern: RegExp;
        try {
          pattern = new RegExp(body.topic_pattern);
        } catch (e) {
          throw unprocessable(`"topic_pattern" is not a valid regular expression: ${e instanceof Error ? e.message : String(e)}`);
        }
        instance.consumer.subscribe(pattern);
        instance.target = { kind: 'pattern', pattern: body.topic_pattern };
      }
    });
    return send(reply, request, 204);
  });

  app.get<{ Params: InstanceParams }>(`${base}/subscription`, { onRequest: accepts }, async (request, reply) => {
    const topics = await onInstance(request, async (instance) => {
      const t = instance.target;
      if (t.kind === 'topics') return t.topics;
      if (t.kind === 'pattern') {
        // As Kafka's subscription(): every topic the pattern matches now (internal ones left out).
        const re = new RegExp(`^(?:${t.pattern})$`);
        return (await request.clients.admin.listTopics()).filter((topic) => !topic.startsWith('__') && re.test(topic)).sort();
      }
      return [];
    });
    return send(reply, request, 200, JSON.stringify({ topics }));
  });

  app.delete<{ Params: InstanceParams }>(`${base}/subscription`, { onRequest: accepts }, async (request, reply) => {
    await onInstance(request, async (instance) => {
      if (instance.target.kind === 'assigned') instance.consumer.assign([]);
      else if (instance.target.kind !== 'none') await instance.consumer.unsubscribe();
      instance.target = { kind: 'none' };
    });
    return send(reply, request, 204);
  });

  // ---- manual assignment ----------------------------------------------------------------

  app.post<{ Params: InstanceParams }>(`${base}/assignments`, { onRequest: accepts }, async (request, reply) => {
    const partitions = partitionList(objectBody(readConsumerBody(request, false)).partitions);
    await onInstance(request, async (instance) => {
      if (instance.target.kind === 'topics' || instance.target.kind === 'pattern') {
        throw illegalState('Subscription to topics, partitions and pattern are mutually exclusive: this instance is subscribed (DELETE .../subscription first)');
      }
      instance.consumer.assign(partitions);
      instance.target = partitions.length === 0 ? { kind: 'none' } : { kind: 'assigned', partitions };
    });
    return send(reply, request, 204);
  });

  app.get<{ Params: InstanceParams }>(`${base}/assignments`, { onRequest: accepts }, async (request, reply) => {
    const partitions = await onInstance(request, async (instance) => instance.consumer.assignment());
    return send(reply, request, 200, JSON.stringify({ partitions: partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition })) }));
  });

  // ---- positions ------------------------------------------------------------------------

  app.post<{ Params: InstanceParams }>(`${base}/positions`, { onRequest: accepts }, async (request, reply) => {
    const offsets = offsetList(objectBody(readConsumerBody(request, false)).offsets);
    await onInstance(request, async (instance) => {
      for (const o of offsets) seekChecked(instance, o, () => instance.consumer.seek(o, o.offset));
    });
    return send(reply, request, 204);
  });

  for (const end of ['beginning', 'end'] as const) {
    app.post<{ Params: InstanceParams }>(`${base}/positions/${end}`, { onRequest: accepts }, async (request, reply) => {
      const partitions = partitionList(objectBody(readConsumerBody(request, false)).partitions);
      await onInstance(request, async (instance) => {
        for (const tp of partitions) seekChecked(instance, tp, () => (end === 'beginning' ? instance.consumer.seekToBeginning([tp]) : instance.consumer.seekToEnd([tp])));
      });
      return send(reply, request, 204);
    });
  }

  // ---- records --------------------------------------------------------------------------

  app.get<{ Params: InstanceParams; Querystring: Record<string, string | undefined> }>(`${base}/records`, async (request, reply) => {
    const instance = instanceOf(request);
    const format = instance.settings.format;
    const contentType = recordsType(request.headers.accept, format);
    const maxBytes = Math.max(1, Math.min(queryInteger(request.query.max_bytes, 'max_bytes', config.consumerRequestMaxBytes), config.consumerRequestMaxBytes));
    const timeoutMs = Math.min(queryInteger(request.query.timeout, 'timeout', instance.settings.requestTimeoutMs), 60_000);
    const body = await onInstance(request, async (i) => recordsJson(await i.read(timeoutMs, maxBytes), format));
    return reply.code(200).header('content-type', contentType).send(Buffer.from(body));
  });

  // ---- offsets --------------------------------------------------------------------------

  app.post<{ Params: InstanceParams; Querystring: Record<string, string | undefined> }>(`${base}/offsets`, { onRequest: accepts }, async (request, reply) => {
    const raw = readConsumerBody(request, true);
    const offsets = raw === undefined ? undefined : objectBody(raw).offsets === undefined ? undefined : offsetList(objectBody(raw).offsets, true);
    const async = request.query.async === 'true';
    await onInstance(request, async (instance) => {
      // As Confluent: the client names the last record it processed; the next one is committed.
      const commit = offsets?.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset + 1n, metadata: o.metadata }));
      if (async) instance.consumer.commitAsync(commit);
      else await instance.consumer.commit(commit);
    });
    return send(reply, request, 200);
  });

  app.get<{ Params: InstanceParams }>(`${base}/offsets`, { onRequest: accepts }, async (request, reply) => {
    // A GET with a body, as Confluent's API has it: fastify does not read GET bodies, so read it here.
    const raw = await readBody(request.raw, config.maxRequestBytes);
    if (raw.length > 0) checkConsumerContentType(request.headers['content-type']);
    const partitions = partitionList(objectBody(raw.length === 0 ? undefined : parseJsonBody(raw)).partitions);
    const committed = await onInstance(request, async (instance) => instance.consumer.committed(partitions));
    const offsets = partitions.map((tp, i) => {
      const c = committed[i];
      return { topic: tp.topic, partition: tp.partition, offset: c === null || c === undefined ? -1 : Number(c.offset), metadata: c?.metadata ?? '' };
    });
    return send(reply, request, 200, JSON.stringify({ offsets }));
  });
}

/**
 * Why a topic pattern could take exponential time to match (a quantified group that itself
 * holds a quantifier, such as `(a+)+`: the pattern runs on the event loop against every topic
 * name at each metadata refresh), or undefined when it is safe. Also bounds its length.
 */
export function unsafePattern(source: string): string | undefined {
  if (source.length > 1000) return 'is longer than 1000 characters';
  // Per open group: does it hold a repetition, an alternation?
  const groups: Array<{ repeats: boolean; alternates: boolean }> = [];
  const markRepeats = (): void => {
    const top = groups[groups.length - 1];
    if (top !== undefined) top.repeats = true;
  };
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      continue;
    }
    if (ch === '[') inClass = true;
    else if (ch === '(') groups.push({ repeats: false, alternates: false });
    else if (ch === '|') {
      const top = groups[groups.length - 1];
      if (top !== undefined) top.alternates = true;
    } else if (ch === ')') {
      const group = groups.pop() ?? { repeats: false, alternates: false };
      const next = source[i + 1];
      const repeated = next === '*' || next === '+' || next === '{';
      if (repeated && (group.repeats || group.alternates)) {
        return `repeats a group that itself repeats or alternates (like (a+)+ or (a|a)*), which can take exponential time to match: write it without nested repetition`;
      }
      if (group.repeats || repeated) markRepeats();
    } else if (ch === '*' || ch === '+' || ch === '{') markRepeats();
  }
  return undefined;
}

/** Kafka's IllegalStateException in Confluent's form: 409 / 40903. */
function illegalState(message: string): RestError {
  return new RestError(RestErrorCode.ILLEGAL_STATE, `Illegal state: ${message}`);
}

/** SDK errors of consumer calls: a RangeError there is a call the instance's state does not allow. */
function consumerError(e: unknown): RestError {
  if (e instanceof RestError) return e;
  if (e instanceof RangeError) return illegalState(e.message);
  return RestError.from(e, 'v2');
}

function seekChecked(instance: ConsumerInstance, tp: TopicPartition, seek: () => void): void {
  if (!instance.consumer.assignment().some((a) => a.topic === tp.topic && a.partition === tp.partition)) {
    throw illegalState(`No current assignment for partition ${tp.topic}-${tp.partition}: this instance reads ${describeAssignment(instance)}`);
  }
  seek();
}

function describeAssignment(instance: ConsumerInstance): string {
  const a = instance.consumer.assignment();
  return a.length === 0 ? 'no partition (yet: a subscription is assigned at the first records request)' : a.map((tp) => `${tp.topic}-${tp.partition}`).join(', ');
}

/** Consumer requests take the v2 types (as Confluent: vnd.kafka.v2+json, vnd.kafka+json, json). */
function checkConsumerContentType(contentType: string | undefined): void {
  const type = mediaType(contentType);
  if (type !== V2_JSON && type !== KAFKA_JSON && type !== JSON_TYPE) {
    throw new RestError(RestErrorCode.UNSUPPORTED_MEDIA_TYPE, `HTTP 415 Unsupported Media Type: ${type === '' ? 'no Content-Type' : `Content-Type ${type}`}; consumer requests take ${V2_JSON}`);
  }
}

/** The parsed JSON body; undefined when there is none and `optional`. */
function readConsumerBody(request: FastifyRequest, optional: boolean): unknown {
  const raw = request.body;
  const empty = raw === undefined || raw === null || (Buffer.isBuffer(raw) && raw.length === 0);
  if (empty && optional) return undefined;
  checkConsumerContentType(request.headers['content-type']);
  return parseJsonBody(raw);
}

function objectBody(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v)) throw unprocessable('the body must be a JSON object');
  return v as Record<string, unknown>;
}

function partitionList(v: unknown): TopicPartition[] {
  if (!Array.isArray(v)) throw unprocessable('"partitions" must be a list of {"topic": string, "partition": integer}');
  return (v as unknown[]).map((e, i) => {
    const o = e as { topic?: unknown; partition?: unknown } | null;
    if (typeof o?.topic !== 'string' || o.topic === '') throw unprocessable(`partitions[${i}].topic must be a topic name`);
    if (typeof o.partition !== 'number' || !Number.isInteger(o.partition) || o.partition < 0 || o.partition > 2_147_483_647) throw unprocessable(`partitions[${i}].partition must be a non-negative integer`);
    return { topic: o.topic, partition: o.partition };
  });
}

interface OffsetEntry extends TopicPartition {
  offset: bigint;
  metadata?: string;
}

function offsetList(v: unknown, withMetadata = false): OffsetEntry[] {
  if (!Array.isArray(v)) throw unprocessable('"offsets" must be a list of {"topic": string, "partition": integer, "offset": integer}');
  return (v as unknown[]).map((e, i) => {
    const o = e as { topic?: unknown; partition?: unknown; offset?: unknown; metadata?: unknown } | null;
    if (typeof o?.topic !== 'string' || o.topic === '') throw unprocessable(`offsets[${i}].topic must be a topic name`);
    if (typeof o.partition !== 'number' || !Number.isInteger(o.partition) || o.partition < 0 || o.partition > 2_147_483_647) throw unprocessable(`offsets[${i}].partition must be a non-negative integer`);
    if (typeof o.offset !== 'number' || !Number.isSafeInteger(o.offset) || o.offset < 0) throw unprocessable(`offsets[${i}].offset must be a non-negative integer`);
    if (o.metadata !== undefined && o.metadata !== null && (!withMetadata || typeof o.metadata !== 'string')) throw unprocessable(`offsets[${i}].metadata must be a string`);
    const entry: OffsetEntry = { topic: o.topic, partition: o.partition, offset: BigInt(o.offset) };
    if (typeof o.metadata === 'string') entry.metadata = o.metadata;
    return entry;
  });
}

/** `{name?, format?, auto.offset.reset?, auto.commit.enable?, fetch.min.bytes?, consumer.request.timeout.ms?}`; 42204 for a bad value. */
function parseInstanceRequest(v: unknown, config: RestProxyConfig): { name: string | undefined; settings: InstanceSettings } {
  const body = objectBody(v);
  const bad = (message: string): RestError => new RestError(RestErrorCode.INVALID_CONSUMER_CONFIG, `Invalid consumer configuration: ${message}`);
  let name: string | undefined;
  if (body.name !== undefined && body.name !== null) {
    if (typeof body.name !== 'string' || !isLegalName(body.name)) throw bad('"name" must be 1 to 249 of the characters A-Z a-z 0-9 . _ - (not "." or "..")');
    name = body.name;
  }
  const format = body.format === undefined || body.format === null ? 'binary' : body.format;
  if (format === 'avro' || format === 'protobuf' || format === 'jsonschema') throw bad(`format ${format} needs a schema registry, which Tributary does not have: use "json" or "binary"`);
  if (format !== 'json' && format !== 'binary') throw bad('"format" must be "json" or "binary"');
  const reset = body['auto.offset.reset'] ?? 'latest';
  const autoOffsetReset = reset === 'smallest' ? 'earliest' : reset === 'largest' ? 'latest' : reset;
  if (autoOffsetReset !== 'earliest' && autoOffsetReset !== 'latest' && autoOffsetReset !== 'none') throw bad('"auto.offset.reset" must be "earliest", "latest" or "none"');
  const commit = body['auto.commit.enable'] ?? 'true';
  if (commit !== true && commit !== false && commit !== 'true' && commit !== 'false') throw bad('"auto.commit.enable" must be "true" or "false"');
  const integer = (key: string, dflt: number, min: number, max: number): number => {
    const raw = body[key];
    if (raw === undefined || raw === null) return dflt;
    const n = typeof raw === 'string' && /^-?[0-9]{1,12}$/.test(raw) ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw bad(`"${key}" must be an integer from ${min} to ${max}`);
    return n;
  };
  return {
    name,
    settings: {
      format,
      autoOffsetReset,
      autoCommit: commit === true || commit === 'true',
      responseMinBytes: integer('fetch.min.bytes', -1, -1, config.consumerRequestMaxBytes),
      requestTimeoutMs: integer('consumer.request.timeout.ms', config.consumerRequestTimeoutMs, 0, 60_000),
    },
  };
}

/**
 * The records response's type for an Accept header: the instance's embedded type when Accept
 * allows it (or names no embedded type: a generic v2 type, JSON or a wildcard); 406 / 40601
 * when it names only another embedded format.
 */
function recordsType(accept: string | undefined, format: InstanceFormat): string {
  const mine = format === 'json' ? V2_JSON_EMBEDDED : V2_BINARY_EMBEDDED;
  if (accept === undefined || accept === '') return mine;
  let other = false;
  let generic = false;
  for (const part of accept.split(',')) {
    const type = mediaType(part);
    if (type === mine) return mine;
    const embedded = EMBEDDED_TYPES[type];
    if (embedded !== undefined) other = true;
    else if (type === V2_JSON || type === KAFKA_JSON || type === JSON_TYPE || type === '*/*' || type === 'application/*') generic = true;
  }
  if (other && !generic) {
    throw new RestError(
      RestErrorCode.CONSUMER_FORMAT_MISMATCH,
      `The requested embedded data format does not match the deserializer for this consumer instance: it was created with format "${format}", so ask for Accept: ${mine}`,
    );
  }
  if (!generic) throw new RestError(RestErrorCode.NOT_ACCEPTABLE, `HTTP 406 Not Acceptable: records of this instance are ${mine}, which the Accept header does not allow`);
  return mine;
}

/** The records list; json format: key and value parsed (a record that is not JSON gives its text as a string). */
function recordsJson(records: readonly ConsumerRecord[], format: InstanceFormat): string {
  const data = (b: Buffer | null): string => {
    if (b === null) return 'null';
    if (format === 'binary') return `"${b.toString('base64')}"`;
    const text = b.toString('utf8');
    try {
      JSON.parse(text);
      return text;
    } catch {
      return JSON.stringify(text);
    }
  };
  const header = (b: Buffer | null): string => (b === null ? 'null' : format === 'binary' ? `"${b.toString('base64')}"` : JSON.stringify(b.toString('utf8')));
  let out = '[';
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (i > 0) out += ',';
    out += `{"topic":${JSON.stringify(r.topic)},"key":${data(r.key)},"value":${data(r.value)},"partition":${r.partition},"offset":${r.offset},"headers":[`;
    for (let h = 0; h < r.headers.length; h++) {
      const hd = r.headers[h]!;
      if (h > 0) out += ',';
      out += `{"key":${JSON.stringify(hd.key)},"value":${header(hd.value)}}`;
    }
    out += `],"timestamp":${r.timestamp}}`;
  }
  return out + ']';
}
