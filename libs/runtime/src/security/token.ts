/**
 * Session tokens: what a client gets after a successful SCRAM exchange and sends on every
 * call as `authorization: Bearer <token>`. A token is
 * `base64url(JSON claims) "." base64url(HMAC-SHA-256(key, first part))`, claims
 * `{ v: 1, sub, iat, exp, jti, kid }` (principal, issued-at and expiry in epoch ms, token id,
 * key id). Every service verifies tokens locally with the cluster's token keys
 * ({@link TokenKeyRing}, kept in the coordination store); a rotated-out key stays valid for
 * verification while it is in the ring, so rotation never logs anybody out.
 *
 * A token is a bearer secret: never log it; log its `jti` instead.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { Principal } from './principal';

/** Default token lifetime (`--token-lifetime-ms`): 1 hour. */
export const DEFAULT_TOKEN_LIFETIME_MS = 60 * 60 * 1000;

/** One HMAC key of the ring. */
export interface TokenKey {
  /** Key id, carried in tokens as `kid`. */
  id: string;
  /** The secret (32 random bytes). */
  secret: Buffer;
}

/** What a verified token says. */
export interface TokenClaims {
  /** The principal, `User:<name>`. */
  sub: Principal;
  /** Issued at, epoch ms. */
  iat: number;
  /** Expires at, epoch ms. */
  exp: number;
  /** Token id (for revocation and logs). */
  jti: string;
  /** Id of the signing key. */
  kid: string;
}

/** A new random token key. */
export function newTokenKey(): TokenKey {
  return { id: randomBytes(6).toString('hex'), secret: randomBytes(32) };
}

/**
 * The token keys: the first signs, all verify. Stored as JSON
 * `{"version":1,"keys":[{"id":"…","secret":"<base64>"}, …]}`, newest first.
 */
export class TokenKeyRing {
  /** The signing key. */
  readonly current: TokenKey;

  constructor(readonly keys: readonly TokenKey[]) {
    const first = keys[0];
    if (first === undefined) throw new Error('a token key ring needs at least one key');
    this.current = first;
  }

  /** The key with `id`, if still in the ring. */
  find(id: string): TokenKey | undefined {
    return this.keys.find((k) => k.id === id);
  }

  /** A ring with a new signing key, keeping the previous current one for verification only. */
  rotate(next: TokenKey = newTokenKey()): TokenKeyRing {
    return new TokenKeyRing([next, this.current]);
  }

  /** The stored JSON form. */
  serialize(): Buffer {
    return Buffer.from(JSON.stringify({ version: 1, keys: this.keys.map((k) => ({ id: k.id, secret: k.secret.toString('base64') })) }));
  }

  /** Parses {@link serialize}'s form; throws on anything else. */
  static parse(data: Buffer): TokenKeyRing {
    const json = JSON.parse(data.toString('utf8')) as { version?: unknown; keys?: unknown };
    if (json.version !== 1 || !Array.isArray(json.keys)) throw new Error('malformed token key ring: expected {"version":1,"keys":[...]}');
    return new TokenKeyRing(
      json.keys.map((k: { id?: unknown; secret?: unknown }) => {
        if (typeof k.id !== 'string' || typeof k.secret !== 'string') throw new Error('malformed token key ring entry');
        const secret = Buffer.from(k.secret, 'base64');
        if (secret.length < 32) throw new Error('token keys must be at least 32 bytes');
        return { id: k.id, secret };
      }),
    );
  }
}

function mac(key: TokenKey, body: string): Buffer {
  return createHmac('sha256', key.secret).update(body).digest();
}

/** Signs a new token for `principal`, valid `lifetimeMs` from `now`. */
export function issueToken(ring: TokenKeyRing, principal: Principal, lifetimeMs = DEFAULT_TOKEN_LIFETIME_MS, now = Date.now()): { token: string; claims: TokenClaims } {
  const key = ring.current;
  const claims: TokenClaims = { sub: principal, iat: now, exp: now + lifetimeMs, jti: randomBytes(12).toString('base64url'), kid: key.id };
  const body = Buffer.from(JSON.stringify({ v: 1, ...claims })).toString('base64url');
  return { token: `${body}.${mac(key, body).toString('base64url')}`, claims };
}

function invalid(reason: string): TributaryError {
  return new TributaryError(ErrorCode.SASL_AUTHENTICATION_FAILED, `Authentication failed: ${reason}; authenticate again (SCRAM) to get a new token`);
}

/**
 * Verifies a token's signature and expiry and returns its claims; throws
 * SASL_AUTHENTICATION_FAILED when it is malformed, signed with an unknown key, tampered
 * with or expired. Revocation is checked by the caller ({@link TokenRevocations}).
 */
export function verifyToken(ring: TokenKeyRing, token: string, now = Date.now()): TokenClaims {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) throw invalid('malformed token');
  const body = token.slice(0, dot);
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  let claims: Partial<TokenClaims> & { v?: unknown };
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    throw invalid('malformed token');
  }
  if (
    claims === null ||
    typeof claims !== 'object' ||
    claims.v !== 1 ||
    typeof claims.sub !== 'string' ||
    typeof claims.iat !== 'number' ||
    typeof claims.exp !== 'number' ||
    typeof claims.jti !== 'string' ||
    typeof claims.kid !== 'string'
  ) {
    throw invalid('malformed token');
  }
  const key = ring.find(claims.kid);
  if (!key) throw invalid('the token was signed with a key that is no longer valid');
  const expected = mac(key, body);
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) throw invalid('bad token signature');
  if (now >= claims.exp) throw invalid('the token has expired');
  return { sub: claims.sub, iat: claims.iat, exp: claims.exp, jti: claims.jti, kid: claims.kid };
}

/**
 * Revoked token ids with their expiry (after which the token is refused anyway and the
 * entry can go). Filled from the coordination store by the token service.
 */
export class TokenRevocations {
  private readonly revoked = new Map<string, number>();

  /** Marks `jti` revoked until `exp`. */
  add(jti: string, exp: number): void {
    this.revoked.set(jti, exp);
  }

  /** Replaces the whole set (after reading the store). */
  replace(entries: Iterable<[string, number]>): void {
    this.revoked.clear();
    for (const [jti, exp] of entries) this.revoked.set(jti, exp);
  }

  /** Whether `jti` is revoked. */
  has(jti: string): boolean {
    return this.revoked.has(jti);
  }

  /** Drops entries whose token has expired; returns their ids. */
  prune(now = Date.now()): string[] {
    const gone: string[] = [];
    for (const [jti, exp] of this.revoked) {
      if (exp <= now) {
        this.revoked.delete(jti);
        gone.push(jti);
      }
    }
    return gone;
  }

  /** How many revocations are held. */
  get size(): number {
    return this.revoked.size;
  }
}
