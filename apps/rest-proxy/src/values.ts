/**
 * Checks and conversions of what clients send: JSON bodies (400 when they do not parse),
 * base64 (422 when not base64), path parameters (404 when not a partition number),
 * timestamps (422).
 */
import { RestError, RestErrorCode } from './errors';

/** A 422 with `message`. */
export function unprocessable(message: string): RestError {
  return new RestError(RestErrorCode.UNPROCESSABLE, message);
}

/** Parses a raw body (a Buffer from the catch-all content-type parser). */
export function parseJsonBody(raw: unknown): unknown {
  if (raw === undefined || raw === null || (Buffer.isBuffer(raw) && raw.length === 0)) {
    throw new RestError(RestErrorCode.BAD_REQUEST, 'the request has no body: send a JSON document');
  }
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RestError(RestErrorCode.BAD_REQUEST, `malformed JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict base64 (standard alphabet, padding optional but not misplaced), or a 422. */
export function decodeBase64(s: string, what: string): Buffer {
  if (s.length % 4 === 1 || !BASE64.test(s) || (s.includes('=') && s.length % 4 !== 0)) {
    throw unprocessable(`${what} is not valid base64: the binary format takes base64 (standard alphabet) strings`);
  }
  return Buffer.from(s, 'base64');
}

const DIGITS = /^(0|[1-9][0-9]{0,9})$/;

/** A partition path segment: a non-negative int32 (else 40402 in v2, 40403 in v3). */
export function parsePartitionParam(raw: string, topic: string, api: 'v2' | 'v3'): number {
  const n = DIGITS.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n > 2_147_483_647) {
    throw new RestError(
      api === 'v2' ? RestErrorCode.PARTITION_NOT_FOUND : RestErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      `partition '${raw.slice(0, 64)}' of topic '${topic}' not found: partitions are numbered from 0`,
    );
  }
  return n;
}

/** A timestamp as epoch ms (number) or ISO-8601 (string) → epoch ms, or a 422. */
export function parseTimestamp(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 8_640_000_000_000_000) return v;
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  throw unprocessable(`${what} must be epoch milliseconds (a non-negative integer) or an ISO-8601 date such as 2026-01-31T12:00:00Z`);
}

/** A query parameter as a non-negative integer (default when absent), or a 400. */
export function queryInteger(raw: unknown, name: string, dflt: number): number {
  if (raw === undefined || raw === '') return dflt;
  const n = typeof raw === 'string' && /^[0-9]{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) throw new RestError(RestErrorCode.BAD_REQUEST, `query parameter ${name} must be a non-negative integer`);
  return n;
}
