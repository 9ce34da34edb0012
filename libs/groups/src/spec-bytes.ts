/**
 * Test helpers: Kafka's primitive types written out by hand, independently of codec.ts, so
 * specs compare the encoders against bytes built straight from the message specs.
 */
export const i16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
};
export const i32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
export const i64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return b;
};
/** string / nullable string: int16 length (-1 for null) + UTF-8. */
export const str = (s: string | null): Buffer => (s === null ? i16(-1) : Buffer.concat([i16(Buffer.byteLength(s)), Buffer.from(s, 'utf8')]));
/** bytes / nullable bytes: int32 length (-1 for null) + bytes. */
export const bytes = (b: Buffer | null): Buffer => (b === null ? i32(-1) : Buffer.concat([i32(b.length), b]));
export const cat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);
