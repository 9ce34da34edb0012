import { ErrorCode } from '@tributary/records';
import { GroupCodecError } from './codec';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, Subscription } from './consumer-protocol';
import { bytes, cat, i16, i32, str } from './spec-bytes';

// ConsumerProtocolSubscription v3, by hand from the message spec: topics ["orders", "pay"],
// user_data 0xCAFE, owned_partitions [orders: 0, 2], generation_id 7, rack_id "r1".
const subscriptionV3 = cat(
  i16(3),
  i32(2),
  str('orders'),
  str('pay'),
  bytes(Buffer.from([0xca, 0xfe])),
  i32(1),
  str('orders'),
  i32(2),
  i32(0),
  i32(2),
  i32(7),
  str('r1'),
);

const sample: Subscription = {
  topics: ['orders', 'pay'],
  userData: Buffer.from([0xca, 0xfe]),
  ownedPartitions: [{ topic: 'orders', partitions: [0, 2] }],
  generationId: 7,
  rackId: 'r1',
};

describe('ConsumerProtocolSubscription', () => {
  it('decodes version 3 bytes built by hand from the spec', () => {
    const s = decodeSubscription(subscriptionV3);
    expect(s).toEqual({ ...sample, version: 3 });
  });

  it('encodes exactly the bytes of the spec, for every version', () => {
    expect(encodeSubscription(sample)).toEqual(subscriptionV3);
    // v0: version, topics, user_data only.
    expect(encodeSubscription({ ...sample, version: 0 })).toEqual(cat(i16(0), i32(2), str('orders'), str('pay'), bytes(Buffer.from([0xca, 0xfe]))));
    // v1 adds owned partitions; v2 the generation; null user data is length -1.
    expect(encodeSubscription({ ...sample, version: 1, userData: null })).toEqual(
      cat(i16(1), i32(2), str('orders'), str('pay'), bytes(null), i32(1), str('orders'), i32(2), i32(0), i32(2)),
    );
    // v2 is v3 without the rack id.
    expect(encodeSubscription({ ...sample, version: 2 })).toEqual(cat(i16(2), subscriptionV3.subarray(2, subscriptionV3.length - str('r1').length)));
  });

  it('fills the defaults of fields older versions do not carry', () => {
    const v0 = decodeSubscription(cat(i16(0), i32(1), str('t'), bytes(null)));
    expect(v0).toEqual({ version: 0, topics: ['t'], userData: null, ownedPartitions: [], generationId: -1, rackId: null });
    const v3NullRack = decodeSubscription(encodeSubscription({ ...sample, rackId: null }));
    expect(v3NullRack.rackId).toBeNull();
  });

  it('round-trips every version', () => {
    for (const version of [0, 1, 2, 3]) {
      const decoded = decodeSubscription(encodeSubscription({ ...sample, version }));
      expect(decoded.version).toBe(version);
      expect(decoded.topics).toEqual(sample.topics);
      expect(decoded.userData).toEqual(sample.userData);
      expect(decoded.ownedPartitions).toEqual(version >= 1 ? sample.ownedPartitions : []);
      expect(decoded.generationId).toBe(version >= 2 ? 7 : -1);
      expect(decoded.rackId).toBe(version >= 3 ? 'r1' : null);
    }
  });

  it('reads a newer version with the version-3 layout and ignores fields appended after it, as Kafka', () => {
    const v9 = cat(i16(9), subscriptionV3.subarray(2), Buffer.from([1, 2, 3, 4]));
    expect(decodeSubscription(v9)).toEqual({ ...sample, version: 9 });
  });

  it('returns user data as a view of the input, not a copy', () => {
    const s = decodeSubscription(subscriptionV3);
    expect(s.userData?.buffer).toBe(subscriptionV3.buffer);
  });

  it('answers malformed bytes with a GroupCodecError naming the field, never a crash', () => {
    const cases: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from([0]),
      cat(i16(-1), i32(0), bytes(null)),
      cat(i16(0), i32(5), str('a')), // 5 topics announced, 1 present
      cat(i16(0), i32(0x7fffffff)), // huge count
      cat(i16(0), i32(1), i16(-2)), // negative string length
      cat(i16(0), i32(1), i16(10), Buffer.from('abc')), // string shorter than its length
      cat(i16(0), i32(0), i32(100), Buffer.alloc(3)), // user data shorter than its length
      cat(i16(1), i32(0), bytes(null), i32(1), str('t'), i32(3), i32(0)), // owned partitions cut short
      cat(i16(2), i32(0), bytes(null), i32(0), Buffer.from([0, 0])), // generation cut short
    ];
    // Every strict prefix of a valid message is malformed too.
    for (let end = 0; end < subscriptionV3.length; end++) cases.push(subscriptionV3.subarray(0, end));
    for (const buf of cases) {
      let caught: unknown;
      try {
        decodeSubscription(buf);
      } catch (e) {
        caught = e;
      }
      expect([buf.toString('hex'), caught]).toEqual([buf.toString('hex'), expect.any(GroupCodecError)]);
      expect((caught as GroupCodecError).code).toBe(ErrorCode.INVALID_REQUEST);
      expect((caught as GroupCodecError).message).toMatch(/^malformed ConsumerProtocolSubscription: .+ \(at byte \d+ of \d+\)$/);
    }
  });

  it('refuses to encode an unknown version or a topic name too long for its int16 length', () => {
    expect(() => encodeSubscription({ ...sample, version: 4 })).toThrow(RangeError);
    expect(() => encodeSubscription({ ...sample, topics: ['x'.repeat(0x8000)] })).toThrow(/at most 32767/);
  });
});

// ConsumerProtocolAssignment v3 by hand: [orders: 1, 3], [pay: 0], user_data null.
const assignmentV3 = cat(i16(3), i32(2), str('orders'), i32(2), i32(1), i32(3), str('pay'), i32(1), i32(0), bytes(null));

describe('ConsumerProtocolAssignment', () => {
  const partitions = [
    { topic: 'orders', partitions: [1, 3] },
    { topic: 'pay', partitions: [0] },
  ];

  it('decodes bytes built by hand from the spec and encodes the same bytes', () => {
    expect(decodeAssignment(assignmentV3)).toEqual({ version: 3, partitions, userData: null });
    expect(encodeAssignment({ partitions, userData: null })).toEqual(assignmentV3);
  });

  it('has the same layout in versions 0-3 and round-trips user data', () => {
    for (const version of [0, 1, 2, 3]) {
      const encoded = encodeAssignment({ version, partitions, userData: Buffer.from('sticky') });
      expect(encoded.subarray(2)).toEqual(cat(assignmentV3.subarray(2, assignmentV3.length - 4), bytes(Buffer.from('sticky'))));
      expect(decodeAssignment(encoded)).toEqual({ version, partitions, userData: Buffer.from('sticky') });
    }
  });

  it('decodes empty bytes (a member given nothing) as an empty assignment', () => {
    expect(decodeAssignment(Buffer.alloc(0))).toEqual({ version: 0, partitions: [], userData: null });
  });

  it('answers every truncation with a GroupCodecError', () => {
    for (let end = 1; end < assignmentV3.length; end++) {
      expect(() => decodeAssignment(assignmentV3.subarray(0, end))).toThrow(GroupCodecError);
    }
    expect(() => decodeAssignment(cat(i16(0), i32(-5)))).toThrow(/negative count -5/);
    expect(() => decodeAssignment(cat(i16(0), i32(-1), bytes(null)))).toThrow(/assigned partitions is null/);
    expect(() => decodeSubscription(cat(i16(0), i32(-1), bytes(null)))).toThrow(/topics is null/);
  });
});
