/**
 * Unit checks of the consumer instances' input rules: names that can be path segments, and
 * topic patterns that cannot take exponential time on the event loop.
 */
import { isLegalName } from './consumer-instances';
import { unsafePattern } from './v2-consumers';

describe('isLegalName', () => {
  it('takes Kafka-like names and refuses what could escape a path segment', () => {
    for (const ok of ['a', 'billing', 'rest-consumer-1', 'a.b_c-D9', 'x'.repeat(249)]) expect(isLegalName(ok)).toBe(true);
    for (const bad of ['', '.', '..', '../etc', 'a/b', 'a\\b', 'a b', 'a\u0000', '%2e%2e', 'x'.repeat(250)]) expect(isLegalName(bad)).toBe(false);
  });
});

describe('unsafePattern', () => {
  it('refuses repeated groups that repeat or alternate, and overlong patterns', () => {
    for (const bad of ['(a+)+', '(a*)*', '(a|a*)*', '((a+))+', '(x+x+)+y', '(a{1,9})+', '(?:a+)+', '(a+){2,}', '(a|a)*', '(orders|payments)+', 'x'.repeat(1001)]) {
      expect(unsafePattern(bad)).toEqual(expect.any(String));
    }
  });

  it('accepts the patterns topics are subscribed with', () => {
    for (const ok of ['orders-.*', '(orders|payments)-.*', '(?:a+)?', '[(]+', '\\(a+\\)+', 'a+b*c{2}', '(ab)+', '((ab)c)+', 'topic-[0-9]+']) {
      expect(unsafePattern(ok)).toBeUndefined();
    }
  });
});
