/**
 * Client authentication (Kafka's `sasl.mechanism` + `sasl.jaas.config` with SCRAM, over
 * `security.protocol` SASL_SSL or SASL_PLAINTEXT): a {@link SessionAuth} runs the SCRAM
 * exchange against the AuthService of the service being called (every Tributary service
 * serves it), caches the session token it gets, and hands it to every call. It logs in again
 * before the token runs out (at 80 % of its lifetime, as Kafka's clients re-authenticate
 * between 85 and 95 % of theirs) and right after a server refuses the token (revoked,
 * expired, key rotated out). One token serves the whole cluster: every service verifies it
 * with the cluster's key.
 *
 * The password is kept only in this object, for re-authentication; it and the token are
 * never logged.
 */
import { AuthServiceClient } from '@tributary/proto';
import { createClient, scramLogin, type ClientTlsOptions, type GrpcClientSettings, type LoginResult } from '@tributary/runtime';
import type { ClientLogger, SaslOptions } from './config';

/** Log in again after this fraction of the token's lifetime. */
export const REAUTHENTICATE_AT_LIFETIME_FRACTION = 0.8;

/** Cached session token of one client, shared by all its connections. */
export class SessionAuth {
  private current: LoginResult | undefined;
  private pending: Promise<LoginResult> | undefined;
  private readonly authClients = new Map<string, AuthServiceClient>();

  constructor(
    private readonly sasl: SaslOptions,
    private readonly tls: ClientTlsOptions | undefined,
    private readonly grpc: GrpcClientSettings,
    private readonly requestTimeoutMs: number,
    private readonly logger: ClientLogger,
  ) {}

  /**
   * The token to send to `address`: the cached one while fresh, else a new login against
   * `address` (concurrent callers share one login). A refresh that fails while the old token
   * is still valid keeps the old token (and is retried on the next call).
   */
  async token(address: string): Promise<string> {
    const now = Date.now();
    const current = this.current;
    if (current && now < current.expiresAt - current.lifetimeMs * (1 - REAUTHENTICATE_AT_LIFETIME_FRACTION)) return current.token;
    try {
      return (await this.login(address)).token;
    } catch (e) {
      if (current && Date.now() < current.expiresAt) {
        this.logger.warn({ err: (e as Error).message, tokenId: current.tokenId }, 'SCRAM re-authentication failed: using the current token until it expires');
        return current.token;
      }
      throw e;
    }
  }

  /** Forgets the cached token (a server refused it): the next call logs in again. */
  invalidate(): void {
    if (this.current) this.logger.info({ tokenId: this.current.tokenId }, 'session token refused by a server: logging in again');
    this.current = undefined;
  }

  /** Closes the AuthService channels. */
  close(): void {
    for (const c of this.authClients.values()) c.close();
    this.authClients.clear();
    this.current = undefined;
  }

  private login(address: string): Promise<LoginResult> {
    this.pending ??= (async () => {
      try {
        let client = this.authClients.get(address);
        if (!client) {
          client = createClient(AuthServiceClient, address, { settings: this.grpc, ...(this.tls ? { tls: this.tls } : {}) });
          this.authClients.set(address, client);
        }
        const result = await scramLogin(client, this.sasl, { deadlineMs: this.requestTimeoutMs });
        this.current = result;
        this.logger.debug({ principal: result.principal, tokenId: result.tokenId, mechanism: this.sasl.mechanism, address }, 'SCRAM authentication succeeded');
        return result;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }
}
