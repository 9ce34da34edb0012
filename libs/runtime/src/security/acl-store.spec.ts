/**
 * ACL storage and the watch-following cache against a REAL coordination process (embedded
 * store) over gRPC: Kafka's JSON at Kafka-like paths, concurrent writers not losing each
 * other's entries (CAS), filtered deletes, and an Authorizer whose answers follow changes
 * made by another client without a restart (including after the notifications it last saw
 * were purged, and across a restart of the coordination service).
 */
import { CoordinationClient } from '@tributary/coordination-client';
import type { ServiceProcess } from '@tributary/testing';
import { cleanupAll, serviceMain, startServiceProcess, tempDir, waitFor } from '@tributary/testing';
import type { AclBinding } from './acl';
import { ACL_CHANGES_PATH } from './acl';
import { AclCache, AclStore, CHANGE_EXPIRATION_MS } from './acl-store';
import { Authorizer } from './authorizer';

jest.setTimeout(60_000);

let coordination: ServiceProcess;
const dataDir = tempDir('acl-store');
const clients: CoordinationClient[] = [];
const newClient = (): CoordinationClient => {
  const c = new CoordinationClient({ address: coordination.address });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  coordination = await startServiceProcess({
    name: 'acl-store-coordination',
    main: serviceMain('coordination'),
    flags: { backend: 'embedded', 'data-dir': dataDir, 'node-id': 'acl-store-coordination', 'log-level': 'warn' },
  });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await cleanupAll();
});

const allow = (name: string, principal: string, operation: AclBinding['entry']['operation'], patternType: 'LITERAL' | 'PREFIXED' = 'LITERAL'): AclBinding => ({
  pattern: { resourceType: 'Topic', name, patternType },
  entry: { principal, permissionType: 'Allow', operation, host: '*' },
});

it("stores Kafka's JSON per resource, keeps concurrent writers' entries, and refuses invalid bindings", async () => {
  const client = newClient();
  const store = new AclStore(client);
  await store.ensurePaths();
  const writers = ['User:w1', 'User:w2', 'User:w3', 'User:w4'].map((p) => new AclStore(newClient()).create([allow('shared', p, 'Write')]));
  await Promise.all(writers);
  const node = await client.get('/acls/literal/Topic/shared');
  const stored = JSON.parse(node.data.toString()) as { version: number; acls: { principal: string }[] };
  expect(stored.version).toBe(1);
  expect(stored.acls.map((a) => a.principal).sort()).toEqual(['User:w1', 'User:w2', 'User:w3', 'User:w4']);

  const results = await store.create([allow('a/b', 'User:x', 'Read', 'PREFIXED'), allow('', 'User:x', 'Read'), allow('a/b', 'User:x', 'Read', 'PREFIXED')]);
  expect(results.map((r) => r.error?.message)).toEqual([undefined, 'resource name must not be empty', undefined]);
  expect(JSON.parse((await client.get('/acls/prefixed/Topic/a%2Fb')).data.toString())).toEqual({
    version: 1,
    acls: [{ principal: 'User:x', permissionType: 'Allow', operation: 'Read', host: '*' }],
  });
  expect((await client.children(ACL_CHANGES_PATH)).children.length).toBeGreaterThanOrEqual(5);
});

it('deletes what filters match, returns it per filter, and removes emptied resource nodes', async () => {
  const client = newClient();
  const store = new AclStore(client);
  await store.create([allow('del-1', 'User:a', 'Read'), allow('del-1', 'User:b', 'Read'), allow('del-', 'User:a', 'Write', 'PREFIXED')]);
  const deleted = await store.delete([
    { patternType: 'MATCH', resourceType: 'Topic', name: 'del-1', principal: 'User:a' },
    { patternType: 'LITERAL', name: 'nothing-here' },
  ]);
  expect(deleted[0]!.map((b) => `${b.pattern.patternType}:${b.pattern.name}:${b.entry.operation}`).sort()).toEqual(['LITERAL:del-1:Read', 'PREFIXED:del-:Write']);
  expect(deleted[1]).toEqual([]);
  expect(await client.tryGet('/acls/prefixed/Topic/del-')).toBeUndefined();
  expect((await store.describe({ patternType: 'ANY', name: 'del-1' })).map((b) => b.entry.principal)).toEqual(['User:b']);
});

it('an Authorizer on the cache follows ACL changes made by another client, by watch', async () => {
  const cache = new AclCache(newClient());
  const authorizer = new Authorizer({ acls: cache });
  await cache.start();
  const writer = new AclStore(newClient());
  expect(authorizer.authorize('User:carol', '127.0.0.1', 'Read', 'Topic', 'live-orders')).toBe(false);

  await writer.create([allow('live-', 'User:carol', 'Read', 'PREFIXED')]);
  await waitFor(() => authorizer.authorize('User:carol', '127.0.0.1', 'Read', 'Topic', 'live-orders'), { message: 'the prefixed Allow to reach the cache' });

  await writer.create([{ pattern: { resourceType: 'Topic', name: 'live-orders', patternType: 'LITERAL' }, entry: { principal: 'User:carol', permissionType: 'Deny', operation: 'Read', host: '*' } }]);
  await waitFor(() => !authorizer.authorize('User:carol', '127.0.0.1', 'Read', 'Topic', 'live-orders'), { message: 'the Deny to reach the cache' });
  expect(authorizer.authorize('User:carol', '127.0.0.1', 'Read', 'Topic', 'live-payments')).toBe(true);

  await writer.delete([{ patternType: 'ANY', principal: 'User:carol' }]);
  await waitFor(() => !authorizer.authorize('User:carol', '127.0.0.1', 'Read', 'Topic', 'live-payments'), { message: 'the deletion to reach the cache' });

  // A cache started now loads what is stored.
  await writer.create([allow('live-later', 'User:dave', 'Read')]);
  const late = new AclCache(newClient());
  await late.start();
  expect(new Authorizer({ acls: late }).authorize('User:dave', '127.0.0.1', 'Describe', 'Topic', 'live-later')).toBe(true);
  cache.stop();
  late.stop();
});

it('reloads everything when the notifications it last applied were purged', async () => {
  const cache = new AclCache(newClient());
  const authorizer = new Authorizer({ acls: cache });
  await cache.start();
  const client = newClient();
  // A writer whose clock is past the expiration purges every earlier notification.
  const later = new AclStore(client, () => Date.now() + 2 * CHANGE_EXPIRATION_MS);
  await later.create([allow('purge-test', 'User:erin', 'Read')]);
  await waitFor(() => authorizer.authorize('User:erin', '127.0.0.1', 'Read', 'Topic', 'purge-test'), { message: 'the first change' });
  const remaining = (await client.children(ACL_CHANGES_PATH)).children;
  expect(remaining.length).toBe(1);
  // As if the cache were cut off while changes came and their notifications expired: in one
  // transaction the notification it applied last goes, an ACL node appears, and a newer
  // notification names some other resource. Only a full reload can find the new ACL.
  const [applied] = remaining as [string];
  const acl = Buffer.from(JSON.stringify({ version: 1, acls: [{ principal: 'User:erin', permissionType: 'Allow', operation: 'Read', host: '*' }] }));
  const other = Buffer.from(JSON.stringify({ version: 1, resourceType: 'Topic', name: 'unrelated', patternType: 'LITERAL' }));
  await client.multi([
    { op: { $case: 'delete', value: { path: `${ACL_CHANGES_PATH}/${applied}`, expectedVersion: -1 } } },
    { op: { $case: 'create', value: { path: '/acls/literal/Topic/missed', data: acl, leaseId: 0n, sequential: false } } },
    { op: { $case: 'create', value: { path: `${ACL_CHANGES_PATH}/acl_changes_${Date.now()}_`, data: other, leaseId: 0n, sequential: true } } },
  ]);
  await waitFor(() => authorizer.authorize('User:erin', '127.0.0.1', 'Read', 'Topic', 'missed'), { message: 'a full reload after missed notifications' });
  expect(authorizer.authorize('User:erin', '127.0.0.1', 'Read', 'Topic', 'purge-test')).toBe(true);
  cache.stop();
});

it('keeps following changes after the coordination service restarts (the watch resumes)', async () => {
  const cache = new AclCache(newClient());
  const authorizer = new Authorizer({ acls: cache });
  await cache.start();
  const writer = new AclStore(newClient());
  await writer.create([allow('restart-before', 'User:frank', 'Read')]);
  await waitFor(() => authorizer.authorize('User:frank', '127.0.0.1', 'Read', 'Topic', 'restart-before'), { message: 'the change before the restart' });

  await coordination.proc.killAndWait('SIGTERM');
  coordination = await startServiceProcess({
    name: 'acl-store-coordination',
    main: serviceMain('coordination'),
    ports: { grpcPort: coordination.grpcPort, adminPort: coordination.adminPort },
    flags: { backend: 'embedded', 'data-dir': dataDir, 'node-id': 'acl-store-coordination', 'log-level': 'warn' },
  });
  await writer.create([allow('restart-after', 'User:frank', 'Read')]);
  await waitFor(() => authorizer.authorize('User:frank', '127.0.0.1', 'Read', 'Topic', 'restart-after'), { timeoutMs: 20_000, message: 'the change after the restart' });
  expect(authorizer.authorize('User:frank', '127.0.0.1', 'Read', 'Topic', 'restart-before')).toBe(true);
  cache.stop();
});
