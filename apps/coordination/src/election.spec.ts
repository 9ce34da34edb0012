import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationError } from './backend';
import { campaign, observe, resign } from './election';
import { EmbeddedBackend } from './embedded-backend';
import { watchPath } from './watch';
import type { WatchUpdate } from './watch';

let dir: string;
let backend: EmbeddedBackend;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'coord-election-'));
  backend = new EmbeddedBackend({ dataDir: dir, fsync: false });
});
afterEach(async () => {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Collects a stream's items in the background. */
function collect<T>(stream: AsyncGenerator<T>): { items: T[]; done: Promise<void> } {
  const items: T[] = [];
  const done = (async () => {
    for await (const item of stream) items.push(item);
  })();
  return { items, done };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}

describe('watchPath', () => {
  it('reports changes after the revision the caller saw, and deletion', async () => {
    const created = await backend.create('/w', Buffer.from('0'));
    const control = new AbortController();
    const { items, done } = collect(watchPath(backend, '/w', { children: false, fromRevision: created.stat.modRevision, signal: control.signal }));
    await new Promise((r) => setImmediate(r));
    expect(items).toHaveLength(0); // nothing new since the caller's read
    await backend.set('/w', Buffer.from('1'), -1);
    await until(() => items.length === 1, 'the change');
    expect(items[0]).toMatchObject({ type: 'node-changed', data: Buffer.from('1') });
    await backend.delete('/w', -1);
    await until(() => items.length === 2, 'the deletion');
    expect(items[1]).toEqual({ type: 'node-deleted', path: '/w', revision: 0n });
    control.abort();
    await done;
  });

  it('sends the current state at once when the caller is behind, and watches children', async () => {
    await backend.create('/c', Buffer.alloc(0));
    await backend.create('/c/a', Buffer.alloc(0));
    const control = new AbortController();
    const { items, done } = collect(watchPath(backend, '/c', { children: true, fromRevision: 0n, signal: control.signal }));
    await until(() => items.length === 1, 'the initial state');
    expect(items[0]).toMatchObject({ type: 'children-changed', children: ['a'] });
    await backend.create('/c/b', Buffer.alloc(0));
    await until(() => items.length === 2, 'the new child');
    expect((items[1] as Extract<WatchUpdate, { type: 'children-changed' }>).children).toEqual(['a', 'b']);
    control.abort();
    await done;
  });
});

describe('election', () => {
  it('elects the first candidate, then the next when its lease ends, with a larger term', async () => {
    const l1 = await backend.grantLease(60_000);
    const l2 = await backend.grantLease(60_000);
    const never = new AbortController().signal;
    const first = await campaign(backend, 'controller', Buffer.from('c1'), l1.id, never);
    expect(first.leader.toString()).toBe('c1');
    let secondLeads = false;
    const second = campaign(backend, 'controller', Buffer.from('c2'), l2.id, never).then((l) => {
      secondLeads = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(secondLeads).toBe(false);
    await backend.revokeLease(l1.id); // the leader dies
    const leadership = await second;
    expect(leadership.leader.toString()).toBe('c2');
    expect(leadership.term).toBeGreaterThan(first.term);
  });

  it('reports leaders to observers and supports resign and withdrawal', async () => {
    const control = new AbortController();
    const { items, done } = collect(observe(backend, 'ctl', control.signal));
    await until(() => items.length === 1, 'the initial (empty) leadership');
    expect(items[0]).toMatchObject({ term: 0n, key: '' });
    const l1 = await backend.grantLease(60_000);
    const l2 = await backend.grantLease(60_000);
    const a = await campaign(backend, 'ctl', Buffer.from('A'), l1.id, new AbortController().signal);
    await until(() => items.length === 2, 'A leading');
    expect(items[1]).toMatchObject({ leader: Buffer.from('A'), term: a.term, key: a.key });
    // B campaigns but gives up before winning: its candidacy is withdrawn.
    const giveUp = new AbortController();
    const b = campaign(backend, 'ctl', Buffer.from('B'), l2.id, giveUp.signal);
    await new Promise((r) => setTimeout(r, 20));
    giveUp.abort(new Error('deadline'));
    await expect(b).rejects.toThrow('deadline');
    expect((await backend.children('/elections/ctl')).names).toEqual([a.key]);
    await resign(backend, 'ctl', a.key);
    await until(() => items.length === 3, 'no leader');
    expect(items[2]).toMatchObject({ term: 0n, key: '' });
    control.abort();
    await done;
  });

  it('refuses bad names and campaigns without a lease', async () => {
    const never = new AbortController().signal;
    await expect(campaign(backend, '../x', Buffer.alloc(0), 1n, never)).rejects.toBeInstanceOf(CoordinationError);
    await expect(campaign(backend, 'ok', Buffer.alloc(0), 0n, never)).rejects.toThrow(/needs a lease/);
    await expect(campaign(backend, 'ok', Buffer.alloc(0), 12345n, never)).rejects.toThrow(/expired/);
  });
});
