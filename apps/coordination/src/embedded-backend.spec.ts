import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeBackendConformance } from './backend-conformance';
import { EmbeddedBackend } from './embedded-backend';

describeBackendConformance('embedded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coord-embedded-'));
  const backend = new EmbeddedBackend({ dataDir: dir });
  return {
    backend,
    cleanup: async () => {
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('EmbeddedBackend persistence', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'coord-wal-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps persistent nodes, versions and revisions across a restart; leases do not survive', async () => {
    let backend = new EmbeddedBackend({ dataDir: dir });
    await backend.create('/brokers', Buffer.from('b'));
    await backend.create('/brokers/ids', Buffer.alloc(0));
    await backend.set('/brokers', Buffer.from('b2'), 0);
    const lease = await backend.grantLease(5000);
    await backend.create('/brokers/ids/1', Buffer.from('host'), { leaseId: lease.id });
    await backend.create('/elections', Buffer.alloc(0));
    const seq1 = await backend.create('/elections/c-', Buffer.alloc(0), { sequential: true, leaseId: lease.id });
    const lastRevision = (await backend.get('/brokers')).stat.modRevision;
    backend.abandon(); // the process dies with the lease held
    backend = new EmbeddedBackend({ dataDir: dir });
    const brokers = await backend.get('/brokers');
    expect(brokers.data.toString()).toBe('b2');
    expect(brokers.stat.version).toBe(1);
    expect(brokers.stat.modRevision).toBe(lastRevision);
    expect(await backend.exists('/brokers/ids/1')).toBeUndefined(); // ephemeral: gone with the lease
    expect((await backend.children('/brokers/ids')).names).toEqual([]);
    const seq2 = await backend.create('/elections/c-', Buffer.alloc(0), { sequential: true });
    expect(Number(seq2.path.slice(-10))).toBeGreaterThan(Number(seq1.path.slice(-10))); // terms never go back
    expect((await backend.create('/after', Buffer.alloc(0))).stat.createRevision).toBeGreaterThan(lastRevision);
    await backend.close();
  });

  it('cuts a torn or corrupt log tail and keeps what came before', async () => {
    let backend = new EmbeddedBackend({ dataDir: dir });
    await backend.create('/one', Buffer.from('1'));
    await backend.create('/two', Buffer.from('2'));
    await backend.close();
    const wal = join(dir, 'coordination.wal');
    const good = readFileSync(wal);
    appendFileSync(wal, '0000abcd {"r":99,"o":[{"t":"c","p":"/three","d":""}]}\n{"torn');
    backend = new EmbeddedBackend({ dataDir: dir });
    expect(await backend.exists('/two')).toBeDefined();
    expect(await backend.exists('/three')).toBeUndefined();
    await backend.create('/three', Buffer.from('3'));
    await backend.close();
    expect(readFileSync(wal).subarray(0, good.length).equals(good)).toBe(true);
    // Damage inside the second record: only the first survives.
    const lines = readFileSync(wal, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('"/two"', '"/twx"');
    writeFileSync(wal, lines.join('\n'));
    backend = new EmbeddedBackend({ dataDir: dir });
    expect(await backend.exists('/one')).toBeDefined();
    expect(await backend.exists('/two')).toBeUndefined();
    await backend.close();
  });

  it('compacts the log into a snapshot and restores from it', async () => {
    let backend = new EmbeddedBackend({ dataDir: dir, snapshotBytes: 2000 });
    await backend.create('/s', Buffer.alloc(0));
    for (let i = 0; i < 50; i++) await backend.create(`/s/n${i}`, Buffer.from(`value ${i}`));
    await backend.set('/s/n7', Buffer.from('seven'), 0);
    await backend.close();
    expect(readFileSync(join(dir, 'coordination.wal')).length).toBeLessThan(2000);
    backend = new EmbeddedBackend({ dataDir: dir, snapshotBytes: 2000 });
    expect((await backend.children('/s')).names).toHaveLength(50);
    expect((await backend.get('/s/n7')).data.toString()).toBe('seven');
    expect((await backend.get('/s/n7')).stat.version).toBe(1);
    await backend.close();
  });
});
