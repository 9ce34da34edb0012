/**
 * Client quota maths and resolution with a fake clock: Kafka's sampled rate (window size of
 * at least samples − 1 windows, obsolete windows purged), the throttle time
 * (O − Q) / Q × W capped at samples × window, the eight-level precedence per quota type and
 * who shares a quota, the manager's throttling of a client over its byte rate while another
 * client id is untouched, a quota change applying at the next request, and the store's
 * validation and node format (in-memory coordination client).
 */
import { ErrorCode, TributaryError } from '@tributary/records';
import type { QuotaEntity, QuotaKey } from './model';
import { entityNodePath, entityOfPath, precedence, quotaValuesOf, resolveQuota, sanitizeEntityName, validateQuotaValue } from './model';
import { ClientQuotaManager, requestTimeToPercentUnits } from './manager';
import { SampledRate, throttleTimeMs } from './rate';
import { entryMatches, validateAlteration } from './store';

const opts = { samples: 11, windowMs: 1000 };

describe('SampledRate', () => {
  it('divides by at least samples − 1 windows right after start (Kafka Rate.windowSize)', () => {
    expect(new SampledRate(opts, 0).windowSizeMs(0)).toBe(10_000);
    const r = new SampledRate(opts, 0);
    r.record(10_000, 0);
    expect(r.windowSizeMs(500)).toBe(10_500);
    expect(r.rate(500)).toBeCloseTo(10_000 / 10.5, 6);
  });

  it('measures a steady rate once the windows are full', () => {
    const r = new SampledRate(opts, 0);
    for (let t = 0; t < 30_000; t += 100) r.record(100, t); // 1000 bytes/s
    expect(r.rate(30_000)).toBeGreaterThan(900);
    expect(r.rate(30_000)).toBeLessThan(1100);
  });

  it('forgets windows older than samples × window', () => {
    const r = new SampledRate(opts, 0);
    r.record(1_000_000, 0);
    expect(r.rate(1000)).toBeGreaterThan(0);
    expect(r.rate(11_000)).toBe(0);
  });

  it('refuses fewer than two samples', () => {
    expect(() => new SampledRate({ samples: 1, windowMs: 1000 }, 0)).toThrow(RangeError);
  });
});

describe('throttleTimeMs', () => {
  it('is (observed − quota) / quota × window, 0 within the quota, capped', () => {
    expect(throttleTimeMs(1000, 1000, 11_000, 11_000)).toBe(0);
    expect(throttleTimeMs(999, 1000, 11_000, 11_000)).toBe(0);
    expect(throttleTimeMs(1500, 1000, 10_000, 11_000)).toBe(5000);
    expect(throttleTimeMs(3000, 1000, 10_000, 11_000)).toBe(11_000);
  });
});

describe('precedence and resolution', () => {
  it("lists Kafka's eight levels, most specific first", () => {
    expect(precedence('alice', 'app').map((e) => entityNodePath(e))).toEqual([
      '/config/users/alice/clients/app',
      '/config/users/alice/clients/<default>',
      '/config/users/alice',
      '/config/users/<default>/clients/app',
      '/config/users/<default>/clients/<default>',
      '/config/users/<default>',
      '/config/clients/app',
      '/config/clients/<default>',
    ]);
  });

  const table = (entries: Array<[QuotaEntity, Partial<Record<QuotaKey, number>>]>) => {
    const m = new Map(entries.map(([e, v]) => [entityNodePath(e), v]));
    return (e: QuotaEntity) => m.get(entityNodePath(e));
  };

  it('takes the most specific entity with a value, per quota type independently', () => {
    const lookup = table([
      [{ clientId: null }, { producer_byte_rate: 1, consumer_byte_rate: 2 }],
      [{ clientId: 'app' }, { producer_byte_rate: 3 }],
      [{ user: null }, { consumer_byte_rate: 4 }],
      [{ user: 'alice', clientId: 'app' }, { request_percentage: 50 }],
    ]);
    expect(resolveQuota(lookup, 'producer_byte_rate', 'alice', 'app')).toEqual({ bound: 3, entity: { clientId: 'app' }, userTag: '', clientTag: 'app' });
    expect(resolveQuota(lookup, 'producer_byte_rate', 'bob', 'other')).toEqual({ bound: 1, entity: { clientId: null }, userTag: '', clientTag: 'other' });
    expect(resolveQuota(lookup, 'consumer_byte_rate', 'alice', 'app')).toEqual({ bound: 4, entity: { user: null }, userTag: 'alice', clientTag: '' });
    expect(resolveQuota(lookup, 'request_percentage', 'alice', 'app')?.bound).toBe(50);
    expect(resolveQuota(lookup, 'request_percentage', 'alice', 'other')).toBeUndefined();
  });

  it('prefers a user quota over a client-id quota, and user+client over user', () => {
    const lookup = table([
      [{ clientId: 'app' }, { producer_byte_rate: 10 }],
      [{ user: 'alice' }, { producer_byte_rate: 20 }],
      [{ user: 'alice', clientId: null }, { producer_byte_rate: 30 }],
    ]);
    expect(resolveQuota(lookup, 'producer_byte_rate', 'alice', 'app')?.bound).toBe(30);
    expect(resolveQuota(lookup, 'producer_byte_rate', 'bob', 'app')?.bound).toBe(10);
  });

  it('maps paths and names as Kafka (sanitized, <default>)', () => {
    expect(sanitizeEntityName('a b*/c')).toBe('a%20b%2A%2Fc');
    expect(entityNodePath({ user: 'CN=x,O=y', clientId: null })).toBe('/config/users/CN%3Dx%2CO%3Dy/clients/<default>');
    expect(entityOfPath('users/a%2Fb/clients/<default>')).toEqual({ user: 'a/b', clientId: null });
    expect(entityOfPath('clients/app')).toEqual({ clientId: 'app' });
    expect(entityOfPath('brokers/1')).toBeUndefined();
  });

  it('reads values stored as strings or numbers and ignores other keys', () => {
    expect(quotaValuesOf({ producer_byte_rate: '1048576', request_percentage: 200.5, 'SCRAM-SHA-256': 'salt=…', consumer_byte_rate: 'x' })).toEqual({
      producer_byte_rate: 1048576,
      request_percentage: 200.5,
    });
  });
});

describe('validation', () => {
  const code = (f: () => void): ErrorCode | undefined => {
    try {
      f();
      return undefined;
    } catch (e) {
      return e instanceof TributaryError ? e.code : undefined;
    }
  };
  it('refuses bad keys, values, entities and repeated keys with INVALID_REQUEST', () => {
    expect(code(() => validateQuotaValue('producer_byte_rate', 1024))).toBeUndefined();
    expect(code(() => validateQuotaValue('request_percentage', 12.5))).toBeUndefined();
    expect(code(() => validateQuotaValue('producer_byte_rate', 10.5))).toBe(ErrorCode.INVALID_REQUEST);
    expect(code(() => validateQuotaValue('producer_byte_rate', 0))).toBe(ErrorCode.INVALID_REQUEST);
    expect(code(() => validateQuotaValue('consumer_byte_rate', -1))).toBe(ErrorCode.INVALID_REQUEST);
    expect(code(() => validateQuotaValue('bogus', 1))).toBe(ErrorCode.INVALID_REQUEST);
    expect(code(() => validateAlteration({}, []))).toBe(ErrorCode.INVALID_REQUEST);
    expect(code(() => validateAlteration({ user: '' }, []))).toBe(ErrorCode.INVALID_REQUEST);
    expect(code(() => validateAlteration({ user: 'a' }, [{ key: 'bogus' }]))).toBe(ErrorCode.INVALID_REQUEST);
    expect(code(() => validateAlteration({ user: 'a' }, [{ key: 'producer_byte_rate', value: 1 }, { key: 'producer_byte_rate' }]))).toBe(ErrorCode.INVALID_REQUEST);
  });

  it('matches filters as KIP-546 (exact, default, any; strict)', () => {
    const both = { user: 'alice', clientId: 'app' };
    expect(entryMatches(both, [{ entityType: 'user', match: { kind: 'exact', name: 'alice' } }], false)).toBe(true);
    expect(entryMatches(both, [{ entityType: 'user', match: { kind: 'exact', name: 'alice' } }], true)).toBe(false);
    expect(entryMatches({ user: null }, [{ entityType: 'user', match: { kind: 'default' } }], true)).toBe(true);
    expect(entryMatches({ user: 'bob' }, [{ entityType: 'user', match: { kind: 'default' } }], false)).toBe(false);
    expect(entryMatches({ clientId: 'app' }, [{ entityType: 'user', match: { kind: 'any' } }], false)).toBe(false);
    expect(entryMatches({ clientId: 'app' }, [], false)).toBe(true);
  });
});

describe('ClientQuotaManager', () => {
  it('throttles the client over its byte rate toward the quota, not another client id, and follows quota changes', () => {
    let now = 0;
    const quotas = new Map<string, Partial<Record<QuotaKey, number>>>([[entityNodePath({ clientId: 'slow' }), { producer_byte_rate: 10_000 }]]);
    const m = new ClientQuotaManager({ lookup: (e) => quotas.get(entityNodePath(e)), now: () => now });
    // A client that waits out every throttle and sends 5,000 bytes per request.
    let sent = 0;
    let throttled = 0;
    while (now < 60_000) {
      const { throttleMs } = m.record('producer_byte_rate', 'ANONYMOUS', 'slow', 5000);
      sent += 5000;
      if (throttleMs > 0) throttled++;
      expect(throttleMs).toBeLessThanOrEqual(m.maxThrottleMs);
      now += 10 + throttleMs;
    }
    expect(throttled).toBeGreaterThan(0);
    const achieved = (sent * 1000) / now;
    expect(achieved).toBeLessThan(10_000 * 1.5);
    expect(achieved).toBeGreaterThan(10_000 * 0.5);
    // Another client id has no quota: never throttled however fast.
    for (let i = 0; i < 100; i++) expect(m.record('producer_byte_rate', 'ANONYMOUS', 'fast', 1_000_000).throttleMs).toBe(0);
    // Raising the quota ends the throttling at once; removing it too.
    quotas.set(entityNodePath({ clientId: 'slow' }), { producer_byte_rate: 100_000_000 });
    expect(m.record('producer_byte_rate', 'ANONYMOUS', 'slow', 5000).throttleMs).toBe(0);
    quotas.set(entityNodePath({ clientId: 'slow' }), { producer_byte_rate: 1 });
    expect(m.record('producer_byte_rate', 'ANONYMOUS', 'slow', 5000).throttleMs).toBe(m.maxThrottleMs);
    quotas.clear();
    expect(m.record('producer_byte_rate', 'ANONYMOUS', 'slow', 5000)).toEqual({ throttleMs: 0 });
  });

  it('shares a user quota among its client ids, and gives each user its own <default> quota', () => {
    let now = 0;
    const quotas = new Map<string, Partial<Record<QuotaKey, number>>>([
      [entityNodePath({ user: 'alice' }), { consumer_byte_rate: 1000 }],
      [entityNodePath({ user: null }), { consumer_byte_rate: 1000 }],
    ]);
    const m = new ClientQuotaManager({ lookup: (e) => quotas.get(entityNodePath(e)), now: () => now });
    // alice's two client ids together: 10,000 bytes over the 10 s minimum window = the quota.
    expect(m.record('consumer_byte_rate', 'alice', 'a', 5000).throttleMs).toBe(0);
    expect(m.record('consumer_byte_rate', 'alice', 'b', 5000).throttleMs).toBe(0);
    expect(m.record('consumer_byte_rate', 'alice', 'b', 1000).throttleMs).toBe(1000);
    // bob and carol each have their own default-user quota.
    expect(m.record('consumer_byte_rate', 'bob', 'a', 10_000).throttleMs).toBe(0);
    expect(m.record('consumer_byte_rate', 'carol', 'a', 10_000).throttleMs).toBe(0);
    now = 500;
    expect(m.rates().find((r) => r.entity === 'user=<default>')?.rate).toBeCloseTo(20_000 / 10.5, 3);
    expect(m.rates().find((r) => r.entity === 'user=alice')?.rate).toBeCloseTo(11_000 / 10.5, 3);
  });

  it('counts request time as a percentage of one thread', () => {
    const m = new ClientQuotaManager({ lookup: (e) => (e.user === null && e.clientId === undefined ? { request_percentage: 10 } : undefined), now: () => 0 });
    expect(requestTimeToPercentUnits(1000)).toBe(100);
    // 1,000 ms of work over the 10 s minimum window = 10 %: at the quota; 500 ms more is 50 % over.
    expect(m.record('request_percentage', 'ANONYMOUS', '', requestTimeToPercentUnits(1000)).throttleMs).toBe(0);
    expect(m.record('request_percentage', 'ANONYMOUS', '', requestTimeToPercentUnits(500)).throttleMs).toBe(5000);
  });
});
