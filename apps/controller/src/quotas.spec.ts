/**
 * The ClientQuotaService as real processes over real gRPC: the coordination service (embedded
 * backend) and two controllers. The active one sets, describes (KIP-546 filters: exact,
 * default, any, strict) and removes quotas; what is written is Kafka's layout
 * (/config/users/<user>[/clients/<client-id>], /config/clients/<client-id>, `<default>`,
 * values as strings) with a /config/changes notification per change; a user's SCRAM
 * credential in the same node is kept; bad entries get INVALID_REQUEST and change nothing;
 * validate_only writes nothing; the standby answers NOT_CONTROLLER.
 */
import type { CoordinationClient } from '@tributary/coordination-client';
import type { ClientQuotaEntityComponent } from '@tributary/proto';
import { ClientQuotaMatchType, ClientQuotaServiceClient } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import { createClient, deleteScramCredential, setScramCredential, unary } from '@tributary/runtime';
import { removeTempDirs } from '@tributary/testing';
import { startControllerPair } from './it/processes';
import type { ControllerPair } from './it/processes';

jest.setTimeout(40_000);

let store: CoordinationClient;
let pair: ControllerPair<ClientQuotaServiceClient>;
let active: ClientQuotaServiceClient;
let standby: ClientQuotaServiceClient;

const user = (name: string | null): ClientQuotaEntityComponent => ({ entityType: 'user', entityName: name ?? '', isDefault: name === null });
const client = (name: string | null): ClientQuotaEntityComponent => ({ entityType: 'client-id', entityName: name ?? '', isDefault: name === null });
const set = (key: string, value: number) => ({ key, value, remove: false });
const node = async (path: string): Promise<{ version: number; config: Record<string, string> }> => JSON.parse((await store.get(path)).data.toString()) as { version: number; config: Record<string, string> };

beforeAll(async () => {
  pair = await startControllerPair('quotas', [221, 222], (address) => createClient(ClientQuotaServiceClient, address), (c) => unary(c, 'describeClientQuotas', { components: [], strict: false }));
  ({ store, active, standby } = pair);
});

afterAll(async () => {
  await pair?.stop();
  removeTempDirs();
});

it("writes Kafka's layout, keeps a user's SCRAM credential, and announces each change", async () => {
  await setScramCredential(store, 'alice', 'SCRAM-SHA-256', 'alice-pw', 4096);
  const before = (await store.children('/config/changes')).children.length;
  const { entries } = await unary(active, 'alterClientQuotas', {
    entries: [
      { entity: [user('alice')], ops: [set('producer_byte_rate', 1048576), set('request_percentage', 12.5)] },
      { entity: [user('alice'), client('app')], ops: [set('consumer_byte_rate', 2048)] },
      { entity: [user(null)], ops: [set('producer_byte_rate', 1000)] },
      { entity: [user(null), client(null)], ops: [set('producer_byte_rate', 500)] },
      { entity: [client('app')], ops: [set('producer_byte_rate', 300)] },
      { entity: [client(null)], ops: [set('consumer_byte_rate', 100)] },
    ],
    validateOnly: false,
  });
  expect(entries.map((e) => ErrorCode[e.errorCode])).toEqual(['NONE', 'NONE', 'NONE', 'NONE', 'NONE', 'NONE']);
  const alice = await node('/config/users/alice');
  expect(alice.version).toBe(1);
  expect(alice.config['producer_byte_rate']).toBe('1048576');
  expect(alice.config['request_percentage']).toBe('12.5');
  expect(alice.config['SCRAM-SHA-256']).toMatch(/^salt=/);
  expect((await node('/config/users/alice/clients/app')).config).toEqual({ consumer_byte_rate: '2048' });
  expect((await node('/config/users/<default>')).config).toEqual({ producer_byte_rate: '1000' });
  expect((await node('/config/users/<default>/clients/<default>')).config).toEqual({ producer_byte_rate: '500' });
  expect((await node('/config/clients/app')).config).toEqual({ producer_byte_rate: '300' });
  expect((await node('/config/clients/<default>')).config).toEqual({ consumer_byte_rate: '100' });
  const changes = (await store.children('/config/changes')).children;
  expect(changes.length - before).toBe(6);
  const last = changes.sort().pop()!;
  expect(last).toMatch(/^config_change_\d+_\d{10}$/);
  expect(JSON.parse((await store.get(`/config/changes/${last}`)).data.toString())).toEqual({ version: 2, entity_path: 'clients/<default>' });
});

it('describes with KIP-546 filters', async () => {
  const describe = async (components: Array<{ entityType: string; matchType: ClientQuotaMatchType; match: string }>, strict = false) => {
    const res = await unary(active, 'describeClientQuotas', { components, strict });
    expect(ErrorCode[res.errorCode]).toBe('NONE');
    return res.entries.map((e) => `${e.entity.map((c) => `${c.entityType}=${c.isDefault ? '<default>' : c.entityName}`).join(',')}:${e.values.map((v) => `${v.key}=${v.value}`).join(',')}`);
  };
  expect(await describe([])).toEqual([
    'client-id=<default>:consumer_byte_rate=100',
    'client-id=app:producer_byte_rate=300',
    'user=<default>:producer_byte_rate=1000',
    'user=<default>,client-id=<default>:producer_byte_rate=500',
    'user=alice:producer_byte_rate=1048576,request_percentage=12.5',
    'user=alice,client-id=app:consumer_byte_rate=2048',
  ]);
  const { EXACT, DEFAULT, ANY } = {
    EXACT: ClientQuotaMatchType.CLIENT_QUOTA_MATCH_TYPE_EXACT,
    DEFAULT: ClientQuotaMatchType.CLIENT_QUOTA_MATCH_TYPE_DEFAULT,
    ANY: ClientQuotaMatchType.CLIENT_QUOTA_MATCH_TYPE_ANY,
  };
  expect(await describe([{ entityType: 'user', matchType: EXACT, match: 'alice' }])).toEqual([
    'user=alice:producer_byte_rate=1048576,request_percentage=12.5',
    'user=alice,client-id=app:consumer_byte_rate=2048',
  ]);
  expect(await describe([{ entityType: 'user', matchType: EXACT, match: 'alice' }], true)).toEqual(['user=alice:producer_byte_rate=1048576,request_percentage=12.5']);
  expect(await describe([{ entityType: 'user', matchType: DEFAULT, match: '' }], true)).toEqual(['user=<default>:producer_byte_rate=1000']);
  expect(await describe([{ entityType: 'client-id', matchType: ANY, match: '' }], true)).toEqual(['client-id=<default>:consumer_byte_rate=100', 'client-id=app:producer_byte_rate=300']);
  const bad = await unary(active, 'describeClientQuotas', { components: [{ entityType: 'ip', matchType: EXACT, match: '1.2.3.4' }], strict: false });
  expect(ErrorCode[bad.errorCode]).toBe('INVALID_REQUEST');
  expect(bad.errorMessage).toMatch(/user or client-id/);
});

it('refuses bad entries with INVALID_REQUEST, changing nothing of them; validate_only writes nothing', async () => {
  const { entries } = await unary(active, 'alterClientQuotas', {
    entries: [
      { entity: [client('app')], ops: [set('producer_byte_rate', 999), set('consumer_byte_rate', -1)] },
      { entity: [], ops: [set('producer_byte_rate', 1)] },
      { entity: [user('a'), user('b')], ops: [set('producer_byte_rate', 1)] },
      { entity: [client('x')], ops: [set('producer_byte_rate', 1.5)] },
      { entity: [client('x')], ops: [set('bogus', 1)] },
      { entity: [client('y')], ops: [set('producer_byte_rate', 1)] },
      { entity: [client('y')], ops: [set('producer_byte_rate', 2)] },
    ],
    validateOnly: false,
  });
  expect(entries.map((e) => ErrorCode[e.errorCode])).toEqual(['INVALID_REQUEST', 'INVALID_REQUEST', 'INVALID_REQUEST', 'INVALID_REQUEST', 'INVALID_REQUEST', 'NONE', 'INVALID_REQUEST']);
  expect(entries[0]!.errorMessage).toMatch(/consumer_byte_rate must be a positive number/);
  expect((await node('/config/clients/app')).config).toEqual({ producer_byte_rate: '300' });
  expect(await store.tryGet('/config/clients/x')).toBeUndefined();
  const dry = await unary(active, 'alterClientQuotas', { entries: [{ entity: [client('z')], ops: [set('producer_byte_rate', 5)] }], validateOnly: true });
  expect(ErrorCode[dry.entries[0]!.errorCode]).toBe('NONE');
  expect(await store.tryGet('/config/clients/z')).toBeUndefined();
});

it('removes quotas, keeping the SCRAM credential and the node', async () => {
  const { entries } = await unary(active, 'alterClientQuotas', {
    entries: [{ entity: [user('alice')], ops: [{ key: 'producer_byte_rate', value: 0, remove: true }, { key: 'request_percentage', value: 0, remove: true }] }],
    validateOnly: false,
  });
  expect(ErrorCode[entries[0]!.errorCode]).toBe('NONE');
  expect(Object.keys((await node('/config/users/alice')).config)).toEqual(['SCRAM-SHA-256']);
  const res = await unary(active, 'describeClientQuotas', { components: [{ entityType: 'user', matchType: ClientQuotaMatchType.CLIENT_QUOTA_MATCH_TYPE_EXACT, match: 'alice' }], strict: true });
  expect(res.entries).toEqual([]);
});

it("deleting a user's last SCRAM credential keeps the node when it has client-id quota children", async () => {
  expect(await deleteScramCredential(store, 'alice', 'SCRAM-SHA-256')).toBe(true);
  expect((await node('/config/users/alice')).config).toEqual({});
  expect((await node('/config/users/alice/clients/app')).config).toEqual({ consumer_byte_rate: '2048' });
  // A user without children still goes away with its last credential.
  await setScramCredential(store, 'carol', 'SCRAM-SHA-256', 'carol-pw', 4096);
  expect(await deleteScramCredential(store, 'carol', 'SCRAM-SHA-256')).toBe(true);
  expect(await store.tryGet('/config/users/carol')).toBeUndefined();
});

it('answers NOT_CONTROLLER on the standby', async () => {
  const e = await unary(standby, 'describeClientQuotas', { components: [], strict: false }).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(TributaryError);
  expect(ErrorCode[(e as TributaryError).code]).toBe('NOT_CONTROLLER');
  const a = await unary(standby, 'alterClientQuotas', { entries: [{ entity: [client('s')], ops: [set('producer_byte_rate', 1)] }], validateOnly: false }).catch((x: unknown) => x);
  expect(ErrorCode[(a as TributaryError).code]).toBe('NOT_CONTROLLER');
});
