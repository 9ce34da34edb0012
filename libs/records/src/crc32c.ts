/**
 * CRC32C (Castagnoli), the checksum of RecordBatch v2. Backed by @node-rs/crc32, a
 * maintained native module shipped as prebuilt binaries on npm that uses the SSE4.2 / ARMv8
 * CRC instructions (≈5.7 GB/s measured on this machine, against well under 1 GB/s for a
 * table-driven implementation in JavaScript).
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/**
 * CRC32C of `buf` (a view: pass `buf.subarray(start, end)` to cover a range). `initial` lets a
 * checksum run over several pieces: `crc32c(b, crc32c(a))` equals `crc32c(concat(a, b))`.
 */
export function crc32c(buf: Buffer, initial = 0): number {
  return nativeCrc32c(buf, initial) >>> 0;
}
