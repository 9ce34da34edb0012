import { randomBytes } from 'node:crypto';
import { crc32c, crc32cImplementation, crc32cPortable } from './crc32c';

describe('crc32c', () => {
  it('matches the standard check value and chains over pieces', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43); // RFC 3720 B.4: 32 bytes of 0xff
    const data = randomBytes(100_000);
    expect(crc32c(data.subarray(40_000), crc32c(data.subarray(0, 40_000)))).toBe(crc32c(data));
  });

  it('agrees with @node-rs/crc32 on random lengths, alignments and initial values', () => {
    for (let i = 0; i < 500; i++) {
      const length = i < 100 ? i : Math.floor(Math.random() * 200_000);
      const offset = i % 8;
      const view = randomBytes(length + 8).subarray(offset, offset + length);
      const initial = i % 3 === 0 ? (Math.random() * 2 ** 32) >>> 0 : 0;
      expect(crc32c(view, initial)).toBe(crc32cPortable(view, initial));
    }
  });

  it('uses the three-stream addon on x86-64 Linux (built by npm ci / npm test)', () => {
    if (process.arch === 'x64' && process.platform === 'linux' && process.env.TRIBUTARY_NATIVE !== 'off') {
      expect(crc32cImplementation).toBe('sse4.2-3way');
    } else {
      expect(crc32cImplementation).toBe('@node-rs/crc32');
    }
  });
});
