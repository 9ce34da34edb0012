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
import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { ConfigError } from '../config';
import type { Logger } from '../logger';
import { createAuthenticator, type Authenticator } from './authenticator';
import { SCRAM_MECHANISMS } from './scram';
import type { SecurityStore } from './store';
import type { AclStoreClient } from './acl-store';
import type { Authorizer } from './authorizer';
import { startServiceAuthorizer, type ServiceAuthorizer } from './enforce';
import { TokenSession, type SessionCredentials } from './session';
import { DEFAULT_TOKEN_LIFETIME_MS } from './token';
import { DEFAULT_TLS_RELOAD_INTERVAL_MS, ReloadingServerTls, type ClientTlsOptions } from './tls';

/** Security settings (spread into a service's schema). */
export const securityConfigShape = {
  tlsCertFile: z.string().min(1).optional().describe('PEM certificate (chain) of this service: with --tls-key-file, every listener serves TLS only'),
  tlsKeyFile: z.string().min(1).optional().describe('PEM private key of --tls-cert-file'),
  tlsCaFile: z.string().min(1).optional().describe('PEM CA bundle: verifies client certificates (--tls-client-auth required) and the other services this one calls'),
  tlsClientAuth: z
    .enum(['none', 'requested', 'required'])
    .default('none')
    .describe("client certificates (Kafka's ssl.client.auth): required = refuse clients without one from --tls-ca-file; requested = a certificate from --tls-ca-file gives the caller its principal (User:<CN>), others may log in with SCRAM"),
  tlsReloadIntervalMs: z.number().int().min(0).max(3_600_000).default(DEFAULT_TLS_RELOAD_INTERVAL_MS).describe('how often the TLS files are checked for changes (0: never)'),
  saslEnabledMechanisms: z.array(z.enum(SCRAM_MECHANISMS)).default([]).describe('SCRAM mechanisms clients may log in with (e.g. SCRAM-SHA-256,SCRAM-SHA-512); empty: authentication off'),
  superUsers: z
    .array(z.string().regex(/^User:.+$/, 'a principal User:<name>'))
    .default([])
    .describe("principals (User:<name>, comma-separated) that are services or administrators (Kafka's super.users)"),
  saslMechanism: z.enum(SCRAM_MECHANISMS).default('SCRAM-SHA-512').describe('SCRAM mechanism of this service\'s own login to the services it calls (with --sasl-username)'),
  saslUsername: z.string().min(1).optional().describe('user this service logs in as (SCRAM) when calling other services; list it in --super-users. Without it, the service is known by its TLS certificate'),
  saslPasswordFile: z.string().min(1).optional().describe('file holding the password of --sasl-username (read at start; e.g. a mounted Kubernetes Secret)'),
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
  /**
   * What this service's own clients of other services take (spread into createClient,
   * CoordinationClient or the SDK's options): TLS with its certificate as client certificate,
   * and, with --sasl-username, a SCRAM session whose token goes on every call.
   */
  clientOptions: ServiceClientOptions;
  /** Authentication, or undefined when off (start it before serving). */
  authenticator: Authenticator | undefined;
  /** Stops the reload timer and the store watches. */
  close(): void;
}

/** See {@link ServiceSecurity.clientOptions}. */
export interface ServiceClientOptions {
  tls?: ClientTlsOptions;
  authToken?: () => Promise<string>;
  onTokenRejected?: () => void;
  /** The SCRAM credentials of `authToken` (for the SDK's `sasl` option), never logged. */
  sasl?: SessionCredentials;
}

/** A service's identity on its own calls to other services (see {@link serviceClientSecurity}). */
export interface ServiceClientSecurity {
  clientOptions: ServiceClientOptions;
  /** Closes the login session's channels. */
  close(): void;
}

/**
 * What this service's clients of other services use: TLS (its certificate as the client
 * certificate) and, with --sasl-username, a SCRAM session that logs in at `loginAddress` (the
 * coordination service: every service serves the login, tokens are valid cluster-wide).
 * Build it first, to create the coordination client with, then pass it to
 * {@link securityFromConfig} / {@link startServiceSecurity} as `client`.
 */
export function serviceClientSecurity(config: SecurityConfig, deps: { logger: Logger; loginAddress?: string }): ServiceClientSecurity {
  if ((config.saslUsername === undefined) !== (config.saslPasswordFile === undefined)) {
    throw new ConfigError('the service login needs both --sasl-username and --sasl-password-file (or neither)', config.saslUsername === undefined ? 'saslUsername' : 'saslPasswordFile');
  }
  let sasl: SessionCredentials | undefined;
  if (config.saslUsername !== undefined && config.saslPasswordFile !== undefined) {
    let password: string;
    try {
      password = readFileSync(config.saslPasswordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new ConfigError(`cannot read --sasl-password-file ${config.saslPasswordFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'saslPasswordFile');
    }
    if (password.length === 0) throw new ConfigError(`--sasl-password-file ${config.saslPasswordFile} is empty`, 'saslPasswordFile');
    sasl = { mechanism: config.saslMechanism, username: config.saslUsername, password };
  }
  const clientTls: ClientTlsOptions | undefined =
    config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined
      ? { ...(config.tlsCaFile !== undefined ? { caFile: config.tlsCaFile } : {}), certFile: config.tlsCertFile, keyFile: config.tlsKeyFile }
      : undefined;
  const loginAddress = deps.loginAddress ?? '';
  if (sasl && loginAddress === '') throw new ConfigError('--sasl-username: this service calls no other service, so it has nothing to log in to', 'saslUsername');
  const session = sasl ? new TokenSession(sasl, { ...(clientTls ? { tls: clientTls } : {}), logger: deps.logger }) : undefined;
  const clientOptions: ServiceClientOptions = {
    ...(clientTls ? { tls: clientTls } : {}),
    ...(session && sasl
      ? {
          sasl,
          authToken: () => session.token(loginAddress),
          onTokenRejected: () => session.invalidate(),
        }
      : {}),
  };
  return { clientOptions, close: () => session?.close() };
}

/**
 * The TLS of a service's listeners from its settings (undefined: plaintext); a one-line
 * ConfigError for inconsistent settings or unreadable files.
 */
export function serverTlsFromConfig(config: SecurityConfig, logger: Logger): ReloadingServerTls | undefined {
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    throw new ConfigError('TLS needs both --tls-cert-file and --tls-key-file (or neither, for plaintext)', config.tlsCertFile === undefined ? 'tlsCertFile' : 'tlsKeyFile');
  }
  if (config.tlsClientAuth !== 'none' && (config.tlsCertFile === undefined || config.tlsCaFile === undefined)) {
    throw new ConfigError(`--tls-client-auth ${config.tlsClientAuth} needs TLS (--tls-cert-file, --tls-key-file) and --tls-ca-file to verify client certificates with`, 'tlsClientAuth');
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
          requestClientCert: config.tlsClientAuth === 'requested',
          reloadIntervalMs: config.tlsReloadIntervalMs,
        },
        logger,
      );
    } catch (e) {
      throw new ConfigError((e as Error).message, 'tlsCertFile');
    }
  }
  return tls;
}

/**
 * Builds a service's TLS and authentication from its settings; throws a one-line
 * ConfigError for inconsistent ones. `store` is needed only when SASL is enabled.
 */
export function securityFromConfig(config: SecurityConfig, deps: { logger: Logger; registry?: Registry; store?: SecurityStore; loginAddress?: string; client?: ServiceClientSecurity }): ServiceSecurity {
  const tls = serverTlsFromConfig(config, deps.logger);
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
  } else if (tls?.requestsClientCert) {
    // Mutual TLS alone: certificate principals, no SCRAM logins (the authenticator still
    // reads the cluster's token key, so it needs the store).
    if (deps.store) {
      authenticator = createAuthenticator({ store: deps.store, logger: deps.logger, mechanisms: [], superUsers: config.superUsers, allowAnonymous: false, ...(deps.registry ? { registry: deps.registry } : {}) });
    }
  }
  const client = deps.client ?? serviceClientSecurity(config, deps);
  return {
    tls,
    clientTls: client.clientOptions.tls,
    clientOptions: client.clientOptions,
    authenticator,
    close() {
      tls?.close();
      authenticator?.stop();
      if (!deps.client) client.close();
    },
  };
}

/** A service's security, started: what its servers and clients take. */
export interface StartedServiceSecurity extends ServiceSecurity {
  /** The ACL authorizer for createGrpcServer, or undefined without --authorizer-enable. */
  authorizer: Authorizer | undefined;
}

/**
 * The whole start-up of a service's security, in the order it needs: TLS and authentication
 * from the settings ({@link securityFromConfig}), the authenticator's token key ring loaded,
 * and the ACLs loaded and followed ({@link startServiceAuthorizer}). `store` is the service's
 * coordination client (needed when SASL, mutual TLS or the authorizer is on).
 */
export async function startServiceSecurity(
  config: SecurityConfig,
  deps: { logger: Logger; registry?: Registry; store?: SecurityStore & AclStoreClient; client?: ServiceClientSecurity; loginAddress?: string },
): Promise<StartedServiceSecurity> {
  if (config.authorizerEnable && !deps.store) throw new ConfigError('--authorizer-enable needs the coordination store (the ACLs live there)', 'authorizerEnable');
  const security = securityFromConfig(config, deps);
  let authz: ServiceAuthorizer | undefined;
  try {
    await security.authenticator?.start();
    authz = deps.store ? await startServiceAuthorizer(config, { client: deps.store, logger: deps.logger, ...(deps.registry ? { registry: deps.registry } : {}) }) : undefined;
  } catch (e) {
    security.close();
    throw e;
  }
  if (security.tls || security.authenticator || authz) {
    deps.logger.info(
      {
        tls: security.tls ? (security.tls.mutual ? 'mutual' : security.tls.requestsClientCert ? 'requested' : 'server') : 'off',
        sasl: config.saslEnabledMechanisms,
        authorizer: authz !== undefined,
        superUsers: config.superUsers,
        identity: security.clientOptions.sasl ? 'scram' : security.clientOptions.tls?.certFile ? 'certificate' : 'none',
      },
      'security on',
    );
  }
  return {
    ...security,
    authorizer: authz?.authorizer,
    close() {
      authz?.close();
      security.close();
    },
  };
}
