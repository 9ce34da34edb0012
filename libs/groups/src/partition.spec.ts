import { javaStringHashCode, kafkaAbs, partitionFor } from './partition';

describe('partitionFor (Kafka: Utils.abs(groupId.hashCode) % partitionCount)', () => {
  it("computes Java's String.hashCode", () => {
    // Values of java.lang.String#hashCode.
    expect(javaStringHashCode('')).toBe(0);
    expect(javaStringHashCode('abc')).toBe(96354);
    expect(javaStringHashCode('hello')).toBe(99162322);
    expect(javaStringHashCode('Hello World')).toBe(-862545276);
    expect(javaStringHashCode('Aa')).toBe(javaStringHashCode('BB'));
    expect(javaStringHashCode('Aa')).toBe(2112);
    expect(javaStringHashCode('polygenelubricants')).toBe(-2147483648);
  });

  it('hashes UTF-16 code units, as Java does, including surrogate pairs', () => {
    // 'é' is one code unit (233); '😀' is two (0xD83D 0xDE00).
    expect(javaStringHashCode('é')).toBe(233);
    expect(javaStringHashCode('😀')).toBe(0xd83d * 31 + 0xde00);
  });

  it("maps Integer.MIN_VALUE to 0, as Kafka's Utils.abs", () => {
    expect(kafkaAbs(-2147483648)).toBe(0);
    expect(kafkaAbs(-5)).toBe(5);
    expect(partitionFor('polygenelubricants', 50)).toBe(0);
  });

  it('places groups on the partitions Kafka does', () => {
    expect(partitionFor('hello', 50)).toBe(99162322 % 50);
    expect(partitionFor('Hello World', 50)).toBe(862545276 % 50);
    expect(partitionFor('abc', 50)).toBe(4);
    expect(partitionFor('abc', 1)).toBe(0);
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => partitionFor('g', 0)).toThrow(/positive integer/);
    expect(() => partitionFor('g', 2.5)).toThrow(RangeError);
  });
});
