/**
 * Parsers of option values, for commander's `argParser`: each returns the typed value or
 * throws commander's `InvalidArgumentError` (reported as a usage error, exit 2) with a
 * message that says what is expected.
 */
import { InvalidArgumentError } from 'commander';
import type { Acks, CompressionType, ElectionType } from '@tributary/client';

/** An integer within [min, max]. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value.trim());
    if (value.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `expected an integer >= ${min}` : `expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** `k=v`, repeatable: collects into an ordered list of pairs (the value may contain '='). */
export function keyValue(value: string, previous: Array<[string, string]> = []): Array<[string, string]> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected key=value');
  return [...previous, [value.slice(0, eq), value.slice(eq + 1)]];
}

/** A repeatable string option. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--partition N`, repeatable or a comma list (`0,2,5`): sorted, without duplicates. */
export function partitionList(value: string, previous: number[] = []): number[] {
  const out = new Set(previous);
  for (const part of value.split(',')) {
    const p = part.trim();
    const n = Number(p);
    if (p === '' || !Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a partition number >= 0, or a comma-separated list of them');
    out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

/** Where `consume --offset` starts. */
export type StartOffset = 'earliest' | 'latest' | bigint;

/** `--offset N|earliest|latest`. */
export function startOffset(value: string): StartOffset {
  const v = value.trim().toLowerCase();
  if (v === 'earliest' || v === 'beginning') return 'earliest';
  if (v === 'latest' || v === 'end') return 'latest';
  if (/^\d+$/.test(v)) return BigInt(v);
  throw new InvalidArgumentError("expected an offset >= 0, 'earliest' or 'latest'");
}

/** `--timestamp MS|ISO-8601` → epoch milliseconds. */
export function timestamp(value: string): number {
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  // ISO-8601 only (Date.parse also accepts loose formats we do not want to promise).
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
    const ms = Date.parse(v.replace(' ', 'T'));
    if (Number.isFinite(ms)) return ms;
  }
  throw new InvalidArgumentError('expected epoch milliseconds or an ISO-8601 date-time, e.g. 2026-11-26T10:00:00Z');
}

/** `--acks 0|1|all|-1`. */
export function acks(value: string): Acks {
  const v = value.trim().toLowerCase();
  if (v === 'all' || v === '-1') return 'all';
  if (v === '0') return 0;
  if (v === '1') return 1;
  throw new InvalidArgumentError("expected 0, 1, all (or -1)");
}

export const COMPRESSION_TYPES: readonly CompressionType[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** `--compression none|gzip|snappy|lz4|zstd`. */
export function compression(value: string): CompressionType {
  const v = value.trim().toLowerCase() as CompressionType;
  if (!COMPRESSION_TYPES.includes(v)) throw new InvalidArgumentError(`expected one of ${COMPRESSION_TYPES.join(', ')}`);
  return v;
}

/** `--bootstrap host:port[,host:port]`. */
export function bootstrapList(value: string): string[] {
  const out: string[] = [];
  for (const raw of value.split(',')) {
    const address = raw.trim();
    if (address === '') continue;
    const colon = address.lastIndexOf(':');
    const port = Number(address.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new InvalidArgumentError(`'${address}' is not host:port (e.g. 127.0.0.1:7200)`);
    }
    out.push(address);
  }
  if (out.length === 0) throw new InvalidArgumentError('expected host:port[,host:port...] (e.g. 127.0.0.1:7200)');
  return out;
}

/** A separator given on the command line, with `\t`, `\n`, `\\` escapes (so `--key-separator '\t'` works). */
export function separator(value: string): string {
  const out = unescape(value);
  if (out === '') throw new InvalidArgumentError('expected a non-empty separator');
  return out;
}

/** Replaces `\n`, `\t`, `\r`, `\0` and `\\` by the characters they name; other backslashes stay. */
export function unescape(value: string): string {
  return value.replace(/\\([ntr0\\])/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\' })[c] ?? c);
}

/** `--election-type preferred|unclean` (Kafka's PREFERRED / UNCLEAN, any case). */
export function electionType(value: string): ElectionType {
  const v = value.trim().toLowerCase();
  if (v === 'preferred' || v === 'unclean') return v;
  throw new InvalidArgumentError("expected 'preferred' or 'unclean'");
}
