// The SDK's TLS + SCRAM connection layer against a real gRPC server built with the runtime's
// createGrpcServer (TLS, authenticator): login on first use, one login for many calls,
// token on every call, re-login after the cluster's token key is rotated out, a wrong
// password failing the call with SASL_AUTHENTICATION_FAILED. The coordination store is an
// in-memory fake here (the runtime's integration spec runs the real service).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminServiceService, DescribeClusterResponse } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import {
  createAuthenticator,
  createGrpcServer,
  createLogger,
  createMetrics,
  principalOf,
  rotateTokenKey,
  setScramCredential,
  type Authenticator,
  type GrpcServer,
  type Metrics,
  type SecurityStore,
} from '@tributary/runtime';
import { ConnectionPool } from './connections';
import { resolveClientOptions, type ClientOptions } from './config';

/** The coordination store's tree, in memory, with node and children watches. */
class MemoryStore implements SecurityStore {
  readonly nodes = new Map<string, Buffer>();
  private readonly watchers = new Set<{ path: string; children: boolean; onEvent: (e: { children: string[] }) => void }>();

  async tryGet(path: string) {
    const data = this.nodes.get(path);
    return data === undefined ? undefined : { data };
  }
  async create(path: string, data: Buffer) {
    if (this.nodes.has(path)) throw Object.assign(new Error('exists'), { code: 'NODE_EXISTS' });
    this.nodes.set(path, data);
    this.changed(path);
  }
  async delete(path: string) {
    this.nodes.delete(path);
    this.changed(path);
  }
  async children(path: string) {
    const prefix = `${path}/`;
    return { children: [...this.nodes.keys()].filter((k) => k.startsWith(prefix) && !k.slice(prefix.length).includes('/')).map((k) => k.slice(prefix.length)) };
  }
  async ensurePath(path: string) {
    let current = '';
    for (const segment of path.split('/').filter(Boolean)) {
      current += `/${segment}`;
      if (!this.nodes.has(current)) this.nodes.set(current, Buffer.alloc(0));
    }
  }
  async cas(path: string, update: (current: { data: Buffer } | undefined) => Buffer | null | undefined | Promise<Buffer | null | undefined>) {
    const next = await update(await this.tryGet(path));
    if (next === null) await this.delete(path);
    else if (next !== undefined) {
      this.nodes.set(path, next);
      this.changed(path);
    }
  }
  watch(path: string, handlers: { children?: boolean; onEvent: (e: { children: string[] }) => void }) {
    const w = { path, children: handlers.children ?? false, onEvent: handlers.onEvent };
    this.watchers.add(w);
    return { cancel: () => this.watchers.delete(w) };
  }
  private changed(path: string): void {
    for (const w of this.watchers) {
      const parent = path.slice(0, path.lastIndexOf('/'));
      if (w.children ? parent === w.path : path === w.path) void this.children(w.path).then((c) => w.onEvent(c));
    }
  }
}

const PASSWORD = 'sdk-user-password';
let dir: string;
let caFile: string;
let store: MemoryStore;
let metrics: Metrics;
let auth: Authenticator;
let server: GrpcServer;
let address: string;
const pools: ConnectionPool[] = [];
/** Principals the server's handler ran for, in order. */
const served: string[] = [];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-sdk-auth-'));
  caFile = join(dir, 'ca.crt');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=SDK test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  writeFileSync(join(dir, 'server.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext']);

  store = new MemoryStore();
  await setScramCredential(store, 'sdk-user', 'SCRAM-SHA-512', PASSWORD);
  const logger = createLogger({ service: 'sdk-auth-spec', nodeId: 0, level: 'silent' });
  metrics = createMetrics({ service: 'sdk-auth-spec', nodeId: 0, defaultMetrics: false });
  auth = createAuthenticator({ store, logger, registry: metrics.registry });
  await auth.start();
  server = createGrpcServer({ logger, registry: metrics.registry, tls: { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), reloadIntervalMs: 0 }, authenticator: auth });
  server.addService(AdminServiceService, {
    describeCluster: async (_req, ctx) => {
      served.push(principalOf(ctx));
      return DescribeClusterResponse.fromPartial({ controllerHost: principalOf(ctx) });
    },
  });
  address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
});

afterAll(async () => {
  for (const p of pools) p.close();
  await server?.shutdown(1000);
  auth?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function pool(options: ClientOptions): ConnectionPool {
  const p = new ConnectionPool(resolveClientOptions({ bootstrap: [address], requestTimeoutMs: 5000, ...options }));
  pools.push(p);
  return p;
}

async function whoAmI(p: ConnectionPool): Promise<string> {
  return (await p.call(p.admin(address), 'describeCluster', {})).controllerHost;
}

async function logins(result: 'success' | 'failure'): Promise<number> {
  const m = (await metrics.registry.getSingleMetric('tributary_authentications_total')?.get())?.values ?? [];
  return m.filter((v) => v.labels['mechanism'] === 'SCRAM-SHA-512' && v.labels['result'] === result).reduce((a, v) => a + v.value, 0);
}

test('without sasl the client is anonymous over TLS', async () => {
  expect(await whoAmI(pool({ tls: { ca: caFile } }))).toBe('User:ANONYMOUS');
});

test('logs in once, then every call carries the token (CA given as PEM bytes too)', async () => {
  const before = await logins('success');
  const p = pool({ tls: { ca: readFileSync(caFile) }, sasl: { mechanism: 'SCRAM-SHA-512', username: 'sdk-user', password: PASSWORD } });
  const answers = await Promise.all([whoAmI(p), whoAmI(p), whoAmI(p)]);
  expect(answers).toEqual(['User:sdk-user', 'User:sdk-user', 'User:sdk-user']);
  expect(await whoAmI(p)).toBe('User:sdk-user');
  expect((await logins('success')) - before).toBe(1);
});

test('a wrong password fails the call with SASL_AUTHENTICATION_FAILED, and the request never reaches the handler', async () => {
  const servedBefore = served.length;
  const p = pool({ tls: { ca: caFile }, sasl: { mechanism: 'SCRAM-SHA-512', username: 'sdk-user', password: 'wrong' } });
  const e = await whoAmI(p).catch((err: unknown) => err);
  expect(e).toBeInstanceOf(TributaryError);
  expect((e as TributaryError).code).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
  expect((e as TributaryError).message).not.toContain('wrong');
  expect(served.length).toBe(servedBefore);
});

test('after the token key is rotated out, the refused call makes the client log in again', async () => {
  const p = pool({ tls: { ca: caFile }, sasl: { mechanism: 'SCRAM-SHA-512', username: 'sdk-user', password: PASSWORD } });
  expect(await whoAmI(p)).toBe('User:sdk-user');
  const before = await logins('success');
  // Two rotations: the key that signed the client's token is gone.
  await rotateTokenKey(store);
  await rotateTokenKey(store);
  const refused = await whoAmI(p).catch((err: unknown) => err);
  expect((refused as TributaryError).code).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
  expect(await whoAmI(p)).toBe('User:sdk-user');
  expect((await logins('success')) - before).toBe(1);
});

test('rejects bad security options with a RangeError naming them', () => {
  expect(() => resolveClientOptions({ tls: { cert: 'c.pem' } })).toThrow(/tls.cert and tls.key/);
  expect(() => resolveClientOptions({ sasl: { mechanism: 'PLAIN' as 'SCRAM-SHA-256', username: 'u', password: 'p' } })).toThrow(/sasl.mechanism/);
  expect(() => resolveClientOptions({ sasl: { mechanism: 'SCRAM-SHA-256', username: '', password: 'p' } })).toThrow(/sasl.username/);
});
