/**
 * One gRPC channel per address, reused by every request of a client (Kafka's one connection
 * per node): `broker(address)` for BrokerService, `admin(address)` for the controller's
 * AdminService, `groupCoordinator(address)` for GroupCoordinatorService. Broker channels use `BrokerServiceFastClient` (@tributary/proto): Produce
 * requests are encoded by the exact-size encoder (one allocation, each batch copied once) and
 * Fetch answers' `records` are views of the received message, not copies — a fetched batch
 * keeps its whole answer alive while the consumer holds it (bounded by maxBufferedBytes). grpc-js multiplexes concurrent calls over the channel's HTTP/2 connection and
 * reconnects by itself (with the backoff of GRPC_CLIENT_DEFAULTS).
 *
 * Calls go through {@link ConnectionPool.call}, which applies request.timeout.ms and turns a
 * failed status into a `TributaryError` (Kafka code from the `tributary-error-code` trailer)
 * or a `GrpcStatusError`; see `@tributary/runtime` grpc-client.ts.
 *
 * Security: with `tls` every channel is TLS; with `sasl` every call carries the client's
 * session token (auth.ts: SCRAM login against the service called, token cached and renewed).
 * Every call carries `client.id` in the `tributary-client-id` metadata (URI-encoded), the
 * key of client quotas.
 *
 * Concurrency: single-threaded; `close()` closes every channel, after which calls fail.
 */
import type { Client } from '@grpc/grpc-js';
import { AdminServiceClient, BrokerServiceFastClient, GroupCoordinatorServiceClient } from '@tributary/proto';
import type { BrokerServiceClient } from '@tributary/proto';
import { CLIENT_ID_METADATA_KEY, createClient, unary } from '@tributary/runtime';
import type { ClientConstructor, ClientRequest, ClientResponse, CreateClientOptions, MethodsOfKind, TokenSession } from '@tributary/runtime';
import { createSession } from './auth';
import type { ResolvedClientOptions } from './config';

/**
 * HTTP/2 receive window of broker channels (connection and each stream). The HTTP/2 default,
 * 64 KiB, makes a broker stop after every 64 KiB of a Fetch answer until the client's
 * WINDOW_UPDATE comes back: a 1 MiB partition answer took 16 round trips.
 */
export const BROKER_FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;
const BROKER_CHANNEL_OPTIONS = { 'grpc-node.flow_control_window': BROKER_FLOW_CONTROL_WINDOW_BYTES };

/** The channels of one client. */
export class ConnectionPool {
  private readonly brokers = new Map<string, BrokerServiceClient>();
  private readonly admins = new Map<string, AdminServiceClient>();
  private readonly groupCoordinators = new Map<string, GroupCoordinatorServiceClient>();
  private readonly others = new Map<ClientConstructor<Client>, Map<string, Client>>();
  private closed = false;
  private readonly auth: TokenSession | undefined;

  constructor(private readonly options: Pick<ResolvedClientOptions, 'grpc' | 'requestTimeoutMs'> & Partial<Pick<ResolvedClientOptions, 'tls' | 'sasl' | 'logger' | 'clientId'>>) {
    if (options.sasl) {
      const silent = { debug() {}, info() {}, warn() {}, error() {} };
      this.auth = createSession(options.sasl, options.tls, options.grpc, options.requestTimeoutMs, options.logger ?? silent);
    }
  }

  /** TLS, token and client id options of a channel to `address`. */
  private security(address: string): Pick<CreateClientOptions, 'tls' | 'authToken' | 'onTokenRejected' | 'metadata'> {
    const auth = this.auth;
    const clientId = this.options.clientId;
    return {
      // client.id travels with every call (brokers key quotas on it), URI-encoded: metadata is ASCII.
      ...(clientId ? { metadata: { [CLIENT_ID_METADATA_KEY]: encodeURIComponent(clientId) } } : {}),
      ...(this.options.tls ? { tls: this.options.tls } : {}),
      ...(auth ? { authToken: () => auth.token(address), onTokenRejected: () => auth.invalidate() } : {}),
    };
  }

  /** The BrokerService client of `address` (`host:port`), created on first use. */
  broker(address: string): BrokerServiceClient {
    let client = this.brokers.get(address);
    if (client === undefined) {
      this.checkOpen();
      client = createClient(BrokerServiceFastClient, address, { settings: this.options.grpc, channelOptions: BROKER_CHANNEL_OPTIONS, ...this.security(address) });
      this.brokers.set(address, client);
    }
    return client;
  }

  /** The AdminService client of `address`, created on first use. */
  admin(address: string): AdminServiceClient {
    let client = this.admins.get(address);
    if (client === undefined) {
      this.checkOpen();
      client = createClient(AdminServiceClient, address, { settings: this.options.grpc, ...this.security(address) });
      this.admins.set(address, client);
    }
    return client;
  }

  /** The GroupCoordinatorService client of `address`, created on first use. */
  groupCoordinator(address: string): GroupCoordinatorServiceClient {
    let client = this.groupCoordinators.get(address);
    if (client === undefined) {
      this.checkOpen();
      client = createClient(GroupCoordinatorServiceClient, address, { settings: this.options.grpc, ...this.security(address) });
      this.groupCoordinators.set(address, client);
    }
    return client;
  }

  /**
   * The client of another service (AclService, UserAdminService, ...) at `address`, created on
   * first use with the pool's TLS and login, closed with the pool.
   */
  service<C extends Client>(ctor: ClientConstructor<C>, address: string): C {
    let byAddress = this.others.get(ctor);
    if (byAddress === undefined) {
      byAddress = new Map();
      this.others.set(ctor, byAddress);
    }
    let client = byAddress.get(address) as C | undefined;
    if (client === undefined) {
      this.checkOpen();
      client = createClient(ctor, address, { settings: this.options.grpc, ...this.security(address) });
      byAddress.set(address, client);
    }
    return client;
  }

  /** A unary call with request.timeout.ms as deadline (unless `deadlineMs` is given); `signal` cancels it. */
  call<C extends Client, M extends MethodsOfKind<C, 'unary'>>(
    client: C,
    method: M,
    request: ClientRequest<C, M>,
    deadlineMs?: number,
    signal?: AbortSignal,
  ): Promise<ClientResponse<C, M>> {
    return unary(client, method, request, { deadlineMs: deadlineMs ?? this.options.requestTimeoutMs, ...(signal === undefined ? {} : { signal }) });
  }

  /** Addresses with an open broker channel. */
  get brokerAddresses(): string[] {
    return [...this.brokers.keys()];
  }

  /** Closes every channel (in-flight calls fail with CANCELLED/UNAVAILABLE). Idempotent. */
  close(): void {
    this.closed = true;
    for (const c of this.brokers.values()) c.close();
    for (const c of this.admins.values()) c.close();
    for (const c of this.groupCoordinators.values()) c.close();
    for (const byAddress of this.others.values()) for (const c of byAddress.values()) c.close();
    this.others.clear();
    this.brokers.clear();
    this.admins.clear();
    this.groupCoordinators.clear();
    this.auth?.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('the connection pool is closed');
  }
}
