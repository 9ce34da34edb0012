import { Readable } from 'node:stream';
import { readLines, splitKey } from './lines';

async function lines(chunks: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const line of readLines(Readable.from(chunks.map((c) => Buffer.from(c))))) out.push(line.toString());
  return out;
}

describe('readLines', () => {
  it('splits across chunk boundaries, drops \\r\\n, keeps a last line without newline', async () => {
    expect(await lines(['a\nb', 'c\r\n', '\nd'])).toEqual(['a', 'bc', '', 'd']);
  });

  it('yields nothing extra for a final newline or empty input', async () => {
    expect(await lines(['x\n'])).toEqual(['x']);
    expect(await lines([])).toEqual([]);
  });
});

describe('splitKey', () => {
  it('splits at the first separator only', () => {
    const kv = splitKey(Buffer.from('k::v::w'), Buffer.from('::'));
    expect(kv?.map((b) => b.toString())).toEqual(['k', 'v::w']);
    expect(splitKey(Buffer.from('novalue'), Buffer.from(':'))).toBeUndefined();
  });
});
