/**
 * The conformance suite every Backend must pass, with identical assertions: it is what
 * "both backends behave the same" means. Call `describeBackendConformance` from a spec file
 * with a setup that returns a fresh, empty tree (a new data dir, or a new ZooKeeper chroot).
 */
import type { Backend, NodeStat } from './backend';
import { CoordinationError } from './backend';

export interface ConformanceSetup {
  backend: Backend;
  cleanup(): Promise<void>;
}

const b = (s: string): Buffer => Buffer.from(s);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CoordinationError) return e.code;
    throw e;
  }
  return 'OK';
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Tracks whether a watch promise has resolved, without waiting for it. */
function track<T>(p: Promise<T>): { fired: () => boolean; value: () => T | undefined } {
  let done = false;
  let value: T | undefined;
  void p.then((v) => {
    done = true;
    value = v;
  });
  return { fired: () => done, value: () => value };
}

/** Lets already-queued promise callbacks run (watch notifications delivered so far). */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

export function describeBackendConformance(name: string, setup: () => Promise<ConformanceSetup>, options: { leaseTtlMs?: number } = {}): void {
  const ttlMs = options.leaseTtlMs ?? 1000;

  describe(`Backend conformance: ${name}`, () => {
    let env: ConformanceSetup;
    let backend: Backend;
    beforeEach(async () => {
      env = await setup();
      backend = env.backend;
    });
    afterEach(async () => {
      await env.cleanup();
    });

    it('creates and reads nodes with ZooKeeper stats', async () => {
      const created = await backend.create('/a', b('hello'));
      expect(created.path).toBe('/a');
      const { data, stat } = await backend.get('/a');
      expect(data.toString()).toBe('hello');
      expect(stat).toMatchObject({ version: 0, cversion: 0, numChildren: 0, dataLength: 5, leaseId: 0n });
      expect(stat.createRevision).toBe(stat.modRevision);
      expect(stat.createRevision).toBeGreaterThan(0n);
      expect(await backend.exists('/a')).toEqual(stat);
      expect(await backend.exists('/nope')).toBeUndefined();
      expect(await codeOf(backend.get('/nope'))).toBe('NO_NODE');
      expect(await codeOf(backend.create('/a', b('again')))).toBe('NODE_EXISTS');
      expect(await codeOf(backend.create('/missing/child', b('')))).toBe('NO_NODE');
      await backend.create('/a/b', Buffer.alloc(0));
      expect((await backend.get('/a/b')).data.length).toBe(0);
    });

    it('sets with compare-and-set on the version', async () => {
      await backend.create('/cas', b('0'));
      const s1 = await backend.set('/cas', b('1'), 0);
      expect(s1.version).toBe(1);
      const before = (await backend.get('/cas')).stat;
      expect(await codeOf(backend.set('/cas', b('x'), 0))).toBe('BAD_VERSION');
      expect((await backend.get('/cas')).data.toString()).toBe('1');
      const s2 = await backend.set('/cas', b('2'), -1);
      expect(s2.version).toBe(2);
      expect(s2.modRevision).toBeGreaterThan(before.modRevision);
      expect(s2.createRevision).toBe(before.createRevision);
      expect(await codeOf(backend.set('/none', b(''), -1))).toBe('NO_NODE');
    });

    it('deletes with a version check, and never a parent with children', async () => {
      await backend.create('/d', b(''));
      await backend.create('/d/c', b(''));
      expect(await codeOf(backend.delete('/d', -1))).toBe('NOT_EMPTY');
      expect(await codeOf(backend.delete('/d/c', 3))).toBe('BAD_VERSION');
      await backend.delete('/d/c', 0);
      await backend.delete('/d', -1);
      expect(await codeOf(backend.get('/d'))).toBe('NO_NODE');
      expect(await codeOf(backend.delete('/d', -1))).toBe('NO_NODE');
    });

    it('lists children sorted, and counts child changes', async () => {
      await backend.create('/p', b(''));
      const start = (await backend.children('/p')).stat;
      for (const name of ['zeta', 'alpha', 'mid']) await backend.create(`/p/${name}`, b(''));
      const { names, stat } = await backend.children('/p');
      expect(names).toEqual(['alpha', 'mid', 'zeta']);
      expect(stat.numChildren).toBe(3);
      expect(stat.cversion).toBe(start.cversion + 3);
      expect(stat.childrenRevision).toBeGreaterThan(start.childrenRevision);
      expect(stat.version).toBe(0); // children do not change the parent's data version
      await backend.set('/p/mid', b('x'), -1);
      expect((await backend.children('/p')).stat.cversion).toBe(stat.cversion); // nor data changes of a child
      expect(await codeOf(backend.children('/nope'))).toBe('NO_NODE');
    });

    it('names sequential nodes with 10 increasing digits, even after deletions', async () => {
      await backend.create('/seq', b(''));
      const first = await backend.create('/seq/n-', b(''), { sequential: true });
      const second = await backend.create('/seq/n-', b(''), { sequential: true });
      expect(first.path).toMatch(/^\/seq\/n-\d{10}$/);
      await backend.delete(second.path, -1);
      const third = await backend.create('/seq/n-', b(''), { sequential: true });
      const num = (p: string): number => Number(p.slice(-10));
      expect(num(second.path)).toBeGreaterThan(num(first.path));
      expect(num(third.path)).toBeGreaterThan(num(second.path));
    });

    it('gives every write a new, increasing revision', async () => {
      const revs: bigint[] = [];
      revs.push((await backend.create('/r1', b(''))).stat.modRevision);
      revs.push((await backend.create('/r2', b(''))).stat.modRevision);
      revs.push(await backend.set('/r1', b('x'), -1).then((s: NodeStat) => s.modRevision));
      expect(revs[1]).toBeGreaterThan(revs[0]!);
      expect(revs[2]).toBeGreaterThan(revs[1]!);
    });

    it('applies a multi all or nothing, reporting the failing op', async () => {
      await backend.create('/m', b('v0'));
      let failure: unknown;
      try {
        await backend.multi([
          { kind: 'create', path: '/m/new', data: b('') },
          { kind: 'set', path: '/m', data: b('v1'), expectedVersion: 0 },
          { kind: 'check', path: '/m', expectedVersion: 7 },
        ]);
      } catch (e) {
        failure = e;
      }
      expect(failure).toBeInstanceOf(CoordinationError);
      expect((failure as CoordinationError).code).toBe('BAD_VERSION');
      expect((failure as CoordinationError).opIndex).toBe(2);
      expect(await backend.exists('/m/new')).toBeUndefined();
      expect((await backend.get('/m')).data.toString()).toBe('v0');
      const results = await backend.multi([
        { kind: 'create', path: '/m/x', data: b('x') },
        { kind: 'create', path: '/m/x/y', data: b('y') },
        { kind: 'check', path: '/m', expectedVersion: 0 },
        { kind: 'set', path: '/m', data: b('v1'), expectedVersion: 0 },
        { kind: 'delete', path: '/m/x/y', expectedVersion: -1 },
      ]);
      expect(results.map((r) => r.kind)).toEqual(['create', 'create', 'check', 'set', 'delete']);
      expect(results[0]).toMatchObject({ kind: 'create', path: '/m/x' });
      expect(results[3]).toMatchObject({ kind: 'set', stat: { version: 1 } });
      expect(await backend.exists('/m/x/y')).toBeUndefined();
      expect((await backend.get('/m')).data.toString()).toBe('v1');
    });

    it('fires a node watch on change and deletion, and an absent-node watch on creation', async () => {
      await backend.create('/w', b('0'));
      const first = await backend.getAndWatch('/w');
      expect(first.node?.data.toString()).toBe('0');
      const fired = track(first.changed);
      await backend.create('/other', b('')); // unrelated
      await backend.get('/w'); // a round trip: any notification for the change above came first
      await settle();
      expect(fired.fired()).toBe(false);
      await backend.set('/w', b('1'), -1);
      expect(await first.changed).toBe('changed');
      const second = await backend.getAndWatch('/w');
      expect(second.node?.stat.version).toBe(1);
      await backend.delete('/w', -1);
      expect(await second.changed).toBe('changed');
      const absent = await backend.getAndWatch('/w');
      expect(absent.node).toBeUndefined();
      await backend.create('/w', b('again'));
      expect(await absent.changed).toBe('changed');
    });

    it('fires a children watch on child creation and deletion, not on child data', async () => {
      await backend.create('/cw', b(''));
      await backend.create('/cw/a', b(''));
      const w1 = await backend.childrenAndWatch('/cw');
      expect(w1.children?.names).toEqual(['a']);
      const fired = track(w1.changed);
      await backend.set('/cw/a', b('data'), -1);
      await backend.get('/cw');
      await settle();
      expect(fired.fired()).toBe(false);
      await backend.create('/cw/b', b(''));
      expect(await w1.changed).toBe('changed');
      const w2 = await backend.childrenAndWatch('/cw');
      expect(w2.children?.names).toEqual(['a', 'b']);
      await backend.delete('/cw/a', -1);
      expect(await w2.changed).toBe('changed');
      expect((await backend.children('/cw')).names).toEqual(['b']);
    });

    it('ties ephemeral nodes to a lease: revoke removes them, a dead lease is refused', async () => {
      await backend.create('/e', b(''));
      const lease = await backend.grantLease(ttlMs);
      expect(lease.id).toBeGreaterThan(0n);
      const node = await backend.create('/e/mine', b('me'), { leaseId: lease.id });
      expect(node.stat.leaseId).toBe(lease.id);
      expect(await codeOf(backend.create('/e/mine/child', b(''), {}))).toBe('INVALID_ARGUMENT');
      expect(backend.activeLeases).toBeGreaterThanOrEqual(1);
      await backend.revokeLease(lease.id);
      await waitFor(async () => (await backend.exists('/e/mine')) === undefined, 5000, 'the ephemeral node to vanish');
      expect(await codeOf(backend.create('/e/again', b(''), { leaseId: lease.id }))).toBe('LEASE_EXPIRED');
      expect(await codeOf(backend.keepAlive(lease.id))).toBe('LEASE_EXPIRED');
      await backend.revokeLease(lease.id); // idempotent
    });

    it('keeps a lease alive with keep-alives and expires it without them', async () => {
      await backend.create('/k', b(''));
      const lease = await backend.grantLease(ttlMs);
      await backend.create('/k/alive', b(''), { leaseId: lease.id });
      const until = Date.now() + 2 * lease.ttlMs;
      while (Date.now() < until) {
        await backend.keepAlive(lease.id);
        await new Promise((r) => setTimeout(r, lease.ttlMs / 4));
      }
      expect(await backend.exists('/k/alive')).toBeDefined();
      // Stop: the node must go within the TTL (plus the backend's detection slack).
      await waitFor(async () => (await backend.exists('/k/alive')) === undefined, 3 * lease.ttlMs + 3000, 'lease expiry');
      expect(await codeOf(backend.keepAlive(lease.id))).toBe('LEASE_EXPIRED');
    });
  });
}
