/**
 * Request bodies read into one Buffer with a size limit (413 past it, Confluent's shape).
 */
import { RestError, RestErrorCode } from './errors';

/**
 * Reads a request body up to `limitBytes`; past it, a 413 RestError — after reading (and
 * dropping) the rest of the body, up to 64 MiB more, so that the client, still sending,
 * gets the answer instead of a reset connection. Beyond that the connection is cut.
 */
export function readBody(payload: NodeJS.ReadableStream & { destroy?: (e?: Error) => void }, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const tooLarge = (): RestError =>
      new RestError(RestErrorCode.TOO_LARGE, `HTTP 413 Request Entity Too Large: the body is over ${limitBytes} bytes (--max-request-bytes); send fewer or smaller records per request`);
    payload.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total <= limitBytes) chunks.push(chunk);
      else {
        chunks.length = 0;
        if (total > limitBytes + DRAIN_BYTES) {
          payload.removeAllListeners('data');
          payload.destroy?.();
          reject(tooLarge());
        }
      }
    });
    payload.on('end', () => (total > limitBytes ? reject(tooLarge()) : resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total))));
    payload.on('error', (e: Error) => reject(new RestError(RestErrorCode.BAD_REQUEST, `the request body could not be read: ${e.message}`)));
  });
}

/** How much of an oversized body is read and dropped before answering 413. */
const DRAIN_BYTES = 64 * 1024 * 1024;
