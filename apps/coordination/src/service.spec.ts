import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationError } from './backend';
import { EmbeddedBackend } from './embedded-backend';
import { MAX_DATA_BYTES } from './paths';
import { CoordinationHandlers } from './service';

let dir: string;
let backend: EmbeddedBackend;
let handlers: CoordinationHandlers;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'coord-service-'));
  backend = new EmbeddedBackend({ dataDir: dir, fsync: false });
  handlers = new CoordinationHandlers(backend);
});
afterEach(async () => {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    if (e instanceof CoordinationError) return e.code;
    throw e;
  }
}

const create = (path: string, data = Buffer.alloc(0)) => handlers.create({ path, data, leaseId: 0n, sequential: false });

describe('CoordinationHandlers input validation', () => {
  const badPaths = ['', 'relative', '/trailing/', '//double', '/a/../b', '/a/./b', '/nul\u0000', '/' + 'x'.repeat(1100)];
  it.each(badPaths.map((p) => [JSON.stringify(p).slice(0, 24), p]))('refuses the path %s', async (_label, path) => {
    expect(await code(create(path))).toBe('INVALID_ARGUMENT');
    expect(await code(handlers.get({ path }))).toBe('INVALID_ARGUMENT');
  });

  it('refuses oversized data, bad versions, TTLs, lease ids and election names', async () => {
    expect(await code(create('/big', Buffer.alloc(MAX_DATA_BYTES + 1)))).toBe('INVALID_ARGUMENT');
    expect(await code(create('/ok', Buffer.alloc(MAX_DATA_BYTES)))).toBe('OK');
    expect(await code(handlers.set({ path: '/ok', data: Buffer.alloc(0), expectedVersion: -2 }))).toBe('INVALID_ARGUMENT');
    expect(await code(handlers.delete({ path: '/', expectedVersion: -1 }))).toBe('INVALID_ARGUMENT');
    expect(await code(handlers.grant({ ttlMs: 10 }))).toBe('INVALID_ARGUMENT');
    expect(await code(handlers.grant({ ttlMs: 1.5 }))).toBe('INVALID_ARGUMENT');
    expect(await code(handlers.revoke({ leaseId: -1n }))).toBe('INVALID_ARGUMENT');
    expect(await code(handlers.create({ path: '/x', data: Buffer.alloc(0), leaseId: 99n, sequential: false }))).toBe('LEASE_EXPIRED');
    expect(await code(handlers.campaign({ election: 'a/b', candidate: Buffer.alloc(0), leaseId: 1n }, new AbortController().signal))).toBe('INVALID_ARGUMENT');
  });

  it('reports which op of a multi is malformed, and applies nothing', async () => {
    let error: CoordinationError | undefined;
    try {
      await handlers.multi({
        ops: [
          { op: { $case: 'create', value: { path: '/m', data: Buffer.alloc(0), leaseId: 0n, sequential: false } } },
          { op: { $case: 'check', value: { path: 'bad', expectedVersion: -1 } } },
        ],
      });
    } catch (e) {
      error = e as CoordinationError;
    }
    expect(error?.code).toBe('INVALID_ARGUMENT');
    expect(error?.opIndex).toBe(1);
    expect(await backend.exists('/m')).toBeUndefined();
    expect(await code(handlers.multi({ ops: [{}] }))).toBe('INVALID_ARGUMENT');
    expect(await handlers.multi({ ops: [] })).toEqual({ results: [] });
  });

  it('answers a keep-alive stream until the lease is gone', async () => {
    const { leaseId } = await handlers.grant({ ttlMs: 5000 });
    async function* requests() {
      yield { leaseId };
      await handlers.revoke({ leaseId });
      yield { leaseId };
    }
    const answers: bigint[] = [];
    let failure: unknown;
    try {
      for await (const a of handlers.keepAlive(requests(), new AbortController().signal)) answers.push(a.leaseId);
    } catch (e) {
      failure = e;
    }
    expect(answers).toEqual([leaseId]);
    expect((failure as CoordinationError).code).toBe('LEASE_EXPIRED');
  });
});
