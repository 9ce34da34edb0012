/**
 * ZooKeeperBackend against REAL ZooKeeper servers (libs/testing): the conformance suite,
 * then what only ZooKeeper has — zxids and session ids as seen by a plain ZooKeeper client,
 * server restarts, session expiry, lease sessions (including a holder process killed with
 * SIGKILL) and an ensemble losing the server the backend is connected to.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zookeeper from 'node-zookeeper-client';
import type { ZooKeeperEnsemble, ZooKeeperServer } from '@tributary/testing';
import { removeTempDirs, spawnProcess, startTcpProxy, startZooKeeper, startZooKeeperEnsemble, stopAllProcesses, tempDir, waitFor, withTimeout } from '@tributary/testing';
import type { Backend, BackendState, WatchFired } from './backend';
import { CoordinationError } from './backend';
import { describeBackendConformance } from './backend-conformance';
import type { ZooKeeperBackendOptions } from './zookeeper-backend';
import { ZooKeeperBackend } from './zookeeper-backend';

jest.setTimeout(30_000);

const b = (s: string): Buffer => Buffer.from(s);
const newChroot = (): string => `/t-${randomBytes(4).toString('hex')}`;

let zk: ZooKeeperServer;
const open: Backend[] = [];
const rawClients: zookeeper.Client[] = [];

beforeAll(async () => {
  zk = await startZooKeeper({ tickTimeMs: 100, minSessionTimeoutMs: 1_000, maxSessionTimeoutMs: 20_000 });
});
afterEach(async () => {
  for (const c of rawClients.splice(0)) c.close();
  await Promise.all(open.splice(0).map((backend) => backend.close()));
});
afterAll(async () => {
  await zk?.cleanup();
  await stopAllProcesses();
  removeTempDirs();
});

async function backendOn(connectionString: string, options: Partial<ZooKeeperBackendOptions> = {}): Promise<ZooKeeperBackend> {
  const backend = new ZooKeeperBackend({ connectionString, chroot: newChroot(), sessionTimeoutMs: 4_000, reconnectDelayMs: 100, ...options });
  open.push(backend);
  await backend.start();
  return backend;
}

/** A plain node-zookeeper-client session, to look at what the backend wrote as ZooKeeper sees it. */
async function rawClient(connectionString: string, extra: object = {}): Promise<zookeeper.Client> {
  const client = zookeeper.createClient(connectionString, { sessionTimeout: 4_000, spinDelay: 100, ...extra });
  rawClients.push(client);
  const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
  client.connect();
  await withTimeout(connected, 10_000, 'a raw ZooKeeper connection');
  return client;
}

function rawStat(client: zookeeper.Client, p: string): Promise<zookeeper.Stat | null> {
  return withTimeout(
    new Promise((resolve, reject) => client.exists(p, (e, stat) => (e ? reject(e) : resolve(stat ?? null)))),
    5_000,
    `exists ${p}`,
  );
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CoordinationError) return e.code;
    throw e;
  }
  return 'OK';
}

/** Tracks a watch promise without awaiting it. */
function track(p: Promise<WatchFired>): () => WatchFired | undefined {
  let value: WatchFired | undefined;
  void p.then((v) => (value = v));
  return () => value;
}

const long = (buf: Buffer): bigint => buf.readBigInt64BE(0);

describeBackendConformance('zookeeper', async () => {
  const backend = new ZooKeeperBackend({ connectionString: zk.connectionString, chroot: newChroot(), sessionTimeoutMs: 4_000 });
  await backend.start();
  return { backend, cleanup: () => backend.close() };
});

describe('ZooKeeperBackend: mapping onto ZooKeeper', () => {
  it('keeps the tree under the chroot, with ZooKeeper zxids as revisions', async () => {
    const chroot = `${newChroot()}/deep/root`;
    const backend = await backendOn(zk.connectionString, { chroot });
    const raw = await rawClient(zk.connectionString);
    expect(await rawStat(raw, chroot)).not.toBeNull(); // created with its parents
    expect(backend.state).toBe('connected');

    const created = await backend.create('/a', b('hello'));
    const zkStat = await rawStat(raw, `${chroot}/a`);
    expect(zkStat).not.toBeNull();
    const s = zkStat as zookeeper.Stat;
    // The create's stat comes from the reply's zxid alone, and is exactly ZooKeeper's.
    expect(created.stat).toEqual({
      version: 0,
      cversion: 0,
      createRevision: long(s.czxid),
      modRevision: long(s.mzxid),
      childrenRevision: long(s.pzxid),
      leaseId: 0n,
      numChildren: 0,
      dataLength: 5,
    });
    expect(await backend.exists('/a')).toEqual(created.stat);

    const setStat = await backend.set('/a', b('hi'), 0);
    await backend.create('/a/child', b(''));
    const after = (await rawStat(raw, `${chroot}/a`)) as zookeeper.Stat;
    const { stat } = await backend.get('/a');
    expect(stat.modRevision).toBe(long(after.mzxid));
    expect(stat.modRevision).toBe(setStat.modRevision);
    expect(stat.childrenRevision).toBe(long(after.pzxid));
    expect(stat.childrenRevision).toBeGreaterThan(stat.modRevision);
    expect(stat).toMatchObject({ version: 1, cversion: 1, numChildren: 1, dataLength: 2 });

    // '/' is the chroot node itself.
    expect((await backend.children('/')).names).toEqual(['a']);
    expect(await codeOf(backend.delete('/', -1))).toBe('INVALID_ARGUMENT');
  });

  it('lets ZooKeeper number sequential nodes from the parent cversion', async () => {
    const backend = await backendOn(zk.connectionString);
    await backend.create('/q', b(''));
    await backend.create('/q/plain', b(''));
    const first = await backend.create('/q/item-', b('x'), { sequential: true });
    expect(first.path).toBe('/q/item-0000000001'); // the parent's cversion was 1
    expect(await backend.exists(first.path)).toEqual(first.stat);
    const lease = await backend.grantLease(2_000);
    const eph = await backend.create('/q/item-', b(''), { sequential: true, leaseId: lease.id });
    expect(eph.path).toBe('/q/item-0000000002');
    expect(eph.stat.leaseId).toBe(lease.id);
  });

  it('maps ZooKeeper errors onto the contract codes', async () => {
    const backend = await backendOn(zk.connectionString);
    await backend.create('/e', b(''));
    await backend.create('/e/c', b(''));
    expect(await codeOf(backend.create('/e', b('')))).toBe('NODE_EXISTS');
    expect(await codeOf(backend.create('/none/c', b('')))).toBe('NO_NODE');
    expect(await codeOf(backend.get('/none'))).toBe('NO_NODE');
    expect(await codeOf(backend.set('/e', b(''), 5))).toBe('BAD_VERSION');
    expect(await codeOf(backend.delete('/e', -1))).toBe('NOT_EMPTY');
    const lease = await backend.grantLease(2_000);
    await backend.create('/e/eph', b(''), { leaseId: lease.id });
    expect(await codeOf(backend.create('/e/eph/child', b('')))).toBe('INVALID_ARGUMENT'); // NoChildrenForEphemerals
    expect(await codeOf(backend.create('/e/x', b(''), { leaseId: 12345n }))).toBe('LEASE_EXPIRED');
    expect(await codeOf(backend.keepAlive(12345n))).toBe('LEASE_EXPIRED');
    expect(await codeOf(backend.grantLease(0))).toBe('INVALID_ARGUMENT');
    const failure = await backend.create('/e', b('')).catch((e: unknown) => e);
    expect((failure as Error).message).toMatch(/create \/e: the node already exists/);
  });

  it('runs multi as one ZooKeeper transaction: version 0 is checked, the failing op is named', async () => {
    const backend = await backendOn(zk.connectionString);
    await backend.create('/m', b('v0'));
    await backend.set('/m', b('v1'), 0); // version 1 now
    // node-zookeeper-client's Transaction would send version 0 as -1 ("any"); this must fail.
    const failure = await backend
      .multi([
        { kind: 'create', path: '/m/a', data: b('') },
        { kind: 'check', path: '/m', expectedVersion: 0 },
      ])
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(CoordinationError);
    expect(failure).toMatchObject({ code: 'BAD_VERSION', opIndex: 1 });
    expect(await backend.exists('/m/a')).toBeUndefined();
    const noNode = await backend
      .multi([
        { kind: 'set', path: '/m', data: b('v2'), expectedVersion: 1 },
        { kind: 'delete', path: '/m/missing', expectedVersion: 0 },
        { kind: 'create', path: '/m/b', data: b('') },
      ])
      .catch((e: unknown) => e);
    expect(noNode).toMatchObject({ code: 'NO_NODE', opIndex: 1 });

    const lease = await backend.grantLease(2_000);
    const results = await backend.multi([
      { kind: 'check', path: '/m', expectedVersion: 1 },
      { kind: 'create', path: '/m/eph', data: b('e'), options: { leaseId: lease.id } },
      { kind: 'create', path: '/m/seq-', data: b(''), options: { sequential: true } },
      { kind: 'set', path: '/m', data: b('v2'), expectedVersion: 1 },
    ]);
    const eph = await backend.exists('/m/eph');
    expect(results[1]).toEqual({ kind: 'create', path: '/m/eph', stat: eph });
    expect(eph?.leaseId).toBe(lease.id);
    expect(results[2]).toMatchObject({ kind: 'create', path: '/m/seq-0000000001' });
    expect(results[3]).toEqual({ kind: 'set', stat: await backend.exists('/m') });

    const other = await backend.grantLease(2_000);
    expect(
      await codeOf(
        backend.multi([
          { kind: 'create', path: '/m/x', data: b(''), options: { leaseId: lease.id } },
          { kind: 'create', path: '/m/y', data: b(''), options: { leaseId: other.id } },
        ]),
      ),
    ).toBe('INVALID_ARGUMENT');
    expect(await backend.multi([])).toEqual([]);
  });

  it('reports state changes and refuses calls once closed', async () => {
    const backend = new ZooKeeperBackend({ connectionString: zk.connectionString, chroot: newChroot() });
    const states: BackendState[] = [];
    backend.onStateChange((s) => states.push(s));
    await backend.start();
    expect(backend.connectedServer).toBe(zk.connectionString);
    await backend.close();
    expect(states).toEqual(['connected', 'closed']);
    expect(backend.state).toBe('closed');
    expect(await codeOf(backend.get('/'))).toBe('UNAVAILABLE');
    await backend.close(); // idempotent
  });

  it('start() fails with UNAVAILABLE when no server answers', async () => {
    const dead = new ZooKeeperBackend({ connectionString: '127.0.0.1:1', startTimeoutMs: 500, reconnectDelayMs: 50 });
    open.push(dead);
    const started = Date.now();
    expect(await codeOf(dead.start())).toBe('UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('ZooKeeperBackend: leases are ZooKeeper sessions', () => {
  it('grants a session (id = ephemeralOwner, ttl as negotiated) and revoke deletes its nodes at once', async () => {
    const chroot = newChroot();
    const backend = await backendOn(zk.connectionString, { chroot });
    const raw = await rawClient(zk.connectionString);
    const clamped = await backend.grantLease(200);
    expect(clamped.ttlMs).toBe(1_000); // the server's minSessionTimeout
    const lease = await backend.grantLease(3_000);
    expect(lease.ttlMs).toBe(3_000);
    expect(backend.activeLeases).toBe(2);
    const node = await backend.create('/owned', b('x'), { leaseId: lease.id });
    const zkStat = (await rawStat(raw, `${chroot}/owned`)) as zookeeper.Stat;
    expect(long(zkStat.ephemeralOwner)).toBe(lease.id);
    expect(node.stat.leaseId).toBe(lease.id);
    await backend.revokeLease(lease.id);
    expect(await backend.exists('/owned')).toBeUndefined(); // closeSession deletes before it answers
    expect(backend.activeLeases).toBe(1);
    expect(await codeOf(backend.keepAlive(lease.id))).toBe('LEASE_EXPIRED');
    expect(await codeOf(backend.create('/again', b(''), { leaseId: lease.id }))).toBe('LEASE_EXPIRED');
    await backend.revokeLease(lease.id);
  });

  it('ends a lease within its ttl once keepAlives stop, and on close()', async () => {
    const chroot = newChroot();
    const backend = await backendOn(zk.connectionString, { chroot });
    const lease = await backend.grantLease(1_000);
    await backend.create('/k', b(''), { leaseId: lease.id });
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 250));
      await backend.keepAlive(lease.id);
    }
    expect(await backend.exists('/k')).toBeDefined(); // 1.5 s > ttl, kept alive
    const stopped = Date.now();
    await waitFor(async () => (await backend.exists('/k')) === undefined, { timeoutMs: 5_000, intervalMs: 20, message: 'the ephemeral to vanish' });
    const vanishedMs = Date.now() - stopped;
    expect(vanishedMs).toBeGreaterThanOrEqual(900);
    expect(vanishedMs).toBeLessThan(2_000);
    expect(await codeOf(backend.keepAlive(lease.id))).toBe('LEASE_EXPIRED');

    // close() ends every lease held through the backend, as if the process died.
    const observer = await backendOn(zk.connectionString, { chroot });
    const second = await backend.grantLease(10_000);
    await backend.create('/held', b(''), { leaseId: second.id });
    await backend.close();
    expect(await observer.exists('/held')).toBeUndefined();
  });

  it('a holder process killed with SIGKILL loses its ephemerals when ZooKeeper expires the session', async () => {
    // The child runs this very backend, transpiled from the sources.
    const dir = tempDir('lease-holder');
    const swc = await import('@swc/core');
    for (const name of ['backend', 'zookeeper-session', 'zookeeper-backend']) {
      const out = await swc.transformFile(path.join(__dirname, `${name}.ts`), {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
      });
      fs.writeFileSync(path.join(dir, `${name}.js`), out.code);
    }
    const chroot = newChroot();
    fs.writeFileSync(
      path.join(dir, 'holder.js'),
      `const { ZooKeeperBackend } = require('./zookeeper-backend');
       (async () => {
         const backend = new ZooKeeperBackend({ connectionString: process.argv[2], chroot: process.argv[3] });
         await backend.start();
         const lease = await backend.grantLease(2000);
         await backend.create('/holder', Buffer.from('alive'), { leaseId: lease.id });
         setInterval(() => backend.keepAlive(lease.id), 500);
         console.log('HOLDING ' + lease.id + ' ' + lease.ttlMs);
       })().catch((e) => { console.error(e); process.exit(1); });`,
    );
    const holder = spawnProcess({
      command: process.execPath,
      args: [path.join(dir, 'holder.js'), zk.connectionString, chroot],
      env: { NODE_PATH: path.join(__dirname, '..', '..', '..', 'node_modules') },
      name: 'lease-holder',
    });
    const match = await waitFor(() => /HOLDING (\d+) (\d+)/.exec(holder.outputTail()), {
      timeoutMs: 15_000,
      message: `the holder to create its ephemeral (output: ${holder.outputTail(10)})`,
    });
    const [leaseId, ttlMs] = [BigInt(match[1] as string), Number(match[2])];
    expect(ttlMs).toBe(2_000);
    const backend = await backendOn(zk.connectionString, { chroot });
    expect((await backend.exists('/holder'))?.leaseId).toBe(leaseId);
    holder.kill('SIGKILL');
    await holder.exited;
    const killed = Date.now();
    expect(await backend.exists('/holder')).toBeDefined(); // ZooKeeper waits for the session timeout
    await waitFor(async () => (await backend.exists('/holder')) === undefined, { timeoutMs: ttlMs + 4_000, intervalMs: 50, message: 'ZooKeeper to expire the holder session' });
    const vanishedMs = Date.now() - killed;
    expect(vanishedMs).toBeGreaterThan(ttlMs / 2);
    expect(vanishedMs).toBeLessThan(ttlMs + 2_000);
  });
});

describe('ZooKeeperBackend: ZooKeeper restarts and session expiry', () => {
  it('across a server restart: bounded failures while down, then the session, its watches and leases carry on', async () => {
    const chroot = newChroot();
    const backend = await backendOn(zk.connectionString, { chroot, operationTimeoutMs: 800 });
    const writer = await backendOn(zk.connectionString, { chroot });
    await backend.create('/r', b('0'));
    await backend.create('/r/c', b(''));
    const longLease = await backend.grantLease(10_000);
    await backend.create('/r/long', b(''), { leaseId: longLease.id });
    const shortLease = await backend.grantLease(1_000);
    await backend.create('/short', b(''), { leaseId: shortLease.id });
    const dataWatch = await backend.getAndWatch('/r');
    const childWatch = await backend.childrenAndWatch('/r');
    const absentWatch = await backend.getAndWatch('/later');
    const fired = [track(dataWatch.changed), track(childWatch.changed), track(absentWatch.changed)];

    await zk.stop();
    await waitFor(() => backend.state === 'disconnected', { message: 'the backend to notice' });
    // Calls fail within the bound instead of hanging; a write is not left queued to be
    // applied after the caller gave up (on the main session or a lease's).
    for (const call of [backend.get('/r'), backend.create('/while-down', b('')), backend.create('/r/eph-while-down', b(''), { leaseId: longLease.id })]) {
      const started = Date.now();
      expect(await codeOf(call)).toBe('UNAVAILABLE');
      expect(Date.now() - started).toBeLessThan(2_000);
    }
    await new Promise((r) => setTimeout(r, 1_200)); // longer than the short lease's ttl
    await zk.start();
    await waitFor(() => backend.state === 'connected', { timeoutMs: 10_000, message: 'the backend to reconnect' });

    expect(fired.map((f) => f())).toEqual([undefined, undefined, undefined]);
    await writer.set('/r', b('1'), -1);
    await writer.create('/r/d', b(''));
    await writer.create('/later', b(''));
    await waitFor(() => fired.every((f) => f() !== undefined), { timeoutMs: 5_000, message: 'every watch to fire' });
    // The session survived, so the watches were re-registered and saw the changes.
    expect(fired.map((f) => f())).toEqual(['changed', 'changed', 'changed']);

    expect(await backend.exists('/while-down')).toBeUndefined();
    expect(await backend.exists('/r/eph-while-down')).toBeUndefined();
    await backend.keepAlive(longLease.id);
    expect(await backend.exists('/r/long')).toBeDefined();
    // The short lease was disconnected for a whole ttl: it is gone, and so is its node soon.
    expect(await codeOf(backend.keepAlive(shortLease.id))).toBe('LEASE_EXPIRED');
    await waitFor(async () => (await backend.exists('/short')) === undefined, { timeoutMs: 5_000, message: 'the short lease node to vanish' });
  });

  it('a changed node is never missed: a watch pending over a restart fires even for a change made while it reconnects', async () => {
    const chroot = newChroot();
    const backend = await backendOn(zk.connectionString, { chroot, reconnectDelayMs: 1_000 });
    await backend.create('/n', b('0'));
    const watch = await backend.getAndWatch('/n');
    await zk.restart();
    // Another client changes the node, possibly before this backend is back.
    const writer = await backendOn(zk.connectionString, { chroot });
    await writer.set('/n', b('1'), -1);
    expect(await withTimeout(watch.changed, 10_000, 'the pending watch')).toBe('changed');
  });

  it('on session expiry (a partition longer than the session): pending watches resolve lost, a new session serves on', async () => {
    const proxy = await startTcpProxy({ port: zk.port });
    try {
      const backend = await backendOn(proxy.address, { sessionTimeoutMs: 1_000, operationTimeoutMs: 3_000 });
      const oldServerSession = backend.sessionId;
      await backend.create('/x', b(''));
      const watch = await backend.getAndWatch('/x');
      const cancelled = await backend.getAndWatch('/x');
      cancelled.cancel();
      const states: BackendState[] = [];
      backend.onStateChange((s) => states.push(s));
      proxy.block();
      await new Promise((r) => setTimeout(r, 2_000)); // ZooKeeper expires the 1 s session
      proxy.heal();
      expect(await withTimeout(watch.changed, 10_000, 'the watch to be lost')).toBe('lost');
      await waitFor(() => backend.state === 'connected', { timeoutMs: 10_000, message: 'a new session' });
      expect(backend.sessionId).not.toBe(oldServerSession);
      expect(states).toEqual(['disconnected', 'connected']);
      const again = await backend.getAndWatch('/x');
      await backend.set('/x', b('y'), -1);
      expect(await withTimeout(again.changed, 5_000, 'a watch on the new session')).toBe('changed');
    } finally {
      await proxy.close();
    }
  });

  it('notices a connection that went silent (no FIN, no RST) and reconnects within the session', async () => {
    const proxy = await startTcpProxy({ port: zk.port });
    try {
      const backend = await backendOn(proxy.address, { sessionTimeoutMs: 3_000 });
      const session = backend.sessionId;
      await backend.create('/f', b(''));
      const watch = await backend.getAndWatch('/f');
      proxy.freeze();
      const frozen = Date.now();
      // node-zookeeper-client alone would wait forever; the backend drops the socket after
      // 2/3 of the session timeout without a byte from the server.
      await waitFor(() => backend.state === 'disconnected', { timeoutMs: 5_000, message: 'the silence to be noticed' });
      expect(Date.now() - frozen).toBeLessThan(3_000);
      // Reconnect attempts through the frozen proxy never complete their handshake.
      await new Promise((r) => setTimeout(r, 500));
      proxy.heal();
      await waitFor(() => backend.state === 'connected', { timeoutMs: 5_000, message: 'the reconnection' });
      expect(backend.sessionId).toBe(session); // the same session: nothing lost
      await backend.set('/f', b('z'), -1);
      expect(await withTimeout(watch.changed, 5_000, 'the watch set before the freeze')).toBe('changed');
    } finally {
      await proxy.close();
    }
  });
});

describe('ZooKeeperBackend on a 3-server ensemble', () => {
  let ensemble: ZooKeeperEnsemble;
  beforeAll(async () => {
    ensemble = await startZooKeeperEnsemble(3, { tickTimeMs: 100, minSessionTimeoutMs: 1_000, maxSessionTimeoutMs: 20_000 });
  });
  afterAll(async () => {
    await ensemble?.cleanup();
  });

  it('keeps working when the server it is connected to is killed', async () => {
    const backend = await backendOn(ensemble.connectionString, { sessionTimeoutMs: 6_000, operationTimeoutMs: 6_000 });
    await backend.create('/before', b('1'));
    const lease = await backend.grantLease(6_000);
    await backend.create('/eph', b(''), { leaseId: lease.id });
    const watch = await backend.getAndWatch('/before');
    const fired = track(watch.changed);
    const server = backend.connectedServer;
    const victim = ensemble.members.find((m) => m.connectionString === server);
    expect(victim).toBeDefined();
    await victim?.kill();
    // Reads retry on their own across the failover; a write is retried by the caller.
    expect((await backend.get('/before')).data.toString()).toBe('1');
    await waitFor(async () => (await backend.create('/after', b('2')).then(() => true, () => false)) || (await backend.exists('/after')) !== undefined, {
      timeoutMs: 15_000,
      message: 'a write after losing a server',
    });
    expect(backend.connectedServer).not.toBe(server);
    expect((await backend.children('/')).names).toEqual(['after', 'before', 'eph']);
    // The session moved to another server: its lease and its watches are intact.
    await backend.keepAlive(lease.id);
    expect((await backend.exists('/eph'))?.leaseId).toBe(lease.id);
    expect(fired()).toBeUndefined();
    await backend.set('/before', b('changed'), -1);
    expect(await withTimeout(watch.changed, 5_000, 'the watch after failover')).toBe('changed');
    await victim?.start();
    await ensemble.waitForQuorum();
  });
});
