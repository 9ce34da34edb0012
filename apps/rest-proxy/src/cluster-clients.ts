/**
 * The SDK clients the proxy calls the cluster with, for ONE identity: an `Admin` (and the
 * {@link ClusterView} cache over it) and a `Producer` created on first produce. Without
 * HTTP authentication there is one of these, with the proxy's own identity (its TLS client
 * certificate, or `--sasl-mechanism` / `--sasl-username` / `--sasl-password-file`); with
 * Basic authentication each authenticated user gets one with its own SCRAM login
 * (principals.ts), so that the brokers' ACLs decide what the user may do.
 *
 * The cluster id is not a secret and is the same for everybody: every identity's view asks
 * the proxy's own (`clusterId` option), so a user needs no Describe on the cluster to use
 * the v3 paths.
 */
import { Admin, Consumer, Producer } from '@tributary/client';
import type { Acks, ClientLogger, ConsumerOptions, SaslOptions, TlsOptions } from '@tributary/client';
import { ClusterView } from './cluster-view';

/** How an SDK client reaches and authenticates to the cluster. */
export interface ClientSecurity {
  tls?: TlsOptions;
  sasl?: SaslOptions;
}

/** The settings of the clients (the proxy's config, or the part of it used here). */
export interface ClusterClientsSettings {
  requestTimeoutMs: number;
  metadataMaxAgeMs: number;
  producerAcks: 'all' | '1' | '0';
  producerLingerMs: number;
  producerBatchSize: number;
  producerBufferMemory: number;
  producerCompression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
}

export interface ClusterClientsOptions {
  bootstrap: string[];
  logger: ClientLogger;
  settings: ClusterClientsSettings;
  security: ClientSecurity;
  /** `User:<name>` of an authenticated HTTP user; undefined for the proxy's own identity. */
  principal?: string;
  /** Where the cluster id comes from (default: this identity's DescribeCluster). */
  clusterId?: () => Promise<string>;
}

export class ClusterClients {
  readonly admin: Admin;
  readonly view: ClusterView;
  readonly principal: string | undefined;
  private producerValue: Producer | undefined;
  private closed = false;

  constructor(private readonly options: ClusterClientsOptions) {
    this.principal = options.principal;
    this.admin = new Admin({ ...this.clientOptions(), metadataWaitMs: 10_000 });
    this.view = new ClusterView(this.admin, options.settings.metadataMaxAgeMs, options.clusterId);
  }

  /** bootstrap, logger, timeout and security, for an SDK client of this identity. */
  clientOptions(): { bootstrap: string[]; logger: ClientLogger; requestTimeoutMs: number; tls?: TlsOptions; sasl?: SaslOptions } {
    const { security } = this.options;
    return {
      bootstrap: this.options.bootstrap,
      logger: this.options.logger,
      requestTimeoutMs: this.options.settings.requestTimeoutMs,
      ...(security.tls ? { tls: security.tls } : {}),
      ...(security.sasl ? { sasl: security.sasl } : {}),
    };
  }

  /** The security of this identity (for the consumers it creates). */
  get security(): ClientSecurity {
    return this.options.security;
  }

  /** The identity's producer, created on first use (most users of a proxy only read or administer). */
  get producer(): Producer {
    if (this.closed) throw new Error('the clients of this principal are closed');
    const s = this.options.settings;
    this.producerValue ??= new Producer({
      ...this.clientOptions(),
      // Same cadence as the proxy's own topic cache, so partitions added are seen by both.
      metadataMaxAgeMs: s.metadataMaxAgeMs,
      acks: (s.producerAcks === 'all' ? 'all' : Number(s.producerAcks)) as Acks,
      lingerMs: s.producerLingerMs,
      batchSize: s.producerBatchSize,
      bufferMemory: s.producerBufferMemory,
      compression: s.producerCompression,
    });
    return this.producerValue;
  }

  /** A consumer of this identity (stateless reads); the caller closes it. */
  consumer(options: Omit<ConsumerOptions, 'bootstrap' | 'logger' | 'tls' | 'sasl'>): Consumer {
    return new Consumer({ ...this.clientOptions(), ...options });
  }

  /** Flushes the producer (up to `timeoutMs`) and closes every client. Idempotent. */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const producer = this.producerValue;
    if (producer !== undefined) await producer.close({ timeoutMs: Math.max(100, timeoutMs) }).catch(() => undefined);
    await this.admin.close().catch(() => undefined);
  }
}
