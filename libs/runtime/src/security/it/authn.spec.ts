/**
 * Transport security and authentication over real gRPC: a REAL coordination service process
 * (embedded store) holds the SCRAM credentials, token key and revocations; two gRPC servers
 * built with createGrpcServer (as every service's are) — one TLS + SCRAM, one mutual TLS —
 * answer a call with the caller's principal. Certificates come from the openssl CLI.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, copyFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import pino from 'pino';
import { CoordinationClient } from '@tributary/coordination-client';
import { AuthServiceClient, CoordinationServiceClient, CoordinationServiceService, GetResponse } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import { serviceMain, startServiceProcess, stopAllProcesses, tempDir, waitFor, removeTempDirs, type ServiceProcess } from '@tributary/testing';
import { startAdminServer, type AdminServer } from '../../admin-server';
import { createClient, unary } from '../../grpc-client';
import { GrpcStatusError, Status } from '../../grpc-errors';
import { createGrpcServer, type GrpcServer } from '../../grpc-server';
import { createLogger } from '../../logger';
import { createMetrics } from '../../metrics';
import { createAuthenticator, type Authenticator } from '../authenticator';
import { scramLogin } from '../login';
import { principalOf } from '../principal';
import { setScramCredential } from '../store';
import { ReloadingServerTls } from '../tls';
import { TokenKeyRing, issueToken, newTokenKey } from '../token';
import { TokenSession } from '../session';
import { makeCa, makeCert, type TestCa, type TestCert } from '@tributary/testing';

jest.setTimeout(60_000);

const PASSWORD = 'alice-Pa55word-that-must-never-leak';
const TOKEN_LIFETIME_MS = 60 * 60 * 1000;

let dir: string;
let dataDir: string;
let logFile: string;
let coordination: ServiceProcess;
let store: CoordinationClient;
let caA: TestCa;
let caB: TestCa;
let serverCert: TestCert;
let serviceCert: TestCert;
let foreignCert: TestCert;
/** Added to the first server's clock, to expire tokens without waiting. */
let clockSkewMs = 0;
let authA: Authenticator;
let authB: Authenticator;
let tlsA: ReloadingServerTls;
let serverA: GrpcServer;
let serverB: GrpcServer;
let addressA: string;
let addressB: string;
let admin: AdminServer;
const tokensSeen: string[] = [];

beforeAll(async () => {
  execFileSync('openssl', ['version']); // fails the suite with a clear error if openssl is missing
  dir = tempDir('authn-it');
  dataDir = join(dir, 'coordination');
  logFile = join(dir, 'servers.log');
  caA = makeCa(dir, 'a');
  caB = makeCa(dir, 'b');
  serverCert = makeCert(dir, caA, 'localhost', 'server');
  serviceCert = makeCert(dir, caA, 'broker-svc');
  foreignCert = makeCert(dir, caB, 'mallory');

  coordination = await startServiceProcess({
    name: 'authn-coordination',
    main: serviceMain('coordination'),
    flags: { backend: 'embedded', 'data-dir': dataDir, 'node-id': 'authn-coordination', 'log-level': 'debug' },
  });
  store = new CoordinationClient({ address: coordination.address });
  await setScramCredential(store, 'alice', 'SCRAM-SHA-256', PASSWORD);
  await setScramCredential(store, 'alice', 'SCRAM-SHA-512', PASSWORD, 8192);

  const logger = createLogger({ service: 'authn-it', nodeId: 0, level: 'debug', destination: pino.destination({ dest: logFile, sync: true }) });
  const metrics = createMetrics({ service: 'authn-it', nodeId: '0', defaultMetrics: false });
  const handlers = {
    get: async (_req: unknown, ctx: Parameters<typeof principalOf>[0]) => GetResponse.fromPartial({ data: Buffer.from(JSON.stringify({ principal: principalOf(ctx), kind: ctx.principal.kind })) }),
  };

  // Server A: TLS (server certificate only) + SCRAM/token authentication.
  authA = createAuthenticator({ store, logger, registry: metrics.registry, tokenLifetimeMs: TOKEN_LIFETIME_MS, superUsers: ['User:broker-svc'], now: () => Date.now() + clockSkewMs });
  await authA.start();
  // Server A's certificate files are copies, so the reload test can replace them.
  copyFileSync(serverCert.certFile, join(dir, 'live.crt'));
  copyFileSync(serverCert.keyFile, join(dir, 'live.key'));
  tlsA = new ReloadingServerTls({ certFile: join(dir, 'live.crt'), keyFile: join(dir, 'live.key'), reloadIntervalMs: 0 }, logger);
  serverA = createGrpcServer({ logger, registry: metrics.registry, tls: tlsA, authenticator: authA });
  serverA.addService(CoordinationServiceService, handlers);
  addressA = `127.0.0.1:${await serverA.listen('127.0.0.1', 0)}`;

  // Server B: another "service" with its own authenticator over the same store, mutual TLS.
  authB = createAuthenticator({ store, logger, superUsers: ['User:broker-svc'] });
  await authB.start();
  serverB = createGrpcServer({
    logger,
    registry: createMetrics({ service: 'authn-it', nodeId: '0', defaultMetrics: false }).registry,
    tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, caFile: caA.certFile, requireClientCert: true },
    authenticator: authB,
  });
  serverB.addService(CoordinationServiceService, handlers);
  addressB = `127.0.0.1:${await serverB.listen('127.0.0.1', 0)}`;

  admin = await startAdminServer({ host: '127.0.0.1', port: 0, registry: metrics.registry, logger, tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile } });
}, 60_000);

afterAll(async () => {
  await admin?.close();
  await serverA?.shutdown(1000);
  await serverB?.shutdown(1000);
  authA?.stop();
  authB?.stop();
  tlsA?.close();
  store?.close();
  await stopAllProcesses();
  removeTempDirs();
});

type Client = CoordinationServiceClient;

function tlsClient(address: string, opts: { ca?: string; cert?: TestCert; token?: () => string | undefined } = {}): Client {
  return createClient(CoordinationServiceClient, address, {
    tls: { caFile: opts.ca ?? caA.certFile, ...(opts.cert ? { certFile: opts.cert.certFile, keyFile: opts.cert.keyFile } : {}) },
    ...(opts.token ? { authToken: opts.token } : {}),
    settings: { unaryDeadlineMs: 5000 },
  });
}

async function whoAmI(client: Client): Promise<{ principal: string; kind: string }> {
  const res = await unary(client, 'get', { path: '/whoami' });
  return JSON.parse(res.data.toString()) as { principal: string; kind: string };
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

function expectAuthFailed(e: unknown): void {
  expect(e).toBeInstanceOf(TributaryError);
  expect((e as TributaryError).code).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
}

async function login(address: string, password = PASSWORD, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512' = 'SCRAM-SHA-256') {
  const auth = createClient(AuthServiceClient, address, { tls: { caFile: caA.certFile } });
  try {
    const result = await scramLogin(auth, { mechanism, username: 'alice', password });
    tokensSeen.push(result.token);
    return result;
  } finally {
    auth.close();
  }
}

describe('TLS', () => {
  it('refuses a plaintext client on a TLS listener', async () => {
    const plain = createClient(CoordinationServiceClient, addressA, { settings: { unaryDeadlineMs: 3000 } });
    const e = await failure(unary(plain, 'get', { path: '/whoami' }));
    plain.close();
    expect(e).toBeInstanceOf(GrpcStatusError);
    expect((e as GrpcStatusError).code).toBe(Status.UNAVAILABLE);
  });

  it('serves a TLS client that trusts the CA, as User:ANONYMOUS without credentials', async () => {
    const client = tlsClient(addressA);
    expect(await whoAmI(client)).toEqual({ principal: 'User:ANONYMOUS', kind: 'anonymous' });
    client.close();
  });

  it('is refused by a client that does not trust the server certificate', async () => {
    const client = tlsClient(addressA, { ca: caB.certFile });
    const e = await failure(whoAmI(client));
    client.close();
    expect((e as GrpcStatusError).code).toBe(Status.UNAVAILABLE);
  });

  it('mutual TLS: a certificate from the CA names the caller by its CN; another CA or none is refused', async () => {
    const service = tlsClient(addressB, { cert: serviceCert });
    expect(await whoAmI(service)).toEqual({ principal: 'User:broker-svc', kind: 'service' });
    service.close();
    for (const client of [tlsClient(addressB, { cert: foreignCert }), tlsClient(addressB)]) {
      const e = await failure(whoAmI(client));
      client.close();
      expect((e as GrpcStatusError).code).toBe(Status.UNAVAILABLE);
    }
  });

  it('reloads a changed certificate: new connections use it', async () => {
    const caC = makeCa(dir, 'c');
    const next = makeCert(dir, caC, 'localhost', 'server-c');
    const trustsC = tlsClient(addressA, { ca: caC.certFile });
    expect((await failure(whoAmI(trustsC))) as GrpcStatusError).toMatchObject({ code: Status.UNAVAILABLE });
    trustsC.close();
    copyFileSync(next.certFile, join(dir, 'live.crt'));
    copyFileSync(next.keyFile, join(dir, 'live.key'));
    expect(tlsA.check()).toBe(true);
    const fresh = tlsClient(addressA, { ca: caC.certFile });
    expect((await whoAmI(fresh)).principal).toBe('User:ANONYMOUS');
    fresh.close();
    // Back to CA A for the other tests.
    copyFileSync(serverCert.certFile, join(dir, 'live.crt'));
    copyFileSync(serverCert.keyFile, join(dir, 'live.key'));
    expect(tlsA.check()).toBe(true);
  });

  it('serves the admin endpoints over HTTPS', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: admin.port, path: '/healthz', ca: readFileSync(caA.certFile), servername: 'localhost' }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${text}`));
        })
        .on('error', reject);
    });
    expect(body).toBe('200 ok');
    await expect(fetch(`http://127.0.0.1:${admin.port}/healthz`)).rejects.toThrow();
  });
});

describe('SCRAM and session tokens', () => {
  it.each(['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const)('%s login gives a token; calls carrying it are User:alice, on any service', async (mechanism) => {
    const { token, principal, lifetimeMs } = await login(addressA, PASSWORD, mechanism);
    expect(principal).toBe('User:alice');
    expect(lifetimeMs).toBeGreaterThan(0);
    expect(lifetimeMs).toBeLessThanOrEqual(TOKEN_LIFETIME_MS);
    const client = tlsClient(addressA, { token: () => token });
    expect(await whoAmI(client)).toEqual({ principal: 'User:alice', kind: 'user' });
    client.close();
    // Server B verifies the token locally with the same cluster key.
    const other = tlsClient(addressB, { cert: serviceCert, token: () => token });
    expect(await whoAmI(other)).toEqual({ principal: 'User:alice', kind: 'user' });
    other.close();
  });

  it('refuses a wrong password and an unknown user with SASL_AUTHENTICATION_FAILED', async () => {
    expectAuthFailed(await failure(login(addressA, 'not-the-password')));
    const auth = createClient(AuthServiceClient, addressA, { tls: { caFile: caA.certFile } });
    expectAuthFailed(await failure(scramLogin(auth, { mechanism: 'SCRAM-SHA-256', username: 'nobody', password: 'x' })));
    auth.close();
  });

  it('refuses a tampered token and a token signed by another cluster, never falling back to anonymous', async () => {
    const { token } = await login(addressA);
    const client = tlsClient(addressA, { token: () => `${token.slice(0, -2)}AA` });
    expectAuthFailed(await failure(whoAmI(client)));
    client.close();
    const forged = issueToken(new TokenKeyRing([newTokenKey()]), 'User:alice').token;
    for (const bad of [forged, 'not-a-token']) {
      const other = tlsClient(addressA, { token: () => bad });
      const e = await failure(whoAmI(other));
      other.close();
      expectAuthFailed(e);
      expect((e as TributaryError).message).toMatch(/authenticate again/);
    }
  });

  it('refuses an expired token', async () => {
    const { token } = await login(addressA);
    const client = tlsClient(addressA, { token: () => token });
    expect((await whoAmI(client)).principal).toBe('User:alice');
    clockSkewMs = TOKEN_LIFETIME_MS + 1;
    try {
      const e = await failure(whoAmI(client));
      expectAuthFailed(e);
      expect((e as TributaryError).message).toMatch(/expired/);
    } finally {
      clockSkewMs = 0;
      client.close();
    }
  });

  it('refuses a revoked token on every service (the other one learns it by watch)', async () => {
    const { token, tokenId } = await login(addressA);
    const onB = tlsClient(addressB, { cert: serviceCert, token: () => token });
    expect((await whoAmI(onB)).principal).toBe('User:alice');
    const auth = createClient(AuthServiceClient, addressA, { tls: { caFile: caA.certFile }, authToken: () => token });
    expect(await unary(auth, 'revokeToken', { token: '' })).toEqual({ tokenId });
    auth.close();
    const onA = tlsClient(addressA, { token: () => token });
    const e = await failure(whoAmI(onA));
    expectAuthFailed(e);
    expect((e as TributaryError).message).toMatch(/revoked/);
    onA.close();
    await waitFor(async () => (await failure(whoAmI(onB).then(() => 'still accepted'))) instanceof TributaryError, { message: 'server B to refuse the revoked token' });
    onB.close();
  });

  it('lets only the owner or a super user revoke a token', async () => {
    const { token } = await login(addressA);
    const anonymous = createClient(AuthServiceClient, addressA, { tls: { caFile: caA.certFile } });
    const e = await failure(unary(anonymous, 'revokeToken', { token }));
    anonymous.close();
    expect((e as TributaryError).code).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const service = createClient(AuthServiceClient, addressB, { tls: { caFile: caA.certFile, certFile: serviceCert.certFile, keyFile: serviceCert.keyFile } });
    expect((await unary(service, 'revokeToken', { token })).tokenId).toMatch(/\S/);
    service.close();
  });
});

describe('TokenSession (what clients and services plug into createClient)', () => {
  it('logs in once for concurrent calls, renews after 80 % of the lifetime, and again after a refusal', async () => {
    const session = new TokenSession({ mechanism: 'SCRAM-SHA-512', username: 'alice', password: PASSWORD }, { tls: { caFile: caA.certFile } });
    const client = createClient(CoordinationServiceClient, addressA, {
      tls: { caFile: caA.certFile },
      authToken: () => session.token(addressA),
      onTokenRejected: () => session.invalidate(),
    });
    try {
      const [a, b] = await Promise.all([session.token(addressA), session.token(addressA)]);
      expect(a).toBe(b);
      tokensSeen.push(a);
      expect((await whoAmI(client)).principal).toBe('User:alice');
      expect(await session.token(addressA)).toBe(a);
      // 81 % of the lifetime later (the whole process's clock, servers included): a new login.
      const realNow = Date.now.bind(Date);
      const spy = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + Math.ceil(TOKEN_LIFETIME_MS * 0.81));
      let renewed: string;
      try {
        renewed = await session.token(addressA);
      } finally {
        spy.mockRestore();
      }
      expect(renewed).not.toBe(a);
      tokensSeen.push(renewed);
      // The server refuses the cached token (revoked): the call fails, the next one logs in again.
      const auth = createClient(AuthServiceClient, addressA, { tls: { caFile: caA.certFile }, authToken: () => renewed });
      await unary(auth, 'revokeToken', { token: '' });
      auth.close();
      expectAuthFailed(await failure(whoAmI(client)));
      expect((await whoAmI(client)).principal).toBe('User:alice');
      const fresh = await session.token(addressA);
      expect(fresh).not.toBe(renewed);
      tokensSeen.push(fresh);
    } finally {
      client.close();
      session.close();
    }
  });
});

describe('secrets', () => {
  function filesUnder(root: string): string[] {
    return readdirSync(root).flatMap((name) => {
      const p = join(root, name);
      return statSync(p).isDirectory() ? filesUnder(p) : [p];
    });
  }

  /** `text` followed by the decoding of every base64 run of 8+ characters in it. */
  function withDecodedBase64(text: string): string {
    const decoded = (text.match(/[A-Za-z0-9+/]{8,}={0,2}/g) ?? []).map((run) => Buffer.from(run, 'base64').toString('latin1'));
    return [text, ...decoded].join('\n');
  }

  it('stores only salted credentials, and no log or stored file holds the password or a token', async () => {
    expect(tokensSeen.length).toBeGreaterThan(3);
    const stored = (await store.get('/config/users/alice')).data.toString();
    expect(JSON.parse(stored)).toEqual({
      version: 1,
      config: {
        'SCRAM-SHA-256': expect.stringMatching(/^salt=[^,]+,stored_key=[^,]+,server_key=[^,]+,iterations=4096$/) as unknown,
        'SCRAM-SHA-512': expect.stringMatching(/^salt=[^,]+,stored_key=[^,]+,server_key=[^,]+,iterations=8192$/) as unknown,
      },
    });
    const haystacks: Array<[string, string]> = [
      ['servers log', readFileSync(logFile, 'utf8')],
      ['coordination output', coordination.proc.outputTail()],
      // The embedded store keeps node data base64-encoded in its WAL/snapshot: search both forms.
      ...filesUnder(dataDir).map((f): [string, string] => [f, withDecodedBase64(readFileSync(f).toString('latin1'))]),
    ];
    // The test can see what it looks for: the logs name logins, the store holds the credential.
    expect(haystacks[0]![1]).toContain('SCRAM authentication succeeded');
    expect(haystacks.some(([, text]) => text.includes('stored_key='))).toBe(true);
    for (const [where, text] of haystacks) {
      expect({ where, leaks: text.includes(PASSWORD) }).toEqual({ where, leaks: false });
      for (const token of tokensSeen) {
        expect({ where, leaks: text.includes(token) || text.includes(token.split('.')[1]!) }).toEqual({ where, leaks: false });
      }
    }
  });
});
