/**
 * A growable byte buffer that output is rendered into, then written to a stream in one call
 * per batch of records (`flushTo`), waiting for 'drain' when the stream pushes back — so a
 * slow reader of stdout slows the consumer down instead of filling memory.
 */
import type { Writable } from 'node:stream';

export class ByteSink {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes written and not flushed yet. */
  get length(): number {
    return this.pos;
  }

  writeString(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  writeBytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A copy of what was written, and the sink emptied. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }

  /** Writes what was written to `stream`; resolves when the stream can take more. */
  async flushTo(stream: Writable): Promise<void> {
    if (this.pos === 0) return;
    const chunk = this.take();
    if (!stream.write(chunk)) await waitDrain(stream);
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/** Resolves on 'drain', or when the stream closes or errors (EPIPE: the reader went away). */
export function waitDrain(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
