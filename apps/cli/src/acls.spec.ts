/**
 * `tributary acls add|remove|list` as processes (`node apps/cli/dist/main.js`) against a REAL
 * small cluster (coordination, 1 controller, 1 broker): kafka-acls.sh's flags and output,
 * --producer / --consumer, prefixed patterns, remove only with --force, usage errors (exit 2)
 * and the controller's INVALID_REQUEST (exit 1). The plans (flags → bindings) also in process.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestCluster } from '@tributary/testing';
import { WORKSPACE_ROOT, cleanupAll, startCluster } from '@tributary/testing';
import { bindingsToAdd, filtersToList, filtersToRemove } from './commands/acls';

jest.setTimeout(120_000);

const CLI_MAIN = join(WORKSPACE_ROOT, 'apps', 'cli', 'dist', 'main.js');
let cluster: TestCluster;

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.TRIBUTARY_BOOTSTRAP;
  const child = spawn(process.execPath, [CLI_MAIN, '--bootstrap', cluster.bootstrap, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

beforeAll(async () => {
  cluster = await startCluster({ name: 'cli-acls', brokers: 1, controllers: 1, logLevel: 'warn' });
}, 60_000);
afterAll(cleanupAll);

describe('plans (flags to bindings and filters)', () => {
  it('pairs principals with hosts and operations with resources, as kafka-acls.sh', () => {
    const b = bindingsToAdd({ allowPrincipal: ['User:a', 'User:b'], allowHost: ['10.0.0.1'], denyPrincipal: ['User:c'], operation: ['read', 'Describe'], topic: ['t'] });
    expect(b.map((x) => `${x.entry.permissionType} ${x.entry.principal}@${x.entry.host} ${x.entry.operation}`)).toEqual([
      'Allow User:a@10.0.0.1 Read',
      'Allow User:a@10.0.0.1 Describe',
      'Allow User:b@10.0.0.1 Read',
      'Allow User:b@10.0.0.1 Describe',
      'Deny User:c@* Read',
      'Deny User:c@* Describe',
    ]);
    expect(bindingsToAdd({ allowPrincipal: ['User:a'], cluster: true })[0]!.entry.operation).toBe('All');
  });

  it('--producer / --consumer conveniences', () => {
    const show = (o: Parameters<typeof bindingsToAdd>[0]): string[] => bindingsToAdd(o).map((x) => `${x.pattern.resourceType}:${x.pattern.name}:${x.entry.operation}`);
    expect(show({ allowPrincipal: ['User:p'], producer: true, idempotent: true, topic: ['t'], transactionalId: ['tx'] })).toEqual([
      'Topic:t:Write',
      'Topic:t:Describe',
      'Topic:t:Create',
      'TransactionalId:tx:Write',
      'TransactionalId:tx:Describe',
      'Cluster:kafka-cluster:IdempotentWrite',
    ]);
    expect(show({ allowPrincipal: ['User:c'], consumer: true, topic: ['t'], group: ['g'] })).toEqual(['Topic:t:Read', 'Topic:t:Describe', 'Group:g:Read']);
  });

  it.each<[string, Parameters<typeof bindingsToAdd>[0]]>([
    ['no principal', { topic: ['t'] }],
    ['no resource', { allowPrincipal: ['User:a'] }],
    ['an operation the resource type lacks', { allowPrincipal: ['User:a'], group: ['g'], operation: ['Write'] }],
    ['an unknown operation', { allowPrincipal: ['User:a'], topic: ['t'], operation: ['Everything'] }],
    ['match to add', { allowPrincipal: ['User:a'], topic: ['t'], resourcePatternType: 'match' }],
    ['--consumer without --group', { allowPrincipal: ['User:a'], topic: ['t'], consumer: true }],
    ['a principal without type', { allowPrincipal: ['alice'], topic: ['t'] }],
    ['a host without principal', { allowHost: ['1.2.3.4'], denyPrincipal: ['User:x'], topic: ['t'] }],
  ])('refuses %s', (_n, o) => expect(() => bindingsToAdd(o)).toThrow());

  it('remove without principals targets every ACL of the resource; list without resources everything', () => {
    expect(filtersToRemove({ topic: ['t'], resourcePatternType: 'prefixed' })).toEqual([{ resourceType: 'Topic', name: 't', patternType: 'PREFIXED' }]);
    expect(filtersToList({})).toEqual([{ patternType: 'ANY' }]);
    expect(filtersToList({ group: ['g'], principal: 'User:a' })).toEqual([{ resourceType: 'Group', name: 'g', patternType: 'LITERAL', principal: 'User:a' }]);
  });
});

it('adds, lists, removes (only with --force) ACLs with kafka-acls.sh output', async () => {
  const add = await cli(['acls', 'add', '--allow-principal', 'User:alice', '--operation', 'Read', '--operation', 'Describe', '--topic', 'orders']);
  expect(add.stderr).toBe('');
  expect(add.code).toBe(0);
  expect(add.stdout).toContain('Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)`: \n');
  expect(add.stdout).toContain('Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)`: \n');
  expect(add.stdout).toContain(' \t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW) \n');

  const consumer = await cli(['acls', 'add', '--allow-principal', 'User:carol', '--consumer', '--topic', 'pay-', '--group', 'billing', '--resource-pattern-type', 'prefixed']);
  expect(consumer.code).toBe(0);
  const deny = await cli(['acls', 'add', '--deny-principal', 'User:mallory', '--deny-host', '10.1.2.3', '--operation', 'All', '--cluster']);
  expect(deny.code).toBe(0);

  const list = await cli(['acls', 'list']);
  expect(list.code).toBe(0);
  expect(list.stdout).toContain('Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=pay-, patternType=PREFIXED)`: \n');
  expect(list.stdout).toContain(' \t(principal=User:carol, host=*, operation=DESCRIBE, permissionType=ALLOW) \n');
  expect(list.stdout).toContain('`ResourcePattern(resourceType=GROUP, name=billing, patternType=PREFIXED)`');
  expect(list.stdout).toContain(
    'Current ACLs for resource `ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, patternType=LITERAL)`: \n \t(principal=User:mallory, host=10.1.2.3, operation=ALL, permissionType=DENY) \n',
  );
  const match = await cli(['acls', 'list', '--topic', 'pay-eu', '--resource-pattern-type', 'match']);
  expect(match.stdout).toContain('name=pay-, patternType=PREFIXED');
  expect(match.stdout).not.toContain('name=orders');

  const dryRun = await cli(['acls', 'remove', '--topic', 'orders']);
  expect(dryRun.code).toBe(0);
  expect(dryRun.stdout).toContain('Would remove ACLs for resource `ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)`');
  expect(dryRun.stdout).toContain('run again with --force');
  expect((await cli(['acls', 'list', '--topic', 'orders'])).stdout).toContain('operation=READ');

  const removed = await cli(['acls', 'remove', '--allow-principal', 'User:alice', '--operation', 'Read', '--topic', 'orders', '--force']);
  expect(removed.code).toBe(0);
  expect(removed.stdout).toContain('Removed ACLs for resource `ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)`: \n \t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW) \n');
  const after = await cli(['acls', 'list', '--topic', 'orders']);
  expect(after.stdout).not.toContain('operation=READ');
  expect(after.stdout).toContain('operation=DESCRIBE');
});

it('usage errors exit 2 before calling anything; what the controller refuses exits 1', async () => {
  const usage = await cli(['acls', 'add', '--allow-principal', 'User:a', '--group', 'g', '--operation', 'Write']);
  expect(usage.code).toBe(2);
  expect(usage.stderr).toMatch(/^tributary: operation Write does not apply to Group/);
  const refused = await cli(['acls', 'add', '--allow-principal', 'User:a', '--topic', '', '--operation', 'Read']);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/resource name must not be empty/);
});
