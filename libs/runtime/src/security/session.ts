/**
 * A cached, self-renewing session token for one set of SCRAM credentials — what a client
 * (the SDK, the CLI, or a service calling another with its service user) plugs into
 * `createClient({ authToken, onTokenRejected })`:
 *
 *   const session = new TokenSession({ mechanism, username, password }, { tls });
 *   createClient(Ctor, address, { tls, authToken: () => session.token(address), onTokenRejected: () => session.invalidate() });
 *
 * It logs in (scramLogin) against the AuthService of the address being called (every
 * service serves it), keeps the token for the whole cluster, logs in again once 80 % of its
 * lifetime has passed (Kafka's clients re-authenticate between 85 and 95 %) and right after a
 * server refuses it (revoked, expired, key rotated out). Concurrent callers share one login.
 * A refresh that fails while the old token is still valid keeps the old token.
 *
 * The password stays in this object only (for re-authentication); it and the token are never
 * logged.
 */
import { AuthServiceClient } from '@tributary/proto';
import { createClient, type GrpcClientSettings } from '../grpc-client';
import { scramLogin, type LoginResult } from './login';
import type { ScramMechanism } from './scram';
import type { ClientTlsOptions } from './tls';

/** Log in again after this fraction of the token's lifetime. */
export const REAUTHENTICATE_AT_LIFETIME_FRACTION = 0.8;

/** The SCRAM credentials of a session. */
export interface SessionCredentials {
  mechanism: ScramMechanism;
  username: string;
  password: string;
}

/** Options of {@link TokenSession}. */
export interface TokenSessionOptions {
  /** TLS of the AuthService channels (as the other channels of the client). */
  tls?: ClientTlsOptions;
  /** Channel settings of the AuthService channels. */
  settings?: GrpcClientSettings;
  /** Deadline of each login call (default 30 s). */
  requestTimeoutMs?: number;
  /** Where login events go (pino's shape); default silent. */
  logger?: { debug(fields: object, message: string): void; info(fields: object, message: string): void; warn(fields: object, message: string): void };
}

/** See the file header. */
export class TokenSession {
  private current: LoginResult | undefined;
  private pending: Promise<LoginResult> | undefined;
  private readonly authClients = new Map<string, AuthServiceClient>();

  constructor(
    private readonly credentials: SessionCredentials,
    private readonly options: TokenSessionOptions = {},
  ) {}

  /** The token to send to `address` (logging in there when there is no fresh one). */
  async token(address: string): Promise<string> {
    const current = this.current;
    if (current && Date.now() < current.expiresAt - current.lifetimeMs * (1 - REAUTHENTICATE_AT_LIFETIME_FRACTION)) return current.token;
    try {
      return (await this.login(address)).token;
    } catch (e) {
      if (current && Date.now() < current.expiresAt) {
        this.options.logger?.warn({ err: (e as Error).message, tokenId: current.tokenId }, 'SCRAM re-authentication failed: using the current token until it expires');
        return current.token;
      }
      throw e;
    }
  }

  /** Forgets the token (a server refused it): the next call logs in again. */
  invalidate(): void {
    if (this.current) this.options.logger?.info({ tokenId: this.current.tokenId }, 'session token refused by a server: logging in again');
    this.current = undefined;
  }

  /** Closes the AuthService channels and forgets the token. */
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
          client = createClient(AuthServiceClient, address, {
            ...(this.options.settings ? { settings: this.options.settings } : {}),
            ...(this.options.tls ? { tls: this.options.tls } : {}),
          });
          this.authClients.set(address, client);
        }
        const result = await scramLogin(client, this.credentials, { deadlineMs: this.options.requestTimeoutMs ?? 30_000 });
        this.current = result;
        this.options.logger?.debug({ principal: result.principal, tokenId: result.tokenId, mechanism: this.credentials.mechanism, address }, 'SCRAM authentication succeeded');
        return result;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }
}
