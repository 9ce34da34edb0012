/**
 * The coordination service as a real process over real gRPC (embedded backend): every API
 * through libs/coordination-client, metrics and health endpoints, graceful restart with the
 * client reconnecting and its watch resuming without missing a change.
 */
import { spawnSync } from 'node:child_process';
import { CoordinationClient, CoordinationClientError, Election } from '@tributary/coordination-client';
import { WatchEvent_Type } from '@tributary/proto';
import type { WatchEvent } from '@tributary/proto';
import { stopAllProcesses, tempDir, waitFor } from '@tributary/testing';
import { COORDINATION_MAIN, startCoordinationProcess } from './service-process';
import type { CoordinationProcess } from './service-process';

jest.setTimeout(60_000);

let service: CoordinationProcess;
let client: CoordinationClient;
let dataDir: string;

beforeAll(async () => {
  dataDir = tempDir('coord-it');
  service = await startCoordinationProcess({ backend: 'embedded', 'data-dir': dataDir, 'node-id': 'coord-it' });
  client = new CoordinationClient({ address: service.address });
});
afterAll(async () => {
  client?.close();
  await stopAllProcesses();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    if (e instanceof CoordinationClientError) return e.code;
    throw e;
  }
}

it('serves the tree with compare-and-set and precise error codes', async () => {
  await client.ensurePath('/it/config');
  const created = await client.create('/it/config/a', Buffer.from('1'));
  expect(created.stat.version).toBe(0);
  expect(await codeOf(client.create('/it/config/a', Buffer.from('x')))).toBe('NODE_EXISTS');
  expect(await codeOf(client.set('/it/config/a', Buffer.from('2'), 5))).toBe('BAD_VERSION');
  expect(await codeOf(client.get('/it/missing'))).toBe('NO_NODE');
  expect(await codeOf(client.delete('/it/config', -1))).toBe('NOT_EMPTY');
  expect(await codeOf(client.get('relative/path'))).toBe('INVALID_ARGUMENT');
  expect(await codeOf(client.create('/it/big', Buffer.alloc(2_000_000)))).toBe('INVALID_ARGUMENT');
  // cas: concurrent increments never lose an update
  await Promise.all(
    Array.from({ length: 10 }, () => client.cas('/it/counter', (cur) => Buffer.from(String(Number(cur?.data.toString() ?? '0') + 1)))),
  );
  expect((await client.get('/it/counter')).data.toString()).toBe('10');
  const results = await client.multi([
    { op: { $case: 'create', value: { path: '/it/config/b', data: Buffer.from('b'), leaseId: 0n, sequential: false } } },
    { op: { $case: 'check', value: { path: '/it/config/a', expectedVersion: 0 } } },
  ]);
  expect(results[0]!.path).toBe('/it/config/b');
  expect((await client.children('/it/config')).children).toEqual(['a', 'b']);
});

it('streams watch events and ties ephemeral nodes to a kept-alive lease', async () => {
  await client.ensurePath('/it/watch');
  const events: WatchEvent[] = [];
  const watch = client.watch('/it/watch', { children: true, onEvent: (e) => events.push(e) });
  await waitFor(() => events.length === 1, { message: 'the initial children event' });
  const lease = await client.grantLease(2000);
  await client.create('/it/watch/member', Buffer.from('me'), { leaseId: lease.id });
  await waitFor(() => events.at(-1)?.children.includes('member'), { message: 'the new member' });
  // Kept alive past several TTLs by the background keeper.
  await new Promise((r) => setTimeout(r, 5000));
  expect((await client.children('/it/watch')).children).toEqual(['member']);
  await lease.revoke();
  await waitFor(() => events.at(-1)?.type === WatchEvent_Type.TYPE_CHILDREN_CHANGED && events.at(-1)!.children.length === 0, {
    message: 'the member to vanish',
  });
  watch.cancel();
});

it('elects one leader at a time, with increasing terms', async () => {
  const log: string[] = [];
  const terms: bigint[] = [];
  const mk = (name: string) =>
    new Election(client, {
      name: 'it-controller',
      candidate: Buffer.from(name),
      ttlMs: 2000,
      onElected: (term) => {
        log.push(`${name} elected`);
        terms.push(term);
      },
      onLost: () => log.push(`${name} lost`),
    });
  const a = mk('a');
  const b = mk('b');
  a.start();
  await waitFor(() => a.isLeader, { message: 'a to lead' });
  b.start();
  await new Promise((r) => setTimeout(r, 300));
  expect(b.isLeader).toBe(false);
  const seen: string[] = [];
  const observer = client.observe('it-controller', (e) => seen.push(e.leader.toString()));
  await a.stop();
  await waitFor(() => b.isLeader, { message: 'b to take over' });
  expect(terms[1]).toBeGreaterThan(terms[0]!);
  await waitFor(() => seen.includes('b'), { message: 'the observer to see b' });
  expect(log).toEqual(['a elected', 'a lost', 'b elected']);
  observer.cancel();
  await b.stop();
});

it('exports metrics and health', async () => {
  const text = await service.metrics();
  expect(text).toMatch(/tributary_grpc_server_requests_total\{[^}]*method="[^"]*Create"/);
  expect(text).toMatch(/tributary_coordination_backend_connected\{backend="embedded"\} 1/);
  expect(text).toMatch(/tributary_coordination_active_leases \d+/);
  expect(text).toMatch(/tributary_coordination_active_watches \d+/);
  expect((await fetch(`http://127.0.0.1:${service.adminPort}/healthz`)).status).toBe(200);
});

it('restarts gracefully: data kept, the client reconnects, the watch misses nothing', async () => {
  await client.ensurePath('/it/restart');
  await client.create('/it/restart/before', Buffer.from('1'));
  const events: WatchEvent[] = [];
  const watch = client.watch('/it/restart', { children: true, onEvent: (e) => events.push(e) });
  await waitFor(() => events.length === 1, { message: 'the first event' });
  const exit = await service.proc.stop(10_000);
  expect(exit).toEqual({ code: 0, signal: null }); // SIGTERM: graceful
  service = await startCoordinationProcess({ backend: 'embedded', 'data-dir': dataDir, 'node-id': 'coord-it' }, {
    grpcPort: service.grpcPort,
    adminPort: service.adminPort,
  });
  expect((await client.get('/it/restart/before')).data.toString()).toBe('1');
  await client.create('/it/restart/after', Buffer.from('2'));
  await waitFor(() => events.at(-1)?.children.includes('after'), { timeoutMs: 15_000, message: 'the watch to resume' });
  watch.cancel();
});

it('refuses a bad setting with one line and exit code 2', () => {
  const result = spawnSync(process.execPath, [COORDINATION_MAIN, '--grpc-port', '70000'], { encoding: 'utf8' });
  expect(result.status).toBe(2);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(/grpc-port/);
});
