import { Metadata } from '@grpc/grpc-js';
import { ErrorCode, TributaryError } from '@tributary/records';
import { createLogger } from '../logger';
import type { CallContext, InterceptorInfo } from '../grpc-server';
import { createAuthenticator, rotateTokenKey, type Authenticator } from './authenticator';
import { MemorySecurityStore } from './memory-store';
import { ScramClientExchange } from './scram';
import { REVOKED_TOKENS_PATH, TOKEN_KEY_PATH, deleteScramCredential, getScramCredential, listScramUsers, setScramCredential, userConfigPath } from './store';
import { TokenKeyRing, issueToken, newTokenKey } from './token';

const logger = createLogger({ service: 'authenticator-spec', nodeId: 0, level: 'silent' });
const METHOD = 'tributary.v1.CoordinationService/Get';
const info = (method = METHOD): InterceptorInfo => ({ method, principal: { kind: 'anonymous' } });

function md(entries: Record<string, string> = {}): Metadata {
  const m = new Metadata();
  for (const [k, v] of Object.entries(entries)) m.set(k, v);
  return m;
}

async function failure(p: Promise<unknown> | (() => unknown)): Promise<TributaryError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(TributaryError);
    return e as TributaryError;
  }
  throw new Error('expected a failure');
}

function ctx(principal: CallContext['principal'], metadata = md()): CallContext {
  return { method: 'tributary.v1.AuthService/RevokeToken', principal, metadata, peer: '127.0.0.1:1', logger, deadline: undefined, signal: new AbortController().signal };
}

let store: MemorySecurityStore;
let auth: Authenticator;
let now: number;

async function login(a: Authenticator, user: string, password: string) {
  const client = new ScramClientExchange('SCRAM-SHA-256', user, password);
  const first = await a.authServiceHandlers.scramAuthenticateFirst({ mechanism: 'SCRAM-SHA-256', authBytes: Buffer.from(client.first()) }, ctx({ kind: 'anonymous' }));
  const final = await a.authServiceHandlers.scramAuthenticateFinal(
    { sessionId: first.sessionId, authBytes: Buffer.from(client.final(first.authBytes.toString())) },
    ctx({ kind: 'anonymous' }),
  );
  client.verifyServerFinal(final.authBytes.toString());
  return { ...final, sessionId: first.sessionId };
}

beforeEach(async () => {
  store = new MemorySecurityStore();
  now = 1_700_000_000_000;
  await setScramCredential(store, 'alice', 'SCRAM-SHA-256', 'alice-pw');
  auth = createAuthenticator({ store, logger, superUsers: ['User:admin'], tokenLifetimeMs: 60_000, now: () => now });
  await auth.start();
});
afterEach(() => auth.stop());

describe('credential store', () => {
  it("keeps Kafka's user config layout, other keys (quotas) untouched, and never the password", async () => {
    await store.ensurePath('/config/users');
    await store.create(userConfigPath('bob'), Buffer.from(JSON.stringify({ version: 1, config: { producer_byte_rate: '1024' } })));
    await setScramCredential(store, 'bob', 'SCRAM-SHA-512', 'bob-pw');
    const node = JSON.parse((await store.tryGet('/config/users/bob'))!.data.toString()) as { config: Record<string, string> };
    expect(node.config['producer_byte_rate']).toBe('1024');
    expect(node.config['SCRAM-SHA-512']).toMatch(/^salt=.*,iterations=4096$/);
    for (const data of store.nodes.values()) expect(data.toString()).not.toContain('-pw');
    expect(await deleteScramCredential(store, 'bob', 'SCRAM-SHA-512')).toBe(true);
    expect(await getScramCredential(store, 'bob', 'SCRAM-SHA-512')).toBeUndefined();
    expect(store.nodes.has('/config/users/bob')).toBe(true); // the quota stays
    expect(await listScramUsers(store)).toEqual([{ user: 'alice', mechanisms: ['SCRAM-SHA-256'] }]);
  });

  it('sanitizes user names into one path segment, as Kafka does', async () => {
    expect(userConfigPath('CN=svc,O=acme/x*')).toBe('/config/users/CN%3Dsvc%2CO%3Dacme%2Fx%2A');
    await setScramCredential(store, 'CN=svc,O=acme/x*', 'SCRAM-SHA-256', 'pw');
    expect((await listScramUsers(store)).map((u) => u.user)).toContain('CN=svc,O=acme/x*');
    await expect(failure(() => userConfigPath(''))).resolves.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
  });
});

describe('authenticator', () => {
  it('creates the token key ring once; a second service uses the same ring', async () => {
    const ring = store.nodes.get(TOKEN_KEY_PATH)!;
    const other = createAuthenticator({ store, logger, now: () => now });
    await other.start();
    expect(store.nodes.get(TOKEN_KEY_PATH)!.equals(ring)).toBe(true);
    const { token } = await login(auth, 'alice', 'alice-pw');
    expect((await other.verify(token)).sub).toBe('User:alice');
    other.stop();
  });

  it('names the caller from the token, service principals from super users; anonymous without credentials', async () => {
    const { token } = await login(auth, 'alice', 'alice-pw');
    expect(await auth.interceptor(md({ authorization: `Bearer ${token}` }), 'peer', info())).toEqual({ kind: 'user', name: 'alice' });
    const adminToken = issueToken(TokenKeyRing.parse(store.nodes.get(TOKEN_KEY_PATH)!), 'User:admin', 1000, now).token;
    expect(await auth.interceptor(md({ authorization: `bearer ${adminToken}` }), 'peer', info())).toEqual({ kind: 'service', name: 'admin' });
    expect(await auth.interceptor(md(), 'peer', info())).toBeUndefined();
    expect(auth.isServicePrincipal('User:admin')).toBe(true);
    expect(auth.isServicePrincipal('User:alice')).toBe(false);
  });

  it('takes User:<CN> from a verified client certificate when there is no token', async () => {
    const peerCertificate = { subject: { CN: 'admin' } } as unknown as NonNullable<InterceptorInfo['peerCertificate']>;
    expect(await auth.interceptor(md(), 'peer', { ...info(), peerCertificate })).toEqual({ kind: 'service', name: 'admin' });
  });

  it('refuses malformed authorization metadata, and anonymous calls when anonymous is off', async () => {
    for (const value of ['Basic dXNlcjpwdw==', 'Bearer', 'Bearer a b']) {
      expect((await failure(auth.interceptor(md({ authorization: value }), 'peer', info()))).code).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    }
    const strict = createAuthenticator({ store, logger, allowAnonymous: false });
    await strict.start();
    const e = await failure(strict.interceptor(md(), 'peer', info()));
    expect(e.code).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    expect(e.message).toMatch(/AuthService/);
    // The login calls themselves stay open, even with a stale token.
    expect(await strict.interceptor(md({ authorization: 'Bearer stale' }), 'peer', info('tributary.v1.AuthService/ScramAuthenticateFirst'))).toBeUndefined();
    strict.stop();
  });

  it('finishes an exchange once: a replayed final message finds no exchange', async () => {
    const client = new ScramClientExchange('SCRAM-SHA-256', 'alice', 'alice-pw');
    const first = await auth.authServiceHandlers.scramAuthenticateFirst({ mechanism: 'SCRAM-SHA-256', authBytes: Buffer.from(client.first()) }, ctx({ kind: 'anonymous' }));
    const request = { sessionId: first.sessionId, authBytes: Buffer.from(client.final(first.authBytes.toString())) };
    expect((await auth.authServiceHandlers.scramAuthenticateFinal(request, ctx({ kind: 'anonymous' }))).principal).toBe('User:alice');
    expect((await failure(auth.authServiceHandlers.scramAuthenticateFinal(request, ctx({ kind: 'anonymous' })))).code).toBe(ErrorCode.ILLEGAL_SASL_STATE);
  });

  it('expires an unfinished exchange after 30 s and refuses unknown mechanisms', async () => {
    const client = new ScramClientExchange('SCRAM-SHA-256', 'alice', 'alice-pw');
    const first = await auth.authServiceHandlers.scramAuthenticateFirst({ mechanism: 'SCRAM-SHA-256', authBytes: Buffer.from(client.first()) }, ctx({ kind: 'anonymous' }));
    now += 30_000;
    const request = { sessionId: first.sessionId, authBytes: Buffer.from(client.final(first.authBytes.toString())) };
    expect((await failure(auth.authServiceHandlers.scramAuthenticateFinal(request, ctx({ kind: 'anonymous' })))).code).toBe(ErrorCode.ILLEGAL_SASL_STATE);
    const e = await failure(auth.authServiceHandlers.scramAuthenticateFirst({ mechanism: 'PLAIN', authBytes: Buffer.from('x') }, ctx({ kind: 'anonymous' })));
    expect(e.code).toBe(ErrorCode.UNSUPPORTED_SASL_MECHANISM);
  });

  it('accepts only the enabled mechanisms', async () => {
    const only512 = createAuthenticator({ store, logger, mechanisms: ['SCRAM-SHA-512'] });
    await only512.start();
    const e = await failure(only512.authServiceHandlers.scramAuthenticateFirst({ mechanism: 'SCRAM-SHA-256', authBytes: Buffer.from('n,,n=alice,r=abc') }, ctx({ kind: 'anonymous' })));
    expect(e.code).toBe(ErrorCode.UNSUPPORTED_SASL_MECHANISM);
    expect(e.message).toMatch(/accepts SCRAM-SHA-512/);
    only512.stop();
  });

  it('tokens expire with the configured lifetime', async () => {
    const { token, sessionLifetimeMs } = await login(auth, 'alice', 'alice-pw');
    expect(sessionLifetimeMs).toBe(60_000n);
    now += 59_999;
    expect((await auth.verify(token)).sub).toBe('User:alice');
    now += 1;
    expect((await failure(auth.verify(token))).message).toMatch(/expired/);
  });

  it('revokes: the owner or a super user only; the revocation is stored and removed once the token expires', async () => {
    const { token, tokenId } = await login(auth, 'alice', 'alice-pw');
    expect((await failure(auth.authServiceHandlers.revokeToken({ token }, ctx({ kind: 'user', name: 'mallory' })))).code).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    expect(await auth.authServiceHandlers.revokeToken({ token: '' }, ctx({ kind: 'user', name: 'alice' }, md({ authorization: `Bearer ${token}` })))).toEqual({ tokenId });
    expect((await failure(auth.verify(token))).message).toMatch(/revoked/);
    const children = (await store.children(REVOKED_TOKENS_PATH)).children;
    expect(children).toEqual([`${now + 60_000}.${tokenId}`]);
    // Another service learns it from the store.
    const other = createAuthenticator({ store, logger, now: () => now });
    await other.start();
    expect((await failure(other.verify(token))).message).toMatch(/revoked/);
    other.stop();
    // A super user may revoke anybody's token.
    const second = await login(auth, 'alice', 'alice-pw');
    expect((await auth.authServiceHandlers.revokeToken({ token: second.token }, ctx({ kind: 'service', name: 'admin' }))).tokenId).toBe(second.tokenId);
    // After expiry the entries go (a new service start prunes them).
    now += 60_001;
    const later = createAuthenticator({ store, logger, now: () => now });
    await later.start();
    await new Promise((r) => setImmediate(r));
    expect((await store.children(REVOKED_TOKENS_PATH)).children).toEqual([]);
    later.stop();
  });

  it('follows key rotation: new tokens use the new key, tokens of the previous key stay valid, older ones do not', async () => {
    const before = await login(auth, 'alice', 'alice-pw');
    await rotateTokenKey(store);
    await new Promise((r) => setImmediate(r));
    const after = await login(auth, 'alice', 'alice-pw');
    const ring = TokenKeyRing.parse(store.nodes.get(TOKEN_KEY_PATH)!);
    expect(JSON.parse(Buffer.from(after.token.split('.')[0]!, 'base64url').toString()).kid).toBe(ring.current.id);
    expect((await auth.verify(before.token)).sub).toBe('User:alice');
    await rotateTokenKey(store);
    await new Promise((r) => setImmediate(r));
    expect((await failure(auth.verify(before.token))).code).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    expect((await auth.verify(after.token)).sub).toBe('User:alice');
    // A token from a foreign ring never verifies.
    const foreign = issueToken(new TokenKeyRing([newTokenKey()]), 'User:alice', 1000, now).token;
    expect((await failure(auth.verify(foreign))).code).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
  });
});
