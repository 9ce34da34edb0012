import { InvalidArgumentError } from 'commander';
import * as parse from './parse';

describe('option parsers', () => {
  it('integers within bounds', () => {
    expect(parse.integer(1)('6')).toBe(6);
    expect(() => parse.integer(1)('0')).toThrow(InvalidArgumentError);
    expect(() => parse.integer(0)('1.5')).toThrow(InvalidArgumentError);
    expect(() => parse.integer(0)('')).toThrow(InvalidArgumentError);
  });

  it('key=value pairs, repeatable, values may contain =', () => {
    expect(parse.keyValue('b=x=y', parse.keyValue('a=1'))).toEqual([
      ['a', '1'],
      ['b', 'x=y'],
    ]);
    expect(() => parse.keyValue('=1')).toThrow(InvalidArgumentError);
    expect(() => parse.keyValue('novalue')).toThrow(InvalidArgumentError);
  });

  it('partition lists: repeatable and comma-separated, sorted, deduplicated', () => {
    expect(parse.partitionList('3,1', parse.partitionList('1'))).toEqual([1, 3]);
    expect(() => parse.partitionList('a')).toThrow(InvalidArgumentError);
    expect(() => parse.partitionList('-1')).toThrow(InvalidArgumentError);
  });

  it('start offsets', () => {
    expect(parse.startOffset('earliest')).toBe('earliest');
    expect(parse.startOffset('LATEST')).toBe('latest');
    expect(parse.startOffset('12345678901234567890')).toBe(12345678901234567890n);
    expect(() => parse.startOffset('-5')).toThrow(InvalidArgumentError);
  });

  it('timestamps: epoch ms or ISO-8601', () => {
    expect(parse.timestamp('1700000000000')).toBe(1_700_000_000_000);
    expect(parse.timestamp('2023-11-14T22:13:20Z')).toBe(1_700_000_000_000);
    expect(parse.timestamp('2023-11-14T22:13:20.000+00:00')).toBe(1_700_000_000_000);
    expect(() => parse.timestamp('yesterday')).toThrow(InvalidArgumentError);
  });

  it('acks, compression, bootstrap lists, separators', () => {
    expect(parse.acks('all')).toBe('all');
    expect(parse.acks('-1')).toBe('all');
    expect(parse.acks('0')).toBe(0);
    expect(() => parse.acks('2')).toThrow(InvalidArgumentError);
    expect(parse.compression('GZIP')).toBe('gzip');
    expect(() => parse.compression('brotli')).toThrow(InvalidArgumentError);
    expect(parse.bootstrapList('a:1, b:2,')).toEqual(['a:1', 'b:2']);
    expect(() => parse.bootstrapList('nohost')).toThrow(InvalidArgumentError);
    expect(() => parse.bootstrapList('h:70000')).toThrow(InvalidArgumentError);
    expect(parse.separator('\\t')).toBe('\t');
    expect(() => parse.separator('')).toThrow(InvalidArgumentError);
  });
});
