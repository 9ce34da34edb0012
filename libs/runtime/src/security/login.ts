/**
 * The client side of AuthService (security.proto): {@link scramLogin} runs the two-step SCRAM
 * exchange against any Tributary endpoint and returns the session token, after checking the
 * server's signature (so a server that does not hold the credential cannot hand out a token).
 * Used by the SDK (libs/client auth.ts) and the CLI.
 */
import type { AuthServiceClient } from '@tributary/proto';
import { unary, type CallOptions } from '../grpc-client';
import { ScramClientExchange, type ScramMechanism } from './scram';
import type { Principal } from './principal';

/** What a successful login gives. */
export interface LoginResult {
  /** The session token (a secret: never log it). */
  token: string;
  /** Its id (safe to log). */
  tokenId: string;
  /** `User:<name>`. */
  principal: Principal;
  /** When the token expires, epoch ms (from the server's lifetime and the local clock). */
  expiresAt: number;
  /** The token's whole lifetime in ms. */
  lifetimeMs: number;
}

/** Runs a SCRAM exchange on `client`; throws SASL_AUTHENTICATION_FAILED (TributaryError) on bad credentials. */
export async function scramLogin(
  client: AuthServiceClient,
  credentials: { mechanism: ScramMechanism; username: string; password: string },
  options: CallOptions = {},
): Promise<LoginResult> {
  const started = Date.now();
  const exchange = new ScramClientExchange(credentials.mechanism, credentials.username, credentials.password);
  const first = await unary(client, 'scramAuthenticateFirst', { mechanism: credentials.mechanism, authBytes: Buffer.from(exchange.first(), 'utf8') }, options);
  const clientFinal = exchange.final(first.authBytes.toString('utf8'));
  const final = await unary(client, 'scramAuthenticateFinal', { sessionId: first.sessionId, authBytes: Buffer.from(clientFinal, 'utf8') }, options);
  exchange.verifyServerFinal(final.authBytes.toString('utf8'));
  const lifetimeMs = Number(final.sessionLifetimeMs);
  return { token: final.token, tokenId: final.tokenId, principal: final.principal, expiresAt: started + lifetimeMs, lifetimeMs };
}
