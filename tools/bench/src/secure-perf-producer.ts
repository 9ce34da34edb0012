/**
 * The producer process of the secure-perf benchmark (not a benchmark itself): an SDK
 * Producer (acks=all, the SDK's default batching) sending records of one reused payload as
 * fast as the cluster acknowledges — a warm-up phase (login, metadata, JIT), then a measured
 * phase of a fixed duration — and printing, as its last stdout line, one JSON object
 * `{records, records_per_s, mb_per_s, latency_p50_ms, latency_p99_ms, cpu_us_per_record, ...}`
 * (CPU: this process's user + system time in the measured phase per record).
 *
 * The send loop is `tributary perf produce`'s: `sendSequenced` (nothing allocated per record,
 * one callback per run of records in a batch), send times in a ring indexed by sequence,
 * `waitForCapacity` as back-pressure. Latency of a record = when its run is acknowledged −
 * when it was handed to the producer.
 *
 * Its settings come as JSON in the environment variable TRIBUTARY_SECURE_PERF (not argv: the
 * SASL password must not show in the process list).
 */
import { Producer } from '@tributary/client';
import type { ProducerRecord, SaslOptions, TlsOptions } from '@tributary/client';

export const SETTINGS_ENV = 'TRIBUTARY_SECURE_PERF';

export interface ProducerSettings {
  bootstrap: string[];
  topic: string;
  recordSize: number;
  warmupMs: number;
  durationMs: number;
  tls?: TlsOptions;
  sasl?: SaslOptions;
}

/** Records sent synchronously between two yields to the event loop. */
const CHUNK_RECORDS = 512;
/** Send-time ring: more than the records that can be pending (buffer.memory / record size). */
const RING_SIZE = 1 << 20;

/**
 * Latency histogram with ~1 % resolution: bucket ⌊100 · ln(1 + µs)⌋ (no per-record
 * allocation, bounded memory whatever the duration).
 */
class Latencies {
  private readonly buckets = new Float64Array(2_000);
  count = 0;
  private sumUs = 0;
  private maxUs = 0;

  record(us: number): void {
    const b = Math.min(this.buckets.length - 1, Math.floor(100 * Math.log1p(Math.max(0, us))));
    this.buckets[b]! += 1;
    this.count++;
    this.sumUs += us;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** The `q` quantile in ms (upper edge of its bucket). */
  quantileMs(q: number): number {
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let b = 0; b < this.buckets.length; b++) {
      seen += this.buckets[b]!;
      if (seen >= rank && seen > 0) return Math.expm1((b + 1) / 100) / 1000;
    }
    return this.maxUs / 1000;
  }

  get avgMs(): number {
    return this.count === 0 ? 0 : this.sumUs / this.count / 1000;
  }

  get maxMs(): number {
    return this.maxUs / 1000;
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

async function main(): Promise<void> {
  const raw = process.env[SETTINGS_ENV];
  if (!raw) throw new Error(`${SETTINGS_ENV} is not set: this process is started by the secure-perf benchmark`);
  const s = JSON.parse(raw) as ProducerSettings;
  const producer = new Producer({
    bootstrap: s.bootstrap,
    clientId: 'secure-perf',
    acks: 'all',
    ...(s.tls ? { tls: s.tls } : {}),
    ...(s.sasl ? { sasl: s.sasl } : {}),
  });
  const payload = Buffer.allocUnsafe(s.recordSize);
  for (let i = 0; i < payload.length; i++) payload[i] = 65 + Math.floor(Math.random() * 26);
  const record: ProducerRecord = { topic: s.topic, key: null, value: payload };
  const sentAt = new Float64Array(RING_SIZE);
  const mask = RING_SIZE - 1;
  let measuring = false;
  let acked = 0;
  let failed = 0;
  let firstError: Error | undefined;
  const latency = new Latencies();
  const onRun = (error: Error | null, _t: string, _p: number, _o: bigint, first: number, count: number): void => {
    if (error) {
      failed += count;
      firstError ??= error;
      return;
    }
    if (!measuring) return;
    const now = performance.now();
    for (let k = first; k < first + count; k++) latency.record((now - sentAt[k & mask]!) * 1000);
    acked += count;
  };
  let sequence = 0;
  const sendFor = async (ms: number): Promise<void> => {
    const end = performance.now() + ms;
    while (performance.now() < end && firstError === undefined) {
      let accepted = true;
      for (let i = 0; i < CHUNK_RECORDS && accepted; i++) {
        sentAt[sequence & mask] = performance.now();
        accepted = producer.sendSequenced(record, sequence++, onRun);
      }
      if (!accepted) await producer.waitForCapacity();
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await producer.flush();
  };
  try {
    await producer.partitionsFor(s.topic);
    await sendFor(s.warmupMs);
    const warmupRecords = sequence;
    measuring = true;
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    await sendFor(s.durationMs);
    const elapsedS = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    if (firstError) throw new Error(`${failed} records failed; the first: ${firstError.message}`, { cause: firstError });
    process.stdout.write(
      `${JSON.stringify({
        records: acked,
        warmup_records: warmupRecords,
        cpu_us_per_record: round3((cpu.user + cpu.system) / acked),
        records_per_s: Math.round(acked / elapsedS),
        mb_per_s: round3((acked * s.recordSize) / elapsedS / 1e6),
        latency_avg_ms: round3(latency.avgMs),
        latency_p50_ms: round3(latency.quantileMs(0.5)),
        latency_p99_ms: round3(latency.quantileMs(0.99)),
        latency_max_ms: round3(latency.maxMs),
      })}\n`,
    );
  } finally {
    await producer.close({ timeoutMs: 5_000 }).catch(() => undefined);
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
