/**
 * Client authentication (Kafka's `sasl.mechanism` with SCRAM, over `security.protocol`
 * SASL_SSL or SASL_PLAINTEXT): the SDK's session is the runtime's {@link TokenSession} — a
 * SCRAM login against the service being called, one cached token for the whole cluster,
 * renewed at 80 % of its lifetime and right after a server refuses it. The connection pool
 * (connections.ts) plugs it into every channel.
 */
import { TokenSession, type ClientTlsOptions, type GrpcClientSettings } from '@tributary/runtime';
import type { ClientLogger, SaslOptions } from './config';

/** The session of one client (Producer, Consumer, Admin), shared by all its connections. */
export function createSession(sasl: SaslOptions, tls: ClientTlsOptions | undefined, settings: GrpcClientSettings, requestTimeoutMs: number, logger: ClientLogger): TokenSession {
  return new TokenSession(sasl, { ...(tls ? { tls } : {}), settings, requestTimeoutMs, logger });
}
