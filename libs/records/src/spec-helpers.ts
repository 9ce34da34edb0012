/**
 * Helpers shared by this library's specs (not exported from index.ts): a seeded PRNG, random
 * records, and CRC repair after a deliberate mutation. Test-only; no state.
 */
import { ATTRIBUTES_OFFSET, BATCH_LENGTH_OFFSET, CRC_OFFSET, LOG_OVERHEAD, RECORDS_OFFSET } from './batch';
import { crc32c } from './crc32c';
import type { RecordHeader, RecordInput } from './record';

/** mulberry32: a small deterministic PRNG; returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  float(): number {
    return this.next();
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** A length skewed towards small values, sometimes around the 1/2/3-byte varint borders. */
function randomLength(r: Random, max: number): number {
  const pick = r.int(10);
  if (pick < 5) return r.int(Math.min(max, 20) + 1);
  if (pick < 8) return r.int(Math.min(max, 200) + 1);
  if (pick < 9) return Math.min(max, r.pick([63, 64, 65, 127, 128, 8191, 8192]));
  return r.int(max + 1);
}

const HEADER_KEYS = ['trace', 'content-type', 'Ünïcødé', 'emoji-🎉', '', 'x'.repeat(70), 'k'];

export interface RandomRecordOptions {
  /** Allow null header values (KafkaJS cannot encode them). */
  nullHeaderValues?: boolean;
  /** Distinct, non-numeric header keys (KafkaJS keeps headers in an object). */
  distinctHeaderKeys?: boolean;
  maxValueBytes?: number;
  /** Timestamp deltas up to this magnitude (default 2^40). */
  maxTimestampDelta?: number;
}

/** `count` random records with random keys, values, headers and timestamps. */
export function randomRecords(r: Random, count: number, options: RandomRecordOptions = {}): RecordInput[] {
  const maxValue = options.maxValueBytes ?? 300;
  const maxDelta = options.maxTimestampDelta ?? 2 ** 40;
  const base = r.range(1_500_000_000_000, 1_800_000_000_000);
  const out: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    const key = r.chance(0.2) ? null : r.bytes(randomLength(r, 40));
    const value = r.chance(0.1) ? null : r.bytes(randomLength(r, maxValue));
    const headerCount = r.chance(0.6) ? 0 : r.range(1, 3);
    const headers: RecordHeader[] = [];
    const used = new Set<string>();
    for (let h = 0; h < headerCount; h++) {
      let key = r.pick(HEADER_KEYS);
      if (options.distinctHeaderKeys) {
        if (used.has(key)) continue;
        used.add(key);
      }
      if (key === '' && options.distinctHeaderKeys) key = 'empty';
      headers.push({ key, value: options.nullHeaderValues && r.chance(0.2) ? null : r.bytes(randomLength(r, 30)) });
    }
    const deltaKind = r.int(10);
    const delta = deltaKind < 6 ? r.int(1000) : deltaKind < 8 ? -r.int(100_000) : r.range(-maxDelta, maxDelta);
    const record: RecordInput = { key, value, timestamp: base + delta };
    if (headers.length > 0 || r.chance(0.5)) record.headers = headers;
    out.push(record);
  }
  return out;
}

/** Rewrites the CRC of the batch at `pos` after a mutation, over what batchLength covers (or what is there). */
export function fixCrc(buf: Buffer, pos = 0): void {
  if (buf.length - pos < RECORDS_OFFSET) return;
  const declared = LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
  const end = declared >= RECORDS_OFFSET && declared <= buf.length - pos ? pos + declared : buf.length;
  buf.writeUInt32BE(crc32c(buf.subarray(pos + ATTRIBUTES_OFFSET, end)), pos + CRC_OFFSET);
}

/** Whether the stored CRC of the batch at `pos` matches its bytes (as batchLength declares them). */
export function crcMatches(buf: Buffer, pos = 0): boolean {
  if (buf.length - pos < RECORDS_OFFSET) return false;
  const declared = LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
  if (declared < RECORDS_OFFSET || declared > buf.length - pos) return false;
  return buf.readUInt32BE(pos + CRC_OFFSET) === crc32c(buf.subarray(pos + ATTRIBUTES_OFFSET, pos + declared));
}
