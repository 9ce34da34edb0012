/**
 * Options every client (Producer, Consumer, Admin) shares, with Kafka's names and defaults
 * where Kafka has them, and the bootstrap list.
 *
 * A client needs only a bootstrap list of brokers (`host:port`); everything else — the other
 * brokers, partition leaders, the active controller's Admin API — is learnt from broker
 * Metadata.
 */
import type { ClientTlsOptions, GrpcClientSettings, ScramMechanism } from '@tributary/runtime';

/** Environment variable the CLI (and {@link defaultBootstrap}) reads the bootstrap list from. */
export const BOOTSTRAP_ENV = 'TRIBUTARY_BOOTSTRAP';
/** Bootstrap address when nothing is given: broker 0 of `npm start`. */
export const DEFAULT_BOOTSTRAP = '127.0.0.1:7200';

/**
 * A structured logger (pino's shape: `logger.warn({ fields }, 'message')`). Pass a pino
 * logger, or nothing for silence.
 */
export interface ClientLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * TLS to every service (Kafka's `security.protocol=SSL`/`SASL_SSL`): each of `ca`, `cert`,
 * `key` as a PEM file path (string) or PEM bytes (Buffer). `cert` + `key`: a client
 * certificate for mutual TLS. `serverName`: the name to check the servers' certificates
 * against when it is not the host dialled.
 */
export interface TlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  serverName?: string;
}

/** SCRAM login (Kafka's `sasl.mechanism` with the ScramLoginModule's username and password). */
export interface SaslOptions {
  mechanism: ScramMechanism;
  username: string;
  password: string;
}

/** Options shared by {@link Producer}, {@link Consumer} and {@link Admin}. */
export interface ClientOptions {
  /**
   * bootstrap.servers: brokers to learn the cluster from, as `host:port`. Default: the
   * comma-separated `TRIBUTARY_BOOTSTRAP` environment variable, else `127.0.0.1:7200`.
   */
  bootstrap?: string[];
  /** client.id: sent with every call (metadata `tributary-client-id`; brokers apply client-id quotas by it) and used in logs (default `tributary-client`). */
  clientId?: string;
  /** request.timeout.ms (default 30000): deadline of each request to a broker or controller. */
  requestTimeoutMs?: number;
  /** retry.backoff.ms (default 100): first wait before retrying a retriable failure. */
  retryBackoffMs?: number;
  /** retry.backoff.max.ms (default 1000): retry waits double up to this (±20 % jitter). */
  retryBackoffMaxMs?: number;
  /**
   * metadata.max.age.ms (default 300000): metadata is refreshed at least this often, even
   * without errors, so that new partitions and moved leaders are found.
   */
  metadataMaxAgeMs?: number;
  /**
   * How long an operation that needs metadata (a topic's partitions, a leader, the controller)
   * keeps retrying before it fails with a clear error (default 60000, Kafka's max.block.ms).
   */
  metadataWaitMs?: number;
  /** Logger (default: none). */
  logger?: ClientLogger;
  /** gRPC channel overrides (keepalive, message size limits, reconnect backoff). */
  grpc?: GrpcClientSettings;
  /** TLS to the cluster (default: plaintext). */
  tls?: TlsOptions;
  /** SCRAM authentication (default: none, calls are anonymous). */
  sasl?: SaslOptions;
}

/** Defaults of {@link ClientOptions}. */
export const CLIENT_DEFAULTS = {
  clientId: 'tributary-client',
  requestTimeoutMs: 30_000,
  retryBackoffMs: 100,
  retryBackoffMaxMs: 1_000,
  metadataMaxAgeMs: 300_000,
  metadataWaitMs: 60_000,
} as const;

/** {@link ClientOptions} with defaults applied and the bootstrap list parsed. */
export interface ResolvedClientOptions {
  bootstrap: string[];
  clientId: string;
  requestTimeoutMs: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  metadataMaxAgeMs: number;
  metadataWaitMs: number;
  logger: ClientLogger;
  grpc: GrpcClientSettings;
  /** TLS in the runtime's form, or undefined for plaintext. */
  tls: ClientTlsOptions | undefined;
  sasl: SaslOptions | undefined;
}

const SILENT: ClientLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The bootstrap list from the environment: `TRIBUTARY_BOOTSTRAP` (comma-separated
 * `host:port`), else `['127.0.0.1:7200']`.
 */
export function defaultBootstrap(env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = env[BOOTSTRAP_ENV];
  if (raw === undefined || raw.trim() === '') return [DEFAULT_BOOTSTRAP];
  return parseBootstrap(raw.split(','));
}

/** Validates `host:port` addresses (trimmed, empty entries dropped); throws a RangeError naming the bad one. */
export function parseBootstrap(addresses: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of addresses) {
    const address = raw.trim();
    if (address === '') continue;
    const colon = address.lastIndexOf(':');
    const port = Number(address.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new RangeError(`bootstrap address '${address}' must be host:port, e.g. ${DEFAULT_BOOTSTRAP}`);
    }
    out.push(address);
  }
  if (out.length === 0) throw new RangeError(`the bootstrap list is empty: give at least one broker as host:port, e.g. ${DEFAULT_BOOTSTRAP}`);
  return out;
}

function checkMs(name: string, key: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${key} (${name}) must be an integer >= ${min}, got ${value}`);
  return value;
}

/** Applies defaults and validates; throws a RangeError naming the bad option. */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const d = CLIENT_DEFAULTS;
  return {
    bootstrap: options.bootstrap === undefined ? defaultBootstrap() : parseBootstrap(options.bootstrap),
    clientId: options.clientId ?? d.clientId,
    requestTimeoutMs: checkMs('requestTimeoutMs', 'request.timeout.ms', options.requestTimeoutMs ?? d.requestTimeoutMs, 1),
    retryBackoffMs: checkMs('retryBackoffMs', 'retry.backoff.ms', options.retryBackoffMs ?? d.retryBackoffMs, 0),
    retryBackoffMaxMs: checkMs('retryBackoffMaxMs', 'retry.backoff.max.ms', options.retryBackoffMaxMs ?? d.retryBackoffMaxMs, 0),
    metadataMaxAgeMs: checkMs('metadataMaxAgeMs', 'metadata.max.age.ms', options.metadataMaxAgeMs ?? d.metadataMaxAgeMs, 1),
    metadataWaitMs: checkMs('metadataWaitMs', 'max.block.ms', options.metadataWaitMs ?? d.metadataWaitMs, 0),
    logger: options.logger ?? SILENT,
    grpc: options.grpc ?? {},
    tls: options.tls === undefined ? undefined : resolveTls(options.tls),
    sasl: options.sasl === undefined ? undefined : checkSasl(options.sasl),
  };
}

/** {@link TlsOptions} from the file-based TLS options services use (ServiceClientOptions.tls). */
export function tlsOptionsFromFiles(files: ClientTlsOptions): TlsOptions {
  return {
    ...(files.caFile !== undefined ? { ca: files.caFile } : files.ca !== undefined ? { ca: files.ca } : {}),
    ...(files.certFile !== undefined ? { cert: files.certFile } : files.cert !== undefined ? { cert: files.cert } : {}),
    ...(files.keyFile !== undefined ? { key: files.keyFile } : files.key !== undefined ? { key: files.key } : {}),
    ...(files.serverName !== undefined ? { serverName: files.serverName } : {}),
  };
}

function resolveTls(tls: TlsOptions): ClientTlsOptions {
  const out: ClientTlsOptions = {};
  const put = (value: string | Buffer | undefined, file: 'caFile' | 'certFile' | 'keyFile', bytes: 'ca' | 'cert' | 'key'): void => {
    if (typeof value === 'string') out[file] = value;
    else if (value !== undefined) out[bytes] = value;
  };
  put(tls.ca, 'caFile', 'ca');
  put(tls.cert, 'certFile', 'cert');
  put(tls.key, 'keyFile', 'key');
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new RangeError('tls.cert and tls.key go together: give both for mutual TLS, or neither');
  if (tls.serverName !== undefined) out.serverName = tls.serverName;
  return out;
}

function checkSasl(sasl: SaslOptions): SaslOptions {
  if (sasl.mechanism !== 'SCRAM-SHA-256' && sasl.mechanism !== 'SCRAM-SHA-512') {
    throw new RangeError(`sasl.mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, got ${String(sasl.mechanism)}`);
  }
  if (!sasl.username) throw new RangeError('sasl.username is empty');
  if (typeof sasl.password !== 'string') throw new RangeError('sasl.password must be a string');
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
}

/**
 * Delay before retry `attempt` (0-based): retry.backoff.ms doubling up to retry.backoff.max.ms,
 * ±20 % jitter (Kafka's client backoff).
 */
export function retryDelayMs(options: Pick<ResolvedClientOptions, 'retryBackoffMs' | 'retryBackoffMaxMs'>, attempt: number): number {
  const base = Math.min(options.retryBackoffMaxMs, options.retryBackoffMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.8 + 0.4 * Math.random()));
}
