/**
 * The records of the compacted internal topic `__consumer_offsets`, byte for byte Kafka's
 * (GroupMetadataManager / GroupCoordinatorRecordSerde; message specs OffsetCommitKey.json,
 * OffsetCommitValue.json, GroupMetadataKey.json, GroupMetadataValue.json). Key and value each
 * start with an int16 version; the key's version says which record it is:
 *
 *   key version 0 or 1: an offset commit      key version 2: a group's metadata
 *     group      string                         group   string
 *     topic      string
 *     partition  int32
 *
 *   OffsetCommitValue (versions 0-3)
 *     offset            int64
 *     leader_epoch      int32            v3 only (-1: unknown)
 *     metadata          string
 *     commit_timestamp  int64
 *     expire_timestamp  int64            v1 only (-1: none)
 *
 *   GroupMetadataValue (versions 0-3)
 *     protocol_type           string
 *     generation              int32
 *     protocol                nullable string
 *     leader                  nullable string
 *     current_state_timestamp int64      v2+ (-1: unknown)
 *     members [
 *       member_id          string
 *       group_instance_id  nullable string   v3+
 *       client_id          string
 *       client_host        string
 *       rebalance_timeout  int32             v1+
 *       session_timeout    int32
 *       subscription       bytes
 *       assignment         bytes ]
 *
 * A null value is a tombstone: the offset was deleted (expired, DeleteGroups, OffsetDelete)
 * or the group is gone; compaction drops it after delete.retention.ms. Kafka writes offset
 * values at version 1 when an expire timestamp is set and 3 otherwise, and group values at
 * version 3; these encoders do the same unless told a version. Keys of other versions (the
 * KIP-848 consumer-group records, share groups, ...) decode as `{ kind: 'unknown' }` for the
 * loader to skip; a value version this codec does not know, or bytes that end early, throw
 * GroupCodecError with CORRUPT_MESSAGE. Bytes fields of decoded values are views of the input.
 */
import { ErrorCode } from '@tributary/records';
import { ByteReader, ByteWriter, bytesSize, stringSize } from './codec';

/** Kafka's internal topic of committed offsets and group metadata. */
export const CONSUMER_OFFSETS_TOPIC = '__consumer_offsets';

/** Key version Kafka writes for offset commits (0 is read too: same layout). */
export const OFFSET_COMMIT_KEY_VERSION = 1;
/** Key version of group metadata records. */
export const GROUP_METADATA_KEY_VERSION = 2;

export type OffsetsRecordKey =
  | { kind: 'offsetCommit'; version: number; group: string; topic: string; partition: number }
  | { kind: 'groupMetadata'; version: number; group: string }
  /** A record type this codec does not know (a newer coordinator's): skip it. */
  | { kind: 'unknown'; version: number };

export interface OffsetCommitValue {
  /** The version the bytes carry (decoding) or to write (encoding; default 1 or 3, as Kafka). */
  version?: number;
  /** The committed offset: the next record the group will read. */
  offset: bigint;
  /** Leader epoch of the last consumed record, -1 when unknown (stored from v3). */
  leaderEpoch: number;
  /** The commit's free-form metadata. */
  metadata: string;
  /** When the commit was made, ms since the epoch. */
  commitTimestampMs: number;
  /** When the offset expires, ms since the epoch, -1 for none (stored in v1 only). */
  expireTimestampMs: number;
}

export interface GroupMemberMetadata {
  memberId: string;
  /** group.instance.id of a static member, null for a dynamic one (stored from v3). */
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** The member's rebalance timeout in ms (stored from v1; v0 decodes it as the session timeout, as Kafka). */
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** Its JoinGroup metadata for the group's protocol. */
  subscription: Buffer;
  /** Its SyncGroup assignment. */
  assignment: Buffer;
}

export interface GroupMetadataValue {
  /** The version the bytes carry (decoding) or to write (encoding; default 3). */
  version?: number;
  /** "consumer" for consumer groups; empty for a group with only committed offsets. */
  protocolType: string;
  generation: number;
  /** The chosen protocol (assignor), null while there is none (an Empty group). */
  protocol: string | null;
  /** The leader's member id, null when there is none. */
  leader: string | null;
  /** When the group last changed state, ms since the epoch, -1 when unknown (stored from v2). */
  currentStateTimestampMs: number;
  members: GroupMemberMetadata[];
}

const HIGHEST_OFFSET_COMMIT_VALUE_VERSION = 3;
const HIGHEST_GROUP_METADATA_VALUE_VERSION = 3;

function corrupt(buf: Buffer, what: string): ByteReader {
  return new ByteReader(buf, what, ErrorCode.CORRUPT_MESSAGE);
}

function checkWriteVersion(version: number, highest: number, what: string): void {
  if (!Number.isInteger(version) || version < 0 || version > highest) {
    throw new RangeError(`${what} version must be 0-${highest}, got ${version}`);
  }
}

// ---------------------------------------------------------------------------------------
// Keys

/** The key of an offset commit of `group` for `topic`-`partition`. */
export function encodeOffsetCommitKey(group: string, topic: string, partition: number, version = OFFSET_COMMIT_KEY_VERSION): Buffer {
  if (version !== 0 && version !== 1) throw new RangeError(`OffsetCommitKey version must be 0 or 1, got ${version}`);
  return new ByteWriter(2 + stringSize(group) + stringSize(topic) + 4)
    .int16(version)
    .string(group, 'group id')
    .string(topic, 'topic')
    .int32(partition)
    .finish();
}

/** The key of `group`'s metadata record. */
export function encodeGroupMetadataKey(group: string): Buffer {
  return new ByteWriter(2 + stringSize(group)).int16(GROUP_METADATA_KEY_VERSION).string(group, 'group id').finish();
}

/** Decodes a `__consumer_offsets` record key. Throws GroupCodecError (CORRUPT_MESSAGE). */
export function decodeOffsetsRecordKey(buf: Buffer): OffsetsRecordKey {
  const r = corrupt(buf, '__consumer_offsets key');
  const version = r.int16('key version');
  if (version === 0 || version === 1) {
    const group = r.string('group id');
    const topic = r.string('topic');
    return { kind: 'offsetCommit', version, group, topic, partition: r.int32('partition') };
  }
  if (version === GROUP_METADATA_KEY_VERSION) return { kind: 'groupMetadata', version, group: r.string('group id') };
  return { kind: 'unknown', version };
}

// ---------------------------------------------------------------------------------------
// Offset commit values

/** Encodes an offset commit value (version 1 when it has an expire timestamp, else 3, as Kafka). */
export function encodeOffsetCommitValue(v: OffsetCommitValue): Buffer {
  const version = v.version ?? (v.expireTimestampMs >= 0 ? 1 : HIGHEST_OFFSET_COMMIT_VALUE_VERSION);
  checkWriteVersion(version, HIGHEST_OFFSET_COMMIT_VALUE_VERSION, 'OffsetCommitValue');
  const size = 2 + 8 + (version >= 3 ? 4 : 0) + stringSize(v.metadata) + 8 + (version === 1 ? 8 : 0);
  const w = new ByteWriter(size).int16(version).int64(v.offset);
  if (version >= 3) w.int32(v.leaderEpoch);
  w.string(v.metadata, 'offset metadata').int64(v.commitTimestampMs);
  if (version === 1) w.int64(v.expireTimestampMs);
  return w.finish();
}

/** Decodes an offset commit value; null (a tombstone) stays null. Throws GroupCodecError (CORRUPT_MESSAGE). */
export function decodeOffsetCommitValue(buf: Buffer | null): OffsetCommitValue | null {
  if (buf === null) return null;
  const r = corrupt(buf, 'OffsetCommitValue');
  const version = r.int16('version');
  if (version < 0 || version > HIGHEST_OFFSET_COMMIT_VALUE_VERSION) r.fail(`unsupported version ${version} (known: 0-${HIGHEST_OFFSET_COMMIT_VALUE_VERSION})`);
  const offset = r.int64('offset');
  const leaderEpoch = version >= 3 ? r.int32('leader epoch') : -1;
  const metadata = r.string('metadata');
  const commitTimestampMs = r.int64Ms('commit timestamp');
  const expireTimestampMs = version === 1 ? r.int64Ms('expire timestamp') : -1;
  return { version, offset, leaderEpoch, metadata, commitTimestampMs, expireTimestampMs };
}

// ---------------------------------------------------------------------------------------
// Group metadata values

function memberSize(m: GroupMemberMetadata, version: number): number {
  let size = stringSize(m.memberId) + stringSize(m.clientId) + stringSize(m.clientHost) + 4 + bytesSize(m.subscription) + bytesSize(m.assignment);
  if (version >= 3) size += stringSize(m.groupInstanceId);
  if (version >= 1) size += 4;
  return size;
}

/** Encodes a group metadata value (version 3 unless told). */
export function encodeGroupMetadataValue(v: GroupMetadataValue): Buffer {
  const version = v.version ?? HIGHEST_GROUP_METADATA_VALUE_VERSION;
  checkWriteVersion(version, HIGHEST_GROUP_METADATA_VALUE_VERSION, 'GroupMetadataValue');
  let size = 2 + stringSize(v.protocolType) + 4 + stringSize(v.protocol) + stringSize(v.leader) + (version >= 2 ? 8 : 0) + 4;
  for (const m of v.members) size += memberSize(m, version);
  const w = new ByteWriter(size)
    .int16(version)
    .string(v.protocolType, 'protocol type')
    .int32(v.generation)
    .string(v.protocol, 'protocol')
    .string(v.leader, 'leader');
  if (version >= 2) w.int64(v.currentStateTimestampMs);
  w.int32(v.members.length);
  for (const m of v.members) {
    w.string(m.memberId, 'member id');
    if (version >= 3) w.string(m.groupInstanceId, 'group instance id');
    w.string(m.clientId, 'client id').string(m.clientHost, 'client host');
    if (version >= 1) w.int32(m.rebalanceTimeoutMs);
    w.int32(m.sessionTimeoutMs).bytes(m.subscription).bytes(m.assignment);
  }
  return w.finish();
}

/** Decodes a group metadata value; null (a tombstone) stays null. Throws GroupCodecError (CORRUPT_MESSAGE). */
export function decodeGroupMetadataValue(buf: Buffer | null): GroupMetadataValue | null {
  if (buf === null) return null;
  const r = corrupt(buf, 'GroupMetadataValue');
  const version = r.int16('version');
  if (version < 0 || version > HIGHEST_GROUP_METADATA_VALUE_VERSION) r.fail(`unsupported version ${version} (known: 0-${HIGHEST_GROUP_METADATA_VALUE_VERSION})`);
  const protocolType = r.string('protocol type');
  const generation = r.int32('generation');
  const protocol = r.nullableString('protocol');
  const leader = r.nullableString('leader');
  const currentStateTimestampMs = version >= 2 ? r.int64Ms('current state timestamp') : -1;
  // A member takes at least: member id, client id, client host (2 each), session timeout (4),
  // subscription and assignment lengths (4 each).
  const n = r.arrayLength('members', 18);
  const members = new Array<GroupMemberMetadata>(n);
  for (let i = 0; i < n; i++) {
    const memberId = r.string('member id');
    const groupInstanceId = version >= 3 ? r.nullableString('group instance id') : null;
    const clientId = r.string('client id');
    const clientHost = r.string('client host');
    const rebalanceTimeout = version >= 1 ? r.int32('rebalance timeout') : undefined;
    const sessionTimeoutMs = r.int32('session timeout');
    const subscription = r.bytes('subscription');
    const assignment = r.bytes('assignment');
    members[i] = {
      memberId,
      groupInstanceId,
      clientId,
      clientHost,
      rebalanceTimeoutMs: rebalanceTimeout ?? sessionTimeoutMs,
      sessionTimeoutMs,
      subscription,
      assignment,
    };
  }
  return { version, protocolType, generation, protocol, leader, currentStateTimestampMs, members };
}
