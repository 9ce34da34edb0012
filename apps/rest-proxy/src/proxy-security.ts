/**
 * The REST proxy's security, as app.ts uses it: how it serves (HTTPS with reload, or HTTP),
 * who it is to the cluster (its own TLS certificate and/or SCRAM user), and whether HTTP
 * clients authenticate with Basic (then each acts as itself: principals.ts).
 */
import { tlsOptionsFromFiles } from '@tributary/client';
import { ConfigError, serverTlsFromConfig, serviceClientSecurity, type ReloadingServerTls } from '@tributary/runtime';
import type { ClientTlsOptions, Logger, ScramMechanism } from '@tributary/runtime';
import type { ClientSecurity } from './cluster-clients';
import type { RestProxyConfig } from './config';

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
  /**
   * With Basic on and --allow-anonymous: what a request without credentials uses to reach
   * the cluster (TLS without the proxy's certificate, no login: the cluster's User:ANONYMOUS);
   * undefined: such a request is 401.
   */
  anonymous: ClientSecurity | undefined;
  /** Stops following the certificate files. */
  close(): void;
}

/** No TLS, no authentication. */
export const PLAINTEXT_ANONYMOUS: ProxySecurity = { serverTls: undefined, cluster: {}, loginTls: undefined, basic: undefined, anonymous: undefined, close() {} };

/**
 * The proxy's security from its flags; throws a ConfigError (one line, naming the flag) for
 * inconsistent ones — notably Basic authentication without TLS, unless
 * --basic-auth-allow-plaintext says a TLS-terminating load balancer is in front.
 */
export function proxySecurityFromConfig(config: RestProxyConfig, logger: Logger): ProxySecurity {
  const basicOn = config.saslEnabledMechanisms.length > 0;
  if (basicOn && config.tlsCertFile === undefined && !config.basicAuthAllowPlaintext) {
    throw new ConfigError(
      'HTTP Basic authentication (--sasl-enabled-mechanisms) over plain HTTP would send passwords in clear: give --tls-cert-file and --tls-key-file, or --basic-auth-allow-plaintext if a TLS-terminating load balancer is in front',
      'saslEnabledMechanisms',
    );
  }
  const serverTls = serverTlsFromConfig(config, logger);
  // The proxy's own identity to the cluster: its TLS certificate, and its SCRAM login with
  // --sasl-username / --sasl-password-file (the runtime reads the password file).
  const bootstrap = config.bootstrap.split(',').map((a) => a.trim()).filter((a) => a !== '');
  const identity = serviceClientSecurity(config, { logger, ...(bootstrap[0] !== undefined ? { loginAddress: bootstrap[0] } : {}) });
  const { tls: loginTls, sasl } = identity.clientOptions;
  // The SDK clients log in themselves: the runtime's session is not used.
  identity.close();
  const cluster: ClientSecurity = { ...(loginTls ? { tls: tlsOptionsFromFiles(loginTls) } : {}), ...(sasl ? { sasl } : {}) };
  const anonymous: ClientSecurity | undefined =
    basicOn && config.allowAnonymous ? (loginTls ? { tls: tlsOptionsFromFiles({ ...(loginTls.caFile !== undefined ? { caFile: loginTls.caFile } : {}), ...(loginTls.serverName !== undefined ? { serverName: loginTls.serverName } : {}) }) } : {}) : undefined;
  return {
    serverTls,
    cluster,
    loginTls,
    basic: basicOn ? { mechanisms: [...config.saslEnabledMechanisms], maxUsers: config.basicAuthMaxUsers, idleMs: config.basicAuthIdleMs } : undefined,
    anonymous,
    close() {
      serverTls?.close();
    },
  };
}
