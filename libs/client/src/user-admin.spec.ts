/**
 * The SDK side of KIP-554 in process (no network): an upsertion carries salt, iterations and
 * SaltedPassword — from which the stored keys match those of the password — and never the
 * password; an unknown mechanism is refused before anything is sent.
 */
import { ErrorCode, TributaryError } from '@tributary/records';
import { clientKey, saltedPassword, scramCredential, storedKey } from '@tributary/runtime';
import { saltedUpsertion } from './user-admin';

const PASSWORD = 'pässword-Ω-7';

it('sends SaltedPassword = Hi(password, salt, i), a fresh 32-byte salt, and no password', () => {
  const a = saltedUpsertion({ type: 'upsertion', user: 'alice', mechanism: 'SCRAM-SHA-512', iterations: 8192, password: PASSWORD });
  expect(a).toMatchObject({ name: 'alice', mechanism: 'SCRAM-SHA-512', iterations: 8192 });
  expect(a.salt).toHaveLength(32);
  expect(Buffer.from(a.saltedPassword)).toEqual(saltedPassword('sha512', PASSWORD, Buffer.from(a.salt), 8192));
  expect(JSON.stringify(a)).not.toContain(PASSWORD);
  expect(Object.keys(a).sort()).toEqual(['iterations', 'mechanism', 'name', 'salt', 'saltedPassword']);
  const b = saltedUpsertion({ type: 'upsertion', user: 'alice', mechanism: 'SCRAM-SHA-512', iterations: 8192, password: PASSWORD });
  expect(Buffer.from(b.salt).equals(Buffer.from(a.salt))).toBe(false);
});

it('defaults to 4096 iterations and honours a given salt (same credential as from the password)', () => {
  const salt = Buffer.alloc(32, 7);
  const u = saltedUpsertion({ type: 'upsertion', user: 'bob', mechanism: 'SCRAM-SHA-256', password: PASSWORD, salt });
  expect(u.iterations).toBe(4096);
  expect(Buffer.from(u.saltedPassword)).toHaveLength(32);
  expect(Buffer.from(u.saltedPassword)).toEqual(saltedPassword('sha256', PASSWORD, salt, 4096));
  expect(storedKey('sha256', clientKey('sha256', Buffer.from(u.saltedPassword)))).toEqual(scramCredential('SCRAM-SHA-256', PASSWORD, { salt }).storedKey);
});

it('refuses an unknown mechanism with UNSUPPORTED_SASL_MECHANISM', () => {
  const e = (() => {
    try {
      saltedUpsertion({ type: 'upsertion', user: 'x', mechanism: 'PLAIN' as 'SCRAM-SHA-256', password: PASSWORD });
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  expect(e).toBeInstanceOf(TributaryError);
  expect((e as TributaryError).code).toBe(ErrorCode.UNSUPPORTED_SASL_MECHANISM);
});

it('passes out-of-range iterations on for the controller to refuse (UNACCEPTABLE_CREDENTIAL), with no salted password computed', () => {
  const u = saltedUpsertion({ type: 'upsertion', user: 'x', mechanism: 'SCRAM-SHA-256', iterations: 1_000_000, password: PASSWORD });
  expect(u.iterations).toBe(1_000_000);
  expect(u.saltedPassword).toHaveLength(0);
});
