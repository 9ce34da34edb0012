import { CompressionCodec, RECORDS_OFFSET, decodeBatch } from '@tributary/records';
import type { RecordInput } from '@tributary/records';
import type { AccumulatorOptions, ReadyBatch, RecordMetadata } from './accumulator';
import { AccumulatorClosedError, BufferExhaustedError, RecordAccumulator, RecordTooLargeError } from './accumulator';
import { joinRecords } from './sender';

const T0 = 1_700_000_000_000;
/** A record with a 100-byte value and no key: 109 encoded bytes at small deltas (zigzag varints: length 100 takes 2 bytes). */
const RECORD_BYTES = 109;

function rec(value: number | string = 0, size = 100): RecordInput {
  const buf = Buffer.alloc(size, 0);
  buf.write(String(value));
  return { key: null, value: buf };
}

function setup(options: Partial<AccumulatorOptions> = {}): { acc: RecordAccumulator; ready: ReadyBatch[] } {
  const ready: ReadyBatch[] = [];
  const acc = new RecordAccumulator({ lingerMs: 1_000, now: () => Date.now(), onReady: (b) => ready.push(b), ...options });
  return { acc, ready };
}

/** Settles pending promise callbacks. */
async function tick(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function track<T>(p: Promise<T>): { settled: () => 'pending' | 'resolved' | 'rejected'; value: () => T | undefined; error: () => unknown } {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  let value: T | undefined;
  let error: unknown;
  p.then(
    (v) => ((state = 'resolved'), (value = v)),
    (e: unknown) => ((state = 'rejected'), (error = e)),
  );
  return { settled: () => state, value: () => value, error: () => error };
}

function values(batch: ReadyBatch): string[] {
  return decodeBatch(batch.records).records.map((r) => r.value!.toString('utf8').replace(/\0+$/, ''));
}

beforeEach(() => {
  jest.useFakeTimers({ now: T0 });
});
afterEach(() => {
  jest.useRealTimers();
});

describe('RecordAccumulator', () => {
  it('fills batches to batch.size: a batch becomes ready when the next record does not fit', () => {
    const batchSizeBytes = RECORDS_OFFSET + 3 * RECORD_BYTES + 50; // 3 fit, a 4th does not
    const { acc, ready } = setup({ batchSizeBytes });
    for (let i = 0; i < 7; i++) void acc.append('t', 0, rec(i));
    expect(ready.map((b) => b.recordCount)).toEqual([3, 3]);
    expect(acc.openBatches).toBe(1);
    for (const b of ready) {
      expect(b.sizeBytes).toBe(RECORDS_OFFSET + 3 * RECORD_BYTES);
      expect(b.sizeBytes).toBeLessThanOrEqual(batchSizeBytes);
      expect(b.records.length).toBe(b.sizeBytes);
      expect(decodeBatch(b.records).recordsCount).toBe(3);
    }
    expect(values(ready[0]!)).toEqual(['0', '1', '2']);
    expect(values(ready[1]!)).toEqual(['3', '4', '5']);
    // Buffer memory counts exact encoded bytes once records are written.
    expect(acc.bufferedBytes).toBe(2 * (RECORDS_OFFSET + 3 * RECORD_BYTES) + RECORDS_OFFSET + RECORD_BYTES);
  });

  it('makes a batch ready at once when no further record could fit', () => {
    const { acc, ready } = setup({ batchSizeBytes: RECORDS_OFFSET + 2 * RECORD_BYTES });
    void acc.append('t', 0, rec(1));
    expect(ready).toHaveLength(0);
    void acc.append('t', 0, rec(2));
    expect(ready.map((b) => b.recordCount)).toEqual([2]);
    expect(acc.openBatches).toBe(0);
  });

  it('keeps one open batch per partition and topic', () => {
    const { acc, ready } = setup();
    void acc.append('a', 0, rec());
    void acc.append('a', 1, rec());
    void acc.append('b', 0, rec());
    void acc.append('a', 0, rec());
    expect(acc.openBatches).toBe(3);
    acc.flush();
    expect(ready.map((b) => `${b.topic}/${b.partition}:${b.recordCount}`)).toEqual(['a/0:2', 'a/1:1', 'b/0:1']);
  });

  it('linger: a partial batch becomes ready lingerMs after its first record, not before', () => {
    const { acc, ready } = setup({ lingerMs: 5 });
    void acc.append('t', 0, rec());
    jest.advanceTimersByTime(3);
    void acc.append('t', 1, rec()); // deadline T0 + 8
    void acc.append('t', 0, rec()); // joins the batch of T0 (deadline T0 + 5)
    jest.advanceTimersByTime(1);
    expect(ready).toHaveLength(0);
    jest.advanceTimersByTime(1);
    expect(ready.map((b) => [b.partition, b.recordCount, b.createdMs])).toEqual([[0, 2, T0]]);
    jest.advanceTimersByTime(2);
    expect(ready).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(ready.map((b) => [b.partition, b.createdMs])).toEqual([
      [0, T0],
      [1, T0 + 3],
    ]);
    expect(acc.openBatches).toBe(0);
    expect(jest.getTimerCount()).toBe(0); // no timer left behind, no polling
  });

  it('linger 0 still batches the records appended in one synchronous run', () => {
    const { acc, ready } = setup({ lingerMs: 0 });
    for (let i = 0; i < 4; i++) void acc.append('t', 0, rec(i));
    expect(ready).toHaveLength(0);
    jest.advanceTimersByTime(0);
    expect(ready.map((b) => b.recordCount)).toEqual([4]);
  });

  it('flush makes every open batch ready now', () => {
    const { acc, ready } = setup({ lingerMs: 60_000 });
    void acc.append('t', 0, rec());
    void acc.append('t', 1, rec());
    acc.flush();
    expect(ready).toHaveLength(2);
    expect(acc.openBatches).toBe(0);
    expect(acc.inFlightBatches).toBe(2);
    acc.flush(); // nothing open: nothing more
    expect(ready).toHaveLength(2);
  });

  it('resolves offsets as baseOffset + index across several batches, and frees memory', async () => {
    const { acc, ready } = setup({ batchSizeBytes: RECORDS_OFFSET + 3 * RECORD_BYTES + 50 });
    const results: Promise<RecordMetadata>[] = [];
    for (let i = 0; i < 8; i++) {
      results.push(acc.append('t', 2, i === 5 ? { ...rec(i), timestamp: T0 - 7 } : rec(i)));
      jest.advanceTimersByTime(1);
    }
    acc.flush();
    expect(ready.map((b) => b.recordCount)).toEqual([3, 3, 2]);
    // A batch's bytes are valid until it is done (then they go back to pooled memory).
    expect(decodeBatch(ready[1]!.records).records.map((r) => r.timestamp)).toEqual([T0 + 3, T0 + 4, T0 - 7]);
    expect(ready[0]!.complete(100n)).toBe(true);
    expect(ready[0]!.complete(999n)).toBe(false); // already done
    ready[1]!.complete(103n);
    ready[2]!.complete(500n, BigInt(T0 + 99));
    const metadata = await Promise.all(results);
    expect(metadata.map((m) => m.offset)).toEqual([100n, 101n, 102n, 103n, 104n, 105n, 500n, 501n]);
    expect(metadata.every((m) => m.topic === 't' && m.partition === 2)).toBe(true);
    // No timestamp: now() at append; given: kept; LogAppendTime from the broker: that.
    expect(metadata.map((m) => m.timestamp)).toEqual([T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 - 7, T0 + 99, T0 + 99]);
    expect(acc.bufferedBytes).toBe(0);
    expect(acc.inFlightBatches).toBe(0);
  });

  it('fail rejects every record of that batch and only those', async () => {
    const { acc, ready } = setup();
    const p0 = [acc.append('t', 0, rec()), acc.append('t', 0, rec())].map(track);
    const p1 = track(acc.append('t', 1, rec()));
    acc.flush();
    const error = new Error('broker says no');
    expect(ready[0]!.fail(error)).toBe(true);
    expect(ready[0]!.fail(error)).toBe(false);
    await tick();
    expect(p0.map((p) => p.settled())).toEqual(['rejected', 'rejected']);
    expect(p0.map((p) => p.error())).toEqual([error, error]);
    expect(p1.settled()).toBe('pending');
    expect(acc.bufferedBytes).toBe(ready[1]!.sizeBytes);
    ready[1]!.complete(0n);
    await tick();
    expect(p1.settled()).toBe('resolved');
  });

  it('fails a batch whose onReady throws', async () => {
    const acc = new RecordAccumulator({
      onReady: () => {
        throw new Error('sender is down');
      },
    });
    const p = acc.append('t', 0, rec());
    acc.flush();
    await expect(p).rejects.toThrow('sender is down');
    expect(acc.bufferedBytes).toBe(0);
  });

  describe('buffer.memory back-pressure', () => {
    // Reservation of a 100-byte record: 61 + 109 + 17 = 187 bytes; 2 records take 61 + 2 * 109 = 279,
    // so a third waits; a 1-byte record (8 bytes, reservation 86) would fit beside the two.
    const bufferMemoryBytes = 400;

    it('appends wait when memory is exhausted, open batches are sent, and waiters resume FIFO when a batch completes', async () => {
      const { acc, ready } = setup({ bufferMemoryBytes, lingerMs: 60_000 });
      const a = track(acc.append('t', 0, rec('a')));
      const b = track(acc.append('t', 0, rec('b')));
      expect(acc.bufferedBytes).toBe(RECORDS_OFFSET + 2 * RECORD_BYTES);
      expect(ready).toHaveLength(0);
      const c = track(acc.append('t', 0, rec('c')));
      // A small record would fit the free memory, but must not overtake the waiting one.
      const d = track(acc.append('t', 1, rec('d', 1)));
      expect(acc.waitingAppends).toBe(2);
      expect(acc.waitingBytes).toBe(187 + (RECORDS_OFFSET + 8 + 17));
      expect(acc.bufferedBytes).toBe(RECORDS_OFFSET + 2 * RECORD_BYTES);
      // The waiting made the lingering batch ready (it holds the memory the waiters need).
      expect(ready.map((r) => values(r))).toEqual([['a', 'b']]);
      await tick();
      expect([c.settled(), d.settled()]).toEqual(['pending', 'pending']);

      ready[0]!.complete(0n);
      expect(acc.waitingAppends).toBe(0);
      expect(acc.openBatches).toBe(2);
      acc.flush();
      expect(ready.slice(1).map((r) => [r.partition, values(r)])).toEqual([
        [0, ['c']],
        [1, ['d']],
      ]);
      ready[1]!.complete(2n);
      ready[2]!.complete(0n);
      await tick();
      expect([a, b, c, d].map((p) => p.value()?.offset)).toEqual([0n, 1n, 2n, 0n]);
      expect(acc.bufferedBytes).toBe(0);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('an append fails with a clear error after max.block.ms, not before', async () => {
      const { acc, ready } = setup({ bufferMemoryBytes, maxBlockMs: 100 });
      void acc.append('t', 0, rec());
      void acc.append('t', 0, rec());
      const waiting = track(acc.append('t', 0, rec()));
      jest.advanceTimersByTime(50);
      const later = track(acc.append('t', 0, rec()));
      jest.advanceTimersByTime(49);
      await tick();
      expect(waiting.settled()).toBe('pending');
      jest.advanceTimersByTime(1);
      await tick();
      expect(waiting.settled()).toBe('rejected');
      expect(waiting.error()).toBeInstanceOf(BufferExhaustedError);
      expect((waiting.error() as BufferExhaustedError).retriable).toBe(true);
      expect((waiting.error() as Error).message).toMatch(/within max\.block\.ms 100 ms \(buffer\.memory 400/);
      expect(later.settled()).toBe('pending');
      expect(acc.waitingAppends).toBe(1);
      jest.advanceTimersByTime(50);
      await tick();
      expect(later.settled()).toBe('rejected');
      expect(acc.waitingAppends).toBe(0);
      expect(acc.waitingBytes).toBe(0);
      // Memory held by the sent batch is untouched; it frees on complete.
      expect(acc.bufferedBytes).toBe(ready[0]!.sizeBytes);
      ready[0]!.complete(0n);
      expect(acc.bufferedBytes).toBe(0);
    });

    it('max.block.ms 0 fails at once; the number of waiting appends is bounded', async () => {
      const zero = setup({ bufferMemoryBytes, maxBlockMs: 0 }).acc;
      void zero.append('t', 0, rec());
      void zero.append('t', 0, rec());
      await expect(zero.append('t', 0, rec())).rejects.toThrow(/max\.block\.ms is 0/);

      const bounded = setup({ bufferMemoryBytes, maxBlockedAppends: 1 }).acc;
      void bounded.append('t', 0, rec());
      void bounded.append('t', 0, rec());
      void bounded.append('t', 0, rec()).catch(() => undefined);
      await expect(bounded.append('t', 0, rec())).rejects.toThrow(/1 appends are already waiting for buffer memory \(maxBlockedAppends\)/);
      expect(bounded.waitingAppends).toBe(1);
    });

    it('rejects at once a single record larger than buffer.memory, naming the setting', async () => {
      const { acc } = setup({ bufferMemoryBytes });
      const p = acc.append('t', 0, rec(0, 400));
      await expect(p).rejects.toBeInstanceOf(RecordTooLargeError);
      await expect(acc.append('t', 0, rec(0, 400))).rejects.toThrow(/larger than buffer\.memory \(bufferMemoryBytes\) 400/);
      expect(acc.bufferedBytes).toBe(0);
      expect(acc.waitingAppends).toBe(0);
    });
  });

  it('sends a record larger than batch.size alone, in a batch of its own', () => {
    const { acc, ready } = setup({ batchSizeBytes: 200 });
    void acc.append('t', 0, rec('small', 10));
    void acc.append('t', 0, rec('big', 500));
    expect(ready.map((b) => values(b))).toEqual([['small'], ['big']]);
    expect(ready[1]!.sizeBytes).toBeGreaterThan(200);
    expect(acc.openBatches).toBe(0);
  });

  it('compression produces a valid batch and buffer memory counts its compressed size', async () => {
    const { acc, ready } = setup({ compression: CompressionCodec.Gzip, compressionLevel: 6 });
    const results = [];
    for (let i = 0; i < 20; i++) results.push(acc.append('t', 0, { key: Buffer.from(`k${i}`), value: Buffer.alloc(200, i), headers: [{ key: 'h', value: null }] }));
    acc.flush();
    const batch = ready[0]!;
    const decoded = decodeBatch(batch.records);
    expect(decoded.compression).toBe(CompressionCodec.Gzip);
    expect(decoded.recordsCount).toBe(20);
    expect(decoded.records.map((r) => r.key!.toString())).toEqual(results.map((_, i) => `k${i}`));
    expect(decoded.records[7]!.value).toEqual(Buffer.alloc(200, 7));
    expect(decoded.records[7]!.headers).toEqual([{ key: 'h', value: null }]);
    expect(batch.sizeBytes).toBe(batch.records.length);
    expect(batch.sizeBytes).toBeLessThan(20 * 200);
    expect(acc.bufferedBytes).toBe(batch.sizeBytes);
    batch.complete(40n);
    expect((await Promise.all(results)).map((m) => m.offset)[19]).toBe(59n);
  });

  it('idempotence hook: producer id/epoch and a per-partition baseSequence', () => {
    const { acc, ready } = setup({ producerId: 42n, producerEpoch: 3, batchSizeBytes: RECORDS_OFFSET + 2 * RECORD_BYTES });
    for (let i = 0; i < 5; i++) void acc.append('t', 0, rec(i));
    void acc.append('t', 1, rec());
    acc.flush();
    expect(ready.map((b) => [b.partition, b.baseSequence])).toEqual([
      [0, 0],
      [0, 2],
      [0, 4],
      [1, 0],
    ]);
    const header = decodeBatch(ready[1]!.records);
    expect([header.producerId, header.producerEpoch, header.baseSequence]).toEqual([42n, 3, 2]);
    const plain = setup();
    void plain.acc.append('t', 0, rec());
    plain.acc.flush();
    expect(decodeBatch(plain.ready[0]!.records).baseSequence).toBe(-1);
  });

  it('close flushes, refuses new appends, and resolves once every batch is completed or failed', async () => {
    const { acc, ready } = setup();
    const a = track(acc.append('t', 0, rec()));
    const b = track(acc.append('t', 1, rec()));
    const closed = track(acc.close());
    expect(acc.close()).toBe(acc.close());
    expect(ready).toHaveLength(2);
    await expect(acc.append('t', 0, rec())).rejects.toBeInstanceOf(AccumulatorClosedError);
    ready[0]!.complete(0n);
    await tick();
    expect(closed.settled()).toBe('pending');
    ready[1]!.fail(new Error('gone'));
    await tick();
    expect([a.settled(), b.settled(), closed.settled()]).toEqual(['resolved', 'rejected', 'resolved']);
  });

  it('close serves appends already waiting for memory and sends them at once', async () => {
    const { acc, ready } = setup({ bufferMemoryBytes: 400 });
    void acc.append('t', 0, rec());
    void acc.append('t', 0, rec());
    const waiting = track(acc.append('t', 0, rec('w')));
    const closed = track(acc.close());
    ready[0]!.complete(0n);
    expect(ready.map((r) => values(r))).toEqual([['0', '0'], ['w']]);
    ready[1]!.complete(2n);
    await tick();
    expect(waiting.value()?.offset).toBe(2n);
    expect(closed.settled()).toBe('resolved');
  });

  it('checks its options, naming the Kafka key', () => {
    expect(() => new RecordAccumulator({ onReady: () => undefined, batchSizeBytes: 10 })).toThrow(/batch\.size \(batchSizeBytes\)/);
    expect(() => new RecordAccumulator({ onReady: () => undefined, lingerMs: -1 })).toThrow(/linger\.ms/);
    expect(() => new RecordAccumulator({ onReady: () => undefined, producerEpoch: 1 << 20 })).toThrow(RangeError);
  });

  it('rejects a bad timestamp or partition without touching any batch', async () => {
    const { acc } = setup();
    await expect(acc.append('t', 0, { ...rec(), timestamp: 1.5 })).rejects.toThrow(/timestamp/);
    await expect(acc.append('t', -1, rec())).rejects.toThrow(/partition -1/);
    expect(acc.openBatches).toBe(0);
  });
});

describe('callback appends', () => {
  it('appendSequenced reports one run per batch with the first sequence, the count and the offset of the run', async () => {
    const { acc, ready } = setup({ batchSizeBytes: RECORDS_OFFSET + 10 * RECORD_BYTES });
    const runs: Array<[Error | null, string, number, bigint, number, number]> = [];
    const onRun = (...args: [Error | null, string, number, bigint, number, number]): void => void runs.push(args);
    for (let i = 0; i < 15; i++) expect(acc.appendSequenced('t', 0, rec(i), 100 + i, onRun)).toBe(true);
    acc.flush();
    expect(ready).toHaveLength(2);
    expect(ready[0]!.complete(50n)).toBe(true);
    expect(ready[1]!.complete(60n)).toBe(true);
    expect(runs).toEqual([
      [null, 't', 0, 50n, 100, 10],
      [null, 't', 0, 60n, 110, 5],
    ]);
  });

  it('appendSequenced splits a run where the sequence jumps or the callback changes, with each run at its own offset', () => {
    const { acc, ready } = setup();
    const a: Array<[bigint, number, number]> = [];
    const b: Array<[bigint, number, number]> = [];
    const onA = (_e: Error | null, _t: string, _p: number, base: bigint, first: number, count: number): void => void a.push([base, first, count]);
    const onB = (_e: Error | null, _t: string, _p: number, base: bigint, first: number, count: number): void => void b.push([base, first, count]);
    acc.appendSequenced('t', 0, rec(), 0, onA);
    acc.appendSequenced('t', 0, rec(), 1, onA);
    acc.appendSequenced('t', 0, rec(), 7, onA); // jump
    acc.appendSequenced('t', 0, rec(), 8, onB); // other callback
    acc.appendSequenced('t', 0, rec(), 9, onB);
    acc.flush();
    ready[0]!.complete(1000n);
    expect(a).toEqual([
      [1000n, 0, 2],
      [1002n, 7, 1],
    ]);
    expect(b).toEqual([[1003n, 8, 2]]);
  });

  it('a failed batch reports its runs and callback records with the error; promise records reject', async () => {
    const { acc, ready } = setup();
    const runs: Array<[Error | null, bigint, number, number]> = [];
    const cbs: Array<[Error | null, unknown]> = [];
    const promise = track(acc.append('t', 0, rec()));
    acc.appendWithCallback('t', 0, rec(), (e, m) => void cbs.push([e, m]));
    acc.appendSequenced('t', 0, rec(), 5, (e, _t, _p, base, first, count) => void runs.push([e, base, first, count]));
    acc.flush();
    const boom = new Error('boom');
    ready[0]!.fail(boom);
    await tick();
    expect(promise.error()).toBe(boom);
    expect(cbs).toEqual([[boom, undefined]]);
    expect(runs).toEqual([[boom, -1n, 5, 1]]);
    expect(acc.bufferedBytes).toBe(0);
  });

  it('appendWithCallback gives each record its metadata, mixed with promise records in one batch', async () => {
    const { acc, ready } = setup();
    const got: unknown[] = [];
    const p0 = acc.append('t', 2, { ...rec(), timestamp: T0 });
    acc.appendWithCallback('t', 2, { ...rec(), timestamp: T0 + 1 }, (e, m) => void got.push(e ?? m));
    const p2 = acc.append('t', 2, { ...rec(), timestamp: T0 + 2 });
    acc.flush();
    ready[0]!.complete(10n);
    expect(await p0).toEqual({ topic: 't', partition: 2, offset: 10n, timestamp: T0 });
    expect(got).toEqual([{ topic: 't', partition: 2, offset: 11n, timestamp: T0 + 1 }]);
    expect(await p2).toEqual({ topic: 't', partition: 2, offset: 12n, timestamp: T0 + 2 });
  });

  it('acks=0 (negative base offset): runs report -1n', () => {
    const { acc, ready } = setup();
    const bases: bigint[] = [];
    acc.appendSequenced('t', 0, rec(), 0, (_e, _t, _p, base) => void bases.push(base));
    acc.flush();
    ready[0]!.complete(-1n);
    expect(bases).toEqual([-1n]);
  });

  it('callbacks are never called synchronously: an error before acceptance comes on the next tick, and append returns false', async () => {
    const { acc } = setup({ bufferMemoryBytes: 200 });
    let called: Error | null | undefined;
    expect(acc.appendWithCallback('t', 0, rec(0, 1000), (e) => (called = e))).toBe(false);
    expect(called).toBeUndefined();
    jest.runAllTicks(); // process.nextTick is faked in this file
    expect(called).toBeInstanceOf(RecordTooLargeError);
  });

  it('returns false when the record must wait for buffer memory; whenNoWaiters resolves once it was served', async () => {
    const { acc, ready } = setup({ bufferMemoryBytes: RECORDS_OFFSET + 3 * RECORD_BYTES + 40 });
    const runs: Array<[number, number]> = [];
    const onRun = (_e: Error | null, _t: string, _p: number, _b: bigint, first: number, count: number): void => void runs.push([first, count]);
    let accepted = 0;
    let i = 0;
    for (; acc.appendSequenced('t', 0, rec(i), i, onRun); i++) accepted++;
    expect(accepted).toBeGreaterThan(0);
    expect(acc.waitingAppends).toBe(1);
    const drained = track(acc.whenNoWaiters());
    await tick();
    expect(drained.settled()).toBe('pending');
    // Waiting made the open batch ready (Kafka's exhausted rule); completing it frees memory.
    ready[0]!.complete(0n);
    await tick();
    expect(drained.settled()).toBe('resolved');
    expect(acc.waitingAppends).toBe(0);
    acc.flush();
    ready[1]!.complete(BigInt(accepted));
    expect(runs).toEqual([
      [0, accepted],
      [accepted, 1],
    ]);
  });

  it('a callback that throws does not keep the others of its batch from being called', () => {
    const { acc, ready } = setup();
    const seen: number[] = [];
    acc.appendSequenced('t', 0, rec(), 0, () => {
      throw new Error('user bug');
    });
    acc.appendWithCallback('t', 0, rec(), () => void seen.push(1));
    acc.appendSequenced('t', 0, rec(), 100, () => void seen.push(2));
    acc.flush();
    expect(() => ready[0]!.complete(0n)).toThrow('user bug');
    expect(seen).toEqual([1, 2]);
    expect(acc.bufferedBytes).toBe(0);
  });
});

describe('record timestamps from the default clock', () => {
  it('are read afresh after the event loop turned, and reused only within one synchronous section', async () => {
    jest.useRealTimers();
    const ready: ReadyBatch[] = [];
    const acc = new RecordAccumulator({ lingerMs: 60_000, onReady: (b) => ready.push(b) }); // no `now`: the cached wall clock
    const stamps: Array<[number, number]> = [];
    for (let round = 0; round < 3; round++) {
      await new Promise((r) => setTimeout(r, 2));
      const before = Date.now();
      for (let i = 0; i < 20; i++) void acc.append('t', 0, rec(i));
      stamps.push([before, Date.now()]);
    }
    acc.flush();
    const timestamps = ready.flatMap((b) => decodeBatch(b.records).records.map((r) => r.timestamp));
    expect(timestamps).toHaveLength(60);
    for (let round = 0; round < 3; round++) {
      const [before, after] = stamps[round]!;
      for (const ts of timestamps.slice(round * 20, round * 20 + 20)) {
        expect(ts).toBeGreaterThanOrEqual(before);
        expect(ts).toBeLessThanOrEqual(after);
      }
    }
    for (const b of ready) b.complete(0n);
    await acc.close();
  });
});

describe('RecordAccumulator: pooled batch memory (arenas)', () => {
  const batchSizeBytes = RECORDS_OFFSET + 3 * RECORD_BYTES;

  it("carves a partition's batches back to back, so the sender joins them without copying", () => {
    const { acc, ready } = setup({ batchSizeBytes, arenaBytes: 10 * batchSizeBytes });
    for (let i = 0; i < 9; i++) void acc.append('t', 0, rec(i));
    for (let i = 0; i < 3; i++) void acc.append('t', 1, rec(100 + i));
    expect(ready.map((b) => [b.partition, b.recordCount])).toEqual([[0, 3], [0, 3], [0, 3], [1, 3]]);
    const p0 = ready.filter((b) => b.partition === 0).map((batch) => ({ batch }));
    const joined = joinRecords(p0);
    expect(joined.buffer).toBe(p0[0]!.batch.records.buffer); // a view, not a copy
    expect(joined.equals(Buffer.concat(p0.map((q) => q.batch.records)))).toBe(true);
    // Batches of different partitions are not adjacent: joined by copying, same bytes.
    const mixed = [{ batch: ready[0]! }, { batch: ready[3]! }];
    expect(joinRecords(mixed).equals(Buffer.concat([ready[0]!.records, ready[3]!.records]))).toBe(true);
    expect(values(ready[3]!)).toEqual(['100', '101', '102']);
  });

  it('reuses the memory of done batches, and never the memory of a batch still in flight', () => {
    const { acc, ready } = setup({ batchSizeBytes, arenaBytes: 2 * batchSizeBytes });
    for (let i = 0; i < 6; i++) void acc.append('t', 0, rec(i));
    expect(ready).toHaveLength(2);
    const first = ready[0]!;
    const firstBytes = Buffer.from(first.records);
    ready[1]!.complete(3n); // the first is still in flight: its arena is not reused
    for (let i = 6; i < 9; i++) void acc.append('t', 0, rec(i));
    expect(first.records.equals(firstBytes)).toBe(true);
    const third = ready[2]!;
    expect(third.records.buffer).not.toBe(first.records.buffer); // a full arena: the next one
    const { buffer, byteOffset } = third.records;
    first.complete(0n);
    third.complete(6n);
    // Everything done: the next batch is carved where the last one was.
    for (let i = 9; i < 12; i++) void acc.append('t', 0, rec(i));
    expect(ready[3]!.records.buffer).toBe(buffer);
    expect(ready[3]!.records.byteOffset).toBe(byteOffset);
    expect(values(ready[3]!)).toEqual(['9', '10', '11']);
    expect(acc.bufferedBytes).toBe(ready[3]!.sizeBytes);
  });

  it('beyond buffer.memory of arenas, batches get buffers of their own', () => {
    const { acc, ready } = setup({ batchSizeBytes, arenaBytes: 2 * batchSizeBytes, bufferMemoryBytes: 4 * batchSizeBytes });
    for (let p = 0; p < 3; p++) for (let i = 0; i < 3; i++) void acc.append('t', p, rec(p * 10 + i));
    expect(ready.map((b) => values(b))).toEqual([
      ['0', '1', '2'],
      ['10', '11', '12'],
      ['20', '21', '22'],
    ]);
    // Two arenas fit buffer.memory: partitions 0 and 1 have them, partition 2 its own buffer.
    expect(ready[2]!.records.buffer).not.toBe(ready[0]!.records.buffer);
    expect(ready[2]!.records.buffer).not.toBe(ready[1]!.records.buffer);
    for (const b of ready) b.complete(0n);
    expect(acc.bufferedBytes).toBe(0);
  });
});
