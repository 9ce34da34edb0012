/**
 * The UserAdminService as real processes over real gRPC: the coordination service (embedded
 * backend) and two controllers. The active one creates (from a client-computed salted
 * password), describes and deletes SCRAM credentials, answering Kafka's per-user codes
 * (UNSUPPORTED_SASL_MECHANISM, UNACCEPTABLE_CREDENTIAL, DUPLICATE_RESOURCE,
 * RESOURCE_NOT_FOUND); what is written is Kafka's /config/users/<user> node, whose keys
 * match the password; the standby answers NOT_CONTROLLER.
 */
import { randomBytes } from 'node:crypto';
import type { CoordinationClient } from '@tributary/coordination-client';
import type { ScramCredentialUpsertion } from '@tributary/proto';
import { UserAdminServiceClient } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import { createClient, scramCredential, formatScramCredential, saltedPassword, unary } from '@tributary/runtime';
import { startControllerPair } from './it/processes';
import type { ControllerPair } from './it/processes';

jest.setTimeout(40_000);

let store: CoordinationClient;
let pair: ControllerPair<UserAdminServiceClient>;
let active: UserAdminServiceClient;
let standby: UserAdminServiceClient;

function upsertion(name: string, password: string, over: Partial<ScramCredentialUpsertion> = {}): ScramCredentialUpsertion {
  const mechanism = over.mechanism ?? 'SCRAM-SHA-256';
  const iterations = over.iterations ?? 4096;
  const salt = over.salt ?? randomBytes(32);
  const hash = mechanism === 'SCRAM-SHA-512' ? 'sha512' : 'sha256';
  return { name, mechanism, iterations, salt, saltedPassword: saltedPassword(hash, password, salt, Math.max(1, Math.min(iterations, 16384))), ...over };
}

beforeAll(async () => {
  pair = await startControllerPair('users', [211, 212], (address) => createClient(UserAdminServiceClient, address), (c) => unary(c, 'describeUserScramCredentials', { users: [] }));
  ({ store, active, standby } = pair);
});

afterAll(async () => {
  await pair?.stop();
});

it('creates credentials from salted passwords: Kafka node at /config/users/<user>, keys derived as from the password', async () => {
  const salt = randomBytes(32);
  const { results } = await unary(active, 'alterUserScramCredentials', {
    deletions: [],
    upsertions: [upsertion('alice', 'alice-secret', { salt, iterations: 8192 }), upsertion('alice', 'alice-secret', { mechanism: 'SCRAM-SHA-512' }), upsertion('bob@example.com', 'bob-secret')],
  });
  expect(results.map((r) => `${r.user}:${ErrorCode[r.errorCode]}`)).toEqual(['alice:NONE', 'bob@example.com:NONE']);
  const node = JSON.parse((await store.get('/config/users/alice')).data.toString()) as { version: number; config: Record<string, string> };
  expect(node.version).toBe(1);
  expect(Object.keys(node.config).sort()).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-512']);
  // The same password, salt and iterations computed locally give exactly the stored text.
  expect(node.config['SCRAM-SHA-256']).toBe(formatScramCredential(scramCredential('SCRAM-SHA-256', 'alice-secret', { salt, iterations: 8192 })));
  expect(node.config['SCRAM-SHA-256']).toMatch(/^salt=[A-Za-z0-9+/=]+,stored_key=[A-Za-z0-9+/=]+,server_key=[A-Za-z0-9+/=]+,iterations=8192$/);
  expect(JSON.stringify(node)).not.toContain('alice-secret');
  // Kafka's Sanitizer: '@' is URL-encoded in the node name.
  expect(await store.tryGet('/config/users/bob%40example.com')).toBeDefined();
});

it('describes users: mechanisms and iterations only; RESOURCE_NOT_FOUND and DUPLICATE_RESOURCE per user', async () => {
  const all = await unary(active, 'describeUserScramCredentials', { users: [] });
  expect(all.errorCode).toBe(ErrorCode.NONE);
  expect(all.results).toEqual([
    {
      user: 'alice',
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      credentialInfos: [
        { mechanism: 'SCRAM-SHA-256', iterations: 8192 },
        { mechanism: 'SCRAM-SHA-512', iterations: 4096 },
      ],
    },
    { user: 'bob@example.com', errorCode: ErrorCode.NONE, errorMessage: '', credentialInfos: [{ mechanism: 'SCRAM-SHA-256', iterations: 4096 }] },
  ]);
  const some = await unary(active, 'describeUserScramCredentials', { users: ['nobody', 'bob@example.com', 'alice', 'alice'] });
  expect(some.results.map((r) => `${r.user}:${ErrorCode[r.errorCode]}`)).toEqual(['nobody:RESOURCE_NOT_FOUND', 'bob@example.com:NONE', 'alice:DUPLICATE_RESOURCE']);
  expect(some.results[0]!.errorMessage).toMatch(/tributary users create nobody/);
});

it('refuses bad alterations per user with Kafka codes and changes nothing of those users', async () => {
  const before = (await store.get('/config/users/alice')).data.toString();
  const { results } = await unary(active, 'alterUserScramCredentials', {
    deletions: [
      { name: 'alice', mechanism: 'SCRAM-SHA-512' },
      { name: 'ghost', mechanism: 'SCRAM-SHA-256' },
    ],
    upsertions: [
      upsertion('alice', 'new', { mechanism: 'SCRAM-SHA-512' }),
      upsertion('carol', 'c', { mechanism: 'SCRAM-SHA-1' }),
      upsertion('dave', 'd', { iterations: 4095 }),
      upsertion('erin', 'e', { iterations: 16385 }),
      upsertion('', 'x'),
      upsertion('frank', 'f', { saltedPassword: Buffer.alloc(5) }),
      upsertion('gina', 'g', { salt: Buffer.alloc(0) }),
    ],
  });
  expect(results.map((r) => `${r.user}:${ErrorCode[r.errorCode]}`)).toEqual([
    'alice:DUPLICATE_RESOURCE',
    'ghost:RESOURCE_NOT_FOUND',
    'carol:UNSUPPORTED_SASL_MECHANISM',
    'dave:UNACCEPTABLE_CREDENTIAL',
    'erin:UNACCEPTABLE_CREDENTIAL',
    ':UNACCEPTABLE_CREDENTIAL',
    'frank:UNACCEPTABLE_CREDENTIAL',
    'gina:UNACCEPTABLE_CREDENTIAL',
  ]);
  expect(results[3]!.errorMessage).toMatch(/4096 to 16384/);
  expect((await store.get('/config/users/alice')).data.toString()).toBe(before);
  for (const u of ['ghost', 'carol', 'dave', 'erin', 'frank', 'gina']) expect(await store.tryGet(`/config/users/${u}`)).toBeUndefined();
});

it('deletes credentials by mechanism; the node goes with the last one', async () => {
  const first = await unary(active, 'alterUserScramCredentials', { deletions: [{ name: 'alice', mechanism: 'SCRAM-SHA-512' }], upsertions: [] });
  expect(first.results).toEqual([{ user: 'alice', errorCode: ErrorCode.NONE, errorMessage: '' }]);
  expect(Object.keys((JSON.parse((await store.get('/config/users/alice')).data.toString()) as { config: object }).config)).toEqual(['SCRAM-SHA-256']);
  const second = await unary(active, 'alterUserScramCredentials', { deletions: [{ name: 'alice', mechanism: 'SCRAM-SHA-256' }], upsertions: [] });
  expect(second.results[0]!.errorCode).toBe(ErrorCode.NONE);
  expect(await store.tryGet('/config/users/alice')).toBeUndefined();
  const again = await unary(active, 'alterUserScramCredentials', { deletions: [{ name: 'alice', mechanism: 'SCRAM-SHA-256' }], upsertions: [] });
  expect(again.results[0]!.errorCode).toBe(ErrorCode.RESOURCE_NOT_FOUND);
  expect((await unary(active, 'describeUserScramCredentials', { users: [] })).results.map((r) => r.user)).toEqual(['bob@example.com']);
});

it('the standby answers NOT_CONTROLLER', async () => {
  for (const call of [
    unary(standby, 'describeUserScramCredentials', { users: [] }),
    unary(standby, 'alterUserScramCredentials', { deletions: [], upsertions: [upsertion('zed', 'z')] }),
  ]) {
    const error = await call.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TributaryError);
    expect((error as TributaryError).code).toBe(ErrorCode.NOT_CONTROLLER);
  }
  expect(await store.tryGet('/config/users/zed')).toBeUndefined();
});
