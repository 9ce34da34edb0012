/**
 * Turns a grpc-js object stream (server-side request stream, client-side response stream)
 * into an async iterator with bounded buffering, cancellation and error conversion.
 *
 * Node's built-in `Readable[Symbol.asyncIterator]` is not used because grpc-js streams end in
 * ways it handles badly: a client-side stream emits `error` (the status) after `push(null)`
 * and must always keep an `error` listener or the process crashes, and a server-side stream
 * is destroyed without `end` when the peer cancels. Here:
 * - at most `highWaterMark` messages wait in the iterator; beyond that the stream is paused,
 *   so HTTP/2 flow control pushes back on the sender;
 * - the iterator ends on `end`; on `error` it first yields what was already received, then
 *   throws `mapError(error)`;
 * - `signal` aborting throws its reason at once;
 * - `return()` (a `break` out of `for await`) calls `onReturn` (e.g. cancel the call).
 *
 * Internal to the runtime: not exported from the package.
 */
import type { Readable } from 'node:stream';

/** Options of {@link iterateStream}. */
export interface IterateStreamOptions {
  /** Abort: the next (or pending) `next()` rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Converts a stream error before it is thrown. */
  mapError?: (e: unknown) => unknown;
  /** Called once when the consumer stops early (`return()`), not on normal end or error. */
  onReturn?: () => void;
  /** Messages buffered before pausing the stream (default 16). */
  highWaterMark?: number;
  /**
   * Awaited once the stream has ended, before reporting the end: lets a cancellation that
   * arrives right behind the end win (a server-side grpc-js stream sees a client's RST_STREAM
   * as a half-close first and as a cancellation a few ticks later).
   */
  settleEnd?: () => Promise<void>;
}

/** Iterates the objects of `stream` (see the file header). */
export function iterateStream<T>(stream: Readable, options: IterateStreamOptions = {}): AsyncIterableIterator<T> {
  const highWaterMark = options.highWaterMark ?? 16;
  const queue: T[] = [];
  let ended = false;
  let failed: { error: unknown } | undefined;
  let finished = false;
  let endSettled = false;
  let wake: (() => void) | undefined;

  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (message: T): void => {
    queue.push(message);
    if (queue.length >= highWaterMark) stream.pause();
    notify();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onError = (error: unknown): void => {
    failed ??= { error };
    notify();
  };
  const onAbort = (): void => notify();

  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('close', onEnd);
  stream.on('error', onError);
  options.signal?.addEventListener('abort', onAbort);

  const cleanup = (): void => {
    if (finished) return;
    finished = true;
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('close', onEnd);
    options.signal?.removeEventListener('abort', onAbort);
    // Keep `onError` attached: a grpc-js stream may still emit its status as an error, and an
    // error event without a listener would crash the process.
    queue.length = 0;
  };

  const iterator: AsyncIterableIterator<T> = {
    async next(): Promise<IteratorResult<T>> {
      for (;;) {
        if (finished) return { done: true, value: undefined };
        if (options.signal?.aborted) {
          cleanup();
          throw options.signal.reason;
        }
        if (queue.length > 0) {
          const value = queue.shift() as T;
          if (queue.length < highWaterMark && stream.isPaused()) stream.resume();
          return { done: false, value };
        }
        // An error after the last message: messages still inside the stream come first.
        if (failed !== undefined && (ended || stream.readableLength === 0 || stream.destroyed)) {
          cleanup();
          throw options.mapError ? options.mapError(failed.error) : failed.error;
        }
        if (ended) {
          if (options.settleEnd && !endSettled) {
            endSettled = true;
            await options.settleEnd();
            continue;
          }
          cleanup();
          return { done: true, value: undefined };
        }
        if (stream.isPaused()) stream.resume();
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    async return(): Promise<IteratorResult<T>> {
      if (!finished) {
        cleanup();
        options.onReturn?.();
      }
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
