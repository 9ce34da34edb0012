/**
 * `tributary quotas set|describe` as processes (`node apps/cli/dist/main.js`) against a REAL
 * small cluster (coordination, 1 controller, 1 broker): quotas set on users, client ids, both
 * and defaults land in Kafka's /config nodes; describe lists all (table, JSON) or exactly one
 * entity; --delete removes; usage errors (no entity, nothing to change, a fractional byte
 * rate, a negative percentage, an unknown key) exit 2 and write nothing.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CoordinationClient } from '@tributary/coordination-client';
import type { TestCluster } from '@tributary/testing';
import { WORKSPACE_ROOT, cleanupAll, startCluster } from '@tributary/testing';
import { entityOf, formatQuotas, opsOf, parseQuotaKey } from './commands/quotas';

jest.setTimeout(120_000);

const CLI_MAIN = join(WORKSPACE_ROOT, 'apps', 'cli', 'dist', 'main.js');

let cluster: TestCluster;
let store: CoordinationClient;

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.TRIBUTARY_BOOTSTRAP;
  const child = spawn(process.execPath, [CLI_MAIN, '--bootstrap', cluster.bootstrap, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const config = async (path: string): Promise<Record<string, string> | undefined> => {
  const node = await store.tryGet(path);
  return node ? (JSON.parse(node.data.toString()) as { config: Record<string, string> }).config : undefined;
};

beforeAll(async () => {
  cluster = await startCluster({ name: 'cli-quotas', brokers: 1, controllers: 1 });
  store = new CoordinationClient({ address: cluster.coordination.address });
}, 60_000);

afterAll(async () => {
  store?.close();
  await cluster?.stop();
  await cleanupAll();
});

describe('helpers', () => {
  it('builds entities and ops from flags, refusing contradictions', () => {
    expect(entityOf({})).toBeUndefined();
    expect(entityOf({ user: 'alice', clientDefault: true })).toEqual({ user: 'alice', clientId: null });
    expect(() => entityOf({ user: 'a', userDefault: true })).toThrow(/--user <name> or --user-default/);
    expect(parseQuotaKey('producer-byte-rate')).toBe('producer_byte_rate');
    expect(() => parseQuotaKey('bytes')).toThrow(/unknown quota 'bytes'/);
    expect(opsOf({ producerByteRate: 10, delete: ['consumer_byte_rate'] })).toEqual([
      { key: 'producer_byte_rate', value: 10 },
      { key: 'consumer_byte_rate', value: null },
    ]);
    expect(() => opsOf({ producerByteRate: 10, delete: ['producer-byte-rate'] })).toThrow(/both set and deleted/);
    expect(() => opsOf({})).toThrow(/nothing to change/);
    expect(formatQuotas([])).toBe('No quotas.\n');
  });
});

it('sets quotas on users, client ids, both and defaults, in Kafka nodes', async () => {
  const a = await cli(['quotas', 'set', '--user', 'alice', '--producer-byte-rate', '1048576', '--request-percentage', '50']);
  expect(a).toMatchObject({ code: 0, stderr: '' });
  expect(a.stdout).toBe('Completed updating quotas for user=alice: set producer_byte_rate=1048576, request_percentage=50.\n');
  expect(await config('/config/users/alice')).toEqual({ producer_byte_rate: '1048576', request_percentage: '50' });
  expect((await cli(['quotas', 'set', '--user', 'alice', '--client-id', 'app', '--consumer-byte-rate', '2048'])).code).toBe(0);
  expect(await config('/config/users/alice/clients/app')).toEqual({ consumer_byte_rate: '2048' });
  expect((await cli(['quotas', 'set', '--client-default', '--producer-byte-rate', '4096'])).code).toBe(0);
  expect(await config('/config/clients/<default>')).toEqual({ producer_byte_rate: '4096' });
  expect((await cli(['quotas', 'set', '--user-default', '--consumer-byte-rate', '8192'])).code).toBe(0);
  expect(await config('/config/users/<default>')).toEqual({ consumer_byte_rate: '8192' });
});

it('describes every entity (table and JSON) or exactly one', async () => {
  const all = await cli(['quotas', 'describe']);
  expect(all.code).toBe(0);
  expect(all.stdout.split('\n')).toEqual([
    'USER       CLIENT-ID  PRODUCER_BYTE_RATE  CONSUMER_BYTE_RATE  REQUEST_PERCENTAGE',
    '-          <default>  4096                -                   -',
    '<default>  -          -                   8192                -',
    'alice      -          1048576             -                   50',
    'alice      app        -                   2048                -',
    '',
  ]);
  const json = await cli(['quotas', 'describe', '--json']);
  expect(JSON.parse(json.stdout)).toEqual([
    { clientId: null, quotas: { producer_byte_rate: 4096 } },
    { user: null, quotas: { consumer_byte_rate: 8192 } },
    { user: 'alice', quotas: { producer_byte_rate: 1048576, request_percentage: 50 } },
    { user: 'alice', clientId: 'app', quotas: { consumer_byte_rate: 2048 } },
  ]);
  const one = await cli(['quotas', 'describe', '--user', 'alice', '--json']);
  expect(JSON.parse(one.stdout)).toEqual([{ user: 'alice', quotas: { producer_byte_rate: 1048576, request_percentage: 50 } }]);
  const none = await cli(['quotas', 'describe', '--client-id', 'nobody']);
  expect(none.stdout).toBe('No quotas.\n');
});

it('deletes quotas with --delete', async () => {
  const d = await cli(['quotas', 'set', '--user', 'alice', '--delete', 'request_percentage', '--delete', 'producer-byte-rate']);
  expect(d.code).toBe(0);
  expect(d.stdout).toBe('Completed updating quotas for user=alice: deleted request_percentage, producer_byte_rate.\n');
  expect(await config('/config/users/alice')).toEqual({});
  expect(JSON.parse((await cli(['quotas', 'describe', '--user', 'alice', '--json'])).stdout)).toEqual([]);
});

it('exits 2 on usage errors (checked before anything is sent), writing nothing', async () => {
  const noEntity = await cli(['quotas', 'set', '--producer-byte-rate', '10']);
  expect(noEntity.code).toBe(2);
  expect(noEntity.stderr).toMatch(/name the entity/);
  const noOp = await cli(['quotas', 'set', '--client-id', 'x']);
  expect(noOp.code).toBe(2);
  expect(noOp.stderr).toMatch(/nothing to change/);
  const badRate = await cli(['quotas', 'set', '--client-id', 'x', '--producer-byte-rate', '1.5']);
  expect(badRate.code).toBe(2);
  const badPct = await cli(['quotas', 'set', '--client-id', 'x', '--request-percentage', '-3']);
  expect(badPct.code).toBe(2);
  expect(badPct.stderr).toMatch(/positive number/);
  const badKey = await cli(['quotas', 'set', '--client-id', 'x', '--delete', 'bandwidth']);
  expect(badKey.code).toBe(2);
  expect(await store.tryGet('/config/clients/x')).toBeUndefined();
});
