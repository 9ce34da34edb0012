/**
 * The native record walk must give exactly the answers of the JavaScript fast path (and so
 * of the careful walk behind it): a differential test over valid and damaged batches.
 */
import { RECORDS_OFFSET, batchBaseTimestamp, batchRecordsCount } from './batch';
import { validateRecordsImplementation, validateUncompressedFast, validateUncompressedNative } from './decode';
import { encodeBatch } from './encode';
import { nativeRecords } from './native';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('native record validation', () => {
  it('is what x86-64 Linux runs (built by npm ci / npm test)', () => {
    const expected = process.arch === 'x64' && process.platform === 'linux' && process.env.TRIBUTARY_NATIVE !== 'off' ? 'native' : 'javascript';
    expect(validateRecordsImplementation).toBe(expected);
  });

  const maybe = nativeRecords ? it : it.skip;
  maybe('agrees with the JavaScript fast path on thousands of valid and damaged batches', () => {
    let accepted = 0;
    let rejected = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const random = prng(seed);
      const count = 1 + Math.floor(random() * 30);
      const base = 1_700_000_000_000;
      const records = Array.from({ length: count }, (_, i) => ({
        key: random() < 0.3 ? null : Buffer.alloc(Math.floor(random() * 80), i),
        value: random() < 0.1 ? null : Buffer.alloc(Math.floor(random() * 300), i),
        headers: random() < 0.1 ? [{ key: 'h', value: Buffer.from('v') }] : undefined,
        timestamp: base + Math.floor((random() - 0.3) * 100_000_000),
      }));
      const batch = encodeBatch(records);
      const mutations = seed % 4 === 0 ? 0 : 1 + Math.floor(random() * 3);
      for (let m = 0; m < mutations; m++) {
        const at = RECORDS_OFFSET + Math.floor(random() * (batch.length - RECORDS_OFFSET));
        batch[at] = Math.floor(random() * 256);
      }
      const end = seed % 7 === 0 ? batch.length - Math.floor(random() * 5) : batch.length;
      const args = [batch, RECORDS_OFFSET, end, batchRecordsCount(batch), batchBaseTimestamp(batch)] as const;
      const js = validateUncompressedFast(...args);
      const native = validateUncompressedNative(...args);
      expect(native).toEqual(js);
      if (js) accepted++;
      else rejected++;
    }
    expect(accepted).toBeGreaterThan(300);
    expect(rejected).toBeGreaterThan(300);
  });
});
