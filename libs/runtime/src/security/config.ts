/**
 * The security settings every service takes, as one zod shape to spread into the service's
 * flat config schema (`z.object({ ...ownSettings, ...securityConfigShape })`), with Kafka's
 * names where Kafka has them (ssl.keystore → `--tls-cert-file`/`--tls-key-file`,
 * ssl.truststore → `--tls-ca-file`, ssl.client.auth → `--tls-client-auth`,
 * sasl.enabled.mechanisms → `--sasl-enabled-mechanisms`, super.users → `--super-users`), and
 * {@link securityFromConfig}, which turns them into what createGrpcServer /
 * startAdminServer take. Defaults: no TLS, no SASL — everything plaintext and anonymous, as
 * before.
 */
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { ConfigError } from '../config';
import type { Logger } from '../logger';
import { createAuthenticator, type Authenticator } from './authenticator';
import { SCRAM_MECHANISMS } from './scram';
import type { SecurityStore } from './store';
import { DEFAULT_TOKEN_LIFETIME_MS } from './token';
import { DEFAULT_TLS_RELOAD_INTERVAL_MS, ReloadingServerTls, type ClientTlsOptions } from './tls';

/** Security settings (spread into a service's schema). */
export const securityConfigShape = {
  tlsCertFile: z.string().min(1).optional().describe('PEM certificate (chain) of this service: with --tls-key-file, every listener serves TLS only'),
  tlsKeyFile: z.string().min(1).optional().describe('PEM private key of --tls-cert-file'),
  tlsCaFile: z.string().min(1).optional().describe('PEM CA bundle: verifies client certificates (--tls-client-auth required) and the other services this one calls'),
  tlsClientAuth: z.enum(['none', 'required']).default('none').describe("mutual TLS (Kafka's ssl.client.auth): required = refuse clients without a certificate from --tls-ca-file"),
  tlsReloadIntervalMs: z.number().int().min(0).max(3_600_000).default(DEFAULT_TLS_RELOAD_INTERVAL_MS).describe('how often the TLS files are checked for changes (0: never)'),
  saslEnabledMechanisms: z.array(z.enum(SCRAM_MECHANISMS)).default([]).describe('SCRAM mechanisms clients may log in with (e.g. SCRAM-SHA-256,SCRAM-SHA-512); empty: authentication off'),
  superUsers: z
    .array(z.string().regex(/^User:.+$/, 'a principal User:<name>'))
    .default([])
    .describe("principals (User:<name>, comma-separated) that are services or administrators (Kafka's super.users)"),
  tokenLifetimeMs: z.number().int().min(1000).max(7 * 24 * 3_600_000).default(DEFAULT_TOKEN_LIFETIME_MS).describe('lifetime of the session tokens issued after a SCRAM login'),
  allowAnonymous: z.boolean().default(false).describe('with authentication on: let calls without a token or client certificate through as User:ANONYMOUS'),
  authorizerEnable: z
    .boolean()
    .default(false)
    .describe("check every call against the ACLs in the coordination store (Kafka's authorizer.class.name); internal APIs then accept service principals (--super-users) only"),
  allowEveryoneIfNoAclFound: z
    .boolean()
    .default(false)
    .describe("with --authorizer-enable: allow a resource that has no ACL at all to everyone (Kafka's allow.everyone.if.no.acl.found)"),
};

/** The parsed security settings. */
export type SecurityConfig = z.output<z.ZodObject<typeof securityConfigShape>>;

/** What a service passes to createGrpcServer / startAdminServer. */
export interface ServiceSecurity {
  /** TLS of every listener (shared by the gRPC and admin servers), or undefined for plaintext. */
  tls: ReloadingServerTls | undefined;
  /**
   * TLS of this service's own calls to other services (same CA; its certificate as the
   * client certificate, for mutual TLS), or undefined for plaintext.
   */
  clientTls: ClientTlsOptions | undefined;
  /** Authentication, or undefined when off (start it before serving). */
  authenticator: Authenticator | undefined;
  /** Stops the reload timer and the store watches. */
  close(): void;
}

/**
 * Builds a service's TLS and authentication from its settings; throws a one-line
 * ConfigError for inconsistent ones. `store` is needed only when SASL is enabled.
 */
export function securityFromConfig(config: SecurityConfig, deps: { logger: Logger; registry?: Registry; store?: SecurityStore }): ServiceSecurity {
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    throw new ConfigError('TLS needs both --tls-cert-file and --tls-key-file (or neither, for plaintext)', config.tlsCertFile === undefined ? 'tlsCertFile' : 'tlsKeyFile');
  }
  if (config.tlsClientAuth === 'required' && (config.tlsCertFile === undefined || config.tlsCaFile === undefined)) {
    throw new ConfigError('--tls-client-auth required needs TLS (--tls-cert-file, --tls-key-file) and --tls-ca-file to verify client certificates with', 'tlsClientAuth');
  }
  let tls: ReloadingServerTls | undefined;
  if (config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined) {
    try {
      tls = new ReloadingServerTls(
        {
          certFile: config.tlsCertFile,
          keyFile: config.tlsKeyFile,
          ...(config.tlsCaFile !== undefined ? { caFile: config.tlsCaFile } : {}),
          requireClientCert: config.tlsClientAuth === 'required',
          reloadIntervalMs: config.tlsReloadIntervalMs,
        },
        deps.logger,
      );
    } catch (e) {
      throw new ConfigError((e as Error).message, 'tlsCertFile');
    }
  }
  let authenticator: Authenticator | undefined;
  if (config.saslEnabledMechanisms.length > 0) {
    if (!deps.store) throw new ConfigError('--sasl-enabled-mechanisms needs the coordination store (credentials live there)', 'saslEnabledMechanisms');
    authenticator = createAuthenticator({
      store: deps.store,
      logger: deps.logger,
      ...(deps.registry ? { registry: deps.registry } : {}),
      mechanisms: config.saslEnabledMechanisms,
      superUsers: config.superUsers,
      tokenLifetimeMs: config.tokenLifetimeMs,
      allowAnonymous: config.allowAnonymous,
    });
  } else if (tls?.mutual) {
    // Mutual TLS alone: certificate principals, no SCRAM logins (the authenticator still
    // reads the cluster's token key, so it needs the store).
    if (deps.store) {
      authenticator = createAuthenticator({ store: deps.store, logger: deps.logger, mechanisms: [], superUsers: config.superUsers, allowAnonymous: false, ...(deps.registry ? { registry: deps.registry } : {}) });
    }
  }
  const clientTls: ClientTlsOptions | undefined =
    config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined
      ? { ...(config.tlsCaFile !== undefined ? { caFile: config.tlsCaFile } : {}), certFile: config.tlsCertFile, keyFile: config.tlsKeyFile }
      : undefined;
  return {
    tls,
    clientTls,
    authenticator,
    close() {
      tls?.close();
      authenticator?.stop();
    },
  };
}
