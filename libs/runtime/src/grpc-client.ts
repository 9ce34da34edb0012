/**
 * Calling generated grpc-js clients with promises and async iterables, and the channel
 * defaults every Tributary client uses (in {@link GRPC_CLIENT_DEFAULTS}, nowhere else).
 *
 * - `unary(client, 'get', request, opts)` → `Promise<Response>`
 * - `serverStream(client, 'watch', request, opts)` → async iterable of responses; leaving the
 *   `for await` loop early cancels the call
 * - `bidi(client, 'keepAlive', opts)` → `{ write, end, cancel }` plus an async iterable of
 *   responses
 *
 * Method names and message types come from the generated client interface
 * (`CoordinationServiceClient`), so a wrong name or request type does not compile.
 *
 * Errors: a status carrying `tributary-error-code` becomes the `TributaryError` (Kafka code,
 * message, retriable); any other status a `GrpcStatusError` (`.code`, `.metadata`). When the
 * caller's `signal` aborts, the call is cancelled and the promise or iterator rejects with
 * `signal.reason` (as `fetch` does).
 */
import * as grpc from '@grpc/grpc-js';
import type { Readable } from 'node:stream';
import { ERROR_CODE_METADATA_KEY, fromGrpcError, toGrpcStatus } from './grpc-errors';

/** Kafka's SASL_AUTHENTICATION_FAILED, as it travels in `tributary-error-code`. */
const SASL_AUTHENTICATION_FAILED_CODE = '58';
import { iterateStream } from './stream-iterator';
import { clientCredentials, clientTlsChannelOptions, type ClientTlsOptions } from './security/tls';

/** Client channel defaults, in one place. */
export const GRPC_CLIENT_DEFAULTS = {
  /** Ping the server after this long without traffic, to notice dead connections. */
  keepaliveTimeMs: 10_000,
  /** Consider the connection dead when a ping is unanswered this long. */
  keepaliveTimeoutMs: 5_000,
  /** Ping even with no call in flight (idle watch and lease channels must stay alive). */
  keepalivePermitWithoutCalls: true,
  /** Largest request sent (Produce batches): 16 MiB, the servers' receive limit. */
  maxSendMessageBytes: 16 * 1024 * 1024,
  /** Largest response accepted (Fetch): 64 MiB, the servers' send limit. */
  maxReceiveMessageBytes: 64 * 1024 * 1024,
  /** First reconnect delay after a connection fails. */
  initialReconnectBackoffMs: 100,
  /** Reconnect delays grow up to this (grpc-js' own default is 120 s: too slow for failover). */
  maxReconnectBackoffMs: 5_000,
  /** Deadline of a unary call when the caller gives none (pass `Infinity` for none). */
  unaryDeadlineMs: 30_000,
} as const;

/** Overrides of {@link GRPC_CLIENT_DEFAULTS}. */
export type GrpcClientSettings = { -readonly [K in keyof typeof GRPC_CLIENT_DEFAULTS]?: (typeof GRPC_CLIENT_DEFAULTS)[K] extends boolean ? boolean : number };

/** grpc-js channel options from {@link GRPC_CLIENT_DEFAULTS} and `overrides`. */
export function clientChannelOptions(overrides: GrpcClientSettings = {}): grpc.ChannelOptions {
  const s = { ...GRPC_CLIENT_DEFAULTS, ...overrides };
  return {
    'grpc.keepalive_time_ms': s.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': s.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': s.keepalivePermitWithoutCalls ? 1 : 0,
    'grpc.max_send_message_length': s.maxSendMessageBytes,
    'grpc.max_receive_message_length': s.maxReceiveMessageBytes,
    'grpc.initial_reconnect_backoff_ms': s.initialReconnectBackoffMs,
    'grpc.max_reconnect_backoff_ms': s.maxReconnectBackoffMs,
  };
}

/** A generated client constructor, e.g. `CoordinationServiceClient`. */
export type ClientConstructor<C> = new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ClientOptions>) => C;

/** Options of {@link createClient}. */
export interface CreateClientOptions {
  /** Transport credentials (default plaintext). Prefer `tls`. */
  credentials?: grpc.ChannelCredentials;
  /** TLS from files (read when the client is created), optionally with a client certificate. */
  tls?: ClientTlsOptions;
  /**
   * Session token source: its answer goes on every call as `authorization: Bearer <token>`
   * (none when it answers undefined). Called once per call, so keep it cheap (cache).
   */
  authToken?: () => string | undefined | Promise<string | undefined>;
  /**
   * Called when a server refuses the call's token (SASL_AUTHENTICATION_FAILED: expired,
   * revoked, rotated out), so the token source can drop it and log in again.
   */
  onTokenRejected?: () => void;
  /** Overrides of {@link GRPC_CLIENT_DEFAULTS}. */
  settings?: GrpcClientSettings;
  /** Extra grpc-js channel options, applied last. */
  channelOptions?: grpc.ChannelOptions;
  /** Metadata sent with every call (e.g. `tributary-client-id`, see {@link CLIENT_ID_METADATA_KEY}). */
  metadata?: Readonly<Record<string, string>>;
}

/** Call metadata carrying the client's `client.id` (Kafka's request header client_id), URI-encoded (metadata is ASCII): brokers key quotas on it. */
export const CLIENT_ID_METADATA_KEY = 'tributary-client-id';

/** Creates a generated client for `address` (`host:port`) with the Tributary channel defaults. */
export function createClient<C>(ctor: ClientConstructor<C>, address: string, options: CreateClientOptions = {}): C {
  const secure = secureChannel(options);
  return new ctor(address, secure.credentials, { ...clientChannelOptions(options.settings), ...options.channelOptions, ...secure.channelOptions });
}

/**
 * The security half of {@link createClient}: credentials (TLS or plaintext) and the channel
 * options that go with them (server name override, the bearer-token interceptor, and the
 * interceptor adding `metadata` to every call), for clients built elsewhere with their own
 * channel defaults (the CoordinationClient).
 */
export function secureChannel(options: Pick<CreateClientOptions, 'credentials' | 'tls' | 'authToken' | 'onTokenRejected' | 'metadata'>): {
  credentials: grpc.ChannelCredentials;
  channelOptions: Partial<grpc.ClientOptions>;
} {
  return {
    credentials: options.credentials ?? (options.tls ? clientCredentials(options.tls) : grpc.credentials.createInsecure()),
    channelOptions: {
      ...(options.tls ? clientTlsChannelOptions(options.tls) : {}),
      ...interceptorsOf(options),
    },
  };
}

function interceptorsOf(options: Pick<CreateClientOptions, 'authToken' | 'onTokenRejected' | 'metadata'>): { interceptors?: grpc.Interceptor[] } {
  const interceptors: grpc.Interceptor[] = [];
  const metadata = options.metadata;
  if (metadata && Object.keys(metadata).length > 0) interceptors.push(staticMetadataInterceptor(metadata));
  if (options.authToken) interceptors.push(bearerTokenInterceptor(options.authToken, options.onTokenRejected));
  return interceptors.length > 0 ? { interceptors } : {};
}

/** A client interceptor adding fixed metadata to every call. */
function staticMetadataInterceptor(entries: Readonly<Record<string, string>>): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
        next(metadata, listener);
      },
    });
}

/**
 * A client interceptor adding `authorization: Bearer <token>` to every call (plaintext or
 * TLS alike: grpc-js call credentials refuse plaintext channels, Kafka's SASL_PLAINTEXT
 * does not). The call starts once the token is known; a failing token source fails the call
 * with its error (a SASL_AUTHENTICATION_FAILED TributaryError stays one).
 */
function bearerTokenInterceptor(source: () => string | undefined | Promise<string | undefined>, onRejected: (() => void) | undefined): grpc.Interceptor {
  return (options, nextCall) => {
    const inner = nextCall(options);
    return new grpc.InterceptingCall(inner, {
      start(metadata, listener, next) {
        Promise.resolve()
          .then(source)
          .then(
            (token) => {
              if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
              if (token === undefined || onRejected === undefined) {
                next(metadata, listener);
                return;
              }
              // A next-style partial listener: grpc-js fills in the rest and chains it to ours.
              next(metadata, {
                onReceiveStatus(status, nextStatus) {
                  if (status.code === grpc.status.UNAUTHENTICATED && status.metadata.get(ERROR_CODE_METADATA_KEY)[0] === SASL_AUTHENTICATION_FAILED_CODE) onRejected();
                  nextStatus(status);
                },
              });
            },
            (e: unknown) => {
              // No token: the request must not go out (it would run as anonymous). Cancel the
              // inner call BEFORE starting it (grpc-js then never opens a stream and clears
              // its deadline timer), start it with a listener that swallows its CANCELLED,
              // and end the call with the token source's failure as the status a server
              // would send (callers get the same TributaryError).
              inner.cancelWithStatus(grpc.status.CANCELLED, 'no session token: authentication failed');
              next(metadata, { onReceiveMetadata() {}, onReceiveMessage() {}, onReceiveStatus() {} });
              const status = toGrpcStatus(e);
              listener.onReceiveStatus({ code: status.code, details: status.details, metadata: status.metadata });
            },
          );
      },
    });
  };
}

// ---------------------------------------------------------------------------------------------
// Types derived from the generated client interface

/** What a generated client method is, from its last (fullest) overload. */
type CallShape<F> = F extends (...args: never[]) => grpc.ClientDuplexStream<infer Req, infer Res>
  ? { kind: 'bidi'; req: Req; res: Res }
  : F extends (request: infer Req, ...rest: never[]) => grpc.ClientReadableStream<infer Res>
    ? { kind: 'serverStream'; req: Req; res: Res }
    : F extends (...args: never[]) => grpc.ClientWritableStream<infer Req>
      ? { kind: 'clientStream'; req: Req; res: unknown }
      : F extends (
            request: infer Req,
            metadata: grpc.Metadata,
            options: Partial<grpc.CallOptions>,
            callback: (error: grpc.ServiceError | null, response: infer Res) => void,
          ) => grpc.ClientUnaryCall
        ? { kind: 'unary'; req: Req; res: Res }
        : never;

type OwnMethods<C> = Exclude<keyof C, keyof grpc.Client> & string;

/** Names of the client's methods of one kind (`'unary'`, `'serverStream'`, `'bidi'`). */
export type MethodsOfKind<C, K extends string> = {
  [M in OwnMethods<C>]: CallShape<C[M]> extends { kind: K } ? M : never;
}[OwnMethods<C>];

/** Request type of a client method. */
export type ClientRequest<C, M extends keyof C> = CallShape<C[M]> extends { req: infer R } ? R : never;
/** Response type of a client method. */
export type ClientResponse<C, M extends keyof C> = CallShape<C[M]> extends { res: infer R } ? R : never;

/** Per-call options. */
export interface CallOptions {
  /**
   * Deadline in ms from now. Unary calls default to {@link GRPC_CLIENT_DEFAULTS.unaryDeadlineMs};
   * streams have none unless given. `Infinity` means none.
   */
  deadlineMs?: number;
  /** Cancels the call; the promise/iterator then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Request metadata, as `Metadata` or a plain object of string values. */
  metadata?: grpc.Metadata | Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Calls

type RawMethod = (this: grpc.Client, ...args: unknown[]) => unknown;

function rawMethod(client: grpc.Client, method: string): RawMethod {
  const fn = (client as unknown as Record<string, unknown>)[method];
  if (typeof fn !== 'function') throw new TypeError(`the client has no method ${method}`);
  return fn as RawMethod;
}

function grpcCallOptions(options: CallOptions, defaultDeadlineMs: number | undefined): Partial<grpc.CallOptions> {
  const ms = options.deadlineMs ?? defaultDeadlineMs;
  return ms === undefined || !Number.isFinite(ms) ? {} : { deadline: Date.now() + ms };
}

function toMetadata(m: CallOptions['metadata']): grpc.Metadata {
  if (m instanceof grpc.Metadata) return m;
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(m ?? {})) metadata.set(k, v);
  return metadata;
}

/** Calls a unary method; resolves to its response (see the file header for errors). */
export function unary<C extends grpc.Client, M extends MethodsOfKind<C, 'unary'>>(
  client: C,
  method: M,
  request: ClientRequest<C, M>,
  options: CallOptions = {},
): Promise<ClientResponse<C, M>> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const fn = rawMethod(client, method);
  return new Promise((resolve, reject) => {
    const call = fn.call(
      client,
      request,
      toMetadata(options.metadata),
      grpcCallOptions(options, GRPC_CLIENT_DEFAULTS.unaryDeadlineMs),
      (error: grpc.ServiceError | null, response: ClientResponse<C, M>) => {
        signal?.removeEventListener('abort', onAbort);
        if (error === null) resolve(response);
        else reject(signal?.aborted ? signal.reason : fromGrpcError(error));
      },
    ) as grpc.ClientUnaryCall;
    const onAbort = (): void => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Starts a server-streaming call at once and returns its responses as an async iterable.
 * Leaving the loop early (or aborting `signal`) cancels the call. At most 16 responses are
 * buffered; beyond that the server is held back by flow control.
 */
export function serverStream<C extends grpc.Client, M extends MethodsOfKind<C, 'serverStream'>>(
  client: C,
  method: M,
  request: ClientRequest<C, M>,
  options: CallOptions = {},
): AsyncIterableIterator<ClientResponse<C, M>> {
  const { signal } = options;
  const call = rawMethod(client, method).call(
    client,
    request,
    toMetadata(options.metadata),
    grpcCallOptions(options, undefined),
  ) as grpc.ClientReadableStream<ClientResponse<C, M>>;
  return cancellable(call, signal);
}

/** A bidi call: write requests, iterate responses. */
export interface BidiCall<Req, Res> extends AsyncIterableIterator<Res> {
  /**
   * Sends one request; resolves at once while the transport has room, else when it drains.
   * Rejects once the call has ended (with its error if it failed).
   */
  write(message: Req): Promise<void>;
  /** Half-closes: no more requests; responses keep coming until the server ends. */
  end(): void;
  /** Cancels the call (the iterator then throws a CANCELLED `GrpcStatusError`). */
  cancel(): void;
}

/** Starts a bidi-streaming call (see {@link BidiCall}). */
export function bidi<C extends grpc.Client, M extends MethodsOfKind<C, 'bidi'>>(
  client: C,
  method: M,
  options: CallOptions = {},
): BidiCall<ClientRequest<C, M>, ClientResponse<C, M>> {
  const { signal } = options;
  const call = rawMethod(client, method).call(
    client,
    toMetadata(options.metadata),
    grpcCallOptions(options, undefined),
  ) as grpc.ClientDuplexStream<ClientRequest<C, M>, ClientResponse<C, M>>;
  // The call's error, converted once so the iterator and `write` reject with the same object.
  let finished: { error: unknown } | undefined;
  const convert = (e: unknown): unknown => {
    finished ??= { error: fromGrpcError(e) };
    return finished.error;
  };
  call.on('error', convert);
  call.on('status', (status: grpc.StatusObject) => {
    if (status.code === grpc.status.OK) finished ??= { error: new Error('the call has ended') };
  });
  const responses = cancellable(call, signal, convert);
  const write = (message: ClientRequest<C, M>): Promise<void> => {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (finished) return Promise.reject(finished.error);
    if (call.writableEnded) return Promise.reject(new Error('the call was half-closed'));
    if (call.write(message)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        call.off('drain', done);
        call.off('status', done);
        if (finished) reject(finished.error);
        else resolve();
      };
      call.on('drain', done);
      call.on('status', done);
    });
  };
  return Object.assign(responses, {
    write(message: ClientRequest<C, M>) {
      const done = write(message);
      done.catch(() => undefined); // an ignored write must not become an unhandled rejection
      return done;
    },
    end: () => {
      if (!call.writableEnded) call.end();
    },
    cancel: () => call.cancel(),
  });
}

function cancellable<T>(
  call: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>,
  signal: AbortSignal | undefined,
  mapError: (e: unknown) => unknown = fromGrpcError,
): AsyncIterableIterator<T> {
  const onAbort = (): void => call.cancel();
  if (signal?.aborted) call.cancel();
  else signal?.addEventListener('abort', onAbort, { once: true });
  call.on('status', () => signal?.removeEventListener('abort', onAbort));
  return iterateStream<T>(call as unknown as Readable, {
    ...(signal ? { signal } : {}),
    mapError,
    onReturn: () => call.cancel(),
  });
}
