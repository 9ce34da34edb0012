import { RecordFormat } from './format';
import { UsageError } from './errors';
import { ByteSink } from './sink';

import type { FormattableRecord } from './format';

const record: FormattableRecord = {
  topic: 'orders',
  partition: 3,
  offset: 42n,
  timestamp: 1_700_000_000_000,
  key: Buffer.from('k1'),
  value: Buffer.from('hello'),
  headers: [
    { key: 'a', value: Buffer.from('1') },
    { key: 'b', value: null },
  ],
};

function render(format: string, r = record): string {
  const sink = new ByteSink(4);
  new RecordFormat(format).render(r, sink);
  return sink.take().toString('utf8');
}

describe('RecordFormat (kcat tokens)', () => {
  it('renders every token and escape', () => {
    expect(render('%t|%p|%o|%T|%k|%K|%s|%S|%h|%%\\n\\t\\\\')).toBe('orders|3|42|1700000000000|k1|2|hello|5|a=1,b=|%\n\t\\');
  });

  it('prints nothing for a null key or value, and -1 as their size', () => {
    expect(render('[%k][%s] %K %S', { ...record, key: null, value: null, headers: [] })).toBe('[][] -1 -1');
  });

  it('writes raw bytes of binary values', () => {
    const sink = new ByteSink();
    new RecordFormat('%s').render({ ...record, value: Buffer.from([0, 255, 10]) }, sink);
    expect([...sink.take()]).toEqual([0, 255, 10]);
  });

  it('refuses unknown tokens and escapes with a usage error', () => {
    expect(() => new RecordFormat('%x')).toThrow(UsageError);
    expect(() => new RecordFormat('%')).toThrow(/unknown --format token/);
    expect(() => new RecordFormat('\\q')).toThrow(UsageError);
  });

  it('knows whether headers are printed', () => {
    expect(new RecordFormat('%s').usesHeaders).toBe(false);
    expect(new RecordFormat('%h').usesHeaders).toBe(true);
  });
});
