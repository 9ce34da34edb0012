/**
 * Authentication as one mechanism for every service: an {@link Authenticator} gives
 * createGrpcServer
 * - an interceptor that names the caller of every call: a valid `authorization: Bearer
 *   <token>` → `User:<name>` from the token; else a verified mTLS client certificate →
 *   `User:<CN>`; else `User:ANONYMOUS` (or, with `allowAnonymous: false`, a refusal). A bad,
 *   expired or revoked token is refused with UNAUTHENTICATED / SASL_AUTHENTICATION_FAILED —
 *   never downgraded to anonymous;
 * - the AuthService handlers (security.proto): the two-step SCRAM exchange against the
 *   credentials under /config/users, issuing session tokens, and RevokeToken.
 *
 * Service principals: Kafka's `super.users` — principals listed in `superUsers` are services
 * (and administrators); {@link Authenticator.isServicePrincipal} tells the authorizer, and
 * the interceptor gives them `{ kind: 'service' }`.
 *
 * State kept in the coordination store (store.ts): the token key ring (created once by CAS,
 * followed by watch, and re-read when a token names a key this process does not know:
 * rotation), and revoked token
 * ids (followed by a children watch when the store offers one, else polled; expired entries
 * are deleted by whichever service sees them first).
 *
 * Never logged: passwords, proofs, tokens. Logs name a token by its id.
 */
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { Registry } from 'prom-client';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { AuthServiceService } from '@tributary/proto';
import type { Logger } from '../logger';
import { getOrCreateCounter } from '../metrics';
import type { Interceptor, Principal as CallPrincipal, ServiceHandlers } from '../grpc-server';
import { principalName, principalOf, userPrincipal, type Principal } from './principal';
import { ScramServerExchange, isScramMechanism, SCRAM_MECHANISMS, type ScramMechanism } from './scram';
import { REVOKED_TOKENS_PATH, TOKEN_KEY_PATH, getScramCredential, type SecurityStore } from './store';
import { DEFAULT_TOKEN_LIFETIME_MS, TokenKeyRing, TokenRevocations, issueToken, newTokenKey, verifyToken, type TokenClaims } from './token';
import { principalFromCertificate } from './tls';

/** The metadata key carrying the session token. */
export const AUTHORIZATION_METADATA_KEY = 'authorization';

/** How long a SCRAM exchange may take between its two steps. */
export const SCRAM_EXCHANGE_TIMEOUT_MS = 30_000;
/** Most SCRAM exchanges pending at once per process (bounds memory under a login flood). */
export const MAX_PENDING_SCRAM_EXCHANGES = 10_000;
/**
 * Tokens whose signature was checked, kept so a call costs a map lookup instead of a base64 +
 * JSON + HMAC pass (~7 µs); expiry and revocation are still checked on every call. Cleared
 * when the key ring changes, and when full.
 */
const MAX_VERIFIED_TOKENS = 10_000;

/** Options of {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  /** The coordination store (a `CoordinationClient`). */
  store: SecurityStore;
  logger: Logger;
  /** Registers `tributary_authentications_total`. */
  registry?: Registry;
  /** SCRAM mechanisms clients may use (`--sasl-enabled-mechanisms`), default both. */
  mechanisms?: readonly ScramMechanism[];
  /** Token lifetime (`--token-lifetime-ms`), default 1 h. */
  tokenLifetimeMs?: number;
  /** Kafka's `super.users`: principals (`User:<name>`) that are services or administrators. */
  superUsers?: readonly Principal[];
  /** Let calls without credentials through as `User:ANONYMOUS` (default true). */
  allowAnonymous?: boolean;
  /** Take `User:<CN>` from verified mTLS client certificates (default true). */
  certificatePrincipals?: boolean;
  /** Poll interval of revocations when the store has no watch (default 5 s). */
  revocationPollMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

/** The authentication mechanism of a process (see the file header). */
export interface Authenticator {
  /** Loads (or creates) the token key ring and starts following revocations. */
  start(): Promise<void>;
  /** Stops following the store. */
  stop(): void;
  /** The interceptor createGrpcServer runs first. */
  readonly interceptor: Interceptor;
  /** AuthService handlers, registered by createGrpcServer on every server. */
  readonly authServiceHandlers: ServiceHandlers<typeof AuthServiceService>;
  /** Whether `principal` is a service / super user (Kafka's super.users). */
  isServicePrincipal(principal: Principal): boolean;
  /** Verifies a token now (signature, expiry, revocation); throws SASL_AUTHENTICATION_FAILED. */
  verify(token: string): Promise<TokenClaims>;
}

function authFailed(message: string): TributaryError {
  return new TributaryError(ErrorCode.SASL_AUTHENTICATION_FAILED, message);
}

/** The bearer token of a call's metadata, if any. */
export function bearerToken(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get(AUTHORIZATION_METADATA_KEY)[0];
  if (typeof value !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(value.trim());
  if (!m) throw authFailed('Authentication failed: the authorization metadata must be "Bearer <token>"');
  return m[1];
}

/** Creates an {@link Authenticator}. */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { store } = options;
  const logger = options.logger.child({ component: 'authenticator' });
  const now = options.now ?? Date.now;
  const lifetimeMs = options.tokenLifetimeMs ?? DEFAULT_TOKEN_LIFETIME_MS;
  const superUsers = new Set(options.superUsers ?? []);
  const allowAnonymous = options.allowAnonymous ?? true;
  const certificatePrincipals = options.certificatePrincipals ?? true;
  const mechanisms: readonly ScramMechanism[] = options.mechanisms ?? SCRAM_MECHANISMS;
  const revocations = new TokenRevocations();
  const pending = new Map<string, { exchange: ScramServerExchange; expires: number }>();
  const counter = options.registry
    ? getOrCreateCounter(options.registry, {
        name: 'tributary_authentications_total',
        help: 'Authentications by mechanism (SCRAM-SHA-256, SCRAM-SHA-512, token, certificate) and result (success, failure)',
        labelNames: ['mechanism', 'result'],
      })
    : undefined;
  const count = (mechanism: string, ok: boolean): void => counter?.inc({ mechanism, result: ok ? 'success' : 'failure' });

  let ring: TokenKeyRing | undefined;
  const verified = new Map<string, TokenClaims>();
  const setRing = (next: TokenKeyRing): void => {
    ring = next;
    verified.clear();
  };
  let lastRingReload = 0;
  let watches: Array<{ cancel(): void }> = [];
  let timer: NodeJS.Timeout | undefined;

  async function loadRing(): Promise<TokenKeyRing> {
    await store.ensurePath('/config/security');
    let loaded: TokenKeyRing | undefined;
    await store.cas(TOKEN_KEY_PATH, (current) => {
      if (current && current.data.length > 0) {
        loaded = TokenKeyRing.parse(current.data);
        return undefined;
      }
      loaded = new TokenKeyRing([newTokenKey()]);
      return loaded.serialize();
    });
    lastRingReload = now();
    return loaded as TokenKeyRing;
  }

  function parseRevoked(names: readonly string[]): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (const name of names) {
      const dot = name.indexOf('.');
      const exp = Number(name.slice(0, dot));
      if (dot > 0 && Number.isFinite(exp)) out.push([name.slice(dot + 1), exp]);
    }
    return out;
  }

  async function pruneStore(names: readonly string[]): Promise<void> {
    for (const [jti, exp] of parseRevoked(names)) {
      if (exp > now()) continue;
      await store.delete(`${REVOKED_TOKENS_PATH}/${exp}.${jti}`).catch(() => undefined); // another service may have done it
    }
  }

  async function refreshRevocations(): Promise<void> {
    const { children } = await store.children(REVOKED_TOKENS_PATH);
    revocations.replace(parseRevoked(children));
    revocations.prune(now());
    void pruneStore(children);
  }

  async function currentRing(kid?: string): Promise<TokenKeyRing> {
    if (!ring) throw new TributaryError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the authenticator is not started');
    // A token signed with a key we do not know: the ring may have been rotated. Re-read it,
    // at most once a second.
    if (kid !== undefined && !ring.find(kid) && now() - lastRingReload >= 1000) setRing(await loadRing());
    return ring;
  }

  async function verify(token: string): Promise<TokenClaims> {
    let claims = verified.get(token);
    if (claims === undefined || now() >= claims.exp) {
      verified.delete(token);
      claims = verifyToken(await currentRing(peekKid(token)), token, now());
      if (verified.size >= MAX_VERIFIED_TOKENS) verified.clear();
      verified.set(token, claims);
    }
    if (revocations.has(claims.jti)) throw authFailed('Authentication failed: the token has been revoked; authenticate again (SCRAM) to get a new token');
    return claims;
  }

  function toCallPrincipal(principal: Principal): CallPrincipal {
    const name = principalName(principal) ?? principal;
    return superUsers.has(principal) ? { kind: 'service', name } : { kind: 'user', name };
  }

  const scramMethods = new Set(['tributary.v1.AuthService/ScramAuthenticateFirst', 'tributary.v1.AuthService/ScramAuthenticateFinal']);

  const interceptor: Interceptor = async (metadata, _peer, info) => {
    // The login calls themselves need no credentials (a stale token there is ignored).
    if (scramMethods.has(info.method)) return undefined;
    let token: string | undefined;
    try {
      token = bearerToken(metadata);
      if (token !== undefined) {
        const claims = await verify(token);
        count('token', true);
        return toCallPrincipal(claims.sub);
      }
    } catch (e) {
      count('token', false);
      const error = TributaryError.from(e);
      logger.debug({ method: info.method, reason: error.message }, 'call refused: bad session token');
      throw error;
    }
    const certificate = (info as { peerCertificate?: PeerCertificate }).peerCertificate;
    if (certificatePrincipals && certificate) {
      const principal = principalFromCertificate(certificate);
      if (principal) {
        count('certificate', true);
        return toCallPrincipal(principal);
      }
    }
    if (!allowAnonymous) {
      throw authFailed('Authentication required: authenticate with SCRAM (AuthService) and send "authorization: Bearer <token>", or use a client certificate');
    }
    return undefined;
  };

  function prunePending(): void {
    const t = now();
    for (const [id, p] of pending) if (p.expires <= t) pending.delete(id);
  }

  const authServiceHandlers: ServiceHandlers<typeof AuthServiceService> = {
    async scramAuthenticateFirst(request) {
      if (!isScramMechanism(request.mechanism) || !mechanisms.includes(request.mechanism)) {
        count('unsupported', false);
        throw new TributaryError(
          ErrorCode.UNSUPPORTED_SASL_MECHANISM,
          mechanisms.length === 0
            ? 'SASL authentication is not enabled on this server: use a client certificate'
            : `unsupported SASL mechanism "${request.mechanism.slice(0, 50)}": this server accepts ${mechanisms.join(', ')}`,
        );
      }
      prunePending();
      if (pending.size >= MAX_PENDING_SCRAM_EXCHANGES) {
        throw new TributaryError(ErrorCode.ILLEGAL_SASL_STATE, 'too many SCRAM exchanges in progress on this server: retry in a few seconds');
      }
      const mechanism = request.mechanism;
      const exchange = new ScramServerExchange(mechanism, (user, m) => getScramCredential(store, user, m));
      let serverFirst: string;
      try {
        serverFirst = await exchange.clientFirst(request.authBytes.toString('utf8'));
      } catch (e) {
        count(mechanism, false);
        throw e;
      }
      const sessionId = randomBytes(16).toString('base64url');
      pending.set(sessionId, { exchange, expires: now() + SCRAM_EXCHANGE_TIMEOUT_MS });
      return { sessionId, authBytes: Buffer.from(serverFirst, 'utf8') };
    },

    async scramAuthenticateFinal(request) {
      const entry = pending.get(request.sessionId);
      pending.delete(request.sessionId); // one attempt per exchange: a replay finds nothing
      if (!entry || entry.expires <= now()) {
        throw new TributaryError(ErrorCode.ILLEGAL_SASL_STATE, 'unknown or expired SCRAM exchange: start again with ScramAuthenticateFirst (on the same endpoint, within 30 s)');
      }
      const { mechanism } = entry.exchange;
      let username: string;
      let serverFinal: string;
      try {
        ({ username, serverFinal } = entry.exchange.clientFinal(request.authBytes.toString('utf8')));
      } catch (e) {
        count(mechanism, false);
        logger.info({ mechanism }, 'SCRAM authentication failed');
        throw e;
      }
      count(mechanism, true);
      const principal = userPrincipal(username);
      const { token, claims } = issueToken(await currentRing(), principal, lifetimeMs, now());
      logger.info({ principal, mechanism, tokenId: claims.jti, expiresAt: new Date(claims.exp).toISOString() }, 'SCRAM authentication succeeded: token issued');
      return { authBytes: Buffer.from(serverFinal, 'utf8'), token, principal, sessionLifetimeMs: BigInt(claims.exp - now()), tokenId: claims.jti };
    },

    async revokeToken(request, ctx) {
      const token = request.token || bearerToken(ctx.metadata);
      if (!token) throw new TributaryError(ErrorCode.INVALID_REQUEST, 'no token to revoke: pass one, or call with "authorization: Bearer <token>" to revoke your own');
      const claims = verifyToken(await currentRing(peekKid(token)), token, now());
      const caller = principalOf(ctx);
      if (caller !== claims.sub && !superUsers.has(caller)) {
        throw new TributaryError(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, `${caller} may not revoke a token of ${claims.sub}: only its owner or a super user may`);
      }
      await store.ensurePath(REVOKED_TOKENS_PATH);
      await store.create(`${REVOKED_TOKENS_PATH}/${claims.exp}.${claims.jti}`, Buffer.alloc(0)).catch((e: unknown) => {
        if ((e as { code?: string }).code !== 'NODE_EXISTS') throw e;
      });
      revocations.add(claims.jti, claims.exp);
      logger.info({ by: caller, principal: claims.sub, tokenId: claims.jti }, 'token revoked');
      return { tokenId: claims.jti };
    },
  };

  return {
    interceptor,
    authServiceHandlers,
    isServicePrincipal: (principal) => superUsers.has(principal),
    verify,
    async start() {
      setRing(await loadRing());
      await store.ensurePath(REVOKED_TOKENS_PATH);
      await refreshRevocations();
      if (store.watch) {
        // Key rotation: sign with the new key as soon as it is stored.
        watches.push(
          store.watch(TOKEN_KEY_PATH, {
            onEvent: () => {
              loadRing().then(
                (next) => {
                  if (ring?.current.id !== next.current.id) logger.info({ keyId: next.current.id }, 'token key rotated');
                  setRing(next);
                },
                (e: unknown) => logger.warn({ err: (e as Error).message }, 'cannot read the token key ring'),
              );
            },
            onError: (e) => logger.warn({ err: e.message }, 'token key watch failed'),
          }),
        );
        watches.push(store.watch(REVOKED_TOKENS_PATH, {
          children: true,
          // Any change: re-read the children (one read per revocation; events of other
          // types carry no children list).
          onEvent: () => {
            refreshRevocations().catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'cannot read revoked tokens'));
          },
          onError: (e) => logger.warn({ err: e.message }, 'revoked-token watch failed'),
        }));
      }
      // Polling: the only source without a watch; with one, it prunes expired entries.
      const pollMs = store.watch ? 60_000 : (options.revocationPollMs ?? 5_000);
      timer = setInterval(() => {
        prunePending();
        refreshRevocations().catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'cannot read revoked tokens'));
      }, pollMs);
      timer.unref();
      logger.info({ keyId: ring?.current.id, tokenLifetimeMs: lifetimeMs, superUsers: [...superUsers] }, 'authenticator started');
    },
    stop() {
      for (const w of watches) w.cancel();
      watches = [];
      if (timer) clearInterval(timer);
      timer = undefined;
      pending.clear();
      verified.clear();
    },
  };
}

/** The key id of a token, without verifying anything (to pick the key). */
function peekKid(token: string): string | undefined {
  try {
    const json = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof json.kid === 'string' ? json.kid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Rotates the cluster's token key: a new signing key; the previous one keeps verifying
 * tokens until the next rotation (rotate at most once per token lifetime).
 */
export async function rotateTokenKey(store: SecurityStore): Promise<void> {
  await store.ensurePath('/config/security');
  await store.cas(TOKEN_KEY_PATH, (current) => {
    const ring = current && current.data.length > 0 ? TokenKeyRing.parse(current.data) : new TokenKeyRing([newTokenKey()]);
    return ring.rotate().serialize();
  });
}
