// The exact-size encoders against the independent implementation they replace: the generated
// ts-proto encoders. Random messages (seeded, so a failure reproduces) must encode to the same
// bytes, and decode back to the same message.
import { createHash } from 'node:crypto';
import { ErrorCode, FetchResponse, ProduceRequest, ProduceStreamRequest } from '../index';
import type { FetchPartitionResponse, FetchTopicResponse, ProducePartitionData, ProduceTopicData } from '../index';
import { encodeFetchResponse, encodeProduceRequest, encodeProduceStreamRequest } from './exact-size-encoders';

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded random bytes the records are cut from (filling each one byte by byte is slow). */
const RANDOM_BYTES = (() => {
  const random = prng(99);
  const b = Buffer.allocUnsafe(128 * 1024);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(random() * 256);
  return b;
})();

class Gen {
  private readonly random: () => number;
  constructor(
    seed: number,
    /** Include lone surrogates (they do not survive a round trip: they decode as U+FFFD). */
    private readonly loneSurrogates: boolean,
  ) {
    this.random = prng(seed);
  }

  int(below: number): number {
    return Math.floor(this.random() * below);
  }

  pick<T>(choices: readonly T[]): T {
    return choices[this.int(choices.length)] as T;
  }

  /** int32s where varint lengths change, negatives (10 bytes) and the default 0 often. */
  int32(): number {
    switch (this.int(8)) {
      case 0:
      case 1:
        return 0;
      case 2:
        return this.int(128);
      case 3:
        return this.pick([127, 128, 16383, 16384, 2097151, 2097152, 268435455, 268435456, 0x7fffffff]);
      case 4:
        return this.pick([-1, -2, -128, -0x80000000, ErrorCode.UNKNOWN_SERVER_ERROR]);
      case 5:
        return -this.int(0x80000000);
      default:
        return this.int(0x80000000);
    }
  }

  int64(): bigint {
    switch (this.int(8)) {
      case 0:
        return 0n;
      case 1:
        return -1n;
      case 2:
        return BigInt(this.int(1 << 20));
      case 3:
        return this.pick([2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 56n - 1n, 2n ** 56n, 2n ** 63n - 1n, -(2n ** 63n), -(2n ** 53n) - 1n]);
      case 4:
        return -BigInt(this.int(2 ** 31)) * BigInt(this.int(2 ** 31));
      default:
        return BigInt.asIntN(64, (BigInt(this.int(2 ** 32)) << 32n) | BigInt(this.int(2 ** 32)));
    }
  }

  string(): string {
    const kind = this.int(6);
    if (kind === 0) return '';
    const length = kind === 1 ? 200 + this.int(200) : this.int(40); // 200+: two-byte length prefix
    const alphabet =
      kind <= 3
        ? ['a', 'Z', '0', '-', '_', '.']
        : ['é', 'ß', 'Ω', '中', '文', '😀', '🚀', 'a', '\u0080', '\u07ff', '\u0800', '\uffff', ...(this.loneSurrogates ? ['\ud800', '\udfff'] : [])];
    let s = '';
    for (let i = 0; i < length; i++) s += this.pick(alphabet);
    return s;
  }

  /** Records of sizes around the varint boundaries, sometimes empty (omitted on the wire). */
  records(): Buffer {
    const size = this.pick([0, 0, 1, 61, 127, 128, 300, 16383, 16384, 16 * 1024 + 61, this.int(20_000), this.int(70_000)]);
    const start = this.int(RANDOM_BYTES.length - size);
    return Buffer.from(RANDOM_BYTES.subarray(start, start + size)); // a copy: its own memory
  }

  errorCode(): ErrorCode {
    const codes = Object.values(ErrorCode).filter((v): v is ErrorCode => typeof v === 'number');
    return this.int(3) === 0 ? ErrorCode.NONE : this.pick(codes);
  }

  produceRequest(): ProduceRequest {
    const topics: ProduceTopicData[] = [];
    for (let t = this.int(4); t > 0; t--) {
      const partitions: ProducePartitionData[] = [];
      for (let p = this.int(6); p > 0; p--) partitions.push({ index: this.int32(), records: this.records() });
      topics.push({ name: this.string(), partitions });
    }
    return { acks: this.pick([0, 1, -1, this.int32()]), timeoutMs: this.int32(), topics };
  }

  fetchResponse(): FetchResponse {
    const topics: FetchTopicResponse[] = [];
    for (let t = this.int(4); t > 0; t--) {
      const partitions: FetchPartitionResponse[] = [];
      for (let p = this.int(6); p > 0; p--) {
        partitions.push({
          index: this.int32(),
          errorCode: this.errorCode(),
          errorMessage: this.int(2) === 0 ? '' : this.string(),
          highWatermark: this.int64(),
          logStartOffset: this.int64(),
          records: this.records(),
        });
      }
      topics.push({ name: this.string(), partitions });
    }
    return { topics, throttleTimeMs: this.int32() };
  }
}

/** Fails with the first differing offset, rather than two dumps of kilobytes. */
function expectSameBytes(actual: Buffer, expected: Uint8Array, what: string): void {
  const e = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (actual.equals(e)) return;
  let i = 0;
  while (i < actual.length && i < e.length && actual[i] === e[i]) i++;
  throw new Error(`${what}: ${actual.length} bytes vs generated ${e.length}, first difference at offset ${i}`);
}

/**
 * The message with every `records` Buffer replaced by its length and digest, and bigints by
 * strings: jest's deep equality walks a Buffer byte by byte, which takes minutes here.
 */
function digested(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return `Buffer of ${value.length} bytes, sha1 ${createHash('sha1').update(value).digest('hex')}`;
  if (value instanceof Uint8Array) return `Uint8Array (not a Buffer) of ${value.length} bytes`;
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return value.map(digested);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, digested(v)]));
  return value;
}

function expectSameMessage(actual: ProduceRequest | FetchResponse, expected: ProduceRequest | FetchResponse): void {
  expect(digested(actual)).toEqual(digested(expected));
}

const MESSAGES = 1500;

describe('encodeProduceRequest', () => {
  it('writes the same bytes as the generated encoder, for random messages', () => {
    const gen = new Gen(1, true);
    for (let i = 0; i < MESSAGES; i++) {
      const m = gen.produceRequest();
      expectSameBytes(encodeProduceRequest(m), ProduceRequest.encode(m).finish(), `message ${i}`);
    }
  });

  it('wraps it in a ProduceStreamRequest with the same bytes as the generated encoder', () => {
    const gen = new Gen(7, true);
    for (let i = 0; i < 300; i++) {
      const m: ProduceStreamRequest = { correlationId: gen.pick([0, 1, gen.int32()]), request: i % 50 === 0 ? undefined : gen.produceRequest() };
      expectSameBytes(encodeProduceStreamRequest(m), ProduceStreamRequest.encode(m).finish(), `stream message ${i}`);
    }
  });

  it('decodes back to the same message', () => {
    const gen = new Gen(2, false);
    for (let i = 0; i < MESSAGES; i++) {
      const m = gen.produceRequest();
      expectSameMessage(ProduceRequest.decode(encodeProduceRequest(m)), m);
    }
  });

  it('handles large records (4-byte length prefixes at every level)', () => {
    const records = Buffer.alloc(3 * 1024 * 1024 + 7, 0xab);
    const m: ProduceRequest = { acks: -1, timeoutMs: 30_000, topics: [{ name: 'orders', partitions: [{ index: 5, records }, { index: 0, records: Buffer.alloc(0) }] }] };
    const fast = encodeProduceRequest(m);
    expectSameBytes(fast, ProduceRequest.encode(m).finish(), 'large');
    expectSameMessage(ProduceRequest.decode(fast), m);
  });

  it('encodes the empty message and all-default parts as the generated encoder does', () => {
    const empty: ProduceRequest = { acks: 0, timeoutMs: 0, topics: [] };
    expect(encodeProduceRequest(empty).length).toBe(0);
    const defaults: ProduceRequest = { acks: 0, timeoutMs: 0, topics: [{ name: '', partitions: [{ index: 0, records: Buffer.alloc(0) }] }] };
    expect([...encodeProduceRequest(defaults)]).toEqual([0x1a, 2, 0x12, 0]);
    expectSameBytes(encodeProduceRequest(defaults), ProduceRequest.encode(defaults).finish(), 'defaults');
  });

  it('accepts records as a view into a larger buffer and copies only the view', () => {
    const backing = Buffer.alloc(1000, 1);
    backing.fill(2, 100, 200);
    const m: ProduceRequest = { acks: 1, timeoutMs: 0, topics: [{ name: 't', partitions: [{ index: 1, records: backing.subarray(100, 200) }] }] };
    expectSameBytes(encodeProduceRequest(m), ProduceRequest.encode(m).finish(), 'view');
  });

  it.each([1.5, 2 ** 31, -(2 ** 31) - 1, NaN, Infinity])('refuses the int32 %p like the generated encoder', (bad) => {
    const m: ProduceRequest = { acks: bad, timeoutMs: 0, topics: [] };
    expect(() => ProduceRequest.encode(m).finish()).toThrow(/invalid int32/);
    expect(() => encodeProduceRequest(m)).toThrow(/invalid int32/);
    const nested: ProduceRequest = { acks: 1, timeoutMs: 0, topics: [{ name: 't', partitions: [{ index: bad, records: Buffer.alloc(1) }] }] };
    expect(() => ProduceRequest.encode(nested).finish()).toThrow(/invalid int32/);
    expect(() => encodeProduceRequest(nested)).toThrow(/invalid int32/);
  });
});

describe('encodeFetchResponse', () => {
  it('writes the same bytes as the generated encoder, for random messages', () => {
    const gen = new Gen(3, true);
    for (let i = 0; i < MESSAGES; i++) {
      const m = gen.fetchResponse();
      expectSameBytes(encodeFetchResponse(m), FetchResponse.encode(m).finish(), `message ${i}`);
    }
  });

  it('decodes back to the same message', () => {
    const gen = new Gen(4, false);
    for (let i = 0; i < MESSAGES; i++) {
      const m = gen.fetchResponse();
      expectSameMessage(FetchResponse.decode(encodeFetchResponse(m)), m);
    }
  });

  it('handles large records and every int64 edge', () => {
    const records = Buffer.alloc(2 * 1024 * 1024 + 1, 0x5a);
    const edges = [-1n, 0n, 1n, 127n, 128n, 2n ** 53n + 1n, 2n ** 56n, 2n ** 63n - 1n, -(2n ** 63n), -(2n ** 32n), 2n ** 32n - 1n, 2n ** 32n];
    const m: FetchResponse = {
      topics: [
        {
          name: 'événements',
          partitions: edges.map((e, i) => ({ index: i, errorCode: ErrorCode.NONE, errorMessage: '', highWatermark: e, logStartOffset: -e, records: i === 0 ? records : Buffer.alloc(0) })),
        },
      ],
      throttleTimeMs: 0,
    };
    // -(-(2^63)) is out of range: keep the edge but clamp its negation
    for (const p of m.topics[0]?.partitions ?? []) if (p.logStartOffset === 2n ** 63n) p.logStartOffset = 2n ** 63n - 1n;
    const fast = encodeFetchResponse(m);
    expectSameBytes(fast, FetchResponse.encode(m).finish(), 'edges');
    expectSameMessage(FetchResponse.decode(fast), m);
  });

  it.each([2n ** 63n, -(2n ** 63n) - 1n])('refuses the int64 %p like the generated encoder', (bad) => {
    const m: FetchResponse = { topics: [{ name: 't', partitions: [{ index: 0, errorCode: 0, errorMessage: '', highWatermark: bad, logStartOffset: 0n, records: Buffer.alloc(0) }] }], throttleTimeMs: 0 };
    expect(() => FetchResponse.encode(m).finish()).toThrow(/highWatermark of type int64 too large/);
    expect(() => encodeFetchResponse(m)).toThrow(/highWatermark of type int64 too large/);
  });
});
