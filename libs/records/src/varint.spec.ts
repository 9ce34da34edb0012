import { CorruptRecordError } from './errors';
import { Random } from './spec-helpers';
import {
  ByteCursor,
  sizeOfUnsignedVarint,
  sizeOfVarint,
  sizeOfVarlong,
  writeUnsignedVarint,
  writeVarint,
  writeVarlong,
  zigZagDecode32,
  zigZagEncode32,
} from './varint';

/** Reference zig-zag varlong encoder in bigint arithmetic (independent of the code under test). */
function referenceVarlong(value: bigint): Buffer {
  let z = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
  return Buffer.from(out);
}

function encodeVarint(value: number): Buffer {
  const buf = Buffer.alloc(10);
  return buf.subarray(0, writeVarint(buf, 0, value));
}

function encodeVarlong(value: number): Buffer {
  const buf = Buffer.alloc(10);
  return buf.subarray(0, writeVarlong(buf, 0, value));
}

function expectCorrupt(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CorruptRecordError);
    expect((e as CorruptRecordError).reason).toBe('bad-records');
    expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected a CorruptRecordError');
}

const INT32_EDGES = [0, 1, -1, 2, -2, 63, -64, 64, -65, 8191, -8192, 8192, 1048575, -1048576, 2 ** 27, -(2 ** 27), 2 ** 31 - 1, -(2 ** 31)];
const INT64_EDGES = [
  ...INT32_EDGES,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32,
  -(2 ** 32),
  2 ** 34 - 1,
  2 ** 35,
  -(2 ** 35),
  2 ** 41 + 12345,
  2 ** 48 - 1,
  -(2 ** 48),
  2 ** 52 + 1,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  2 ** 53,
  -(2 ** 53),
  1_700_000_000_000,
  -1_700_000_000_000,
];

describe('zig-zag', () => {
  it('maps small magnitudes of both signs to small unsigned values', () => {
    expect([0, -1, 1, -2, 2].map(zigZagEncode32)).toEqual([0, 1, 2, 3, 4]);
    expect(zigZagEncode32(2 ** 31 - 1)).toBe(0xffff_fffe);
    expect(zigZagEncode32(-(2 ** 31))).toBe(0xffff_ffff);
    for (const v of INT32_EDGES) expect(zigZagDecode32(zigZagEncode32(v))).toBe(v);
  });
});

describe('varint (int32)', () => {
  it('encodes the edge values as Kafka does, and sizes them', () => {
    for (const v of INT32_EDGES) {
      const bytes = encodeVarint(v);
      expect(bytes).toEqual(referenceVarlong(BigInt(v)));
      expect(sizeOfVarint(v)).toBe(bytes.length);
      const c = new ByteCursor(bytes);
      expect(c.readVarint()).toBe(v);
      expect(c.pos).toBe(bytes.length);
    }
    expect(encodeVarint(-1)).toEqual(Buffer.from([1]));
    expect(encodeVarint(300)).toEqual(Buffer.from([0xd8, 0x04]));
    expect(encodeVarint(-(2 ** 31))).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
  });

  it('round-trips random values', () => {
    const r = new Random(7);
    const buf = Buffer.alloc(5 * 1000);
    const values: number[] = [];
    let pos = 0;
    for (let i = 0; i < 1000; i++) {
      const v = r.range(-(2 ** 31), 2 ** 31 - 1) >> r.int(31);
      values.push(v);
      pos = writeVarint(buf, pos, v);
    }
    const c = new ByteCursor(buf, 0, pos);
    for (const v of values) expect(c.readVarint()).toBe(v);
    expect(c.remaining).toBe(0);
  });

  it('writes and sizes unsigned varints', () => {
    for (const u of [0, 127, 128, 16383, 16384, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1]) {
      const buf = Buffer.alloc(5);
      expect(writeUnsignedVarint(buf, 0, u)).toBe(sizeOfUnsignedVarint(u));
    }
  });

  it('accepts non-canonical encodings Kafka accepts', () => {
    expect(new ByteCursor(Buffer.from([0x82, 0x80, 0x80, 0x00])).readVarint()).toBe(1);
  });

  it('rejects varints longer than 32 bits or running past the end', () => {
    expectCorrupt(() => new ByteCursor(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x1f])).readVarint(), /longer than 32 bits/);
    expectCorrupt(() => new ByteCursor(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x00])).readVarint(), /longer than 32 bits/);
    expectCorrupt(() => new ByteCursor(Buffer.from([])).readVarint(), /past the end/);
    expectCorrupt(() => new ByteCursor(Buffer.from([0x80])).readVarint(), /past the end/);
    expectCorrupt(() => new ByteCursor(Buffer.from([0x80, 0x80, 0x80])).readVarint(), /past the end/);
  });

  it('never reads at or past `end`, whatever the buffer holds after it', () => {
    const buf = Buffer.from([0xd8, 0x04, 0x00]);
    expectCorrupt(() => new ByteCursor(buf, 0, 1).readVarint(), /past the end/);
    const c = new ByteCursor(buf, 0, 2);
    expect(c.readVarint()).toBe(300);
    expectCorrupt(() => c.readVarint(), /past the end/);
    expectCorrupt(() => c.readInt8(), /past the end/);
    expectCorrupt(() => new ByteCursor(buf, 0, 2).skip(3), /run past the end/);
  });

  it('reports the fixed position when one is set', () => {
    try {
      new ByteCursor(Buffer.from([0x80]), 0, 1, 1234).readVarint();
      throw new Error('expected a throw');
    } catch (e) {
      expect((e as CorruptRecordError).position).toBe(1234);
    }
  });
});

describe('varlong (int64 within ±2^53)', () => {
  it('encodes edge values byte for byte as a bigint reference does, and decodes them', () => {
    for (const v of INT64_EDGES) {
      const bytes = encodeVarlong(v);
      expect(bytes).toEqual(referenceVarlong(BigInt(v)));
      expect(sizeOfVarlong(v)).toBe(bytes.length);
      const c = new ByteCursor(bytes);
      expect(c.readVarlong()).toBe(v);
      expect(c.pos).toBe(bytes.length);
    }
  });

  it('round-trips random values of every magnitude', () => {
    const r = new Random(11);
    for (let i = 0; i < 5000; i++) {
      const magnitude = Math.floor(r.float() * 2 ** r.int(54));
      const v = r.chance(0.5) && magnitude > 0 ? -magnitude : magnitude;
      const bytes = encodeVarlong(v);
      if (!bytes.equals(referenceVarlong(BigInt(v)))) expect(bytes.toString('hex')).toBe(referenceVarlong(BigInt(v)).toString('hex'));
      expect(new ByteCursor(bytes).readVarlong()).toBe(v);
    }
  });

  it('refuses to write values that are not integers within ±2^53', () => {
    for (const v of [2 ** 53 + 2, -(2 ** 53) - 2, 0.5, NaN, Infinity]) {
      expect(() => encodeVarlong(v)).toThrow(RangeError);
      expect(() => sizeOfVarlong(v)).toThrow(RangeError);
    }
  });

  it('rejects values outside ±2^53, over-long and truncated varlongs', () => {
    expectCorrupt(() => new ByteCursor(referenceVarlong(2n ** 53n + 1n)).readVarlong(), /outside ±2\^53/);
    expectCorrupt(() => new ByteCursor(referenceVarlong(-(2n ** 53n) - 1n)).readVarlong(), /outside ±2\^53/);
    expectCorrupt(() => new ByteCursor(referenceVarlong(2n ** 62n)).readVarlong(), /outside ±2\^53/);
    expectCorrupt(() => new ByteCursor(referenceVarlong(-(2n ** 63n))).readVarlong(), /outside ±2\^53/);
    expectCorrupt(() => new ByteCursor(Buffer.alloc(11, 0x80)).readVarlong(), /longer than 64 bits/);
    expectCorrupt(() => new ByteCursor(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80])).readVarlong(), /past the end/);
    expect(new ByteCursor(referenceVarlong(2n ** 53n)).readVarlong()).toBe(2 ** 53);
  });

  it('accepts a non-canonical 10-byte encoding of a small value', () => {
    const bytes = Buffer.from([0x84, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    expect(new ByteCursor(bytes).readVarlong()).toBe(2);
  });
});
