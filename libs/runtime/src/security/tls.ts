/**
 * TLS for every listener and client, from PEM files (certificate, key, CA), with reload:
 * the files are checked every `reloadIntervalMs` (default 10 s; a digest of their contents) and,
 * when they changed and still make a valid key pair, NEW connections use them; connections
 * already open keep theirs. A change that does not load (half-written file, key not matching
 * the certificate) is logged and the previous material stays in use until the next check.
 *
 * How reload reaches the gRPC server: grpc-js (≥ 1.10) gives every `ServerCredentials` a set
 * of secure-context watchers; its HTTP/2 server registers one that calls
 * `http2SecureServer.setSecureContext(options)`. `createSsl` credentials never notify them,
 * so {@link ReloadingServerTls} keeps the `createSsl` credentials and calls their protected
 * `updateSecureContextOptions` when the files change (checked at start-up, so a grpc-js
 * that drops it fails loudly rather than silently not reloading). The admin HTTPS server
 * calls `setSecureContext` itself.
 *
 * Mutual TLS (`requireClientCert`): the server asks for a client certificate and refuses the
 * handshake unless it chains to the CA file; the certificate's subject CN then names the
 * caller (`User:<CN>`, see {@link principalFromCertificate}).
 *
 * Clients ({@link clientCredentials}) read their files when a channel is created, so a new
 * channel picks up rotated files.
 */
import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type PeerCertificate, type SecureContextOptions } from 'node:tls';
import type { Logger } from '../logger';
import { userPrincipal, type Principal } from './principal';

/** Default interval between checks of the certificate files. */
export const DEFAULT_TLS_RELOAD_INTERVAL_MS = 10_000;

/** TLS of a listener. */
export interface ServerTlsOptions {
  /** PEM certificate chain of the server. */
  certFile: string;
  /** PEM private key of the server. */
  keyFile: string;
  /** PEM CA bundle that client certificates must chain to (required with `requireClientCert`). */
  caFile?: string;
  /** Mutual TLS: refuse clients without a certificate from `caFile`. Default false. */
  requireClientCert?: boolean;
  /**
   * Ask clients for a certificate but accept those without one (Kafka's
   * `ssl.client.auth=requested`): a certificate that chains to `caFile` gives the caller its
   * principal; one that does not is ignored (the connection is then as if it had none: grpc-js
   * and the admin server expose only verified certificates). Needs `caFile`.
   */
  requestClientCert?: boolean;
  /** How often to check the files for changes; 0 disables reload. Default 10 s. */
  reloadIntervalMs?: number;
}

/** TLS of a client: each of CA, certificate and key as a file path or as PEM bytes. */
export interface ClientTlsOptions {
  /** PEM CA bundle file the server's certificate must chain to (default: Node's public roots). */
  caFile?: string;
  /** PEM client certificate file, for mutual TLS. */
  certFile?: string;
  /** PEM client private key file, for mutual TLS. */
  keyFile?: string;
  /** The CA bundle as PEM bytes (instead of `caFile`). */
  ca?: Buffer;
  /** The client certificate as PEM bytes (instead of `certFile`). */
  cert?: Buffer;
  /** The client key as PEM bytes (instead of `keyFile`). */
  key?: Buffer;
  /**
   * Name to check the server's certificate against, when it differs from the host dialled
   * (e.g. dialling an IP whose certificate names `broker-0.tributary`).
   */
  serverName?: string;
}

interface Material {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
}

function readMaterial(o: ServerTlsOptions): Material {
  const material = {
    cert: readFileSync(o.certFile),
    key: readFileSync(o.keyFile),
    ca: o.caFile ? readFileSync(o.caFile) : undefined,
  };
  // Validates the pair (throws "key values mismatch", bad PEM, ...).
  createSecureContext({ cert: material.cert, key: material.key, ...(material.ca ? { ca: material.ca } : {}) });
  return material;
}

/**
 * A digest of the files' contents (a few KB, read every check): unlike mtimes, it sees a
 * change made within the file system's timestamp granularity, and ignores a touch.
 */
function fingerprint(files: readonly string[]): string {
  const hash = createHash('sha256');
  for (const f of files) {
    try {
      hash.update(readFileSync(f));
    } catch {
      hash.update('missing');
    }
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Checks and validates `options` once (tells the user what is wrong at start-up). */
export function validateServerTls(options: ServerTlsOptions): void {
  if ((options.requireClientCert || options.requestClientCert) && !options.caFile) {
    throw new Error('mutual TLS (require client certificates) needs a CA file to verify them against: set the CA file option');
  }
  try {
    readMaterial(options);
  } catch (e) {
    throw new Error(`cannot load TLS certificate ${options.certFile} / key ${options.keyFile}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Server TLS material that follows its files. `secureContextOptions()` is the current
 * material for node's `tls`/`https`; `grpcCredentials()` the grpc-js credentials (one object
 * per instance, kept up to date). `onChange` listeners run after each successful reload.
 */
export class ReloadingServerTls {
  private material: Material;
  private stamp: string;
  private timer: NodeJS.Timeout | undefined;
  private grpcCreds: grpc.ServerCredentials | undefined;
  private readonly listeners = new Set<(options: SecureContextOptions) => void>();
  private readonly files: string[];

  constructor(
    readonly options: ServerTlsOptions,
    private readonly logger: Logger,
  ) {
    validateServerTls(options);
    this.files = [options.certFile, options.keyFile, ...(options.caFile ? [options.caFile] : [])];
    this.stamp = fingerprint(this.files);
    this.material = readMaterial(options);
    const interval = options.reloadIntervalMs ?? DEFAULT_TLS_RELOAD_INTERVAL_MS;
    if (interval > 0) {
      this.timer = setInterval(() => this.check(), interval);
      this.timer.unref();
    }
  }

  /** Whether client certificates are required. */
  get mutual(): boolean {
    return this.options.requireClientCert === true;
  }

  /** Whether clients are asked for a certificate (required or merely requested). */
  get requestsClientCert(): boolean {
    return this.mutual || this.options.requestClientCert === true;
  }

  /** Options for node's `tls.createSecureContext` / `https.createServer`. */
  secureContextOptions(): SecureContextOptions {
    return { cert: this.material.cert, key: this.material.key, ...(this.material.ca ? { ca: this.material.ca } : {}) };
  }

  /** grpc-js server credentials that follow reloads. */
  grpcCredentials(): grpc.ServerCredentials {
    if (!this.grpcCreds) {
      const creds = grpc.ServerCredentials.createSsl(this.material.ca ?? null, [{ cert_chain: this.material.cert, private_key: this.material.key }], this.requestsClientCert);
      if (this.requestsClientCert && !this.mutual) {
        // createSsl ties "ask for a certificate" to "refuse without one"; requested mode asks
        // without refusing. grpc-js passes these options to http2.createSecureServer, and
        // exposes a peer certificate to calls only when the socket is `authorized` (verified).
        const constructorOptions = (creds as unknown as { serverConstructorOptions?: { rejectUnauthorized?: boolean } }).serverConstructorOptions;
        if (!constructorOptions) throw new Error('this @grpc/grpc-js has no serverConstructorOptions: --tls-client-auth requested is not supported (use required or none)');
        constructorOptions.rejectUnauthorized = false;
      }
      const update = (creds as unknown as { updateSecureContextOptions?: unknown }).updateSecureContextOptions;
      if (typeof update !== 'function') {
        throw new Error(`this @grpc/grpc-js has no ServerCredentials.updateSecureContextOptions: TLS reload would not work (Tributary needs grpc-js ≥ 1.10)`);
      }
      this.grpcCreds = creds;
      this.listeners.add((options) => (update as (o: SecureContextOptions) => void).call(creds, options));
    }
    return this.grpcCreds;
  }

  /** Runs `listener` with the new options after each reload; returns a remover. */
  onChange(listener: (options: SecureContextOptions) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Checks the files now; reloads if they changed. Returns whether it reloaded. */
  check(): boolean {
    const stamp = fingerprint(this.files);
    if (stamp === this.stamp) return false;
    try {
      this.material = readMaterial(this.options);
    } catch (e) {
      // Keep the stamp unchanged so the next check tries again (a file may be half-written).
      this.logger.warn({ err: (e as Error).message, certFile: this.options.certFile }, 'TLS files changed but do not load: keeping the previous certificate');
      return false;
    }
    this.stamp = stamp;
    const options = this.secureContextOptions();
    for (const listener of this.listeners) listener(options);
    this.logger.info({ certFile: this.options.certFile }, 'TLS certificate reloaded: new connections use it');
    return true;
  }

  /** Stops checking the files. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** grpc-js channel credentials from client TLS options (files read now). */
export function clientCredentials(options: ClientTlsOptions): grpc.ChannelCredentials {
  const read = (bytes: Buffer | undefined, file: string | undefined): Buffer | null => bytes ?? (file ? readFileSync(file) : null);
  const cert = read(options.cert, options.certFile);
  const key = read(options.key, options.keyFile);
  if ((cert === null) !== (key === null)) {
    throw new Error('TLS client certificate and key go together: give both or neither');
  }
  return grpc.credentials.createSsl(read(options.ca, options.caFile), key, cert);
}

/** grpc-js channel options a client TLS configuration needs (the server name override). */
export function clientTlsChannelOptions(options: ClientTlsOptions): grpc.ChannelOptions {
  return options.serverName ? { 'grpc.ssl_target_name_override': options.serverName, 'grpc.default_authority': options.serverName } : {};
}

/** `User:<CN>` from a verified client certificate, or undefined without a usable CN. */
export function principalFromCertificate(cert: PeerCertificate | undefined): Principal | undefined {
  const cn = cert?.subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  return typeof name === 'string' && name.length > 0 ? userPrincipal(name) : undefined;
}
