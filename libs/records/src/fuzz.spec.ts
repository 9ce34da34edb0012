/**
 * Deterministic fuzzing of the decoders: thousands of seeded inputs — random bytes, random
 * bytes dressed as a batch, and valid batches (every codec) with random mutations (bit flips,
 * byte edits, truncations, extensions, insertions, deletions, edits of length and count
 * fields and of record varints). In half the mutated cases the CRC is recomputed afterwards,
 * so the record-level validation runs, not only the CRC check.
 *
 * Properties, for every input:
 *   - decodeBatch, forEachRecord, validateRecords, decodeBatches throw nothing but
 *     CorruptRecordError / UnsupportedCompressionError, and scanValidBatches never throws;
 *   - a batch is only ever decoded when its CRC matches (checked independently here);
 *   - decodeBatch and forEachRecord agree (both succeed with the same records, or both fail);
 *   - when validateBatchAt and validateRecords both accept, decodeBatch accepts too, with
 *     offsets baseOffset, baseOffset+1, …
 * A failure names the seed, so it can be replayed.
 */
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  CompressionCodec,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  scanValidBatches,
  setBatchBaseOffset,
  validateBatchAt,
} from './batch';
import { supportedCompressionCodecs } from './compression';
import type { DecodeOptions, DecodedBatch, RecordsSummary } from './decode';
import { decodeBatch, decodeBatches, forEachRecord, validateRecords } from './decode';
import { encodeBatch } from './encode';
import { CorruptRecordError, UnsupportedCompressionError } from './errors';
import { Random, crcMatches, fixCrc, randomRecords } from './spec-helpers';
import { writeVarint, writeVarlong } from './varint';

const OPTIONS: DecodeOptions = { maxDecompressedBytes: 1 << 20 };

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

function attempt<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

function allowed(o: Outcome<unknown>): boolean {
  return o.ok || o.error instanceof CorruptRecordError || o.error instanceof UnsupportedCompressionError;
}

function describeError(o: Outcome<unknown>): string {
  if (o.ok) return 'ok';
  const e = o.error;
  return e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
}

/** Checks every property on `buf`; returns a description of the first violation, or null. */
function violations(buf: Buffer): string | null {
  const decoded: Outcome<DecodedBatch> = attempt(() => decodeBatch(buf, 0, OPTIONS));
  if (!allowed(decoded)) return `decodeBatch threw ${describeError(decoded)}`;
  if (decoded.ok && !crcMatches(buf)) return 'decodeBatch decoded a batch whose CRC does not match';

  let visited = 0;
  const iterated = attempt(() =>
    forEachRecord(
      buf,
      0,
      (v) => {
        visited++;
        void v.key();
        void v.value();
        void v.headers();
      },
      OPTIONS,
    ),
  );
  if (!allowed(iterated)) return `forEachRecord threw ${describeError(iterated)}`;
  if (iterated.ok !== decoded.ok) return `forEachRecord (${describeError(iterated)}) disagrees with decodeBatch (${describeError(decoded)})`;
  if (decoded.ok && visited !== decoded.value.records.length) return `forEachRecord visited ${visited} records, decodeBatch found ${decoded.value.records.length}`;

  const validated: Outcome<RecordsSummary> = attempt(() => validateRecords(buf, 0, OPTIONS));
  if (!allowed(validated)) return `validateRecords threw ${describeError(validated)}`;
  const header = attempt(() => validateBatchAt(buf, 0));
  if (!allowed(header)) return `validateBatchAt threw ${describeError(header)}`;
  if (header.ok && validated.ok) {
    // validateRecords ignores baseOffset, which the leader overwrites: do the same here.
    const assigned = Buffer.from(buf);
    setBatchBaseOffset(assigned, 0, 1000);
    const redecoded = attempt(() => decodeBatch(assigned, 0, OPTIONS));
    if (!redecoded.ok) return `validateRecords accepted what decodeBatch rejects: ${describeError(redecoded)}`;
    const offsets = redecoded.value.records.map((r) => r.offset - 1000);
    if (offsets.length !== validated.value.recordsCount || offsets.some((o, i) => o !== i)) return 'validateRecords accepted non-sequential offsets';
  }

  const all = attempt(() => decodeBatches(buf, 0, OPTIONS));
  if (!allowed(all)) return `decodeBatches threw ${describeError(all)}`;
  const scanned = attempt(() => scanValidBatches(buf));
  if (!scanned.ok) return `scanValidBatches threw ${describeError(scanned)}`;
  return null;
}

const EDGE_INTS = [-2, -1, 0, 1, 2, 5, 6, 7, 63, 64, 127, 128, 255, 1000, 2 ** 20, 2 ** 31 - 1, -(2 ** 31)];

/** A random varint of an edge or random value, or raw junk that looks like one. */
function varintBytes(r: Random): Buffer {
  const buf = Buffer.alloc(10);
  const kind = r.int(4);
  if (kind === 0) return buf.subarray(0, writeVarint(buf, 0, r.pick(EDGE_INTS)));
  if (kind === 1) return buf.subarray(0, writeVarint(buf, 0, r.range(-300, 300)));
  if (kind === 2) return buf.subarray(0, writeVarlong(buf, 0, r.range(-(2 ** 53), 2 ** 53)));
  return Buffer.from(Array.from({ length: r.range(1, 11) }, () => 0x80 | r.int(128)));
}

function splice(buf: Buffer, at: number, remove: number, insert: Buffer): Buffer {
  return Buffer.concat([buf.subarray(0, at), insert, buf.subarray(Math.min(buf.length, at + remove))]);
}

/** Applies 1–3 random mutations to a copy of `batch`. */
function mutate(r: Random, batch: Buffer): Buffer {
  let buf: Buffer = Buffer.from(batch);
  const rounds = r.range(1, 3);
  for (let m = 0; m < rounds; m++) {
    const recordsPos = () => RECORDS_OFFSET + r.int(Math.max(1, buf.length - RECORDS_OFFSET));
    // Kinds 6 and 7 (inside the records) weigh double: they reach the deepest checks.
    const pick = r.int(14);
    switch (pick >= 11 ? (pick === 13 ? 7 : 6) : pick) {
      case 0: // bit flips anywhere
        for (let i = r.range(1, 4); i > 0 && buf.length > 0; i--) {
          const at = r.int(buf.length);
          buf[at] = buf[at]! ^ (1 << r.int(8));
        }
        break;
      case 1: // a byte set to an edge value
        if (buf.length > 0) buf[r.int(buf.length)] = r.pick([0x00, 0x01, 0x7f, 0x80, 0xff, r.int(256)]);
        break;
      case 2: // truncation
        buf = buf.subarray(0, r.int(buf.length + 1));
        break;
      case 3: // extension, with batchLength updated or not
        buf = Buffer.concat([buf, r.bytes(r.range(1, 20))]);
        if (r.chance(0.5) && buf.length >= RECORDS_OFFSET) buf.writeInt32BE(buf.length - 12, BATCH_LENGTH_OFFSET);
        break;
      case 4: // batchLength edits
        if (buf.length >= RECORDS_OFFSET) buf.writeInt32BE(r.chance(0.5) ? buf.readInt32BE(BATCH_LENGTH_OFFSET) + r.range(-3, 3) : r.pick(EDGE_INTS), BATCH_LENGTH_OFFSET);
        break;
      case 5: // recordsCount / lastOffsetDelta edits
        if (buf.length >= RECORDS_OFFSET) {
          const field = r.chance(0.5) ? RECORDS_COUNT_OFFSET : LAST_OFFSET_DELTA_OFFSET;
          buf.writeInt32BE(r.chance(0.6) ? buf.readInt32BE(field) + r.range(-2, 2) : r.pick(EDGE_INTS), field);
        }
        break;
      case 6: // a record-level varint overwritten, the length of the data possibly changing
        if (buf.length > RECORDS_OFFSET) buf = splice(buf, recordsPos(), r.range(0, 3), varintBytes(r));
        if (r.chance(0.7) && buf.length >= RECORDS_OFFSET) buf.writeInt32BE(buf.length - 12, BATCH_LENGTH_OFFSET);
        break;
      case 7: // bytes inserted or deleted inside the records
        if (buf.length > RECORDS_OFFSET) buf = splice(buf, recordsPos(), r.chance(0.5) ? r.range(1, 8) : 0, r.chance(0.5) ? r.bytes(r.range(1, 8)) : Buffer.alloc(0));
        if (r.chance(0.7) && buf.length >= RECORDS_OFFSET) buf.writeInt32BE(buf.length - 12, BATCH_LENGTH_OFFSET);
        break;
      case 8: // compression bits changed (to a real codec or to 5..7)
        if (buf.length >= RECORDS_OFFSET) buf.writeInt16BE((buf.readInt16BE(ATTRIBUTES_OFFSET) & ~7) | r.int(8), ATTRIBUTES_OFFSET);
        break;
      case 9: // magic changed
        if (buf.length > MAGIC_OFFSET) buf[MAGIC_OFFSET] = r.pick([0, 1, 3]);
        break;
      default: // a random run of bytes overwritten
        if (buf.length > 0) {
          const at = r.int(buf.length);
          r.bytes(Math.min(buf.length - at, r.range(1, 16))).copy(buf, at);
        }
    }
  }
  return buf;
}

function validBatch(r: Random, codecs: readonly CompressionCodec[]): Buffer {
  const records = randomRecords(r, r.range(1, 8), { nullHeaderValues: true, maxValueBytes: 40, maxTimestampDelta: r.chance(0.2) ? 2 ** 45 : 10_000 });
  return encodeBatch(records, {
    baseOffset: r.int(2 ** 40),
    compression: r.chance(0.5) ? CompressionCodec.None : r.pick(codecs),
    producerId: BigInt(r.range(-1, 1000)),
    isTransactional: r.chance(0.2),
  });
}

describe('fuzz', () => {
  const codecs = supportedCompressionCodecs();

  it('random byte strings', () => {
    for (let seed = 0; seed < 1500; seed++) {
      const r = new Random(seed);
      const buf = r.bytes(r.int(160));
      if (r.chance(0.7) && buf.length >= RECORDS_OFFSET) {
        // dressed as a batch: plausible length, magic 2, codec bits, CRC right
        buf.writeInt32BE(buf.length - 12, BATCH_LENGTH_OFFSET);
        buf[MAGIC_OFFSET] = 2;
        buf.writeInt16BE(r.int(8), ATTRIBUTES_OFFSET);
        buf.writeInt32BE(r.range(0, 6), RECORDS_COUNT_OFFSET);
        buf.writeInt32BE(r.range(-1, 6), LAST_OFFSET_DELTA_OFFSET);
        buf.writeInt32BE(r.int(1000), 27); // baseTimestamp high word kept small
        fixCrc(buf);
      }
      const problem = violations(buf);
      if (problem !== null) throw new Error(`seed ${seed}: ${problem}`);
    }
  });

  it('valid batches, mutated, with and without the CRC recomputed', () => {
    let decodedAfterMutation = 0;
    let rejected = 0;
    const reasons = new Map<string, number>();
    for (let seed = 0; seed < 4000; seed++) {
      const r = new Random(1_000_000 + seed);
      const original = validBatch(r, codecs);
      const problemBefore = violations(original);
      if (problemBefore !== null) throw new Error(`seed ${seed} (unmutated): ${problemBefore}`);
      const buf = mutate(r, original);
      if (r.chance(0.5)) fixCrc(buf);
      const problem = violations(buf);
      if (problem !== null) throw new Error(`seed ${seed}: ${problem}`);
      const outcome = attempt(() => decodeBatch(buf, 0, OPTIONS));
      if (outcome.ok) decodedAfterMutation++;
      else {
        rejected++;
        const e = outcome.error;
        const key = e instanceof CorruptRecordError ? e.reason : 'unsupported-compression';
        reasons.set(key, (reasons.get(key) ?? 0) + 1);
      }
    }
    // The mutations must reach past the CRC: record-level and compression failures occur.
    expect(reasons.get('bad-records') ?? 0).toBeGreaterThan(200);
    expect(reasons.get('crc-mismatch') ?? 0).toBeGreaterThan(200);
    expect(reasons.get('bad-compression') ?? 0).toBeGreaterThan(20);
    expect(decodedAfterMutation).toBeGreaterThan(100); // mutations the CRC fix made valid
    expect(rejected + decodedAfterMutation).toBe(4000);
  });

  it('concatenations with a mutated batch in the middle', () => {
    for (let seed = 0; seed < 300; seed++) {
      const r = new Random(5_000_000 + seed);
      const a = validBatch(r, codecs);
      const b = mutate(r, validBatch(r, codecs));
      if (r.chance(0.5)) fixCrc(b);
      const c = validBatch(r, codecs);
      const buf = Buffer.concat([a, b, c]);
      const scan = scanValidBatches(buf);
      if (scan.validBytes < a.length) throw new Error(`seed ${seed}: scan stopped inside the first valid batch`);
      const all = attempt(() => decodeBatches(buf, 0, OPTIONS));
      if (!allowed(all)) throw new Error(`seed ${seed}: decodeBatches threw ${describeError(all)}`);
    }
  });
});
