/**
 * The concatenated-JSON splitter of the streaming v3 produce: objects found whatever the
 * chunk boundaries (inside strings, escapes, multi-byte characters), garbage and oversize
 * refused, truncation seen. Checked against JSON.parse of the same objects.
 */
import { ConcatenatedJsonSplitter } from './json-stream';

const objects = [
  { a: 1 },
  { s: 'brace } and { and "quote" and \\ backslash' },
  { nested: { deep: [1, { x: '}' }, []] }, e: 'é漢字🙂' },
  {},
  { esc: '\\"}' },
];
const text = objects.map((o) => JSON.stringify(o)).join('\n  ') + '\n';

function splitAll(chunks: Buffer[]): unknown[] {
  const s = new ConcatenatedJsonSplitter(1 << 20);
  const out = chunks.flatMap((c) => s.push(c));
  expect(s.unfinished).toBe(false);
  return out.map((t) => JSON.parse(t));
}

describe('ConcatenatedJsonSplitter', () => {
  it('finds every object in one chunk', () => {
    expect(splitAll([Buffer.from(text)])).toEqual(objects);
  });

  it('finds the same objects whatever the chunk size, even splitting multi-byte characters', () => {
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 3, 5, 7, 13, 64]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      expect(splitAll(chunks)).toEqual(objects);
    }
  });

  it('refuses what is not an object between objects', () => {
    expect(() => new ConcatenatedJsonSplitter(100).push(Buffer.from('{"a":1} [1]'))).toThrow(/expected a JSON object/);
    expect(() => new ConcatenatedJsonSplitter(100).push(Buffer.from('garbage'))).toThrow(/expected a JSON object/);
  });

  it('refuses an object over the limit, and sees a body that ends inside an object', () => {
    const s = new ConcatenatedJsonSplitter(10);
    expect(() => s.push(Buffer.from('{"a":"0123456789'))).toThrow(/over 10 characters/);
    const t = new ConcatenatedJsonSplitter(100);
    expect(t.push(Buffer.from('{"a":1}{"b":'))).toEqual(['{"a":1}']);
    expect(t.unfinished).toBe(true);
  });
});
