import { ErrorCode, TributaryError } from '@tributary/records';
import {
  ScramClientExchange,
  ScramServerExchange,
  clientKey,
  formatScramCredential,
  parseScramCredential,
  saltedPassword,
  scramCredential,
  serverKey,
  storedKey,
  type ScramCredential,
  type ScramMechanism,
} from './scram';

/** RFC 7677 §3 (SCRAM-SHA-256) and RFC 5802 §5 (SCRAM-SHA-1) examples. */
const VECTORS = [
  {
    name: 'RFC 7677 SCRAM-SHA-256',
    hash: 'sha256' as const,
    clientNonce: 'rOprNGfwEbeRWgbNEkqO',
    serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
    clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
    serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
  },
  {
    name: 'RFC 5802 SCRAM-SHA-1',
    hash: 'sha1' as const,
    clientNonce: 'fyko+d2lbbFgONRv9qkxdawL',
    serverNonce: '3rfcNHYJY1ZVvWVs7j',
    salt: 'QSXCR+Q6sek8bf92',
    clientFirst: 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL',
    serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
    clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
    serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
  },
];

function lookupOf(users: Record<string, ScramCredential>) {
  return async (name: string): Promise<ScramCredential | undefined> => users[name];
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<TributaryError> {
  let error: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(TributaryError);
  expect((error as TributaryError).code).toBe(code);
  return error as TributaryError;
}

describe('SCRAM test vectors', () => {
  for (const v of VECTORS) {
    it(`client side reproduces ${v.name}`, () => {
      const client = new ScramClientExchange(v.hash, 'user', 'pencil', { clientNonce: v.clientNonce });
      expect(client.first()).toBe(v.clientFirst);
      expect(client.final(v.serverFirst)).toBe(v.clientFinal);
      expect(() => client.verifyServerFinal(v.serverFinal)).not.toThrow();
    });
  }

  it('server side reproduces RFC 7677 SCRAM-SHA-256 from the stored credential only', async () => {
    const v = VECTORS[0] as (typeof VECTORS)[number];
    const credential = scramCredential('SCRAM-SHA-256', 'pencil', { salt: Buffer.from(v.salt, 'base64'), iterations: 4096 });
    const server = new ScramServerExchange('SCRAM-SHA-256', lookupOf({ user: credential }), { serverNonce: v.serverNonce });
    expect(await server.clientFirst(v.clientFirst)).toBe(v.serverFirst);
    expect(server.clientFinal(v.clientFinal)).toEqual({ serverFinal: v.serverFinal, username: 'user' });
    expect(server.authenticatedUser).toBe('user');
  });

  it('derives StoredKey and ServerKey as RFC 5802 defines them', () => {
    const salt = Buffer.from('QSXCR+Q6sek8bf92', 'base64');
    const salted = saltedPassword('sha1', 'pencil', salt, 4096);
    const c = scramCredential('sha1', 'pencil', { salt, iterations: 4096 });
    expect(c.storedKey.equals(storedKey('sha1', clientKey('sha1', salted)))).toBe(true);
    expect(c.serverKey.equals(serverKey('sha1', salted))).toBe(true);
  });
});

describe('SCRAM credentials', () => {
  it('round-trips the Kafka text form, which never contains the password', () => {
    const password = 'correct horse battery staple';
    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
      const c = scramCredential(mechanism, password, { iterations: 8192 });
      const text = formatScramCredential(c);
      expect(text).toMatch(/^salt=[A-Za-z0-9+/=]+,stored_key=[A-Za-z0-9+/=]+,server_key=[A-Za-z0-9+/=]+,iterations=8192$/);
      expect(text).not.toContain(password);
      expect(text).not.toContain(Buffer.from(password).toString('base64'));
      expect(text).not.toContain(Buffer.from(password).toString('hex'));
      expect(parseScramCredential(text)).toEqual(c);
    }
  });

  it('gives two credentials for one password different salts', () => {
    const a = scramCredential('SCRAM-SHA-256', 'pw');
    const b = scramCredential('SCRAM-SHA-256', 'pw');
    expect(a.salt.equals(b.salt)).toBe(false);
    expect(a.storedKey.equals(b.storedKey)).toBe(false);
  });

  it('refuses fewer than 4096 iterations', async () => {
    await expectCode(() => scramCredential('SCRAM-SHA-256', 'pw', { iterations: 4095 }), ErrorCode.INVALID_REQUEST);
    expect(() => parseScramCredential('salt=AA==,stored_key=AA==,server_key=AA==,iterations=10')).toThrow(/iterations/);
    expect(() => parseScramCredential('salt=AA==,iterations=4096')).toThrow(/stored_key/);
  });
});

describe('SCRAM exchange', () => {
  const mechanisms: ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];
  const users = {
    alice: scramCredential('SCRAM-SHA-512', 'alice-secret'),
    'we,ird=name': scramCredential('SCRAM-SHA-512', 'pw2'),
  };
  const users256 = { alice: scramCredential('SCRAM-SHA-256', 'alice-secret') };

  async function run(mechanism: ScramMechanism, user: string, password: string, store: Record<string, ScramCredential>) {
    const client = new ScramClientExchange(mechanism, user, password);
    const server = new ScramServerExchange(mechanism, lookupOf(store));
    const serverFirst = await server.clientFirst(client.first());
    const clientFinal = client.final(serverFirst);
    const { serverFinal, username } = server.clientFinal(clientFinal);
    client.verifyServerFinal(serverFinal);
    return { username, server, client, clientFinal };
  }

  for (const mechanism of mechanisms) {
    it(`authenticates the right password with ${mechanism}`, async () => {
      const store = mechanism === 'SCRAM-SHA-512' ? users : users256;
      expect((await run(mechanism, 'alice', 'alice-secret', store)).username).toBe('alice');
    });
  }

  it('escapes , and = in user names', async () => {
    expect((await run('SCRAM-SHA-512', 'we,ird=name', 'pw2', users)).username).toBe('we,ird=name');
  });

  it('refuses a wrong password with SASL_AUTHENTICATION_FAILED and a message without secrets', async () => {
    const e = await expectCode(run('SCRAM-SHA-512', 'alice', 'wrong-password', users), ErrorCode.SASL_AUTHENTICATION_FAILED);
    expect(e.message).not.toContain('wrong-password');
    expect(e.message).not.toContain('alice-secret');
  });

  it('refuses an unknown user only at the proof, like a wrong password', async () => {
    const client = new ScramClientExchange('SCRAM-SHA-512', 'mallory', 'x');
    const server = new ScramServerExchange('SCRAM-SHA-512', lookupOf(users));
    const serverFirst = await server.clientFirst(client.first());
    expect(serverFirst).toMatch(/^r=[^,]+,s=[^,]+,i=4096$/);
    await expectCode(() => server.clientFinal(client.final(serverFirst)), ErrorCode.SASL_AUTHENTICATION_FAILED);
  });

  it('refuses a credential stored for the other mechanism', async () => {
    // `users` holds SHA-512 credentials: a SHA-256 exchange against one must fail.
    await expectCode(run('SCRAM-SHA-256', 'alice', 'alice-secret', users), ErrorCode.SASL_AUTHENTICATION_FAILED);
  });

  it('refuses a client-final whose nonce is not the combined nonce', async () => {
    const client = new ScramClientExchange('SCRAM-SHA-512', 'alice', 'alice-secret');
    const server = new ScramServerExchange('SCRAM-SHA-512', lookupOf(users));
    const serverFirst = await server.clientFirst(client.first());
    const clientFinal = client.final(serverFirst);
    const tampered = clientFinal.replace(/r=([^,]+)/, (_m, n: string) => `r=${n}x`);
    await expectCode(() => server.clientFinal(tampered), ErrorCode.SASL_AUTHENTICATION_FAILED);
    // The failed exchange is over: a retry with the right message is out of state.
    await expectCode(() => server.clientFinal(clientFinal), ErrorCode.ILLEGAL_SASL_STATE);
  });

  it('refuses a replayed client-final on a new exchange (the server nonce differs)', async () => {
    const { clientFinal } = await run('SCRAM-SHA-512', 'alice', 'alice-secret', users);
    const server = new ScramServerExchange('SCRAM-SHA-512', lookupOf(users));
    const attacker = new ScramClientExchange('SCRAM-SHA-512', 'alice', 'unknown');
    await server.clientFirst(attacker.first());
    await expectCode(() => server.clientFinal(clientFinal), ErrorCode.SASL_AUTHENTICATION_FAILED);
  });

  it('refuses a second client-final on a completed exchange', async () => {
    const { server, clientFinal } = await run('SCRAM-SHA-512', 'alice', 'alice-secret', users);
    await expectCode(() => server.clientFinal(clientFinal), ErrorCode.ILLEGAL_SASL_STATE);
  });

  it('refuses channel binding, authzid, extensions and malformed messages', async () => {
    for (const first of ['y,,n=alice,r=abc', 'p=tls-unique,,n=alice,r=abc', 'n,a=bob,n=alice,r=abc', 'n,,m=ext,n=alice,r=abc', 'n,,n=alice', 'n,,garbage', 'n,,n=al=ice,r=abc']) {
      const server = new ScramServerExchange('SCRAM-SHA-512', lookupOf(users));
      await expectCode(server.clientFirst(first), ErrorCode.SASL_AUTHENTICATION_FAILED);
    }
    const server = new ScramServerExchange('SCRAM-SHA-512', lookupOf(users));
    const client = new ScramClientExchange('SCRAM-SHA-512', 'alice', 'alice-secret');
    const serverFirst = await server.clientFirst(client.first());
    const final = client.final(serverFirst).replace('c=biws', 'c=eSws');
    await expectCode(() => server.clientFinal(final), ErrorCode.SASL_AUTHENTICATION_FAILED);
  });

  it('refuses out-of-order messages and unknown mechanisms', async () => {
    const server = new ScramServerExchange('SCRAM-SHA-512', lookupOf(users));
    await expectCode(() => server.clientFinal('c=biws,r=x,p=AA=='), ErrorCode.ILLEGAL_SASL_STATE);
    await expectCode(() => new ScramServerExchange('PLAIN' as ScramMechanism, lookupOf(users)), ErrorCode.UNSUPPORTED_SASL_MECHANISM);
  });

  it('client refuses a server nonce that does not extend its own, too few iterations, a wrong server signature', async () => {
    const c1 = new ScramClientExchange('SCRAM-SHA-256', 'user', 'pencil', { clientNonce: 'abc' });
    c1.first();
    await expectCode(() => c1.final('r=zzz123,s=QSXCR+Q6sek8bf92,i=4096'), ErrorCode.SASL_AUTHENTICATION_FAILED);
    const c2 = new ScramClientExchange('SCRAM-SHA-256', 'user', 'pencil', { clientNonce: 'abc' });
    c2.first();
    await expectCode(() => c2.final('r=abc123,s=QSXCR+Q6sek8bf92,i=1000'), ErrorCode.SASL_AUTHENTICATION_FAILED);
    const c3 = new ScramClientExchange('SCRAM-SHA-256', 'user', 'pencil', { clientNonce: 'abc' });
    c3.first();
    c3.final('r=abc123,s=QSXCR+Q6sek8bf92,i=4096');
    await expectCode(() => c3.verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), ErrorCode.SASL_AUTHENTICATION_FAILED);
  });
});
