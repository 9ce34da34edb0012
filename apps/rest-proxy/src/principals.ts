/**
 * The proxy acting on behalf of HTTP Basic users: for each (user name, password) it checks
 * the credentials by a SCRAM login against the cluster (the same credentials as every other
 * client, /config/users) and keeps a {@link ClusterClients} logged in as that user, so that
 * the brokers' ACLs decide what the user may do.
 *
 * Cache: keyed by the user name and an HMAC of the password under a key made at start-up
 * (the password itself is never a key, a log field or a label; a changed password is another
 * entry, and the old one expires). Bounded (`maxEntries`, least recently used first) and
 * with an idle expiry; an evicted entry's clients are closed (its producer flushed) once no
 * request uses them. A failed login is not cached: the next request tries again.
 *
 * Concurrency: requests with the same credentials share one login; the SCRAM mechanisms are
 * tried in order (a user's credential may exist for one mechanism only); a cluster that
 * cannot be reached is a 5xx, not a 401.
 *
 * Cost bounds (a login costs the proxy a PBKDF2 of the password, on the event loop): at most
 * {@link MAX_PENDING_LOGINS} logins run at once (more: 429 / 42901, retry), and credentials
 * that just failed are answered 401 without a new login for {@link FAILED_LOGIN_MEMORY_MS}
 * (keyed like the cache: never the password itself).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { ErrorCode, TributaryError } from '@tributary/client';
import type { SaslOptions } from '@tributary/client';
import { TokenSession } from '@tributary/runtime';
import type { ClientTlsOptions, Logger, ScramMechanism } from '@tributary/runtime';
import type { ClusterClients } from './cluster-clients';
import { RestError, RestErrorCode } from './errors';

/** Most logins in progress at once. */
export const MAX_PENDING_LOGINS = 32;
/** How long credentials that failed are refused without asking the cluster again. */
export const FAILED_LOGIN_MEMORY_MS = 5000;
/** Most failed credentials remembered (oldest forgotten first). */
const MAX_FAILED_REMEMBERED = 10_000;

export interface PrincipalCacheOptions {
  bootstrap: string[];
  /** SCRAM mechanisms to log users in with, in order. */
  mechanisms: readonly ScramMechanism[];
  /** TLS of the login channels (the runtime's form). */
  tls: ClientTlsOptions | undefined;
  requestTimeoutMs: number;
  /** Most users held at once. */
  maxEntries: number;
  /** An entry with no request for this long is closed. */
  idleMs: number;
  logger: Logger;
  /** Makes the clients of a user who logged in. */
  create: (principal: string, sasl: SaslOptions) => ClusterClients;
  /** Called with the outcome of each login (metrics). */
  onLogin?: (result: 'ok' | 'failed' | 'error') => void;
  /**
   * Checks credentials (default: a SCRAM login against the bootstrap brokers): 'ok',
   * 'refused' (wrong credentials for this mechanism), or throws when nobody answered.
   */
  check?: (sasl: SaslOptions) => Promise<'ok' | 'refused'>;
}

interface Entry {
  key: string;
  username: string;
  clients: ClusterClients;
  refs: number;
  lastUsedMs: number;
  evicted: boolean;
}

/** A user's clients for one request; `release()` when the request is over. */
export interface Lease {
  clients: ClusterClients;
  principal: string;
  release(): void;
}

export class PrincipalCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Entry>>();
  private readonly closing = new Set<Promise<void>>();
  /** Keys of credentials that failed, with when they may be tried again (insertion order = age). */
  private readonly failed = new Map<string, number>();
  private readonly hmacKey = randomBytes(32);
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: PrincipalCacheOptions) {
    this.sweeper = setInterval(() => this.expireIdle(), Math.max(50, Math.min(30_000, Math.floor(options.idleMs / 4))));
    this.sweeper.unref();
  }

  /** Users held now. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The clients of `username` after checking `password` (a login the first time): 401 /
   * 40101 for wrong credentials.
   */
  async acquire(username: string, password: string): Promise<Lease> {
    if (this.closed) throw new RestError(503, 'the proxy is shutting down', 503);
    const key = `${username}\u0000${createHmac('sha256', this.hmacKey).update(password, 'utf8').digest('base64')}`;
    let entry = this.entries.get(key);
    if (entry === undefined) {
      let login = this.pending.get(key);
      if (login === undefined) {
        const retryAt = this.failed.get(key);
        if (retryAt !== undefined) {
          if (Date.now() < retryAt) throw this.authenticationFailed();
          this.failed.delete(key);
        }
        if (this.pending.size >= MAX_PENDING_LOGINS) {
          throw new RestError(RestErrorCode.TOO_MANY_REQUESTS, `${this.pending.size} logins are already in progress on this proxy: retry in a moment`, 429);
        }
        login = this.login(key, username, password).finally(() => this.pending.delete(key));
        this.pending.set(key, login);
      }
      entry = await login;
    }
    // Most recently used last (Map order), so eviction takes the first.
    if (!entry.evicted) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    entry.refs++;
    entry.lastUsedMs = Date.now();
    const held = entry;
    let released = false;
    return {
      clients: held.clients,
      principal: `User:${username}`,
      release: () => {
        if (released) return;
        released = true;
        held.refs--;
        held.lastUsedMs = Date.now();
        if (held.evicted && held.refs === 0) this.closeEntry(held);
      },
    };
  }

  /** Closes every user's clients (shutdown). */
  async closeAll(timeoutMs: number): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const entry of [...this.entries.values()]) this.evict(entry, true);
    await Promise.all([...this.closing].map((p) => Promise.race([p, new Promise<void>((r) => setTimeout(r, timeoutMs).unref())])));
  }

  private async login(key: string, username: string, password: string): Promise<Entry> {
    for (const mechanism of this.options.mechanisms) {
      const sasl: SaslOptions = { mechanism, username, password };
      const outcome = await (this.options.check ?? ((c: SaslOptions) => this.tryLogin(c)))(sasl);
      if (outcome === 'ok') {
        this.options.onLogin?.('ok');
        const entry: Entry = { key, username, clients: this.options.create(`User:${username}`, sasl), refs: 0, lastUsedMs: Date.now(), evicted: false };
        this.entries.set(key, entry);
        this.options.logger.debug({ principal: `User:${username}`, mechanism }, 'REST user logged in to the cluster');
        this.shrink();
        return entry;
      }
    }
    this.options.onLogin?.('failed');
    this.options.logger.info({ principal: `User:${username}` }, 'REST authentication failed');
    if (this.failed.size >= MAX_FAILED_REMEMBERED) this.failed.delete(this.failed.keys().next().value as string);
    this.failed.set(key, Date.now() + FAILED_LOGIN_MEMORY_MS);
    throw this.authenticationFailed();
  }

  /**
   * One message whatever failed (unknown user, wrong password, no credential for the
   * mechanism): the answer must not tell which user names exist.
   */
  private authenticationFailed(): RestError {
    return new RestError(
      RestErrorCode.AUTHENTICATION_FAILED,
      `Authentication failed: wrong user name or password (the user needs a SCRAM credential for ${this.options.mechanisms.join(' or ')}: tributary users create)`,
    );
  }

  /** One SCRAM login with `sasl` against the first bootstrap address that answers. */
  private async tryLogin(sasl: SaslOptions): Promise<'ok' | 'refused'> {
    const session = new TokenSession(sasl, { ...(this.options.tls ? { tls: this.options.tls } : {}), requestTimeoutMs: this.options.requestTimeoutMs });
    let lastError: unknown;
    try {
      for (const address of this.options.bootstrap) {
        try {
          await session.token(address);
          return 'ok';
        } catch (e) {
          if (e instanceof TributaryError && (e.code === ErrorCode.SASL_AUTHENTICATION_FAILED || e.code === ErrorCode.UNSUPPORTED_SASL_MECHANISM || e.code === ErrorCode.ILLEGAL_SASL_STATE)) {
            return 'refused';
          }
          lastError = e;
        }
      }
    } finally {
      session.close();
    }
    this.options.onLogin?.('error');
    const reason = lastError instanceof Error ? lastError.message : String(lastError);
    throw new RestError(RestErrorCode.KAFKA_RETRIABLE_ERROR, `cannot check the credentials: no broker of ${this.options.bootstrap.join(',')} answered the login (${reason}); retry later`);
  }

  /** Evicts the least recently used entries past `maxEntries`. */
  private shrink(): void {
    for (const entry of this.entries.values()) {
      if (this.entries.size <= this.options.maxEntries) break;
      this.evict(entry, false);
    }
  }

  private expireIdle(): void {
    const now = Date.now();
    for (const [key, retryAt] of this.failed) {
      if (retryAt > now) break;
      this.failed.delete(key);
    }
    for (const entry of [...this.entries.values()]) {
      if (entry.refs === 0 && now - entry.lastUsedMs >= this.options.idleMs) this.evict(entry, false);
    }
  }

  /** Removes `entry`; its clients close now when unused, else when the last request ends. */
  private evict(entry: Entry, now: boolean): void {
    if (entry.evicted) return;
    entry.evicted = true;
    this.entries.delete(entry.key);
    if (entry.refs === 0 || now) this.closeEntry(entry);
  }

  private closeEntry(entry: Entry): void {
    const p = entry.clients
      .close(this.options.requestTimeoutMs)
      .catch((e: unknown) => this.options.logger.warn({ err: e instanceof Error ? e.message : String(e), principal: `User:${entry.username}` }, 'closing a REST user\'s clients failed'))
      .finally(() => this.closing.delete(p));
    this.closing.add(p);
  }
}
