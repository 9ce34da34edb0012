/**
 * The ONE way Tributary creates gRPC servers (ARCHITECTURE.md §10). `createGrpcServer` wraps a
 * grpc-js `Server` so that every call, whatever its service:
 * - runs the interceptor chain first, which yields the call's {@link Principal} or rejects
 *   the call: with `authenticator` (security/authenticator.ts) its interceptor comes first
 *   and names the caller from a session token or an mTLS certificate (the server then also
 *   serves AuthService); without it every call is anonymous. `principalOf(ctx)`
 *   (security/principal.ts) gives the Kafka form `User:<name>`;
 * - with `authorizer` (security/enforce.ts), runs the authorization interceptor last: the
 *   call's rule in the RPC → (resource, operation) table refuses whole-call denials
 *   (PERMISSION_DENIED + the Kafka code) and internal APIs to non-service principals, and
 *   handlers get `ctx.authorization` for per-resource checks (`filterAllowed(ctx, ...)`);
 *   without it everything is allowed;
 * - listens with TLS when `tls` is given (certificate/key/CA files, optional mutual TLS,
 *   reloaded on change: security/tls.ts), else plaintext;
 * - reaches an ASYNC handler typed from the generated service definition, with a
 *   {@link CallContext} (principal, metadata, peer, logger, deadline, AbortSignal);
 * - turns what the handler throws into a status (grpc-errors.ts: TributaryError → mapped
 *   status + `tributary-error-code`; GrpcStatusError → as is; anything else → INTERNAL,
 *   logged with its stack);
 * - is counted: `tributary_grpc_server_requests_total{method,code}`,
 *   `tributary_grpc_server_handling_seconds{method}`, `tributary_grpc_server_active_streams{method}`.
 *
 * Handler shapes (`ctx.signal` aborts when the client cancels, the deadline passes or the
 * server is force-stopped; streams written after that reject with the abort reason):
 * - unary: `(request, ctx) => Promise<Response>`
 * - server streaming: `(request, stream, ctx) => Promise<void>`; `await stream.write(msg)`
 *   waits while the transport's buffer is full (back-pressure); returning ends the stream OK
 * - client streaming: `(requests: AsyncIterable<Req>, ctx) => Promise<Response>`
 * - bidi: `(requests: AsyncIterable<Req>, stream, ctx) => Promise<void>`
 * Methods without a handler answer UNIMPLEMENTED.
 *
 * Concurrency: handlers run concurrently (one promise per call); the wrapper settles each call
 * exactly once and records its metrics exactly once, whichever of handler completion,
 * cancellation or deadline comes first.
 */
import * as grpc from '@grpc/grpc-js';
import type { Readable } from 'node:stream';
import type { PeerCertificate } from 'node:tls';
import type { Registry } from 'prom-client';
import { AuthServiceService } from '@tributary/proto';
import type { Logger } from './logger';
import { DURATION_BUCKETS_SECONDS, getOrCreateCounter, getOrCreateGauge, getOrCreateHistogram } from './metrics';
import { GrpcStatusError, Status, toGrpcStatus } from './grpc-errors';
import { iterateStream } from './stream-iterator';
import type { Authenticator } from './security/authenticator';
import type { Authorizer } from './security/authorizer';
import {
  authorizationInterceptor,
  callAuthorization,
  defaultIsServicePrincipal,
  TRIBUTARY_AUTHORIZATION_TABLE,
  type AuthorizationTable,
  type CallAuthorization,
} from './security/enforce';
import { ReloadingServerTls, type ServerTlsOptions } from './security/tls';

// ---------------------------------------------------------------------------------------------
// Principals and interceptors

/** Who is calling. Closed set; the security work adds its cases here. */
export type Principal =
  | { kind: 'anonymous' }
  /** An authenticated user (SCRAM user name, or mTLS certificate subject). */
  | { kind: 'user'; name: string }
  /** Another Tributary service (broker, controller, ...), for internal APIs. */
  | { kind: 'service'; name: string };

/** The principal of a call when no interceptor names one. */
export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous' });

/** What an interceptor sees besides metadata and peer. */
export interface InterceptorInfo {
  /** Full method name, e.g. `tributary.v1.CoordinationService/Get`. */
  method: string;
  /** The principal set by the interceptors before this one (anonymous at first). */
  principal: Principal;
  /** The client's verified certificate on a mutual-TLS connection, else undefined. */
  peerCertificate?: PeerCertificate;
  /**
   * The request of a unary or server-streaming call (already decoded), for interceptors that
   * look at what is asked (the authorization interceptor reads a group id); undefined for
   * calls that stream their requests.
   */
  request?: unknown;
}

/**
 * Runs before every handler, in order. Returns a principal to set it for the rest of the
 * chain and the handler, nothing to keep the current one, or throws (usually a
 * `GrpcStatusError` with UNAUTHENTICATED or PERMISSION_DENIED) to reject the call.
 */
export type Interceptor = (metadata: grpc.Metadata, peer: string, info: InterceptorInfo) => Promise<Principal | void>;

// ---------------------------------------------------------------------------------------------
// Handler types

/** What every handler receives about its call. */
export interface CallContext {
  /** Full method name, e.g. `tributary.v1.CoordinationService/Get`. */
  readonly method: string;
  /** Who is calling (from the interceptor chain). */
  readonly principal: Principal;
  /** Request metadata (headers). */
  readonly metadata: grpc.Metadata;
  /** The client's address, e.g. `127.0.0.1:53422`. */
  readonly peer: string;
  /** The server logger with `{ method }` bound. */
  readonly logger: Logger;
  /** The client's deadline as epoch milliseconds, or undefined when it set none. */
  readonly deadline: number | undefined;
  /** Aborted when the client cancels, the deadline passes or the server is force-stopped. */
  readonly signal: AbortSignal;
  /**
   * Per-resource authorization of this call's principal (security/enforce.ts), present when
   * the server has an `authorizer`. Handlers use it through `authorize(ctx, ...)` /
   * `filterAllowed(ctx, ...)`, which allow everything when it is absent.
   */
  readonly authorization?: CallAuthorization;
}

/** The response side of a server-streaming or bidi call. */
export interface ServerStream<Res> {
  /**
   * Sends one message. Resolves at once while the transport has room, otherwise when it
   * drains; rejects with the abort reason once the call is cancelled or over.
   */
  write(message: Res): Promise<void>;
}

/** Unary handler. */
export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;
/** Server-streaming handler: resolve to end the stream with OK. */
export type ServerStreamingHandler<Req, Res> = (request: Req, stream: ServerStream<Res>, ctx: CallContext) => Promise<void>;
/** Client-streaming handler: consume `requests`, resolve to the single response. */
export type ClientStreamingHandler<Req, Res> = (requests: AsyncIterable<Req>, ctx: CallContext) => Promise<Res>;
/** Bidi handler: resolve to end the stream with OK. */
export type BidiStreamingHandler<Req, Res> = (
  requests: AsyncIterable<Req>,
  stream: ServerStream<Res>,
  ctx: CallContext,
) => Promise<void>;

/** The part of a generated method definition the server uses. */
export interface MethodDefinitionLike {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (bytes: Buffer) => unknown;
  responseSerialize: (value: never) => Buffer;
}

/** A generated service definition, e.g. `CoordinationServiceService`. */
export type ServiceDefinitionLike = { readonly [method: string]: MethodDefinitionLike };

/** Request type of a method definition. */
export type RequestOf<M> = M extends { requestDeserialize: (bytes: Buffer) => infer Req } ? Req : never;
/** Response type of a method definition. */
export type ResponseOf<M> = M extends { responseSerialize: (value: infer Res) => Buffer } ? Res : never;

/** The handler type a method definition calls for. */
export type HandlerFor<M> = M extends { requestStream: false; responseStream: false }
  ? UnaryHandler<RequestOf<M>, ResponseOf<M>>
  : M extends { requestStream: false; responseStream: true }
    ? ServerStreamingHandler<RequestOf<M>, ResponseOf<M>>
    : M extends { requestStream: true; responseStream: false }
      ? ClientStreamingHandler<RequestOf<M>, ResponseOf<M>>
      : BidiStreamingHandler<RequestOf<M>, ResponseOf<M>>;

/** Handlers of a whole service, keyed like the generated definition (`get`, `watch`, ...). */
export type ServiceHandlers<D extends ServiceDefinitionLike> = { [K in keyof D]: HandlerFor<D[K]> };

// ---------------------------------------------------------------------------------------------
// Server

/** Server defaults, in one place. */
export const GRPC_SERVER_DEFAULTS = {
  /** Largest request accepted (Produce batches): 16 MiB. */
  maxReceiveMessageBytes: 16 * 1024 * 1024,
  /** Largest response sent (Fetch answers up to fetch.max.bytes, 50 MiB in Kafka): 64 MiB. */
  maxSendMessageBytes: 64 * 1024 * 1024,
  /** Ping an idle client connection this often to find dead peers (clients ping every 10 s too). */
  keepaliveTimeMs: 30_000,
  /** Drop the connection when a ping is not answered within this time. */
  keepaliveTimeoutMs: 10_000,
  /** Default grace period of `shutdown()`. */
  shutdownGraceMs: 10_000,
  /**
   * HTTP/2 receive window of every connection and stream (the SDK's broker channels have
   * 16 MiB the other way): with HTTP/2's 64 KiB a producer stops after every 64 KiB of its
   * ProduceStream until the server's WINDOW_UPDATE comes back. 4 MiB covers the producer's
   * in-flight requests through event-loop stalls of tens of ms, and bounds what one stream
   * can make a server buffer while its handler is not reading.
   */
  flowControlWindowBytes: 4 * 1024 * 1024,
} as const;

/** What {@link createGrpcServer} needs. */
export interface GrpcServerOptions {
  logger: Logger;
  /** The process registry (see metrics.ts). */
  registry: Registry;
  /** Run in order before every handler; default: none, every call is anonymous. */
  interceptors?: readonly Interceptor[];
  /** Default {@link GRPC_SERVER_DEFAULTS.maxReceiveMessageBytes}. */
  maxReceiveMessageBytes?: number;
  /** Default {@link GRPC_SERVER_DEFAULTS.maxSendMessageBytes}. */
  maxSendMessageBytes?: number;
  /** Default {@link GRPC_SERVER_DEFAULTS.keepaliveTimeMs}. */
  keepaliveTimeMs?: number;
  /** Default {@link GRPC_SERVER_DEFAULTS.keepaliveTimeoutMs}. */
  keepaliveTimeoutMs?: number;
  /** Transport credentials (default plaintext). Prefer `tls`, which also reloads. */
  credentials?: grpc.ServerCredentials;
  /**
   * TLS from files, optionally mutual, reloaded on change (security/tls.ts). Absent (and no
   * `credentials`): plaintext. Pass a `ReloadingServerTls` to share one with the admin server.
   */
  tls?: ServerTlsOptions | ReloadingServerTls;
  /**
   * Authentication (security/authenticator.ts): its interceptor runs before `interceptors`
   * and names the caller of every call; the server also serves AuthService (SCRAM login,
   * token revocation). Absent: every call is anonymous, as before.
   */
  authenticator?: Authenticator;
  /**
   * Authorization (security/enforce.ts): an interceptor after all the others refuses calls
   * their rule in `authorizationTable` denies (PERMISSION_DENIED with the Kafka code), and
   * handlers get `ctx.authorization` for per-resource checks. Absent: everything is allowed,
   * as before.
   */
  authorizer?: Authorizer;
  /** The RPC → (resource, operation) rules; default {@link TRIBUTARY_AUTHORIZATION_TABLE}. */
  authorizationTable?: AuthorizationTable;
  /**
   * Which principals may call internal APIs; default: service principals (authenticated super
   * users) and the authorizer's super users.
   */
  isServicePrincipal?: (principal: Principal) => boolean;
  /** Extra grpc-js channel options, applied last. */
  channelOptions?: grpc.ChannelOptions;
}

/** A gRPC server built by {@link createGrpcServer}. */
export interface GrpcServer {
  /** Registers a service; `handlers` may omit methods (they answer UNIMPLEMENTED). */
  addService<D extends ServiceDefinitionLike>(definition: D, handlers: Partial<ServiceHandlers<D>>): void;
  /** Binds and starts serving; port 0 picks a free port; host `unix:<path>` listens on a unix socket. Resolves to the bound port. */
  listen(host: string, port: number): Promise<number>;
  /**
   * Stops accepting calls and waits for running ones up to `graceMs` (default 10 s), then
   * cancels what is left (their `ctx.signal` aborts). Resolves when the server is stopped.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/** Creates a gRPC server (see the file header). */
export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const logger = options.logger.child({ component: 'grpc-server' });
  const authorizer = options.authorizer;
  const isServicePrincipal = authorizer ? (options.isServicePrincipal ?? defaultIsServicePrincipal(authorizer)) : undefined;
  const interceptors = [
    ...(options.authenticator ? [options.authenticator.interceptor] : []),
    ...(options.interceptors ?? []),
    ...(authorizer
      ? [
          authorizationInterceptor(authorizer, options.authorizationTable ?? TRIBUTARY_AUTHORIZATION_TABLE, {
            ...(isServicePrincipal ? { isServicePrincipal } : {}),
            logger,
            registry: options.registry,
          }),
        ]
      : []),
  ];
  const tls = options.tls === undefined || options.tls instanceof ReloadingServerTls ? options.tls : new ReloadingServerTls(options.tls, logger);
  const ownsTls = tls !== undefined && tls !== options.tls;
  // Client certificates exist only on mutual TLS (or custom credentials): skip the per-call
  // lookup otherwise.
  const peerCertificates = tls?.requestsClientCert === true || options.credentials !== undefined;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? GRPC_SERVER_DEFAULTS.maxReceiveMessageBytes,
    'grpc.max_send_message_length': options.maxSendMessageBytes ?? GRPC_SERVER_DEFAULTS.maxSendMessageBytes,
    'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? GRPC_SERVER_DEFAULTS.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs ?? GRPC_SERVER_DEFAULTS.keepaliveTimeoutMs,
    ...options.channelOptions,
  });
  const requests = getOrCreateCounter(options.registry, {
    name: 'tributary_grpc_server_requests_total',
    help: 'gRPC calls completed by the server, by method and status code',
    labelNames: ['method', 'code'],
  });
  const handling = getOrCreateHistogram(options.registry, {
    name: 'tributary_grpc_server_handling_seconds',
    help: 'Time from the start of a gRPC call to its status, by method',
    labelNames: ['method'],
    buckets: DURATION_BUCKETS_SECONDS,
  });
  const activeStreams = getOrCreateGauge(options.registry, {
    name: 'tributary_grpc_server_active_streams',
    help: 'Streaming gRPC calls in progress, by method',
    labelNames: ['method'],
  });
  const instruments: Instruments = { requests, handling, activeStreams };
  let stopping: Promise<void> | undefined;

  const grpcServer: GrpcServer = {
    addService(definition, handlers) {
      for (const name of Object.keys(handlers)) {
        if (!(name in definition)) throw new Error(`addService: ${name} is not a method of the service`);
      }
      const implementation: grpc.UntypedServiceImplementation = {};
      for (const [name, def] of Object.entries(definition)) {
        const method = def.path.replace(/^\//, '');
        const streaming = def.requestStream || def.responseStream;
        // Known label sets from the start, so dashboards never see missing series.
        requests.inc({ method, code: 'OK' }, 0);
        handling.zero({ method });
        if (streaming) activeStreams.set({ method }, 0);
        const handler = (handlers as Record<string, unknown>)[name] as AnyHandler | undefined;
        if (handler === undefined) continue;
        const env: CallEnv = { method, streaming, handler, interceptors, logger: logger.child({ method }), instruments, peerCertificates, authorizer, isServicePrincipal };
        implementation[name] = wrapHandler(def, env);
      }
      server.addService(definition as unknown as grpc.ServiceDefinition, implementation);
    },

    listen(host, port) {
      // `unix:<path>` listens on a unix socket (port ignored).
      const address = host.startsWith('unix:') ? host : host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
      return new Promise<number>((resolve, reject) => {
        const credentials = options.credentials ?? tls?.grpcCredentials() ?? grpc.ServerCredentials.createInsecure();
        server.bindAsync(address, credentials, (err, bound) => {
          if (err) reject(new Error(`cannot listen for gRPC on ${address}: ${err.message}`, { cause: err }));
          else {
            disableNagle(server);
            widenFlowControlWindows(server, GRPC_SERVER_DEFAULTS.flowControlWindowBytes);
            logger.info({ host, port: bound, tls: tls ? (tls.mutual ? 'mutual' : tls.requestsClientCert ? 'requested' : 'server') : options.credentials ? 'custom' : 'plaintext' }, 'grpc server listening');
            resolve(bound);
          }
        });
      });
    },

    shutdown(graceMs = GRPC_SERVER_DEFAULTS.shutdownGraceMs) {
      stopping ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          logger.warn({ graceMs }, 'grpc calls still running after the grace period: cancelling them');
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }).then(() => {
        if (ownsTls) tls.close();
        logger.info('grpc server stopped');
      });
      return stopping;
    },
  };
  if (options.authenticator) grpcServer.addService(AuthServiceService, options.authenticator.authServiceHandlers);
  return grpcServer;
}

// ---------------------------------------------------------------------------------------------
// Per-call wrapper

/** A client cancellation this close to the call's deadline counts as DEADLINE_EXCEEDED. */
const DEADLINE_CANCEL_SLACK_MS = 50;

type AnyHandler = (...args: never[]) => Promise<unknown>;

interface Instruments {
  requests: ReturnType<typeof getOrCreateCounter<'method' | 'code'>>;
  handling: ReturnType<typeof getOrCreateHistogram<'method'>>;
  activeStreams: ReturnType<typeof getOrCreateGauge<'method'>>;
}

interface CallEnv {
  method: string;
  streaming: boolean;
  handler: AnyHandler;
  interceptors: readonly Interceptor[];
  logger: Logger;
  instruments: Instruments;
  /** Whether callers may present certificates (look them up for the interceptors). */
  peerCertificates: boolean;
  /** Gives handlers `ctx.authorization` when set. */
  authorizer: Authorizer | undefined;
  isServicePrincipal: ((principal: Principal) => boolean) | undefined;
}

/** The grpc-js call object of any kind, as far as the wrapper uses it. */
type AnyServerCall = grpc.ServerUnaryCall<unknown, unknown> & Partial<grpc.ServerWritableStream<unknown, unknown>>;
type SendUnary = grpc.sendUnaryData<unknown>;

function wrapHandler(def: MethodDefinitionLike, env: CallEnv): grpc.UntypedHandleCall {
  const kind = def.requestStream ? (def.responseStream ? 'bidi' : 'clientStream') : def.responseStream ? 'serverStream' : 'unary';
  return ((call: AnyServerCall, callback?: SendUnary) => {
    void runCall(kind, call, callback, env);
  }) as grpc.UntypedHandleCall;
}

async function runCall(
  kind: 'unary' | 'serverStream' | 'clientStream' | 'bidi',
  call: AnyServerCall,
  callback: SendUnary | undefined,
  env: CallEnv,
): Promise<void> {
  const started = process.hrtime.bigint();
  const { method, instruments } = env;
  const controller = new AbortController();
  let settled = false;
  if (env.streaming) instruments.activeStreams.inc({ method });

  const rawDeadline = call.getDeadline();
  const deadlineMs = rawDeadline instanceof Date ? rawDeadline.getTime() : Number.isFinite(rawDeadline) ? rawDeadline : undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;

  /** Records the outcome once; returns false if the call was already settled. */
  const settle = (code: Status): boolean => {
    if (settled) return false;
    settled = true;
    if (deadlineTimer) clearTimeout(deadlineTimer);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    instruments.requests.inc({ method, code: Status[code] ?? String(code) });
    instruments.handling.observe({ method }, seconds);
    if (env.streaming) instruments.activeStreams.dec({ method });
    if (env.logger.isLevelEnabled('debug')) {
      env.logger.debug({ code: Status[code], durationMs: Math.round(seconds * 1e6) / 1e3 }, 'grpc call');
    }
    return true;
  };

  const expire = (): void => {
    if (settle(Status.DEADLINE_EXCEEDED)) controller.abort(new GrpcStatusError(Status.DEADLINE_EXCEEDED, 'deadline exceeded'));
  };
  call.on('cancelled', () => {
    // The client's own deadline timer usually fires a moment before ours and cancels the
    // call: a cancellation at the deadline is the deadline.
    if (deadlineMs !== undefined && Date.now() >= deadlineMs - DEADLINE_CANCEL_SLACK_MS) expire();
    else if (settle(Status.CANCELLED)) controller.abort(new GrpcStatusError(Status.CANCELLED, 'call cancelled by the client'));
  });
  if (deadlineMs !== undefined) {
    // grpc-js answers DEADLINE_EXCEEDED by itself; this tells the handler to stop.
    deadlineTimer = setTimeout(expire, Math.max(0, deadlineMs - Date.now()));
  }

  const sendError = (e: unknown): void => {
    const status = toGrpcStatus(e);
    if (!settle(status.code)) return;
    if (status.unexpected) env.logger.error({ err: e }, 'grpc handler failed');
    const statusObject = { code: status.code, details: status.details, metadata: status.metadata };
    if (callback) callback(statusObject);
    else call.emit('error', statusObject); // grpc-js stream calls: an 'error' event sends the status
  };

  try {
    const peer = call.getPeer();
    let principal: Principal = ANONYMOUS;
    const peerCertificate = env.peerCertificates && env.interceptors.length > 0 ? verifiedPeerCertificate(call) : undefined;
    const request = kind === 'unary' || kind === 'serverStream' ? { request: call.request } : {};
    for (const interceptor of env.interceptors) {
      const result = await interceptor(call.metadata, peer, { method, principal, ...(peerCertificate ? { peerCertificate } : {}), ...request });
      if (result) principal = result;
    }
    if (controller.signal.aborted) return;
    const ctx: CallContext = {
      method,
      principal,
      metadata: call.metadata,
      peer,
      logger: env.logger,
      deadline: deadlineMs,
      signal: controller.signal,
      ...(env.authorizer ? { authorization: callAuthorization(env.authorizer, principal, peer, env.isServicePrincipal) } : {}),
    };
    const handler = env.handler as (...args: unknown[]) => Promise<unknown>;
    switch (kind) {
      case 'unary': {
        const response = await handler(call.request, ctx);
        if (settle(Status.OK)) (callback as SendUnary)(null, response);
        return;
      }
      case 'clientStream': {
        const response = await handler(requestIterable(call, controller.signal), ctx);
        if (settle(Status.OK)) (callback as SendUnary)(null, response);
        return;
      }
      case 'serverStream':
        await handler(call.request, streamWriter(call, controller.signal), ctx);
        break;
      case 'bidi':
        await handler(requestIterable(call, controller.signal), streamWriter(call, controller.signal), ctx);
        break;
    }
    if (settle(Status.OK)) (call as unknown as grpc.ServerWritableStream<unknown, unknown>).end();
  } catch (e) {
    sendError(e);
  }
}

/**
 * The client certificate of a TLS connection, when the client sent one (the TLS server only
 * completes the handshake with a certificate that chains to its CA when it asks for one).
 */
function verifiedPeerCertificate(call: AnyServerCall): PeerCertificate | undefined {
  const context = (call as { getAuthContext?: () => { sslPeerCertificate?: PeerCertificate } | null }).getAuthContext?.();
  const cert = context?.sslPeerCertificate;
  return cert && cert.subject && Object.keys(cert).length > 0 ? cert : undefined;
}

function requestIterable(call: AnyServerCall, signal: AbortSignal): AsyncIterable<unknown> {
  // A client's RST_STREAM reaches the request stream as an end a few ticks before grpc-js
  // reports the cancellation: wait one macrotask so the handler sees the cancellation.
  return iterateStream<unknown>(call as unknown as Readable, { signal, settleEnd: () => new Promise((r) => setImmediate(r)) });
}

function streamWriter(call: AnyServerCall, signal: AbortSignal): ServerStream<unknown> {
  const writable = call as unknown as grpc.ServerWritableStream<unknown, unknown>;
  const write = (message: unknown): Promise<void> => {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (writable.writableEnded) return Promise.reject(new Error('write after the stream ended'));
    if (writable.write(message)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        writable.off('drain', onDrain);
        reject(signal.reason);
      };
      writable.once('drain', onDrain);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  };
  return {
    write(message) {
      const done = write(message);
      // A handler that drops the promise (fire-and-forget write) must not crash the process
      // with an unhandled rejection once the call is cancelled; awaiting callers still see it.
      done.catch(() => undefined);
      return done;
    },
  };
}

/**
 * Sets the HTTP/2 receive window of every new connection and stream to `bytes` (grpc-js
 * leaves the server at HTTP/2's 64 KiB, so a client streaming requests — ProduceStream —
 * waits for a WINDOW_UPDATE round trip after every 64 KiB; over TLS, with a busy event loop,
 * that round trip throttled the stream). Same private map as {@link disableNagle}.
 */
function widenFlowControlWindows(server: grpc.Server, bytes: number): void {
  const http2Servers = (server as unknown as { http2Servers?: Map<import('node:http2').Http2Server, unknown> }).http2Servers;
  if (!(http2Servers instanceof Map)) return; // disableNagle warns
  for (const http2Server of http2Servers.keys()) {
    if ((http2Server as { tributaryWindow?: boolean }).tributaryWindow) continue;
    (http2Server as { tributaryWindow?: boolean }).tributaryWindow = true;
    http2Server.updateSettings({ initialWindowSize: bytes });
    http2Server.on('session', (session: import('node:http2').ServerHttp2Session) => session.setLocalWindowSize(bytes));
  }
}

/**
 * Turns Nagle's algorithm off on every accepted connection (grpc-js does it on its client
 * sockets, not on the server's): a response's HEADERS, DATA and trailers frames must not wait
 * for the peer's delayed ACK. grpc-js keeps its HTTP/2 servers in a private map; if a future
 * version renames it, this does nothing (and says so once).
 */
function disableNagle(server: grpc.Server): void {
  const http2Servers = (server as unknown as { http2Servers?: Map<import('node:net').Server, unknown> }).http2Servers;
  if (!(http2Servers instanceof Map)) {
    process.emitWarning('grpc-js internals changed: cannot set TCP_NODELAY on server connections', 'TributaryWarning');
    return;
  }
  for (const http2Server of http2Servers.keys()) {
    if ((http2Server as { tributaryNoDelay?: boolean }).tributaryNoDelay) continue;
    (http2Server as { tributaryNoDelay?: boolean }).tributaryNoDelay = true;
    http2Server.on('connection', (socket: import('node:net').Socket) => socket.setNoDelay(true));
  }
}
