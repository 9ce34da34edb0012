/**
 * records-codec: throughput of the RecordBatch v2 codec (libs/records) on one core, with
 * 100-byte values and null keys (kafka-producer-perf-test's default shape):
 *   - encode: encodeBatch of ~16 KiB batches (the producer's batch.size) and of ~1 MiB ones,
 *     and BatchBuilder.tryAppend/build at 16 KiB;
 *   - decode: decodeBatch (one object per record) and forEachRecord (one reused view; the
 *     visitor reads each value's length);
 *   - validate: validateRecords on uncompressed batches (the broker's produce path);
 *   - each compression codec this build supports: encode and decode of 16 KiB batches of
 *     compressible values.
 * Each figure is the median of 3 rounds (rounds of ~1 s, ~0.25 s with --quick). Inputs are
 * built before timing; every timed loop consumes its results so nothing is optimised away.
 */
import {
  BatchBuilder,
  CompressionCodec,
  decodeBatch,
  encodeBatch,
  forEachRecord,
  supportedCompressionCodecs,
  validateRecords,
} from '@tributary/records';
import type { RecordInput } from '@tributary/records';
import type { Benchmark, BenchContext, Figures } from './harness';
import { MiB, medianOf, nowSeconds, prng, round } from './harness';

const VALUE_BYTES = 100;
const SMALL_BATCH_BYTES = 16 * 1024;
const LARGE_BATCH_BYTES = 1024 * 1024;
/** Bytes one record takes in a batch here (length, attributes, deltas, null key, value, headers). */
const RECORD_OVERHEAD_BYTES = 10;

/** `count` records of 100-byte values: random bytes, or JSON-like text (compressible). */
function makeRecords(count: number, compressible: boolean, seed: number): RecordInput[] {
  const random = prng(seed);
  const actions = ['page_view', 'add_to_cart', 'checkout', 'search', 'login'];
  const base = 1_750_000_000_000;
  const out: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    let value: Buffer;
    if (compressible) {
      const n = (k: number) => String(Math.floor(random() * k)).padStart(String(k).length - 1, '0');
      const text = `{"id":${i},"user":"user-${n(10000)}","action":"${actions[Math.floor(random() * actions.length)]}","path":"/products/${n(100000)}","ms":${base + i}}`;
      value = Buffer.alloc(VALUE_BYTES, 0x20);
      value.write(text.slice(0, VALUE_BYTES));
    } else {
      value = Buffer.allocUnsafe(VALUE_BYTES);
      for (let j = 0; j < VALUE_BYTES; j++) value[j] = Math.floor(random() * 256);
    }
    out.push({ key: null, value, timestamp: base + i });
  }
  return out;
}

/**
 * Calls `body` (which handles `unit` records per call) for about `seconds` of busy time and
 * returns records/s. It yields to the event loop every ~20 ms, outside the timed slices, as a
 * server does: buffers returned by the native codecs are freed by finalizers that only run
 * when the loop turns, so a long synchronous loop would pile them up.
 */
async function rate(seconds: number, unit: number, body: () => void): Promise<number> {
  let calls = 0;
  let busy = 0;
  while (busy < seconds) {
    const start = nowSeconds();
    let elapsed = 0;
    do {
      for (let i = 0; i < 8; i++) body();
      calls += 8;
      elapsed = nowSeconds() - start;
    } while (elapsed < 0.02);
    busy += elapsed;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return (calls * unit) / busy;
}

async function measure(ctx: BenchContext, label: string, unit: number, bytesPerCall: number, seconds: number, body: () => void): Promise<number> {
  await rate(Math.min(0.2, seconds), unit, body); // warm-up: let the JIT settle
  const perSecond = await medianOf(3, () => rate(seconds, unit, body));
  const mbPerSecond = ((perSecond / unit) * bytesPerCall) / MiB;
  ctx.report(`${label.padEnd(44)} ${Math.round(perSecond).toLocaleString('en-US').padStart(12)} records/s ${mbPerSecond.toFixed(1).padStart(8)} MiB/s`);
  return perSecond;
}

const bench: Benchmark = {
  description: 'RecordBatch v2 codec throughput (encode, decode, validate, compression) with 100-byte records, one core',
  async run(ctx: BenchContext): Promise<Figures> {
    const seconds = ctx.quick ? 0.25 : 1;
    const perSmall = Math.floor((SMALL_BATCH_BYTES - 61) / (VALUE_BYTES + RECORD_OVERHEAD_BYTES));
    const perLarge = Math.floor((LARGE_BATCH_BYTES - 61) / (VALUE_BYTES + RECORD_OVERHEAD_BYTES));
    const small = makeRecords(perSmall, false, 1);
    const large = makeRecords(perLarge, false, 2);
    const text = makeRecords(perSmall, true, 3);
    let sink = 0;

    const smallBatch = encodeBatch(small);
    const largeBatch = encodeBatch(large);
    ctx.report(`records of ${VALUE_BYTES}-byte values, null keys; small batch ${perSmall} records = ${smallBatch.length} bytes, large batch ${perLarge} records = ${largeBatch.length} bytes`);

    const encode = await measure(ctx, `encodeBatch ${perSmall} records (16 KiB)`, perSmall, smallBatch.length, seconds, () => {
      sink += encodeBatch(small).length;
    });
    const encodeLarge = await measure(ctx, `encodeBatch ${perLarge} records (1 MiB)`, perLarge, largeBatch.length, seconds, () => {
      sink += encodeBatch(large).length;
    });
    const build = await measure(ctx, `BatchBuilder 16 KiB`, perSmall, smallBatch.length, seconds, () => {
      const builder = new BatchBuilder({ maxBatchBytes: SMALL_BATCH_BYTES });
      for (const r of small) builder.tryAppend(r);
      sink += builder.build().length;
    });
    const decode = await measure(ctx, `decodeBatch ${perSmall} records (16 KiB)`, perSmall, smallBatch.length, seconds, () => {
      sink += decodeBatch(smallBatch).records.length;
    });
    const decodeLarge = await measure(ctx, `decodeBatch ${perLarge} records (1 MiB)`, perLarge, largeBatch.length, seconds, () => {
      sink += decodeBatch(largeBatch).records.length;
    });
    const iterate = await measure(ctx, `forEachRecord ${perSmall} records (16 KiB)`, perSmall, smallBatch.length, seconds, () => {
      forEachRecord(smallBatch, 0, (r) => {
        sink += r.valueLength;
      });
    });
    const iterateLarge = await measure(ctx, `forEachRecord ${perLarge} records (1 MiB)`, perLarge, largeBatch.length, seconds, () => {
      forEachRecord(largeBatch, 0, (r) => {
        sink += r.valueLength;
      });
    });
    const validate = await measure(ctx, `validateRecords ${perSmall} records (16 KiB)`, perSmall, smallBatch.length, seconds, () => {
      sink += validateRecords(smallBatch).recordsCount;
    });
    const validateLarge = await measure(ctx, `validateRecords ${perLarge} records (1 MiB)`, perLarge, largeBatch.length, seconds, () => {
      sink += validateRecords(largeBatch).recordsCount;
    });

    const figures: Figures = {
      encode_records_per_s: Math.round(encode),
      decode_records_per_s: Math.round(decode),
      validate_records_per_s: Math.round(validate),
      iterate_records_per_s: Math.round(iterate),
      build_records_per_s: Math.round(build),
      encode_large_records_per_s: Math.round(encodeLarge),
      decode_large_records_per_s: Math.round(decodeLarge),
      iterate_large_records_per_s: Math.round(iterateLarge),
      validate_large_records_per_s: Math.round(validateLarge),
      encode_mb_per_s: round((encode / perSmall) * smallBatch.length / MiB),
      decode_mb_per_s: round((decode / perSmall) * smallBatch.length / MiB),
      validate_mb_per_s: round((validate / perSmall) * smallBatch.length / MiB),
    };

    const names: Record<number, string> = {
      [CompressionCodec.Gzip]: 'gzip',
      [CompressionCodec.Snappy]: 'snappy',
      [CompressionCodec.Lz4]: 'lz4',
      [CompressionCodec.Zstd]: 'zstd',
    };
    const uncompressedText = encodeBatch(text).length;
    for (const codec of supportedCompressionCodecs()) {
      if (codec === CompressionCodec.None) continue;
      const name = names[codec] ?? String(codec);
      const compressed = encodeBatch(text, { compression: codec });
      ctx.report(`${name}: ${perSmall} compressible records, ${uncompressedText} → ${compressed.length} bytes`);
      const enc = await measure(ctx, `  ${name} encodeBatch (16 KiB)`, perSmall, uncompressedText, seconds, () => {
        sink += encodeBatch(text, { compression: codec }).length;
      });
      const dec = await measure(ctx, `  ${name} decodeBatch (16 KiB)`, perSmall, uncompressedText, seconds, () => {
        sink += decodeBatch(compressed).records.length;
      });
      figures[`${name}_encode_records_per_s`] = Math.round(enc);
      figures[`${name}_decode_records_per_s`] = Math.round(dec);
      figures[`${name}_ratio`] = round(uncompressedText / compressed.length, 2);
    }
    if (sink === 0) ctx.report('(no work done?)');
    return figures;
  },
};

export default bench;
