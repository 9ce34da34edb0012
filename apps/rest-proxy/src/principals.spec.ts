/**
 * PrincipalCache, unit level: the credential check is a stub (the SCRAM login against a real
 * cluster is covered by security-cluster.spec.ts); the clients are fakes that record their
 * closing. Bounded LRU, idle expiry, closing deferred while a request holds the clients,
 * one login for concurrent requests, failures not cached, mechanisms tried in order.
 */
import type { SaslOptions } from '@tributary/client';
import { createLogger } from '@tributary/runtime';
import { waitFor } from '@tributary/testing';
import type { ScramMechanism } from '@tributary/runtime';
import type { ClusterClients } from './cluster-clients';
import { RestError } from './errors';
import { MAX_PENDING_LOGINS, PrincipalCache } from './principals';

interface FakeClients {
  principal: string;
  sasl: SaslOptions;
  closed: number;
  close(): Promise<void>;
}

function setup(
  options: { maxEntries?: number; idleMs?: number; mechanisms?: ScramMechanism[]; passwords?: Record<string, Partial<Record<ScramMechanism, string>>>; down?: boolean; gate?: Promise<void> } = {},
) {
  const passwords = options.passwords ?? { alice: { 'SCRAM-SHA-512': 'a-pw' }, bob: { 'SCRAM-SHA-512': 'b-pw' }, carol: { 'SCRAM-SHA-512': 'c-pw' } };
  const checks: SaslOptions[] = [];
  const created: FakeClients[] = [];
  const logins: string[] = [];
  const cache = new PrincipalCache({
    bootstrap: ['127.0.0.1:1'],
    mechanisms: options.mechanisms ?? ['SCRAM-SHA-512'],
    tls: undefined,
    requestTimeoutMs: 1000,
    maxEntries: options.maxEntries ?? 10,
    idleMs: options.idleMs ?? 60_000,
    logger: createLogger({ service: 'rest-proxy', nodeId: 'spec', level: 'silent' }),
    onLogin: (r) => logins.push(r),
    check: async (sasl) => {
      checks.push(sasl);
      await new Promise((r) => setImmediate(r));
      if (options.gate) await options.gate;
      if (options.down) throw new RestError(50003, 'no broker answered the login');
      return passwords[sasl.username]?.[sasl.mechanism] === sasl.password ? 'ok' : 'refused';
    },
    create: (principal, sasl) => {
      const c: FakeClients = {
        principal,
        sasl,
        closed: 0,
        async close() {
          c.closed++;
        },
      };
      created.push(c);
      return c as unknown as ClusterClients;
    },
  });
  return { cache, checks, created, logins };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 10));

describe('PrincipalCache', () => {
  it('logs a user in once and reuses the clients; a wrong password is 401 / 40101 and not cached', async () => {
    const { cache, checks, created, logins } = setup();
    try {
      const a = await cache.acquire('alice', 'a-pw');
      a.release();
      const again = await cache.acquire('alice', 'a-pw');
      again.release();
      expect(again.clients).toBe(a.clients);
      expect(a.principal).toBe('User:alice');
      expect(checks).toHaveLength(1);
      for (let i = 0; i < 3; i++) {
        await expect(cache.acquire('alice', 'wrong')).rejects.toMatchObject({ status: 401, errorCode: 40101 });
      }
      // The same wrong credentials are refused without a new login for a while (each login
      // costs a PBKDF2); other wrong ones are checked.
      expect(checks).toHaveLength(2);
      await expect(cache.acquire('alice', 'wrong-too')).rejects.toMatchObject({ status: 401 });
      expect(checks).toHaveLength(3);
      expect(created).toHaveLength(1);
      expect(logins).toEqual(['ok', 'failed', 'failed']);
    } finally {
      await cache.closeAll(100);
    }
  });

  it('the 401 does not tell an unknown user from a wrong password', async () => {
    const { cache } = setup();
    try {
      const unknown = await cache.acquire('nobody', 'x').catch((e: RestError) => e.message);
      const wrong = await cache.acquire('alice', 'x').catch((e: RestError) => e.message);
      expect(unknown).toBe(wrong);
      expect(unknown).not.toContain('x');
    } finally {
      await cache.closeAll(100);
    }
  });

  it('concurrent requests with the same credentials share one login', async () => {
    const { cache, checks } = setup();
    try {
      const leases = await Promise.all(Array.from({ length: 5 }, () => cache.acquire('bob', 'b-pw')));
      expect(checks).toHaveLength(1);
      expect(new Set(leases.map((l) => l.clients)).size).toBe(1);
      for (const l of leases) l.release();
    } finally {
      await cache.closeAll(100);
    }
  });

  it('another password for the same user is another entry, checked on its own', async () => {
    const { cache, checks } = setup({ passwords: { alice: { 'SCRAM-SHA-512': 'new-pw' } } });
    try {
      await expect(cache.acquire('alice', 'old-pw')).rejects.toMatchObject({ status: 401 });
      const l = await cache.acquire('alice', 'new-pw');
      l.release();
      expect(checks.map((c) => c.password)).toEqual(['old-pw', 'new-pw']);
    } finally {
      await cache.closeAll(100);
    }
  });

  it('tries the mechanisms in order: a user with a SCRAM-SHA-256 credential only logs in', async () => {
    const { cache, checks, created } = setup({ mechanisms: ['SCRAM-SHA-512', 'SCRAM-SHA-256'], passwords: { dave: { 'SCRAM-SHA-256': 'd-pw' } } });
    try {
      const l = await cache.acquire('dave', 'd-pw');
      l.release();
      expect(checks.map((c) => c.mechanism)).toEqual(['SCRAM-SHA-512', 'SCRAM-SHA-256']);
      expect(created[0]!.sasl.mechanism).toBe('SCRAM-SHA-256');
    } finally {
      await cache.closeAll(100);
    }
  });

  it('a cluster that does not answer is not a 401', async () => {
    const { cache, created } = setup({ down: true });
    try {
      await expect(cache.acquire('alice', 'a-pw')).rejects.toMatchObject({ errorCode: 50003 });
      expect(created).toHaveLength(0);
    } finally {
      await cache.closeAll(100);
    }
  });

  it('holds at most maxEntries users, closing the least recently used; one in use is closed when released', async () => {
    const { cache, created } = setup({ maxEntries: 2 });
    try {
      const a = await cache.acquire('alice', 'a-pw'); // held: in use
      (await cache.acquire('bob', 'b-pw')).release();
      // alice used again: bob is now the least recently used.
      (await cache.acquire('alice', 'a-pw')).release();
      (await cache.acquire('carol', 'c-pw')).release();
      await settle();
      expect(cache.size).toBe(2);
      const [alice, bob] = created;
      expect(bob!.closed).toBe(1);
      expect(alice!.closed).toBe(0);
      // Now alice is the least recently used, still held by `a`: evicted, closed on release.
      (await cache.acquire('bob', 'b-pw')).release();
      await settle();
      expect(cache.size).toBe(2);
      expect(alice!.closed).toBe(0);
      a.release();
      await settle();
      expect(alice!.closed).toBe(1);
      a.release(); // twice: no effect
      await settle();
      expect(alice!.closed).toBe(1);
    } finally {
      await cache.closeAll(100);
    }
  });

  it('closes a user idle for idleMs, not one in use', async () => {
    const { cache, created } = setup({ idleMs: 100 });
    try {
      (await cache.acquire('alice', 'a-pw')).release();
      const held = await cache.acquire('bob', 'b-pw');
      await waitFor(() => created[0]!.closed === 1, { message: 'the idle user closed' });
      expect(created[1]!.closed).toBe(0);
      expect(cache.size).toBe(1);
      held.release();
    } finally {
      await cache.closeAll(100);
    }
  });

  it(`runs at most ${MAX_PENDING_LOGINS} logins at once: more get 429 / 42901`, async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const passwords = Object.fromEntries(Array.from({ length: MAX_PENDING_LOGINS + 1 }, (_, i) => [`u${i}`, { 'SCRAM-SHA-512': 'pw' }]));
    const { cache } = setup({ passwords, gate, maxEntries: 100 });
    try {
      const running = Array.from({ length: MAX_PENDING_LOGINS }, (_, i) => cache.acquire(`u${i}`, 'pw'));
      await expect(cache.acquire(`u${MAX_PENDING_LOGINS}`, 'pw')).rejects.toMatchObject({ status: 429, errorCode: 42901 });
      // The same credentials as a login in progress join it rather than count again.
      const joined = cache.acquire('u0', 'pw');
      open();
      for (const l of await Promise.all([...running, joined])) l.release();
      (await cache.acquire(`u${MAX_PENDING_LOGINS}`, 'pw')).release();
    } finally {
      await cache.closeAll(100);
    }
  });

  it('closeAll closes every user and refuses new requests', async () => {
    const { cache, created } = setup();
    (await cache.acquire('alice', 'a-pw')).release();
    await cache.closeAll(100);
    expect(created[0]!.closed).toBe(1);
    await expect(cache.acquire('alice', 'a-pw')).rejects.toMatchObject({ status: 503 });
  });
});
