import { Purgatory } from './purgatory';

describe('Purgatory', () => {
  it('completes at once, on a touched key, or at the deadline — exactly once', async () => {
    const p = new Purgatory('test');
    const log: string[] = [];
    let ready = false;
    const op = (name: string) => ({
      tryComplete: () => {
        if (!ready) return false;
        log.push(`${name} completed`);
        return true;
      },
      onExpire: () => log.push(`${name} expired`),
    });
    expect(p.watch({ tryComplete: () => true, onExpire: () => log.push('never') }, ['a'], 10)).toBe(true);
    p.watch(op('x'), ['a', 'b'], 60_000);
    p.watch(op('y'), ['c'], 20);
    expect(p.size).toBe(2);
    expect(p.checkAndComplete('a')).toBe(0); // not ready yet
    ready = true;
    expect(p.checkAndComplete('b')).toBe(1);
    expect(p.checkAndComplete('a')).toBe(0); // x already done
    ready = false;
    await new Promise((r) => setTimeout(r, 50));
    expect(log).toEqual(['x completed', 'y expired']);
    expect(p.size).toBe(0);
  });

  it('expires everything on shutdown', () => {
    const p = new Purgatory('test');
    const expired: number[] = [];
    for (let i = 0; i < 3; i++) p.watch({ tryComplete: () => false, onExpire: () => expired.push(i) }, [`k${i % 2}`], 60_000);
    p.expireAll();
    expect(expired.sort()).toEqual([0, 1, 2]);
    expect(p.size).toBe(0);
  });
});
