import { createLogger } from '../logger';
import { applyBootstrapCredentials, formatBootstrapCredential, parseBootstrapCredentials } from './bootstrap';
import { MemorySecurityStore } from './memory-store';
import { scramCredential } from './scram';
import { getScramCredential } from './store';

const logger = createLogger({ service: 'bootstrap-spec', nodeId: 0, level: 'silent' });

test('a hashed line round-trips; comments and blank lines are skipped', () => {
  const credential = scramCredential('SCRAM-SHA-256', 'pw', { iterations: 4096 });
  const line = formatBootstrapCredential({ user: 'broker', mechanism: 'SCRAM-SHA-256', credential });
  const [entry, ...rest] = parseBootstrapCredentials(`# users\n\n${line}\n`);
  expect(rest).toEqual([]);
  expect(entry).toEqual({ user: 'broker', mechanism: 'SCRAM-SHA-256', credential });
});

test.each([
  ['broker SCRAM-SHA-256', /line 1: expected/],
  ['broker PLAIN salt=a,stored_key=b,server_key=c,iterations=4096', /unknown mechanism 'PLAIN'/],
  ['broker SCRAM-SHA-256 password=hunter2', /line 1: malformed SCRAM credential.*tributary users hash/],
  ['broker SCRAM-SHA-256 salt=a,stored_key=b,server_key=c,iterations=100', /iterations must be an integer/],
])('a malformed line is refused with its number: %s', (text, message) => {
  expect(() => parseBootstrapCredentials(text)).toThrow(message);
});

test('applied only where the user has no credential of that mechanism', async () => {
  const store = new MemorySecurityStore();
  const first = scramCredential('SCRAM-SHA-512', 'one');
  const second = scramCredential('SCRAM-SHA-512', 'two');
  expect(await applyBootstrapCredentials(store, [{ user: 'admin', mechanism: 'SCRAM-SHA-512', credential: first }], logger)).toHaveLength(1);
  expect(await applyBootstrapCredentials(store, [{ user: 'admin', mechanism: 'SCRAM-SHA-512', credential: second }], logger)).toHaveLength(0);
  expect(await getScramCredential(store, 'admin', 'SCRAM-SHA-512')).toEqual(first);
});
