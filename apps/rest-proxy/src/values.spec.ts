/** Checks of client input: base64, JSON bodies, partition path segments, timestamps. */
import { errorCodeOf as code } from './spec-helpers';
import { decodeBase64, parseJsonBody, parsePartitionParam, parseTimestamp, queryInteger } from './values';

describe('values', () => {
  it('decodes strict base64 and refuses anything else with 422', () => {
    for (const bytes of [Buffer.alloc(0), Buffer.from([0]), Buffer.from([1, 2]), Buffer.from([250, 251, 252]), Buffer.from('hello world')]) {
      const s = bytes.toString('base64');
      expect(decodeBase64(s, 'v')).toEqual(bytes);
      expect(decodeBase64(s.replace(/=+$/, ''), 'v')).toEqual(bytes);
    }
    for (const bad of ['a', 'ab=c', 'abc==', '%%%%', 'ab cd', 'YWJj=', '-_-_']) expect(code(() => decodeBase64(bad, 'v'))).toBe(422);
  });

  it('parses JSON bodies, 400 for broken or missing ones', () => {
    expect(parseJsonBody(Buffer.from('{"a":[1]}'))).toEqual({ a: [1] });
    for (const bad of [Buffer.from('{'), Buffer.alloc(0), undefined, Buffer.from('nul')]) expect(code(() => parseJsonBody(bad))).toBe(400);
  });

  it('takes partition path segments as plain non-negative int32 numbers only', () => {
    expect(parsePartitionParam('0', 't', 'v2')).toBe(0);
    expect(parsePartitionParam('2147483647', 't', 'v3')).toBe(2147483647);
    for (const bad of ['-1', '01', '1e3', '0x1', ' 1', '2147483648', '', '1.0']) expect(code(() => parsePartitionParam(bad, 't', 'v2'))).toBe(40402);
    expect(code(() => parsePartitionParam('x', 't', 'v3'))).toBe(40403);
  });

  it('takes timestamps as epoch ms or ISO-8601, 422 otherwise', () => {
    expect(parseTimestamp(1700000000000, 'ts')).toBe(1700000000000);
    expect(parseTimestamp('2026-01-02T03:04:05.006Z', 'ts')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5, 6));
    for (const bad of [-1, 1.5, 'yesterday', true, {}, Number.MAX_VALUE]) expect(code(() => parseTimestamp(bad, 'ts'))).toBe(422);
  });

  it('takes query integers, 400 otherwise', () => {
    expect(queryInteger(undefined, 'q', 7)).toBe(7);
    expect(queryInteger('42', 'q', 7)).toBe(42);
    for (const bad of ['-1', 'abc', '1.5', '99999999999999999']) expect(code(() => queryInteger(bad, 'q', 0))).toBe(400);
  });
});
