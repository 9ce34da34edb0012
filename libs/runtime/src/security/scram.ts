/**
 * SCRAM (RFC 5802) with SHA-256 and SHA-512 (RFC 7677), as Kafka's SCRAM-SHA-256 /
 * SCRAM-SHA-512 SASL mechanisms do it:
 * - {@link scramCredential}: the salted credential a server stores (salt, iterations,
 *   StoredKey, ServerKey) — never the password — and its Kafka text form
 *   `salt=<b64>,stored_key=<b64>,server_key=<b64>,iterations=<n>`;
 * - {@link ScramServerExchange}: client-first → server-first → client-final → server-final,
 *   with the nonce checks, channel binding `n,,` only (no channel binding, as Kafka), and a
 *   constant-time proof check;
 * - {@link ScramClientExchange}: the client side, which also verifies the server's signature.
 *
 * Failures are `TributaryError`s: SASL_AUTHENTICATION_FAILED (bad credentials, bad nonce,
 * malformed messages), ILLEGAL_SASL_STATE (a message out of order), UNSUPPORTED_SASL_MECHANISM.
 * Their messages never contain a password, a proof or a key.
 *
 * The primitives take any of SHA-1/256/512 so RFC 5802's SHA-1 example checks the
 * arithmetic; only the SHA-256/512 mechanisms are offered.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode, TributaryError } from '@tributary/records';

/** The SASL mechanisms offered (Kafka's names). */
export const SCRAM_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
/** A SCRAM SASL mechanism name. */
export type ScramMechanism = (typeof SCRAM_MECHANISMS)[number];
/** Hash functions the primitives support (SHA-1 only for RFC 5802's example). */
export type ScramHash = 'sha1' | 'sha256' | 'sha512';

/** Fewest PBKDF2 iterations accepted (Kafka's and RFC 7677's minimum). */
export const SCRAM_MIN_ITERATIONS = 4096;
/** Most PBKDF2 iterations accepted (Kafka's maximum): bounds the work one login costs. */
export const SCRAM_MAX_ITERATIONS = 16384;
/** Iterations used when creating a credential without a count (Kafka's default). */
export const SCRAM_DEFAULT_ITERATIONS = 4096;

/** The hash behind a mechanism. */
export function scramHash(mechanism: ScramMechanism): ScramHash {
  return mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
}

/** Whether `name` is an offered mechanism. */
export function isScramMechanism(name: string): name is ScramMechanism {
  return (SCRAM_MECHANISMS as readonly string[]).includes(name);
}

/** What a server stores for one user and mechanism. */
export interface ScramCredential {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

// ---------------------------------------------------------------------------------------------
// Primitives (RFC 5802 §3)

function hmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(hash, key).update(data).digest();
}

function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(hash).update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}

function hashLength(hash: ScramHash): number {
  return hash === 'sha1' ? 20 : hash === 'sha256' ? 32 : 64;
}

/**
 * SaltedPassword = Hi(Normalize(password), salt, i) (PBKDF2 with HMAC-H). Normalize is
 * SASLprep; like Kafka's client we apply Unicode NFKC, which is what SASLprep's mapping does
 * for the passwords people type.
 */
export function saltedPassword(hash: ScramHash, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, hashLength(hash), hash);
}

/** ClientKey = HMAC(SaltedPassword, "Client Key"). */
export function clientKey(hash: ScramHash, salted: Buffer): Buffer {
  return hmac(hash, salted, 'Client Key');
}

/** ServerKey = HMAC(SaltedPassword, "Server Key"). */
export function serverKey(hash: ScramHash, salted: Buffer): Buffer {
  return hmac(hash, salted, 'Server Key');
}

/** StoredKey = H(ClientKey). */
export function storedKey(hash: ScramHash, client: Buffer): Buffer {
  return digest(hash, client);
}

/** ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage). */
export function clientProof(hash: ScramHash, client: Buffer, authMessage: string): Buffer {
  return xor(client, hmac(hash, storedKey(hash, client), authMessage));
}

/** ServerSignature = HMAC(ServerKey, AuthMessage). */
export function serverSignature(hash: ScramHash, server: Buffer, authMessage: string): Buffer {
  return hmac(hash, server, authMessage);
}

/**
 * Whether `proof` proves knowledge of the password behind `stored`: recovers ClientKey =
 * ClientProof XOR HMAC(StoredKey, AuthMessage) and compares H(ClientKey) with StoredKey in
 * constant time.
 */
export function verifyClientProof(hash: ScramHash, stored: Buffer, authMessage: string, proof: Buffer): boolean {
  if (proof.length !== hashLength(hash) || stored.length !== hashLength(hash)) return false;
  const recovered = xor(proof, hmac(hash, stored, authMessage));
  return timingSafeEqual(digest(hash, recovered), stored);
}

/** A new salted credential for `password` (random 32-byte salt unless given). */
export function scramCredential(
  mechanism: ScramMechanism | ScramHash,
  password: string,
  options: { salt?: Buffer; iterations?: number } = {},
): ScramCredential {
  const hash = mechanism.startsWith('SCRAM-') ? scramHash(mechanism as ScramMechanism) : (mechanism as ScramHash);
  const iterations = options.iterations ?? SCRAM_DEFAULT_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS) {
    throw new TributaryError(
      ErrorCode.INVALID_REQUEST,
      `SCRAM iterations must be an integer from ${SCRAM_MIN_ITERATIONS} to ${SCRAM_MAX_ITERATIONS}, got ${iterations}`,
    );
  }
  const salt = options.salt ?? randomBytes(32);
  const salted = saltedPassword(hash, password, salt, iterations);
  return { salt, iterations, storedKey: storedKey(hash, clientKey(hash, salted)), serverKey: serverKey(hash, salted) };
}

/** Kafka's text form: `salt=<b64>,stored_key=<b64>,server_key=<b64>,iterations=<n>`. */
export function formatScramCredential(c: ScramCredential): string {
  return `salt=${c.salt.toString('base64')},stored_key=${c.storedKey.toString('base64')},server_key=${c.serverKey.toString('base64')},iterations=${c.iterations}`;
}

/** Parses {@link formatScramCredential}'s form; throws on anything else. */
export function parseScramCredential(text: string): ScramCredential {
  const fields = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error('malformed SCRAM credential: expected key=value pairs');
    fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const need = (k: string): string => {
    const v = fields.get(k);
    if (v === undefined || v === '') throw new Error(`malformed SCRAM credential: no ${k}`);
    return v;
  };
  const iterations = Number(need('iterations'));
  if (!Number.isInteger(iterations) || iterations < SCRAM_MIN_ITERATIONS) {
    throw new Error(`malformed SCRAM credential: iterations must be an integer ≥ ${SCRAM_MIN_ITERATIONS}`);
  }
  return {
    salt: Buffer.from(need('salt'), 'base64'),
    storedKey: Buffer.from(need('stored_key'), 'base64'),
    serverKey: Buffer.from(need('server_key'), 'base64'),
    iterations,
  };
}

// ---------------------------------------------------------------------------------------------
// Message syntax (RFC 5802 §7)

/** saslname: `=` → `=3D`, `,` → `=2C`. */
export function encodeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function decodeSaslName(name: string): string {
  if (/=(?!3D|2C)/.test(name)) throw authFailed('malformed user name in client-first message');
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** `a=1,b=2` → Map; attribute names are one letter. */
function parseAttributes(message: string, what: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const name = part[0];
    if (name === undefined || part[1] !== '=' || !/^[a-zA-Z]$/.test(name)) throw authFailed(`malformed SCRAM ${what} message`);
    if (!out.has(name)) out.set(name, part.slice(2));
  }
  return out;
}

/** Printable ASCII except ',' (RFC 5802 `printable`). */
const NONCE_RE = /^[\x21-\x2b\x2d-\x7e]+$/;

function newNonce(): string {
  // base64url of 24 random bytes: printable, no ','.
  return randomBytes(24).toString('base64url');
}

function authFailed(message: string): TributaryError {
  return new TributaryError(ErrorCode.SASL_AUTHENTICATION_FAILED, `Authentication failed: ${message}`);
}

function illegalState(message: string): TributaryError {
  return new TributaryError(ErrorCode.ILLEGAL_SASL_STATE, message);
}

/** The GS2 header this implementation accepts: no channel binding, no authzid (as Kafka). */
const GS2_HEADER = 'n,,';
/** `c=` of the client-final message: base64 of {@link GS2_HEADER}. */
const CHANNEL_BINDING = Buffer.from(GS2_HEADER).toString('base64');

// ---------------------------------------------------------------------------------------------
// Server side

/** Looks a user's credential up; undefined when the user has none for the mechanism. */
export type ScramCredentialLookup = (username: string, mechanism: ScramMechanism) => Promise<ScramCredential | undefined>;

/** Options of {@link ScramServerExchange}. */
export interface ScramServerOptions {
  /** Server nonce part (tests only; default random). */
  serverNonce?: string;
  /**
   * Secret mixed into the fake salt given for unknown users, so an unknown user looks like a
   * known one until the proof fails (no user enumeration). Default: random per process.
   */
  fakeSaltSecret?: Buffer;
}

const PROCESS_FAKE_SALT_SECRET = randomBytes(32);

/**
 * One server-side SCRAM exchange. States: `initial` → (clientFirst) `awaitingFinal` →
 * (clientFinal) `complete`; any failure → `failed`, after which every call is ILLEGAL_SASL_STATE.
 */
export class ScramServerExchange {
  private state: 'initial' | 'awaitingFinal' | 'complete' | 'failed' = 'initial';
  private username = '';
  private credential: ScramCredential | undefined;
  private fakeCredential = false;
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private readonly hash: ScramHash;

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly lookup: ScramCredentialLookup,
    private readonly options: ScramServerOptions = {},
  ) {
    if (!isScramMechanism(mechanism)) {
      throw new TributaryError(ErrorCode.UNSUPPORTED_SASL_MECHANISM, `unsupported SASL mechanism ${String(mechanism)}: use ${SCRAM_MECHANISMS.join(' or ')}`);
    }
    this.hash = scramHash(mechanism);
  }

  /** The authenticated user name once `complete`. */
  get authenticatedUser(): string | undefined {
    return this.state === 'complete' ? this.username : undefined;
  }

  /** Handles the client-first message; returns the server-first message. */
  async clientFirst(message: string): Promise<string> {
    if (this.state !== 'initial') throw this.fail(illegalState(`client-first message in state ${this.state}`));
    try {
      if (!message.startsWith(GS2_HEADER)) {
        throw authFailed("only the GS2 header 'n,,' is supported (no channel binding, no authorization id)");
      }
      this.clientFirstBare = message.slice(GS2_HEADER.length);
      const attrs = parseAttributes(this.clientFirstBare, 'client-first');
      if (attrs.has('m')) throw authFailed('mandatory SCRAM extensions are not supported');
      const rawName = attrs.get('n');
      const clientNonce = attrs.get('r');
      if (!rawName || !clientNonce) throw authFailed('client-first message needs n= and r=');
      if (!NONCE_RE.test(clientNonce)) throw authFailed('malformed client nonce');
      this.username = decodeSaslName(rawName);
      this.credential = await this.lookup(this.username, this.mechanism);
      if (this.credential === undefined) {
        // Carry on with a fake salt so an unknown user fails only at the proof, as a wrong
        // password does.
        this.fakeCredential = true;
        const salt = hmac('sha256', this.options.fakeSaltSecret ?? PROCESS_FAKE_SALT_SECRET, `${this.mechanism}:${this.username}`);
        this.credential = { salt, iterations: SCRAM_DEFAULT_ITERATIONS, storedKey: Buffer.alloc(hashLength(this.hash)), serverKey: Buffer.alloc(hashLength(this.hash)) };
      }
      this.nonce = clientNonce + (this.options.serverNonce ?? newNonce());
      this.serverFirst = `r=${this.nonce},s=${this.credential.salt.toString('base64')},i=${this.credential.iterations}`;
      this.state = 'awaitingFinal';
      return this.serverFirst;
    } catch (e) {
      throw this.fail(e);
    }
  }

  /** Handles the client-final message; returns the server-final message and the user. */
  clientFinal(message: string): { serverFinal: string; username: string } {
    if (this.state !== 'awaitingFinal') throw this.fail(illegalState(`client-final message in state ${this.state}`));
    try {
      const proofAt = message.lastIndexOf(',p=');
      if (proofAt < 0) throw authFailed('client-final message has no proof');
      const withoutProof = message.slice(0, proofAt);
      const attrs = parseAttributes(withoutProof, 'client-final');
      if (attrs.get('c') !== CHANNEL_BINDING) throw authFailed('channel binding mismatch: expected biws (n,,)');
      if (attrs.get('r') !== this.nonce) throw authFailed('nonce mismatch');
      const proof = Buffer.from(message.slice(proofAt + 3), 'base64');
      const credential = this.credential as ScramCredential;
      const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
      const ok = verifyClientProof(this.hash, credential.storedKey, authMessage, proof);
      if (!ok || this.fakeCredential) {
        throw authFailed(`invalid credentials with SASL mechanism ${this.mechanism}`);
      }
      this.state = 'complete';
      const signature = serverSignature(this.hash, credential.serverKey, authMessage);
      return { serverFinal: `v=${signature.toString('base64')}`, username: this.username };
    } catch (e) {
      throw this.fail(e);
    }
  }

  private fail(e: unknown): unknown {
    this.state = 'failed';
    this.credential = undefined;
    return e;
  }
}

// ---------------------------------------------------------------------------------------------
// Client side

/**
 * One client-side SCRAM exchange: `first()` → server-first → `final(serverFirst)` →
 * server-final → `verifyServerFinal(serverFinal)`. Throws SASL_AUTHENTICATION_FAILED when the
 * server misbehaves (nonce not extending ours, too few iterations, wrong signature).
 */
export class ScramClientExchange {
  private state: 'initial' | 'sentFirst' | 'sentFinal' | 'complete' | 'failed' = 'initial';
  private readonly clientNonce: string;
  private readonly hash: ScramHash;
  private clientFirstBare = '';
  private expectedServerSignature: Buffer | undefined;

  constructor(
    readonly mechanism: ScramMechanism | ScramHash,
    private readonly username: string,
    private password: string,
    options: { clientNonce?: string } = {},
  ) {
    this.hash = mechanism.startsWith('SCRAM-') ? scramHash(mechanism as ScramMechanism) : (mechanism as ScramHash);
    this.clientNonce = options.clientNonce ?? newNonce();
  }

  /** The client-first message. */
  first(): string {
    if (this.state !== 'initial') throw illegalState(`client-first message in state ${this.state}`);
    this.clientFirstBare = `n=${encodeSaslName(this.username)},r=${this.clientNonce}`;
    this.state = 'sentFirst';
    return GS2_HEADER + this.clientFirstBare;
  }

  /** The client-final message answering `serverFirst`. */
  final(serverFirst: string): string {
    if (this.state !== 'sentFirst') throw illegalState(`server-first message in state ${this.state}`);
    try {
      const attrs = parseAttributes(serverFirst, 'server-first');
      if (attrs.has('e')) throw authFailed(`server error: ${attrs.get('e')}`);
      const nonce = attrs.get('r') ?? '';
      const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
      const iterations = Number(attrs.get('i'));
      if (!nonce.startsWith(this.clientNonce) || nonce.length <= this.clientNonce.length) throw authFailed('server nonce does not extend the client nonce');
      if (salt.length === 0) throw authFailed('server-first message has no salt');
      if (!Number.isInteger(iterations) || iterations < SCRAM_MIN_ITERATIONS) {
        throw authFailed(`server asks for ${attrs.get('i')} iterations, fewer than the minimum ${SCRAM_MIN_ITERATIONS}`);
      }
      const salted = saltedPassword(this.hash, this.password, salt, iterations);
      this.password = '';
      const withoutProof = `c=${CHANNEL_BINDING},r=${nonce}`;
      const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
      const proof = clientProof(this.hash, clientKey(this.hash, salted), authMessage);
      this.expectedServerSignature = serverSignature(this.hash, serverKey(this.hash, salted), authMessage);
      this.state = 'sentFinal';
      return `${withoutProof},p=${proof.toString('base64')}`;
    } catch (e) {
      this.state = 'failed';
      throw e;
    }
  }

  /** Checks the server-final message (the server proves it knows the credential). */
  verifyServerFinal(serverFinal: string): void {
    if (this.state !== 'sentFinal') throw illegalState(`server-final message in state ${this.state}`);
    const attrs = parseAttributes(serverFinal, 'server-final');
    if (attrs.has('e')) {
      this.state = 'failed';
      throw authFailed(`server error: ${attrs.get('e')}`);
    }
    const v = Buffer.from(attrs.get('v') ?? '', 'base64');
    const expected = this.expectedServerSignature as Buffer;
    if (v.length !== expected.length || !timingSafeEqual(v, expected)) {
      this.state = 'failed';
      throw authFailed('the server signature is wrong: the server does not hold this user\'s credential');
    }
    this.state = 'complete';
  }
}
