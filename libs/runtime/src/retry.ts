/**
 * The one retry helper (STYLE.md "Errors"): retries only retriable errors, with exponential
 * backoff and jitter, KafkaJS' defaults (300 ms initial, ×2, ±20 % jitter, 30 s max, 5 retries).
 *
 * Delay before retry n (n = 0 for the first retry): `min(maxMs, initialMs × factor^n)`, then
 * multiplied by a random factor in [1 − jitter, 1 + jitter] and capped at `maxMs` again.
 * Retriable by default: a `TributaryError` whose `retriable` is set (NOT_LEADER_OR_FOLLOWER,
 * REQUEST_TIMED_OUT, ...) and a gRPC UNAVAILABLE status. Everything else fails at once.
 */
import { TributaryError } from '@tributary/records';
import { GrpcStatusError, Status } from './grpc-errors';

/** What {@link RetryOptions.onRetry} is told before each wait. */
export interface RetryEvent {
  /** The error that failed the attempt. */
  error: unknown;
  /** Number of the retry about to happen (1 for the first retry). */
  retry: number;
  /** How long it waits before that retry. */
  delayMs: number;
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Retries after the first attempt (default 5: at most 6 attempts). */
  retries?: number;
  /** First delay (default 300 ms). */
  initialMs?: number;
  /** Growth per retry (default 2). */
  factor?: number;
  /** Relative randomisation of each delay, 0..1 (default 0.2). */
  jitter?: number;
  /** Longest delay (default 30 000 ms). */
  maxMs?: number;
  /** Whether an error may be retried (default {@link isRetriableError}). */
  isRetriable?: (error: unknown) => boolean;
  /** Stops waiting and retrying; `retry` then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Called before each wait (to log it). */
  onRetry?: (event: RetryEvent) => void;
  /** Waits `ms` (default a timer); tests pass a fake clock. Must reject when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Random number in [0, 1) for the jitter (default `Math.random`). */
  random?: () => number;
}

/** KafkaJS' defaults. */
export const RETRY_DEFAULTS = { retries: 5, initialMs: 300, factor: 2, jitter: 0.2, maxMs: 30_000 } as const;

/** Default retriability: a retriable TributaryError, or a gRPC status UNAVAILABLE. */
export function isRetriableError(error: unknown): boolean {
  if (error instanceof GrpcStatusError) return error.code === Status.UNAVAILABLE;
  if (error instanceof TributaryError) return error.retriable;
  // A raw grpc-js ServiceError (not converted by the client helpers).
  if (error !== null && typeof error === 'object' && (error as { code?: unknown }).code === Status.UNAVAILABLE && 'metadata' in error) {
    return true;
  }
  return TributaryError.from(error).retriable;
}

/** Delay before retry `n` (0-based) with `random` ∈ [0, 1) — exposed for tests and dashboards. */
export function backoffDelayMs(
  n: number,
  options: Pick<RetryOptions, 'initialMs' | 'factor' | 'jitter' | 'maxMs'> = {},
  random: () => number = Math.random,
): number {
  const { initialMs, factor, jitter, maxMs } = { ...RETRY_DEFAULTS, ...options };
  const base = Math.min(maxMs, initialMs * factor ** n);
  const spread = 1 - jitter + 2 * jitter * random();
  return Math.min(maxMs, Math.round(base * spread));
}

/**
 * Runs `fn` until it succeeds, fails with a non-retriable error, or runs out of retries
 * (then the last error is thrown unchanged). `fn` receives the attempt number (0 first).
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const retries = options.retries ?? RETRY_DEFAULTS.retries;
  const isRetriable = options.isRetriable ?? isRetriableError;
  const sleep = options.sleep ?? abortableSleep;
  const random = options.random ?? Math.random;
  const { signal } = options;
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw signal.reason;
    try {
      return await fn(attempt);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (attempt >= retries || !isRetriable(error)) throw error;
      const delayMs = backoffDelayMs(attempt, options, random);
      options.onRetry?.({ error, retry: attempt + 1, delayMs });
      await sleep(delayMs, signal);
    }
  }
}

/** Waits `ms`, rejecting with `signal.reason` as soon as `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
