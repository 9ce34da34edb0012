import { randomBytes } from 'node:crypto';
import { murmur2, partitionForKey, toPositive } from './partitioner';

// KafkaJS' Java-compatible implementation: an independent cross-check.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (key: Buffer | string) => number;

describe('murmur2 (Kafka default partitioner)', () => {
  it("matches the reference values of Kafka's UtilsTest.testMurmur2", () => {
    const cases: [Buffer, number][] = [
      [Buffer.from('21'), -973932308],
      [Buffer.from('foobar'), -790332482],
      [Buffer.from('a-little-bit-long-string'), -985981536],
      [Buffer.from('a-little-bit-longer-string'), -1486304829],
      [Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
      [Buffer.from([0x61, 0x62, 0x63]), 479470107],
    ];
    for (const [key, expected] of cases) expect(murmur2(key)).toBe(expected);
  });

  it('agrees with KafkaJS on random keys of every length', () => {
    for (let i = 0; i < 2000; i++) {
      const key = randomBytes(i % 67);
      expect(murmur2(key)).toBe(kafkajsMurmur2(key));
    }
  });

  it('maps keys to partitions like the Java client (positive modulo)', () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-2147483648)).toBe(0);
    for (let i = 0; i < 500; i++) {
      const key = randomBytes(1 + (i % 30));
      const p = partitionForKey(key, 6);
      expect(p).toBe(toPositive(kafkajsMurmur2(key)) % 6);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(6);
    }
    expect(() => partitionForKey(Buffer.from('k'), 0)).toThrow(RangeError);
  });
});
