/**
 * wire: the protobuf cost of moving record batches through gRPC (libs/proto), one core:
 *   - encode of a ~1 MiB ProduceRequest (one topic, 6 partitions × 11 batches of 16 KiB, the
 *     producer's batch.size) and of a ~1 MiB FetchResponse of the same shape, through the
 *     service serializers: the generated ones (`Buffer.from(X.encode(m).finish())`) against
 *     BrokerServiceFastService's exact-size encoders;
 *   - decode of the same messages by the generated deserializers: as generated now (records
 *     are views of the message) and as before tools/scripts/proto-postprocess.js, emulated by
 *     copying each records payload after decoding (what `Buffer.from(reader.bytes())` did).
 * Throughput is MiB of encoded message per second, GC included (the garbage an encoder makes
 * is part of its cost); each figure is the median of 3 rounds of ~1 s (~0.25 s with --quick).
 * Allocated bytes per operation are measured, not computed: the growth of
 * `process.memoryUsage().arrayBuffers` across one call right after a full GC (median of 9;
 * the runner enables `gc()` with `--expose-gc` set at run time). Only Buffer/ArrayBuffer
 * memory counts, not the few small JS objects a decode makes. The records' contents do not
 * matter to protobuf: they are seeded random bytes, not real batches.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BrokerServiceFastService, BrokerServiceService, FetchResponse, ProduceRequest } from '@tributary/proto';
import type { Benchmark, BenchContext, Figures } from './harness';
import { MiB, medianOf, nowSeconds, prng, round } from './harness';

const PARTITIONS = 6;
const BATCHES_PER_PARTITION = 11;
const BATCH_BYTES = 16 * 1024;
const TOPIC = 'bench-wire';

/** One partition's records: BATCHES_PER_PARTITION batches of BATCH_BYTES, concatenated. */
function partitionRecords(seed: number): Buffer {
  const random = prng(seed);
  const b = Buffer.allocUnsafe(BATCHES_PER_PARTITION * BATCH_BYTES);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(Math.floor(random() * 0x1_0000_0000), i);
  return b;
}

function produceRequest(records: Buffer[]): ProduceRequest {
  return { acks: -1, timeoutMs: 30_000, topics: [{ name: TOPIC, partitions: records.map((r, index) => ({ index, records: r })) }] };
}

function fetchResponse(records: Buffer[]): FetchResponse {
  return {
    topics: [
      {
        name: TOPIC,
        partitions: records.map((r, index) => ({
          index,
          errorCode: 0,
          errorMessage: '',
          highWatermark: 1_234_567_890n + BigInt(index),
          logStartOffset: 1_000_000n,
          records: r,
        })),
      },
    ],
    throttleTimeMs: 0,
  };
}

/** `gc()` without starting node with --expose-gc. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Keeps results alive, so that no call is optimised away and no allocation freed early. */
let sink: unknown;

/** ArrayBuffer bytes one call of `fn` allocates (median of 9 calls, each after a full GC). */
async function allocatedBytes(gc: () => void, fn: () => unknown): Promise<number> {
  const bytes = await medianOf(9, async () => {
    sink = undefined;
    gc();
    await new Promise<void>((resolve) => setImmediate(resolve)); // let freed backing stores go
    gc();
    const before = process.memoryUsage().arrayBuffers;
    sink = fn();
    return process.memoryUsage().arrayBuffers - before;
  });
  return Math.max(0, bytes);
}

/**
 * Calls `body` for about `seconds` of busy time and returns calls/s, yielding to the event
 * loop every ~20 ms outside the timed slices, as a server does.
 */
async function callsPerSecond(seconds: number, body: () => void): Promise<number> {
  let calls = 0;
  let busy = 0;
  while (busy < seconds) {
    const start = nowSeconds();
    let elapsed = 0;
    do {
      body();
      calls++;
      elapsed = nowSeconds() - start;
    } while (elapsed < 0.02);
    busy += elapsed;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return calls / busy;
}

interface Measured {
  mbPerSecond: number;
  allocatedBytes: number;
}

async function measure(ctx: BenchContext, gc: () => void, label: string, messageBytes: number, seconds: number, body: () => unknown): Promise<Measured> {
  const run = (): void => {
    sink = body();
  };
  await callsPerSecond(Math.min(0.2, seconds), run); // warm-up: let the JIT settle
  const perSecond = await medianOf(3, () => callsPerSecond(seconds, run));
  const allocated = await allocatedBytes(gc, body);
  const mbPerSecond = (perSecond * messageBytes) / MiB;
  ctx.report(
    `${label.padEnd(48)} ${mbPerSecond.toFixed(0).padStart(7)} MiB/s ${(1e6 / perSecond).toFixed(0).padStart(6)} µs/op ` +
      `${(allocated / MiB).toFixed(2).padStart(6)} MiB allocated/op (${(allocated / messageBytes).toFixed(2)}× the message)`,
  );
  if (sink === undefined) ctx.report('(no result?)');
  return { mbPerSecond, allocatedBytes: allocated };
}

/** What the generated deserializers did before tools/scripts/proto-postprocess.js: copy each records payload. */
function copyRecords(message: { topics: Array<{ partitions: Array<{ records: Buffer }> }> }): void {
  for (const t of message.topics) for (const p of t.partitions) p.records = Buffer.from(p.records);
}

const bench: Benchmark = {
  description:
    'protobuf cost of 1 MiB Produce requests and Fetch answers: generated vs exact-size encoders, copying vs zero-copy decode, one core',
  async run(ctx: BenchContext): Promise<Figures> {
    const seconds = ctx.quick ? 0.25 : 1;
    const gc = exposeGc();
    const records = Array.from({ length: PARTITIONS }, (_, i) => partitionRecords(i + 1));
    const produce = produceRequest(records);
    const fetch = fetchResponse(records);
    const generated = BrokerServiceService;
    const fast = BrokerServiceFastService;

    const produceWire = fast.produce.requestSerialize(produce);
    const fetchWire = fast.fetch.responseSerialize(fetch);
    if (!produceWire.equals(generated.produce.requestSerialize(produce)) || !fetchWire.equals(generated.fetch.responseSerialize(fetch))) {
      throw new Error('the exact-size encoders and the generated ones disagree: run the libs/proto tests');
    }
    ctx.report(
      `ProduceRequest ${produceWire.length} bytes, FetchResponse ${fetchWire.length} bytes ` +
        `(1 topic, ${PARTITIONS} partitions × ${BATCHES_PER_PARTITION} batches of ${BATCH_BYTES / 1024} KiB)`,
    );

    const produceGenerated = await measure(ctx, gc, 'Produce encode, generated serializer', produceWire.length, seconds, () => generated.produce.requestSerialize(produce));
    const produceFast = await measure(ctx, gc, 'Produce encode, encodeProduceRequest', produceWire.length, seconds, () => fast.produce.requestSerialize(produce));
    const fetchGenerated = await measure(ctx, gc, 'Fetch encode, generated serializer', fetchWire.length, seconds, () => generated.fetch.responseSerialize(fetch));
    const fetchFast = await measure(ctx, gc, 'Fetch encode, encodeFetchResponse', fetchWire.length, seconds, () => fast.fetch.responseSerialize(fetch));

    const decodeCopying = await measure(ctx, gc, 'Produce decode, copying records (before)', produceWire.length, seconds, () => {
      const m = generated.produce.requestDeserialize(produceWire);
      copyRecords(m);
      return m;
    });
    const decode = await measure(ctx, gc, 'Produce decode, records as views (now)', produceWire.length, seconds, () => generated.produce.requestDeserialize(produceWire));
    const fetchDecodeCopying = await measure(ctx, gc, 'Fetch decode, copying records (before)', fetchWire.length, seconds, () => {
      const m = generated.fetch.responseDeserialize(fetchWire);
      copyRecords(m);
      return m;
    });
    const fetchDecode = await measure(ctx, gc, 'Fetch decode, records as views (now)', fetchWire.length, seconds, () => generated.fetch.responseDeserialize(fetchWire));

    ctx.report(
      `encode speed-up: Produce ${(produceFast.mbPerSecond / produceGenerated.mbPerSecond).toFixed(1)}×, ` +
        `Fetch ${(fetchFast.mbPerSecond / fetchGenerated.mbPerSecond).toFixed(1)}×; ` +
        `decode speed-up: Produce ${(decode.mbPerSecond / decodeCopying.mbPerSecond).toFixed(1)}×, ` +
        `Fetch ${(fetchDecode.mbPerSecond / fetchDecodeCopying.mbPerSecond).toFixed(1)}×`,
    );
    return {
      produce_encode_mb_per_s: round(produceFast.mbPerSecond),
      produce_encode_generated_mb_per_s: round(produceGenerated.mbPerSecond),
      fetch_encode_mb_per_s: round(fetchFast.mbPerSecond),
      fetch_encode_generated_mb_per_s: round(fetchGenerated.mbPerSecond),
      decode_mb_per_s: round(decode.mbPerSecond),
      decode_copying_mb_per_s: round(decodeCopying.mbPerSecond),
      fetch_decode_mb_per_s: round(fetchDecode.mbPerSecond),
      fetch_decode_copying_mb_per_s: round(fetchDecodeCopying.mbPerSecond),
      produce_encode_allocated_bytes: produceFast.allocatedBytes,
      produce_encode_generated_allocated_bytes: produceGenerated.allocatedBytes,
      fetch_encode_allocated_bytes: fetchFast.allocatedBytes,
      fetch_encode_generated_allocated_bytes: fetchGenerated.allocatedBytes,
      decode_allocated_bytes: decode.allocatedBytes,
      decode_copying_allocated_bytes: decodeCopying.allocatedBytes,
      produce_message_bytes: produceWire.length,
      fetch_message_bytes: fetchWire.length,
    };
  },
};

export default bench;
