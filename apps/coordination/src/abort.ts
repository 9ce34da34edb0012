/**
 * Waiting for a promise OR an abort signal without leaking. `Promise.race([p, aborted])`
 * with one long-lived `aborted` promise adds a reaction to it on every call, kept until it
 * settles — in a loop that runs for the life of a stream, an unbounded leak. This adds one
 * abort listener per wait and removes it as soon as the wait ends.
 */
export const ABORTED: unique symbol = Symbol('aborted');

export function orAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
