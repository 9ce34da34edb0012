/**
 * Helpers for the storage engine's specs (not exported from the library): temp dirs,
 * batch factories, and walking the batches of a read result.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchBaseOffset, batchLastOffset, batchSize, encodeBatch } from '@tributary/records';
import type { EncodeBatchOptions } from '@tributary/records';

export function tempDir(prefix = 'tributary-log-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A batch of `count` records with keys `k<i>` and `valueBytes`-byte values. */
export function makeBatch(
  count: number,
  options: EncodeBatchOptions & { valueBytes?: number; timestamp?: number; tag?: string } = {},
): Buffer {
  const valueBytes = options.valueBytes ?? 100;
  const records = Array.from({ length: count }, (_, i) => ({
    key: Buffer.from(`${options.tag ?? 'k'}${i}`),
    value: Buffer.alloc(valueBytes, 97 + (i % 26)),
    timestamp: options.timestamp,
  }));
  return encodeBatch(records, options);
}

export interface BatchSummary {
  baseOffset: number;
  lastOffset: number;
  size: number;
}

/** Summaries of the batches concatenated in `buf`. */
export function batchesIn(buf: Buffer): BatchSummary[] {
  const out: BatchSummary[] = [];
  for (let pos = 0; pos < buf.length; ) {
    const size = batchSize(buf, pos);
    out.push({ baseOffset: batchBaseOffset(buf, pos), lastOffset: batchLastOffset(buf, pos), size });
    pos += size;
  }
  return out;
}

/** A deterministic PRNG (mulberry32) for reproducible randomized tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
