import { Metadata } from '@grpc/grpc-js';
import { ErrorCode, TributaryError } from '@tributary/records';
import { GrpcStatusError, Status } from './grpc-errors';
import { abortableSleep, backoffDelayMs, isRetriableError, retry, type RetryEvent } from './retry';

/** A fake clock: records every wait and returns at once. */
function fakeSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

const retriable = () => new TributaryError(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'moved');

describe('backoffDelayMs', () => {
  it('grows by the factor from the initial delay, capped at the maximum (KafkaJS defaults)', () => {
    const mid = () => 0.5; // no jitter
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelayMs(n, {}, mid))).toEqual([300, 600, 1200, 2400, 4800, 9600, 19200, 30000, 30000]);
  });

  it('spreads each delay by ±jitter, never beyond the maximum', () => {
    expect(backoffDelayMs(0, {}, () => 0)).toBe(240);
    expect(backoffDelayMs(0, {}, () => 0.999999)).toBe(360);
    expect(backoffDelayMs(10, {}, () => 0.999999)).toBe(30000);
    expect(backoffDelayMs(1, { initialMs: 10, factor: 3, jitter: 0 }, Math.random)).toBe(30);
  });
});

describe('retry', () => {
  it('retries retriable errors with growing delays, then succeeds', async () => {
    const clock = fakeSleep();
    const events: RetryEvent[] = [];
    let calls = 0;
    const result = await retry(
      async (attempt) => {
        expect(attempt).toBe(calls++);
        if (attempt < 3) throw retriable();
        return 'done';
      },
      { sleep: clock.sleep, random: () => 0.5, onRetry: (e) => events.push(e) },
    );
    expect(result).toBe('done');
    expect(clock.waits).toEqual([300, 600, 1200]);
    expect(events.map((e) => [e.retry, e.delayMs])).toEqual([
      [1, 300],
      [2, 600],
      [3, 1200],
    ]);
  });

  it('gives up after `retries` retries and throws the last error unchanged', async () => {
    const clock = fakeSleep();
    const errors: Error[] = [];
    const p = retry(
      async () => {
        const e = retriable();
        errors.push(e);
        throw e;
      },
      { sleep: clock.sleep },
    );
    await expect(p).rejects.toBe(await p.catch(() => errors[errors.length - 1]));
    expect(errors).toHaveLength(6);
    expect(clock.waits).toHaveLength(5);
  });

  it('does not retry errors that are not retriable', async () => {
    const clock = fakeSleep();
    let calls = 0;
    const err = new TributaryError(ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'denied');
    await expect(
      retry(
        async () => {
          calls++;
          throw err;
        },
        { sleep: clock.sleep },
      ),
    ).rejects.toBe(err);
    expect(calls).toBe(1);
  });

  it('honours a custom isRetriable', async () => {
    const clock = fakeSleep();
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new Error('flaky');
        },
        { sleep: clock.sleep, retries: 2, isRetriable: (e) => (e as Error).message === 'flaky' },
      ),
    ).rejects.toThrow('flaky');
    expect(calls).toBe(3);
  });

  it('waits for real with tiny delays', async () => {
    let calls = 0;
    const started = Date.now();
    await retry(
      async () => {
        if (++calls < 3) throw new GrpcStatusError(Status.UNAVAILABLE, 'down');
      },
      { initialMs: 5, maxMs: 20 },
    );
    expect(calls).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4 + 8); // 5 ms and 10 ms less 20 % jitter, rounded
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('stops waiting when the signal aborts, rejecting with its reason', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const p = retry(
      async () => {
        throw retriable();
      },
      { signal: controller.signal, initialMs: 60_000, maxMs: 60_000 },
    );
    setTimeout(() => controller.abort(reason), 10);
    await expect(p).rejects.toBe(reason);
  });
});

describe('isRetriableError', () => {
  it('retries retriable Kafka codes and gRPC UNAVAILABLE only', () => {
    expect(isRetriableError(retriable())).toBe(true);
    expect(isRetriableError(new TributaryError(ErrorCode.INVALID_CONFIG, 'bad'))).toBe(false);
    expect(isRetriableError(new GrpcStatusError(Status.UNAVAILABLE, 'down'))).toBe(true);
    expect(isRetriableError(new GrpcStatusError(Status.ALREADY_EXISTS, 'exists'))).toBe(false);
    expect(isRetriableError(Object.assign(new Error('raw'), { code: Status.UNAVAILABLE, details: 'raw', metadata: new Metadata() }))).toBe(true);
    expect(isRetriableError(new Error('other'))).toBe(false);
    expect(isRetriableError('string')).toBe(false);
  });
});

describe('abortableSleep', () => {
  it('rejects at once for an aborted signal', async () => {
    await expect(abortableSleep(10_000, AbortSignal.abort('gone'))).rejects.toBe('gone');
  });
});
