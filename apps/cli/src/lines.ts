/**
 * Lines of a byte stream (stdin or a file) as Buffers, for `produce`: split at '\n' (a
 * preceding '\r' is dropped too), the last line kept even without a final newline, bytes
 * never decoded (a value may be any bytes but a newline).
 */
import type { Readable } from 'node:stream';

/** Yields each line of `input` without its line ending. */
export async function* readLines(input: Readable | AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  let rest: Buffer | undefined;
  for await (const raw of input as AsyncIterable<Buffer | string>) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    let data = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    rest = undefined;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      yield trimCr(data.subarray(start, nl));
      start = nl + 1;
    }
    if (start < data.length) rest = Buffer.from(data.subarray(start)); // copy: the chunk may be reused
    data = Buffer.alloc(0);
  }
  if (rest !== undefined && rest.length > 0) yield trimCr(rest);
}

function trimCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line;
}

/** Splits `line` at the first `separator`: [key, value], or undefined when it does not occur. */
export function splitKey(line: Buffer, separator: Buffer): [Buffer, Buffer] | undefined {
  const at = line.indexOf(separator);
  if (at < 0) return undefined;
  return [line.subarray(0, at), line.subarray(at + separator.length)];
}
