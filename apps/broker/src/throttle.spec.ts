import { ReplicationThrottle, TokenBucket } from './throttle';

/** A clock the test moves by hand. */
function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('TokenBucket', () => {
  it('starts with one second of tokens, refills at the rate and never holds more than one second', () => {
    const c = clock();
    const b = new TokenBucket(1000, c.now);
    expect(b.available()).toBe(1000);
    b.take(600);
    expect(b.available()).toBe(400);
    c.advance(300);
    expect(b.available()).toBe(700);
    c.advance(10_000);
    expect(b.available()).toBe(1000);
  });

  it('goes into debt for a batch larger than the tokens, and the debt delays by debt / rate', () => {
    const c = clock();
    const b = new TokenBucket(1000, c.now);
    b.take(3000); // one whole batch above the cap: 2000 bytes of debt
    expect(b.available()).toBe(-2000);
    expect(b.delayMs()).toBe(2001);
    c.advance(2001);
    expect(b.available()).toBeGreaterThan(0);
    expect(b.delayMs()).toBe(0);
  });

  it('keeps the long-run average at the rate whatever the fetch sizes', () => {
    const c = clock();
    const b = new TokenBucket(50_000, c.now);
    let taken = 0;
    const sizes = [70_000, 1, 20_000, 33_333, 100_000, 5];
    for (let i = 0; i < 2000; i++) {
      if (b.available() > 0) {
        const size = sizes[i % sizes.length]!;
        b.take(size);
        taken += size;
      }
      c.advance(10);
    }
    // 20 s at 50 kB/s, plus at most one second's burst and one batch of debt.
    expect(taken).toBeGreaterThanOrEqual(20 * 50_000 - 100_000);
    expect(taken).toBeLessThanOrEqual(21 * 50_000 + 100_000);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new TokenBucket(0)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.NaN)).toThrow(RangeError);
  });
});

describe('ReplicationThrottle', () => {
  const tp = { topic: 'orders', partition: 3 };

  it('leaves unthrottled partitions alone', () => {
    const t = new ReplicationThrottle();
    expect(t.admits(tp)).toBe(true);
    expect(t.maxBytes(tp, 1 << 20)).toBe(1 << 20);
    t.record(tp, 5 << 20);
    expect(t.admits(tp)).toBe(true);
    expect(t.throttledBytes).toBe(0);
  });

  it('caps the fetch size by the tokens and leaves the partition out of fetches while in debt', () => {
    const c = clock();
    const t = new ReplicationThrottle(c.now);
    t.set(tp, 100_000);
    expect(t.rateOf(tp)).toBe(100_000);
    expect(t.maxBytes(tp, 1 << 20)).toBe(100_000);
    t.record(tp, 160_000);
    expect(t.admits(tp)).toBe(false);
    c.advance(500);
    expect(t.admits(tp)).toBe(false);
    c.advance(101);
    expect(t.admits(tp)).toBe(true);
    expect(t.maxBytes(tp, 1 << 20)).toBe(100);
    expect(t.throttledBytes).toBe(160_000);
  });

  it('changes the rate in place, and drops throttles set to 0 or not retained', () => {
    const t = new ReplicationThrottle();
    const other = { topic: 'orders', partition: 4 };
    t.set(tp, 1000);
    t.set(other, 1000);
    t.set(tp, 2000);
    expect(t.rateOf(tp)).toBe(2000);
    t.set(tp, 0);
    expect(t.rateOf(tp)).toBe(0);
    expect(t.size).toBe(1);
    t.retainOnly(new Set(['orders-9']));
    expect(t.size).toBe(0);
    expect(t.admits(other)).toBe(true);
  });
});
