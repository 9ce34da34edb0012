import { LatencyHistogram } from './histogram';

describe('LatencyHistogram', () => {
  it('is exact below 2048 µs', () => {
    const h = new LatencyHistogram();
    for (let v = 1; v <= 1000; v++) h.record(v);
    expect(h.count).toBe(1000);
    expect(h.valueAtPercentile(50)).toBe(500);
    expect(h.valueAtPercentile(99)).toBe(990);
    expect(h.valueAtPercentile(100)).toBe(1000);
    expect(h.mean).toBeCloseTo(500.5);
    expect(h.maxValue).toBe(1000);
  });

  it('stays within 0.1 % above, up to the clamp', () => {
    const h = new LatencyHistogram();
    const values = [2048, 5_000, 123_456, 9_876_543, 2 ** 31 + 5];
    for (const v of values) h.record(v);
    const p = (q: number): number => h.valueAtPercentile(q);
    expect(p(20)).toBeGreaterThanOrEqual(2048);
    expect(p(20) / 2048).toBeLessThan(1.001);
    expect(p(40) / 5_000).toBeLessThan(1.001);
    expect(p(60) / 123_456).toBeLessThan(1.001);
    expect(p(80) / 9_876_543).toBeLessThan(1.001);
    expect(h.maxValue).toBe(2 ** 31 - 1);
  });

  it('reports zeros when empty', () => {
    const h = new LatencyHistogram();
    expect([h.count, h.mean, h.maxValue, h.valueAtPercentile(99)]).toEqual([0, 0, 0, 0]);
  });
});
