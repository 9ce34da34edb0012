import { ErrorCode } from '@tributary/records';
import { GroupCodecError } from './codec';
import {
  decodeGroupMetadataValue,
  decodeOffsetCommitValue,
  decodeOffsetsRecordKey,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
  GroupMetadataValue,
} from './offsets-records';
import { bytes, cat, i16, i32, i64, str } from './spec-bytes';

function expectCorrupt(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(GroupCodecError);
  expect((caught as GroupCodecError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
  expect((caught as GroupCodecError).message).toMatch(pattern);
}

describe('__consumer_offsets keys', () => {
  it('encodes an offset commit key as Kafka: version 1, group, topic, partition', () => {
    expect(encodeOffsetCommitKey('g1', 'orders', 5)).toEqual(cat(i16(1), str('g1'), str('orders'), i32(5)));
    expect(encodeOffsetCommitKey('g1', 'orders', 5, 0)).toEqual(cat(i16(0), str('g1'), str('orders'), i32(5)));
  });

  it('encodes a group metadata key as Kafka: version 2, group', () => {
    expect(encodeGroupMetadataKey('g1')).toEqual(cat(i16(2), str('g1')));
  });

  it('decodes keys by their version, including version 0 commits and UTF-8 names', () => {
    expect(decodeOffsetsRecordKey(cat(i16(0), str('grüppe'), str('t'), i32(0)))).toEqual({ kind: 'offsetCommit', version: 0, group: 'grüppe', topic: 't', partition: 0 });
    expect(decodeOffsetsRecordKey(cat(i16(1), str('g'), str('t'), i32(49)))).toEqual({ kind: 'offsetCommit', version: 1, group: 'g', topic: 't', partition: 49 });
    expect(decodeOffsetsRecordKey(cat(i16(2), str('g')))).toEqual({ kind: 'groupMetadata', version: 2, group: 'g' });
  });

  it('reports keys of record types it does not know (KIP-848 records) as unknown, to be skipped', () => {
    expect(decodeOffsetsRecordKey(cat(i16(3), str('g')))).toEqual({ kind: 'unknown', version: 3 });
  });

  it('answers a truncated key with CORRUPT_MESSAGE', () => {
    const key = encodeOffsetCommitKey('group', 'topic', 3);
    for (let end = 0; end < key.length; end++) expectCorrupt(() => decodeOffsetsRecordKey(key.subarray(0, end)), /^malformed __consumer_offsets key: /);
    expectCorrupt(() => decodeOffsetsRecordKey(cat(i16(2), i16(-1))), /group id is null/);
  });
});

describe('OffsetCommitValue', () => {
  const base = { offset: 1234567890123n, leaderEpoch: 4, metadata: 'm', commitTimestampMs: 1_700_000_000_000, expireTimestampMs: -1 };

  it('matches bytes built by hand for versions 0-3', () => {
    const ts = i64(1_700_000_000_000n);
    expect(encodeOffsetCommitValue({ ...base, version: 0 })).toEqual(cat(i16(0), i64(1234567890123n), str('m'), ts));
    expect(encodeOffsetCommitValue({ ...base, version: 1, expireTimestampMs: 1_700_000_600_000 })).toEqual(
      cat(i16(1), i64(1234567890123n), str('m'), ts, i64(1_700_000_600_000n)),
    );
    expect(encodeOffsetCommitValue({ ...base, version: 2 })).toEqual(cat(i16(2), i64(1234567890123n), str('m'), ts));
    expect(encodeOffsetCommitValue({ ...base, version: 3 })).toEqual(cat(i16(3), i64(1234567890123n), i32(4), str('m'), ts));
  });

  it('picks the version Kafka writes: 1 with an expire timestamp, else 3', () => {
    expect(encodeOffsetCommitValue(base).readInt16BE(0)).toBe(3);
    expect(encodeOffsetCommitValue({ ...base, expireTimestampMs: 5 }).readInt16BE(0)).toBe(1);
  });

  it('decodes every version with the defaults of absent fields', () => {
    const ts = i64(1_700_000_000_000n);
    expect(decodeOffsetCommitValue(cat(i16(0), i64(7n), str(''), ts))).toEqual({ version: 0, offset: 7n, leaderEpoch: -1, metadata: '', commitTimestampMs: 1_700_000_000_000, expireTimestampMs: -1 });
    expect(decodeOffsetCommitValue(cat(i16(1), i64(7n), str('x'), ts, i64(99n)))).toMatchObject({ version: 1, leaderEpoch: -1, expireTimestampMs: 99 });
    expect(decodeOffsetCommitValue(cat(i16(3), i64(7n), i32(12), str('x'), ts))).toMatchObject({ version: 3, offset: 7n, leaderEpoch: 12, metadata: 'x' });
    for (const version of [0, 1, 2, 3]) {
      const v = { ...base, version, expireTimestampMs: version === 1 ? 42 : -1, leaderEpoch: version === 3 ? 4 : -1 };
      expect(decodeOffsetCommitValue(encodeOffsetCommitValue(v))).toEqual(v);
    }
  });

  it('keeps a tombstone (null value) as null', () => {
    expect(decodeOffsetCommitValue(null)).toBeNull();
  });

  it('answers unknown versions and truncated values with CORRUPT_MESSAGE', () => {
    expectCorrupt(() => decodeOffsetCommitValue(cat(i16(4), i64(0n))), /unsupported version 4/);
    expectCorrupt(() => decodeOffsetCommitValue(cat(i16(-1))), /unsupported version -1/);
    const value = encodeOffsetCommitValue(base);
    for (let end = 0; end < value.length; end++) expectCorrupt(() => decodeOffsetCommitValue(value.subarray(0, end)), /^malformed OffsetCommitValue: /);
  });
});

describe('GroupMetadataValue', () => {
  const subscription = Buffer.from([0, 3, 0, 0, 0, 0]);
  const assignment = Buffer.from([0, 3, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  const group: GroupMetadataValue = {
    protocolType: 'consumer',
    generation: 5,
    protocol: 'range',
    leader: 'm-1',
    currentStateTimestampMs: 1_700_000_000_000,
    members: [
      { memberId: 'm-1', groupInstanceId: 'i-1', clientId: 'c', clientHost: '/127.0.0.1', rebalanceTimeoutMs: 300000, sessionTimeoutMs: 45000, subscription, assignment },
      { memberId: 'm-2', groupInstanceId: null, clientId: 'c', clientHost: '/127.0.0.2', rebalanceTimeoutMs: 60000, sessionTimeoutMs: 10000, subscription, assignment: Buffer.alloc(0) },
    ],
  };

  // Version 3 by hand from the spec.
  const v3 = cat(
    i16(3),
    str('consumer'),
    i32(5),
    str('range'),
    str('m-1'),
    i64(1_700_000_000_000n),
    i32(2),
    cat(str('m-1'), str('i-1'), str('c'), str('/127.0.0.1'), i32(300000), i32(45000), bytes(subscription), bytes(assignment)),
    cat(str('m-2'), str(null), str('c'), str('/127.0.0.2'), i32(60000), i32(10000), bytes(subscription), bytes(Buffer.alloc(0))),
  );

  it('decodes version 3 bytes built by hand and encodes the same bytes', () => {
    expect(decodeGroupMetadataValue(v3)).toEqual({ ...group, version: 3 });
    expect(encodeGroupMetadataValue(group)).toEqual(v3);
  });

  it('writes versions 0-2 without the fields they do not have', () => {
    const member0 = (m: (typeof group.members)[number]): Buffer =>
      cat(str(m.memberId), str(m.clientId), str(m.clientHost), i32(m.sessionTimeoutMs), bytes(m.subscription), bytes(m.assignment));
    const member1 = (m: (typeof group.members)[number]): Buffer =>
      cat(str(m.memberId), str(m.clientId), str(m.clientHost), i32(m.rebalanceTimeoutMs), i32(m.sessionTimeoutMs), bytes(m.subscription), bytes(m.assignment));
    const [a, b] = group.members as [(typeof group.members)[number], (typeof group.members)[number]];
    const head = cat(str('consumer'), i32(5), str('range'), str('m-1'));
    expect(encodeGroupMetadataValue({ ...group, version: 0 })).toEqual(cat(i16(0), head, i32(2), member0(a), member0(b)));
    expect(encodeGroupMetadataValue({ ...group, version: 1 })).toEqual(cat(i16(1), head, i32(2), member1(a), member1(b)));
    expect(encodeGroupMetadataValue({ ...group, version: 2 })).toEqual(cat(i16(2), head, i64(1_700_000_000_000n), i32(2), member1(a), member1(b)));
  });

  it('round-trips every version; a v0 member reads its session timeout as rebalance timeout, as Kafka', () => {
    for (const version of [0, 1, 2, 3]) {
      const decoded = decodeGroupMetadataValue(encodeGroupMetadataValue({ ...group, version }));
      expect(decoded?.version).toBe(version);
      expect(decoded?.currentStateTimestampMs).toBe(version >= 2 ? 1_700_000_000_000 : -1);
      expect(decoded?.members.map((m) => m.groupInstanceId)).toEqual(version >= 3 ? ['i-1', null] : [null, null]);
      expect(decoded?.members.map((m) => m.rebalanceTimeoutMs)).toEqual(version >= 1 ? [300000, 60000] : [45000, 10000]);
      expect(decoded?.members.map((m) => m.assignment)).toEqual([assignment, Buffer.alloc(0)]);
    }
  });

  it('encodes an Empty group (no protocol, no leader, no members) with null strings', () => {
    const empty: GroupMetadataValue = { protocolType: 'consumer', generation: 6, protocol: null, leader: null, currentStateTimestampMs: 1, members: [] };
    const bytesOut = encodeGroupMetadataValue(empty);
    expect(bytesOut).toEqual(cat(i16(3), str('consumer'), i32(6), i16(-1), i16(-1), i64(1n), i32(0)));
    expect(decodeGroupMetadataValue(bytesOut)).toEqual({ ...empty, version: 3 });
  });

  it('returns subscriptions and assignments as views of the input', () => {
    const decoded = decodeGroupMetadataValue(v3);
    expect(decoded?.members[0]?.subscription.buffer).toBe(v3.buffer);
  });

  it('keeps a tombstone as null and answers malformed values with CORRUPT_MESSAGE', () => {
    expect(decodeGroupMetadataValue(null)).toBeNull();
    expectCorrupt(() => decodeGroupMetadataValue(cat(i16(4))), /unsupported version 4/);
    expectCorrupt(() => decodeGroupMetadataValue(cat(i16(3), str('consumer'), i32(1), str(null), str(null), i64(0n), i32(1_000_000))), /members count 1000000 does not fit/);
    expectCorrupt(
      () => decodeGroupMetadataValue(cat(i16(0), str('consumer'), i32(1), str(null), str(null), i32(1), str('m'), str('c'), str('h'), i32(1), bytes(null), bytes(null))),
      /subscription is null/,
    );
    for (let end = 0; end < v3.length; end++) expectCorrupt(() => decodeGroupMetadataValue(v3.subarray(0, end)), /^malformed GroupMetadataValue: /);
  });
});
