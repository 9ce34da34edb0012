/**
 * The REST proxy's security, unit level: HTTP Basic parsing of hostile headers, the
 * authentication hook and error answers over a real fastify server (the cluster logins
 * replaced by a stub: no cluster here), the access log never holding credentials, and the
 * HTTPS listener with certificate reload. The integration matrix against a real secured
 * cluster is security-cluster.spec.ts.
 */
import type { FastifyInstance } from 'fastify';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, createMetrics, ReloadingServerTls } from '@tributary/runtime';
import { makeCa, makeCert } from '@tributary/testing';
import { buildServer } from './app';
import { MAX_AUTHORIZATION_LENGTH, parseBasicAuthorization } from './basic-auth';
import type { ClusterClients } from './cluster-clients';
import { restProxyConfigSchema } from './config';
import { RestError, RestErrorCode } from './errors';
import { installHttpAuth } from './http-auth';
import type { Lease } from './principals';
import { proxySecurityFromConfig } from './proxy-security';
import { basicAuth, http, httpsRequest } from './spec-helpers';

const b64 = (s: string | Buffer): string => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('base64');

describe('parseBasicAuthorization', () => {
  it('takes user:password, the password may hold colons and any Unicode', () => {
    expect(parseBasicAuthorization(`Basic ${b64('alice:s3cret')}`)).toEqual({ username: 'alice', password: 's3cret' });
    expect(parseBasicAuthorization(`basic ${b64('alice:a:b:c')}`)).toEqual({ username: 'alice', password: 'a:b:c' });
    expect(parseBasicAuthorization(`Basic ${b64('zoë:pässwörd€')}`)).toEqual({ username: 'zoë', password: 'pässwörd€' });
    expect(parseBasicAuthorization(`Basic ${b64('bob:')}`)).toEqual({ username: 'bob', password: '' });
  });

  it.each<[string, string | string[] | undefined, string]>([
    ['no header', undefined, 'missing'],
    ['an empty header', '', 'missing'],
    ['another scheme', 'Bearer abc.def', 'not-basic'],
    ['the scheme alone', 'Basic', 'not-basic'],
    ['two headers', [`Basic ${b64('a:b')}`, `Basic ${b64('c:d')}`], 'not-basic'],
    ['characters outside base64', 'Basic !!!!', 'bad-base64'],
    ['base64 of the wrong length', 'Basic YWxpY2U6cw', 'bad-base64'],
    ['padding in the middle', 'Basic YQ==YWxp', 'bad-base64'],
    ['an empty credential', 'Basic ', 'bad-base64'],
    ['no colon', `Basic ${b64('alicepassword')}`, 'no-colon'],
    ['an empty user name', `Basic ${b64(':password')}`, 'empty-user'],
    ['invalid UTF-8', `Basic ${b64(Buffer.from([0x61, 0x3a, 0xff, 0xfe, 0x80, 0x61]))}`, 'bad-utf8'],
    ['a NUL in the user name', `Basic ${b64('ali\u0000ce:pw')}`, 'bad-characters'],
    ['a newline in the password', `Basic ${b64('alice:pw\nX-Injected: 1')}`, 'bad-characters'],
    ['a huge header', `Basic ${'A'.repeat(MAX_AUTHORIZATION_LENGTH + 4)}`, 'too-long'],
  ])('refuses %s', (_what, header, problem) => {
    expect(parseBasicAuthorization(header)).toEqual({ problem });
  });
});

/** Captures log lines. */
function logSink(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { lines, stream };
}

const USERS: Record<string, string> = { alice: 'alice-pw-7Qx!', bob: 'bob-pw-9Zz?' };

/** Stands for the per-user cluster logins: checks against USERS, counts leases. */
class StubUsers {
  acquired = 0;
  released = 0;
  async acquire(username: string, password: string): Promise<Lease> {
    if (USERS[username] !== password) throw new RestError(RestErrorCode.AUTHENTICATION_FAILED, 'Authentication failed: wrong user name or password');
    this.acquired++;
    return {
      clients: { principal: `User:${username}` } as unknown as ClusterClients,
      principal: `User:${username}`,
      release: () => {
        this.released++;
      },
    };
  }
}

async function serve(options: { tls?: ReloadingServerTls; basic: boolean; users?: StubUsers; log?: Writable; anonymous?: boolean }): Promise<{ app: FastifyInstance; base: string }> {
  // A small body limit: a hook running after the body was read would answer 413, not 401.
  const config = restProxyConfigSchema.parse({ maxRequestBytes: 1024 });
  const logger = createLogger({ service: 'rest-proxy', nodeId: 'spec', level: options.log ? 'debug' : 'silent', ...(options.log ? { destination: options.log } : {}) });
  const app = buildServer(config, logger, createMetrics({ service: 'rest-proxy', nodeId: 'spec' }), { tls: options.tls, basic: options.basic });
  installHttpAuth(app, {
    shared: { principal: undefined } as unknown as ClusterClients,
    users: options.basic ? options.users : undefined,
    ...(options.anonymous ? { anonymous: { principal: 'User:ANONYMOUS' } as unknown as ClusterClients } : {}),
  });
  // Answers who the request acts as; echoes nothing else.
  app.get('/topics', async (request, reply) => reply.code(200).header('content-type', 'application/vnd.kafka.v2+json').send(JSON.stringify({ principal: request.principal ?? null, clients: request.clients.principal ?? null })));
  app.post('/topics/:topic', async (request, reply) => reply.code(200).send(JSON.stringify({ principal: request.principal ?? null, bytes: (request.body as Buffer).length })));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { app, base: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}` };
}

describe('HTTP Basic authentication (stub logins, real HTTP)', () => {
  let app: FastifyInstance;
  let base: string;
  const users = new StubUsers();
  const log = logSink();

  beforeAll(async () => {
    ({ app, base } = await serve({ basic: true, users, log: log.stream }));
  });
  afterAll(async () => {
    await app.close();
  });

  const expect401 = (answer: { status: number; json: unknown }, headers: Headers | undefined): void => {
    expect(answer.status).toBe(401);
    expect((answer.json as { error_code: number }).error_code).toBe(40101);
    if (headers) expect(headers.get('www-authenticate')).toBe('Basic realm="tributary"');
  };

  it('no credentials: 401 / 40101 with the Basic challenge, also on unknown paths', async () => {
    for (const path of ['/topics', '/no/such/route', '/v3/clusters']) {
      const res = await fetch(`${base}${path}`);
      const json = (await res.json()) as { error_code: number; message: string };
      expect401({ status: res.status, json }, res.headers);
      expect(json.message).toMatch(/Authorization: Basic/);
    }
  });

  it.each<[string, string]>([
    ['bad base64', 'Basic %%%%'],
    ['no colon', `Basic ${b64('alice')}`],
    ['another scheme', 'Bearer abc'],
    ['a header just under the parser limit', `Basic ${'QUFB'.repeat(1500)}`],
  ])('%s: 401, never a crash', async (_what, authorization) => {
    const res = await fetch(`${base}/topics`, { headers: { authorization } });
    expect401({ status: res.status, json: await res.json() }, res.headers);
  });

  it('a header larger than node accepts is refused by the HTTP parser (431), and the server keeps serving', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: new URL(base).port, path: '/topics', headers: { authorization: `Basic ${'QUFB'.repeat(40_000)}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(431);
    const ok = await http(base, 'GET', '/topics', { headers: basicAuth('alice', USERS.alice!) });
    expect(ok.status).toBe(200);
  });

  it('garbage on the socket does not take the server down', async () => {
    await new Promise<void>((resolve) => {
      const socket = netConnect(Number(new URL(base).port), '127.0.0.1', () => socket.end('GET /topics HTTP/1.1\r\nAuthorization: Basic \u0000\u0001\r\n\r\n'));
      socket.on('data', () => undefined);
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    expect((await http(base, 'GET', '/topics', { headers: basicAuth('bob', USERS.bob!) })).status).toBe(200);
  });

  it('a wrong password or an unknown user: 401 / 40101', async () => {
    for (const [u, p] of [
      ['alice', 'not-her-password'],
      ['mallory', 'anything'],
    ] as const) {
      const res = await fetch(`${base}/topics`, { headers: basicAuth(u, p) });
      expect401({ status: res.status, json: await res.json() }, res.headers);
    }
  });

  it('right credentials: the request acts as that user, and its lease is released after the answer', async () => {
    const before = { acquired: users.acquired, released: users.released };
    const a = await http(base, 'GET', '/topics', { headers: basicAuth('alice', USERS.alice!) });
    expect(a.status).toBe(200);
    expect(a.json).toEqual({ principal: 'User:alice', clients: 'User:alice' });
    const b = await http(base, 'POST', '/topics/t', { headers: basicAuth('bob', USERS.bob!), contentType: 'application/json', body: '{"records":[]}' });
    expect(b.json).toEqual({ principal: 'User:bob', bytes: 14 });
    expect(users.acquired - before.acquired).toBe(2);
    expect(users.released - before.released).toBe(2);
  });

  it('an unauthenticated request is answered before its body is read (401, not the 413 its size would get)', async () => {
    const res = await fetch(`${base}/topics/t`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(64 * 1024) });
    expect(res.status).toBe(401);
    const authenticated = await fetch(`${base}/topics/t`, { method: 'POST', headers: { 'content-type': 'application/json', ...basicAuth('alice', USERS.alice!) }, body: 'x'.repeat(64 * 1024) });
    expect(authenticated.status).toBe(413);
  });

  it('the logs hold neither passwords nor the Authorization header, and name the principal', async () => {
    await http(base, 'GET', '/topics', { headers: basicAuth('alice', USERS.alice!) });
    await http(base, 'GET', '/topics', { headers: basicAuth('alice', 'wrong-pw-Kq3') });
    const all = log.lines.join('');
    expect(all).toContain('"principal":"User:alice"');
    for (const secret of [USERS.alice!, USERS.bob!, 'wrong-pw-Kq3', 'not-her-password', b64(`alice:${USERS.alice}`), 'Basic ', 'authorization']) {
      expect(all).not.toContain(secret);
    }
  });
});

describe('without Basic authentication', () => {
  it('every request uses the proxy\'s own clients and has no principal', async () => {
    const { app, base } = await serve({ basic: false });
    try {
      const a = await http(base, 'GET', '/topics', { headers: basicAuth('alice', 'ignored') });
      expect(a.status).toBe(200);
      expect(a.json).toEqual({ principal: null, clients: null });
    } finally {
      await app.close();
    }
  });
});

describe('--allow-anonymous with Basic', () => {
  it('a request without credentials acts as User:ANONYMOUS; wrong or malformed credentials are still 401', async () => {
    const users = new StubUsers();
    const { app, base } = await serve({ basic: true, users, anonymous: true });
    try {
      const none = await http(base, 'GET', '/topics');
      expect(none.status).toBe(200);
      expect(none.json).toEqual({ principal: 'User:ANONYMOUS', clients: 'User:ANONYMOUS' });
      expect((await http(base, 'GET', '/topics', { headers: basicAuth('alice', 'wrong') })).status).toBe(401);
      expect((await http(base, 'GET', '/topics', { headers: { authorization: 'Basic %%%' } })).status).toBe(401);
      expect((await http(base, 'GET', '/topics', { headers: basicAuth('alice', USERS.alice!) })).json).toEqual({ principal: 'User:alice', clients: 'User:alice' });
    } finally {
      await app.close();
    }
  });
});

describe('HTTPS listener', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rest-tls-'));
  const ca = makeCa(dir, 'one');
  const other = makeCa(dir, 'two');
  const first = makeCert(dir, ca, 'rest-proxy');
  const second = makeCert(dir, other, 'rest-proxy-2');
  const certFile = join(dir, 'served.crt');
  const keyFile = join(dir, 'served.key');
  copyFileSync(first.certFile, certFile);
  copyFileSync(first.keyFile, keyFile);
  const logger = createLogger({ service: 'rest-proxy', nodeId: 'spec', level: 'silent' });
  const tls = new ReloadingServerTls({ certFile, keyFile, reloadIntervalMs: 0 }, logger);
  let app: FastifyInstance;
  let base: string;
  const users = new StubUsers();

  beforeAll(async () => {
    ({ app, base } = await serve({ tls, basic: true, users }));
  });
  afterAll(async () => {
    await app.close();
    tls.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS; Basic works over it', async () => {
    const a = await httpsRequest(base, 'GET', '/topics', { ca: readFileSync(ca.certFile), headers: basicAuth('alice', USERS.alice!) });
    expect(a.status).toBe(200);
    expect(a.json).toEqual({ principal: 'User:alice', clients: 'User:alice' });
    const refused = await httpsRequest(base, 'GET', '/topics', { ca: readFileSync(ca.certFile) });
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Basic realm="tributary"');
  });

  it('plaintext HTTP to the HTTPS port gets no answer', async () => {
    const plain = base.replace('https://', 'http://');
    await expect(http(plain, 'GET', '/topics', { headers: basicAuth('alice', USERS.alice!) })).rejects.toThrow();
  });

  it('a client that does not trust the CA is refused', async () => {
    await expect(httpsRequest(base, 'GET', '/topics', { ca: readFileSync(other.certFile) })).rejects.toThrow();
  });

  it('--tls-client-auth required: a client without a certificate from the CA is refused at the handshake', async () => {
    const mutualTls = new ReloadingServerTls({ certFile: first.certFile, keyFile: first.keyFile, caFile: ca.certFile, requireClientCert: true, reloadIntervalMs: 0 }, logger);
    const server = await serve({ tls: mutualTls, basic: true, users });
    try {
      const client = makeCert(dir, ca, 'some-client');
      const foreign = makeCert(dir, other, 'foreign-client');
      const ok = await httpsRequest(server.base, 'GET', '/topics', { ca: readFileSync(ca.certFile), cert: readFileSync(client.certFile), key: readFileSync(client.keyFile), headers: basicAuth('alice', USERS.alice!) });
      // The certificate only opens the connection: the request still acts as its Basic user.
      expect(ok.json).toEqual({ principal: 'User:alice', clients: 'User:alice' });
      await expect(httpsRequest(server.base, 'GET', '/topics', { ca: readFileSync(ca.certFile), headers: basicAuth('alice', USERS.alice!) })).rejects.toThrow();
      await expect(
        httpsRequest(server.base, 'GET', '/topics', { ca: readFileSync(ca.certFile), cert: readFileSync(foreign.certFile), key: readFileSync(foreign.keyFile), headers: basicAuth('alice', USERS.alice!) }),
      ).rejects.toThrow();
    } finally {
      await server.app.close();
      mutualTls.close();
    }
  });

  it('follows a changed certificate: new connections get it', async () => {
    const before = await httpsRequest(base, 'GET', '/topics', { ca: readFileSync(ca.certFile), headers: basicAuth('bob', USERS.bob!) });
    copyFileSync(second.certFile, certFile);
    copyFileSync(second.keyFile, keyFile);
    expect(tls.check()).toBe(true);
    const after = await httpsRequest(base, 'GET', '/topics', { ca: readFileSync(other.certFile), headers: basicAuth('bob', USERS.bob!) });
    expect(after.status).toBe(200);
    expect(after.serverFingerprint).not.toBe(before.serverFingerprint);
    // The old CA no longer verifies the server.
    await expect(httpsRequest(base, 'GET', '/topics', { ca: readFileSync(ca.certFile) })).rejects.toThrow();
  });
});

describe('proxySecurityFromConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rest-sec-config-'));
  const ca = makeCa(dir, 'cfg');
  const cert = makeCert(dir, ca, 'rest-proxy');
  const logger = createLogger({ service: 'rest-proxy', nodeId: 'spec', level: 'silent' });
  const parse = (flags: Record<string, unknown>) => restProxyConfigSchema.parse(flags);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults: plain HTTP, no Basic, anonymous to the cluster', () => {
    const s = proxySecurityFromConfig(parse({}), logger);
    expect(s.serverTls).toBeUndefined();
    expect(s.basic).toBeUndefined();
    expect(s.cluster).toEqual({});
  });

  it('refuses Basic over plain HTTP unless --basic-auth-allow-plaintext', () => {
    expect(() => proxySecurityFromConfig(parse({ saslEnabledMechanisms: ['SCRAM-SHA-512'] }), logger)).toThrow(/--basic-auth-allow-plaintext/);
    const s = proxySecurityFromConfig(parse({ saslEnabledMechanisms: ['SCRAM-SHA-512'], basicAuthAllowPlaintext: true }), logger);
    expect(s.basic).toEqual({ mechanisms: ['SCRAM-SHA-512'], maxUsers: 1000, idleMs: 600_000 });
  });

  it('TLS: HTTPS, and the certificate as the client certificate to the cluster; --allow-anonymous reaches it without the certificate', () => {
    const s = proxySecurityFromConfig(
      parse({ tlsCertFile: cert.certFile, tlsKeyFile: cert.keyFile, tlsCaFile: ca.certFile, saslEnabledMechanisms: ['SCRAM-SHA-256'], allowAnonymous: true }),
      logger,
    );
    try {
      expect(s.serverTls).toBeDefined();
      expect(s.cluster.tls).toEqual({ ca: ca.certFile, cert: cert.certFile, key: cert.keyFile });
      expect(s.cluster.sasl).toBeUndefined();
      expect(s.anonymous).toEqual({ tls: { ca: ca.certFile } });
    } finally {
      s.close();
    }
  });

  it('the proxy\'s own SCRAM login reads its password file', () => {
    const file = join(dir, 'proxy.pw');
    writeFileSync(file, 'proxy-password-9\n');
    const s = proxySecurityFromConfig(parse({ saslUsername: 'rest-proxy', saslPasswordFile: file }), logger);
    expect(s.cluster.sasl).toEqual({ mechanism: 'SCRAM-SHA-512', username: 'rest-proxy', password: 'proxy-password-9' });
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a certificate without its key', { tlsCertFile: 'x.crt' }, /both --tls-cert-file and --tls-key-file/],
    ['client certificates without a CA', { tlsClientAuth: 'required' }, /--tls-ca-file/],
    ['a username without a password file', { saslUsername: 'rest-proxy' }, /--sasl-password-file/],
  ])('refuses %s with a message naming the flag', (_what, flags, message) => {
    expect(() => proxySecurityFromConfig(parse(flags), logger)).toThrow(message);
  });
});
