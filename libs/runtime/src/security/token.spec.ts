import { ErrorCode, TributaryError } from '@tributary/records';
import { TokenKeyRing, TokenRevocations, issueToken, newTokenKey, verifyToken } from './token';

function failure(fn: () => unknown): TributaryError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TributaryError);
    return e as TributaryError;
  }
  throw new Error('expected a failure');
}

describe('session tokens', () => {
  const ring = new TokenKeyRing([newTokenKey()]);
  const now = 1_700_000_000_000;

  it('signs and verifies a token carrying principal, issued-at, expiry, id and key id', () => {
    const { token, claims } = issueToken(ring, 'User:alice', 60_000, now);
    expect(claims).toMatchObject({ sub: 'User:alice', iat: now, exp: now + 60_000, kid: ring.current.id });
    expect(verifyToken(ring, token, now + 59_999)).toEqual(claims);
  });

  it('gives every token its own id', () => {
    expect(issueToken(ring, 'User:alice', 1000, now).claims.jti).not.toBe(issueToken(ring, 'User:alice', 1000, now).claims.jti);
  });

  it('refuses an expired token', () => {
    const { token } = issueToken(ring, 'User:alice', 60_000, now);
    const e = failure(() => verifyToken(ring, token, now + 60_000));
    expect(e.code).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    expect(e.message).toMatch(/expired/);
  });

  it('refuses a token whose claims or signature were changed', () => {
    const { token } = issueToken(ring, 'User:alice', 60_000, now);
    const [body = '', sig = ''] = token.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forgedBody = Buffer.from(JSON.stringify({ ...claims, sub: 'User:admin' })).toString('base64url');
    expect(failure(() => verifyToken(ring, `${forgedBody}.${sig}`, now)).message).toMatch(/signature/);
    const flipped = Buffer.from(sig, 'base64url');
    flipped[0] = (flipped[0] as number) ^ 1;
    expect(failure(() => verifyToken(ring, `${body}.${flipped.toString('base64url')}`, now)).code).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    for (const junk of ['', 'abc', 'a.b.c', `${body}.`, '.x', 'e30.AAAA']) {
      expect(failure(() => verifyToken(ring, junk, now)).code).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    }
  });

  it('refuses a token signed by another cluster key', () => {
    const other = new TokenKeyRing([newTokenKey()]);
    const { token } = issueToken(other, 'User:alice', 60_000, now);
    expect(failure(() => verifyToken(ring, token, now)).code).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
  });

  it('keeps tokens of the previous key valid after one rotation, not after two', () => {
    const { token } = issueToken(ring, 'User:alice', 60_000, now);
    const once = ring.rotate();
    expect(verifyToken(once, token, now).sub).toBe('User:alice');
    expect(issueToken(once, 'User:bob', 1000, now).claims.kid).toBe(once.current.id);
    expect(failure(() => verifyToken(once.rotate(), token, now)).code).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
  });

  it('round-trips the key ring through its stored form and refuses short keys', () => {
    const rotated = ring.rotate();
    const parsed = TokenKeyRing.parse(rotated.serialize());
    expect(parsed.keys.map((k) => k.id)).toEqual(rotated.keys.map((k) => k.id));
    expect(parsed.current.secret.equals(rotated.current.secret)).toBe(true);
    expect(() => TokenKeyRing.parse(Buffer.from('{"version":1,"keys":[{"id":"a","secret":"AAAA"}]}'))).toThrow(/32 bytes/);
    expect(() => TokenKeyRing.parse(Buffer.from('{"keys":[]}'))).toThrow(/malformed/);
  });

  it('tracks revocations until the token would have expired', () => {
    const revocations = new TokenRevocations();
    revocations.add('t1', now + 10);
    revocations.add('t2', now + 20);
    expect(revocations.has('t1')).toBe(true);
    expect(revocations.prune(now + 10)).toEqual(['t1']);
    expect(revocations.has('t1')).toBe(false);
    expect(revocations.has('t2')).toBe(true);
  });
});
