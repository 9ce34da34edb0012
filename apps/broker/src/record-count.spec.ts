/** recordCountOf: the record count behind tributary_broker_messages_out_total, from batch headers. */
import { encodeBatch } from '@tributary/records';
import { recordCountOf } from './app';

const batchOf = (n: number): Buffer => encodeBatch(Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`) })));

it('adds the record counts of consecutive batches', () => {
  expect(recordCountOf(Buffer.concat([batchOf(3), batchOf(1), batchOf(5)]))).toBe(9);
});

it('counts nothing in an empty answer', () => {
  expect(recordCountOf(Buffer.alloc(0))).toBe(0);
});

it('leaves out a truncated last batch, as a fetch answer may end mid-batch', () => {
  const whole = Buffer.concat([batchOf(2), batchOf(4)]);
  expect(recordCountOf(whole.subarray(0, whole.length - 1))).toBe(2);
  expect(recordCountOf(whole.subarray(0, batchOf(2).length + 30))).toBe(2);
});

it('stops at a header whose length is impossible instead of reading garbage', () => {
  const bad = Buffer.concat([batchOf(2), Buffer.alloc(70)]);
  expect(recordCountOf(bad)).toBe(2);
});
