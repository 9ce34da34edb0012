/**
 * Partitioners of the producer. The default one is Kafka's: a record with a key goes to
 * `toPositive(murmur2(key)) % partitionCount` — the same partition the Java client (and
 * KafkaJS' DefaultPartitioner) picks for the same key bytes and partition count, so
 * Tributary and Kafka producers can share keyed topics. Records without a key stick to one
 * partition per batch (KIP-480 sticky partitioning, chosen by the producer).
 */

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2): 32-bit, seed 0x9747b28c. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  const r = 24;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length & ~3;
  const rest = length & 3; // the Java switch falls through 3 → 2 → 1
  if (rest === 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's Utils.toPositive: clears the sign bit (not Math.abs, which breaks at -2^31). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition Kafka's default partitioner picks for a key. */
export function partitionForKey(key: Uint8Array, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount <= 0) throw new RangeError(`partition count ${partitionCount} must be a positive integer`);
  return toPositive(murmur2(key)) % partitionCount;
}
