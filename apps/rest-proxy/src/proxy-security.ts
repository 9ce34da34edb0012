/**
 * The REST proxy's security, as app.ts uses it: how it serves (HTTPS with reload, or HTTP),
 * who it is to the cluster (its own TLS certificate and/or SCRAM user), and whether HTTP
 * clients authenticate with Basic (then each acts as itself: principals.ts).
 */
import type { ClientTlsOptions, ReloadingServerTls, ScramMechanism } from '@tributary/runtime';
import type { ClientSecurity } from './cluster-clients';

/** Basic authentication settings. */
export interface BasicAuthSettings {
  /** SCRAM mechanisms the proxy logs users in with, in order (--sasl-enabled-mechanisms). */
  mechanisms: ScramMechanism[];
  /** Most users whose clients are held at once (least recently used closed first). */
  maxUsers: number;
  /** A user's clients with no request for this long are closed. */
  idleMs: number;
}

export interface ProxySecurity {
  /** TLS of the API and admin listeners (HTTPS); undefined: plain HTTP. */
  serverTls: ReloadingServerTls | undefined;
  /** The proxy's own identity to the cluster (TLS to it, and SCRAM credentials if any). */
  cluster: ClientSecurity;
  /** TLS of the users' SCRAM login channels (the runtime's form of `cluster.tls`). */
  loginTls: ClientTlsOptions | undefined;
  /** HTTP Basic authentication; undefined: off (every request acts as the proxy). */
  basic: BasicAuthSettings | undefined;
  /** Stops following the certificate files. */
  close(): void;
}

/** No TLS, no authentication. */
export const PLAINTEXT_ANONYMOUS: ProxySecurity = { serverTls: undefined, cluster: {}, loginTls: undefined, basic: undefined, close() {} };
