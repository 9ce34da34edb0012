/**
 * Lease failover between coordination replicas (zookeeper-backend.ts, "Lease failover"):
 * two ZooKeeperBackend instances on one REAL ZooKeeper and one chroot. A lease granted
 * through A is kept alive through B after A "dies" (its sockets dropped, no session
 * closed), ends within its ttl once nobody keeps it alive, can be revoked through another
 * replica, and the reserved /.leases records stay out of the user tree.
 */
import { randomBytes } from 'node:crypto';
import type { ZooKeeperServer } from '@tributary/testing';
import { startZooKeeper, stopAllProcesses, waitFor } from '@tributary/testing';
import { CoordinationError } from './backend';
import { validatePath } from './paths';
import type { ZooKeeperBackendOptions } from './zookeeper-backend';
import { ZooKeeperBackend } from './zookeeper-backend';

jest.setTimeout(30_000);

const b = (s: string): Buffer => Buffer.from(s);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let zk: ZooKeeperServer;
const open: ZooKeeperBackend[] = [];

beforeAll(async () => {
  zk = await startZooKeeper({ tickTimeMs: 100, minSessionTimeoutMs: 1_000, maxSessionTimeoutMs: 20_000 });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((backend) => backend.close()));
});
afterAll(async () => {
  await zk?.cleanup();
  await stopAllProcesses();
});

async function replicas(n: number, options: Partial<ZooKeeperBackendOptions> = {}): Promise<ZooKeeperBackend[]> {
  const chroot = `/f-${randomBytes(4).toString('hex')}`;
  const out: ZooKeeperBackend[] = [];
  for (let i = 0; i < n; i++) {
    const backend = new ZooKeeperBackend({ connectionString: zk.connectionString, chroot, sessionTimeoutMs: 4_000, reconnectDelayMs: 100, operationTimeoutMs: 3_000, ...options });
    open.push(backend);
    await backend.start();
    out.push(backend);
  }
  return out;
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

describe('ZooKeeperBackend: leases fail over between replicas', () => {
  it('a lease granted through a replica that dies is kept alive through another, then expires within its ttl', async () => {
    const [a, b2, observer] = (await replicas(3)) as [ZooKeeperBackend, ZooKeeperBackend, ZooKeeperBackend];
    const lease = await a.grantLease(1_500);
    await a.create('/eph', b('x'), { leaseId: lease.id });
    await a.keepAlive(lease.id);
    await a.abandon(); // a crash: sockets dropped, no session closed
    expect(await b2.keepAlive(lease.id)).toEqual({ id: lease.id, ttlMs: lease.ttlMs });
    expect(b2.activeLeases).toBe(1);
    // Kept alive through B for well over the ttl; the ephemeral and new ones live on.
    for (let i = 0; i < 8; i++) {
      await sleep(400);
      await b2.keepAlive(lease.id);
    }
    expect((await observer.exists('/eph'))?.leaseId).toBe(lease.id);
    const more = await b2.create('/eph2', b(''), { leaseId: lease.id });
    expect(more.stat.leaseId).toBe(lease.id);
    // Nobody keeps it alive any more: gone within about a ttl.
    const stopped = Date.now();
    await waitFor(async () => (await observer.exists('/eph')) === undefined, { timeoutMs: 5_000, intervalMs: 25, message: 'the ephemeral to vanish' });
    expect(Date.now() - stopped).toBeLessThan(lease.ttlMs + 1_500);
    expect(await observer.exists('/eph2')).toBeUndefined();
    expect(await codeOf(b2.keepAlive(lease.id))).toBe('LEASE_EXPIRED');
    expect(await codeOf(observer.keepAlive(lease.id))).toBe('LEASE_EXPIRED');
  });

  it('moves between live replicas without ping-pong; the replica that lost it does not end it; revoke works anywhere', async () => {
    const [a, b2] = (await replicas(2)) as [ZooKeeperBackend, ZooKeeperBackend];
    const lease = await a.grantLease(1_000);
    await a.create('/moving', b(''), { leaseId: lease.id });
    // The client's connection moves to B (A stays up): B takes the session over.
    await b2.keepAlive(lease.id);
    await b2.create('/moved', b(''), { leaseId: lease.id });
    // A's deadline passes without keepAlives: A must only forget the lease, not close it.
    for (let i = 0; i < 6; i++) {
      await sleep(300);
      await b2.keepAlive(lease.id);
    }
    expect(a.activeLeases).toBe(0);
    expect((await a.exists('/moving'))?.leaseId).toBe(lease.id);
    expect((await a.exists('/moved'))?.leaseId).toBe(lease.id);
    // And back to A: it adopts the lease again.
    await a.keepAlive(lease.id);
    await a.create('/back', b(''), { leaseId: lease.id });
    await sleep(300);
    await a.keepAlive(lease.id);
    // Revoke through B (which no longer holds the connection): everything goes at once.
    await b2.revokeLease(lease.id);
    expect(await a.exists('/moving')).toBeUndefined();
    expect(await a.exists('/back')).toBeUndefined();
    expect(await codeOf(a.keepAlive(lease.id))).toBe('LEASE_EXPIRED');
    expect(await codeOf(b2.keepAlive(lease.id))).toBe('LEASE_EXPIRED');
    expect(await codeOf(b2.create('/x', b(''), { leaseId: lease.id }))).toBe('LEASE_EXPIRED');
    await b2.revokeLease(lease.id); // idempotent
    // Unknown ids are refused everywhere.
    expect(await codeOf(b2.keepAlive(123456789n))).toBe('LEASE_EXPIRED');
    expect(await codeOf(b2.create('/x', b(''), { leaseId: 987654321n }))).toBe('LEASE_EXPIRED');
    expect(await codeOf(b2.multi([{ kind: 'create', path: '/x', data: b(''), options: { leaseId: 987654321n } }]))).toBe('LEASE_EXPIRED');
  });

  it('adopts through a multi with lease creates, and two replicas adopting at once both end up served', async () => {
    const [a, b2, c] = (await replicas(3)) as [ZooKeeperBackend, ZooKeeperBackend, ZooKeeperBackend];
    const lease = await a.grantLease(2_000);
    await a.abandon();
    const results = await Promise.allSettled([b2.keepAlive(lease.id), c.keepAlive(lease.id)]);
    expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
    // The losing adoption may still be re-attaching in the background and take the session
    // from B once more: a write then ends with UNAVAILABLE (outcome unknown), which a caller
    // retries — as here, checking first whether it was applied.
    for (let attempt = 0; ; attempt++) {
      try {
        await b2.multi([
          { kind: 'create', path: '/m', data: b('') },
          { kind: 'create', path: '/m/eph', data: b(''), options: { leaseId: lease.id } },
        ]);
        break;
      } catch (e) {
        if (!(e instanceof CoordinationError) || e.code !== 'UNAVAILABLE' || attempt >= 10) throw e;
        await sleep(100);
        if (await c.exists('/m/eph')) break;
      }
    }
    expect((await c.exists('/m/eph'))?.leaseId).toBe(lease.id);
    await b2.revokeLease(lease.id);
    expect(await c.exists('/m/eph')).toBeUndefined();
  });

  it('keeps /.leases out of the user tree', async () => {
    const [a] = (await replicas(1)) as [ZooKeeperBackend];
    const lease = await a.grantLease(1_000);
    await a.create('/user', b(''), { leaseId: lease.id });
    expect((await a.children('/')).names).toEqual(['user']);
    expect((await a.exists('/'))?.numChildren).toBe(1);
    for (const call of [a.get('/.leases'), a.children('/.leases'), a.exists('/.leases/x'), a.create('/.leases/x', b('')), a.delete('/.leases', -1), a.set('/.leases', b(''), -1)]) {
      expect(await codeOf(call)).toBe('INVALID_ARGUMENT');
    }
    expect(await codeOf(a.multi([{ kind: 'delete', path: '/.leases', expectedVersion: -1 }]))).toBe('INVALID_ARGUMENT');
    expect(() => validatePath('/.leases')).toThrow(/reserved/);
    expect(() => validatePath('/.leases/0001')).toThrow(/reserved/);
    expect(validatePath('/.leasesx')).toBe('/.leasesx');
    await a.revokeLease(lease.id);
  });
});
