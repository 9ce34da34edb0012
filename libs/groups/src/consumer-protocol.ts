/**
 * Kafka's ConsumerProtocol: the bytes consumers put in JoinGroup's protocol metadata
 * (a subscription) and the leader puts in SyncGroup's assignments (an assignment), so that
 * any Kafka-style consumer and assignor reads them. Byte for byte Kafka's
 * ConsumerProtocolSubscription.json and ConsumerProtocolAssignment.json (versions 0-3, not
 * flexible), each preceded by its int16 version:
 *
 *   Subscription =>
 *     version            int16
 *     topics             [string]
 *     user_data          nullable bytes
 *     owned_partitions   [topic string, partitions [int32]]     v1+
 *     generation_id      int32 (default -1)                     v2+
 *     rack_id            nullable string (default null)         v3+ (KIP-881)
 *
 *   Assignment =>
 *     version            int16
 *     assigned_partitions [topic string, partitions [int32]]
 *     user_data          nullable bytes
 *     (versions 1-3 only mark what the matching subscription version carries)
 *
 * As in Kafka's ConsumerProtocol, a version above the highest known (3) is parsed with the
 * version-3 layout and bytes after the known fields are ignored (newer versions only append
 * fields); a negative version, or bytes that end early, are malformed: GroupCodecError with
 * INVALID_REQUEST. `userData` of a decoded message is a view of the input buffer.
 */
import { ErrorCode } from '@tributary/records';
import { ByteReader, ByteWriter, bytesSize, stringSize } from './codec';

/** Highest ConsumerProtocol version this codec knows, and the one it writes by default. */
export const CONSUMER_PROTOCOL_VERSION = 3;

/** The protocol type of consumer groups in JoinGroup. */
export const CONSUMER_PROTOCOL_TYPE = 'consumer';

/** Partitions of one topic, as both formats carry them. */
export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export interface Subscription {
  /** The version the bytes carry (decoding) or to write (encoding; default 3). */
  version?: number;
  /** Subscribed topic names. */
  topics: string[];
  /** Assignor-specific data, null when none. */
  userData: Buffer | null;
  /** Partitions the member owns now (cooperative rebalancing, KIP-429); v1+. */
  ownedPartitions: TopicPartitions[];
  /** The generation the owned partitions belong to, -1 when unknown; v2+. */
  generationId: number;
  /** The member's client.rack, null when not set; v3+. */
  rackId: string | null;
}

export interface Assignment {
  /** The version the bytes carry (decoding) or to write (encoding; default 3). */
  version?: number;
  /** Partitions assigned to the member, by topic. */
  partitions: TopicPartitions[];
  /** Assignor-specific data, null when none. */
  userData: Buffer | null;
}

function checkWriteVersion(version: number, what: string): void {
  if (!Number.isInteger(version) || version < 0 || version > CONSUMER_PROTOCOL_VERSION) {
    throw new RangeError(`${what} version must be 0-${CONSUMER_PROTOCOL_VERSION}, got ${version}`);
  }
}

function topicPartitionsSize(list: TopicPartitions[]): number {
  let size = 4;
  for (const tp of list) size += stringSize(tp.topic) + 4 + 4 * tp.partitions.length;
  return size;
}

function writeTopicPartitions(w: ByteWriter, list: TopicPartitions[], field: string): void {
  w.int32(list.length);
  for (const tp of list) {
    w.string(tp.topic, `${field} topic`);
    w.int32(tp.partitions.length);
    for (const p of tp.partitions) w.int32(p);
  }
}

function readTopicPartitions(r: ByteReader, field: string): TopicPartitions[] {
  // Each element: a topic string (2 bytes at least) and a partition count (4).
  const n = r.arrayLength(field, 6);
  const out: TopicPartitions[] = new Array<TopicPartitions>(n);
  for (let i = 0; i < n; i++) {
    const topic = r.string(`${field} topic`);
    out[i] = { topic, partitions: r.int32Array(`${field} partitions`) };
  }
  return out;
}

function readVersion(r: ByteReader): number {
  const version = r.int16('version');
  if (version < 0) r.fail(`unsupported version ${version}`);
  return version;
}

/** Encodes a subscription as JoinGroup protocol metadata. */
export function encodeSubscription(s: Subscription): Buffer {
  const version = s.version ?? CONSUMER_PROTOCOL_VERSION;
  checkWriteVersion(version, 'ConsumerProtocolSubscription');
  let size = 2 + 4 + bytesSize(s.userData);
  for (const t of s.topics) size += stringSize(t);
  if (version >= 1) size += topicPartitionsSize(s.ownedPartitions);
  if (version >= 2) size += 4;
  if (version >= 3) size += stringSize(s.rackId);
  const w = new ByteWriter(size);
  w.int16(version).int32(s.topics.length);
  for (const t of s.topics) w.string(t, 'topic');
  w.bytes(s.userData);
  if (version >= 1) writeTopicPartitions(w, s.ownedPartitions, 'owned partition');
  if (version >= 2) w.int32(s.generationId);
  if (version >= 3) w.string(s.rackId, 'rack id');
  return w.finish();
}

/** Decodes JoinGroup protocol metadata of a consumer. Throws GroupCodecError (INVALID_REQUEST). */
export function decodeSubscription(buf: Buffer): Subscription {
  const r = new ByteReader(buf, 'ConsumerProtocolSubscription', ErrorCode.INVALID_REQUEST);
  const version = readVersion(r);
  const n = r.arrayLength('topics', 2);
  const topics = new Array<string>(n);
  for (let i = 0; i < n; i++) topics[i] = r.string('topic');
  const userData = r.nullableBytes('user data');
  const ownedPartitions = version >= 1 ? readTopicPartitions(r, 'owned partitions') : [];
  const generationId = version >= 2 ? r.int32('generation id') : -1;
  const rackId = version >= 3 ? r.nullableString('rack id') : null;
  return { version, topics, userData, ownedPartitions, generationId, rackId };
}

/** Encodes an assignment as a SyncGroup assignment. */
export function encodeAssignment(a: Assignment): Buffer {
  const version = a.version ?? CONSUMER_PROTOCOL_VERSION;
  checkWriteVersion(version, 'ConsumerProtocolAssignment');
  const w = new ByteWriter(2 + topicPartitionsSize(a.partitions) + bytesSize(a.userData));
  w.int16(version);
  writeTopicPartitions(w, a.partitions, 'assigned partition');
  w.bytes(a.userData);
  return w.finish();
}

/**
 * Decodes a SyncGroup assignment of a consumer. Empty bytes (a member the leader gave
 * nothing, as Kafka's coordinator sends) decode as an empty assignment. Throws
 * GroupCodecError (INVALID_REQUEST).
 */
export function decodeAssignment(buf: Buffer): Assignment {
  if (buf.length === 0) return { version: 0, partitions: [], userData: null };
  const r = new ByteReader(buf, 'ConsumerProtocolAssignment', ErrorCode.INVALID_REQUEST);
  const version = readVersion(r);
  const partitions = readTopicPartitions(r, 'assigned partitions');
  const userData = r.nullableBytes('user data');
  return { version, partitions, userData };
}
