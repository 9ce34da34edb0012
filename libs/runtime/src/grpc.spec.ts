// gRPC server + client helpers end to end, on real sockets: the generated coordination service
// with a toy implementation of Get (unary), Watch (server streaming) and KeepAlive (bidi),
// plus a hand-written JSON service for the client-streaming shape.
import * as grpc from '@grpc/grpc-js';
import {
  CoordinationServiceClient,
  CoordinationServiceService,
  GetResponse,
  KeepAliveResponse,
  WatchEvent,
} from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import { Writable } from 'node:stream';
import { bidi, createClient, serverStream, unary } from './grpc-client';
import { GrpcStatusError, Status } from './grpc-errors';
import { createGrpcServer, type CallContext, type GrpcServer, type Interceptor, type ServiceHandlers } from './grpc-server';
import { createLogger } from './logger';
import { createMetrics, type Metrics } from './metrics';

type Coordination = typeof CoordinationServiceService;

/** Log lines written by the server, parsed. */
const logLines: Array<Record<string, unknown>> = [];
const logger = createLogger({
  service: 'test',
  nodeId: 1,
  level: 'debug',
  destination: new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  }),
});

/** What handlers observed, for assertions. */
const seen = {
  contexts: [] as CallContext[],
  aborts: [] as Array<{ method: string; reason: unknown }>,
  watchWrites: 0,
};

function recordAbort(ctx: CallContext): void {
  ctx.signal.addEventListener('abort', () => seen.aborts.push({ method: ctx.method, reason: ctx.signal.reason }));
}

function untilAborted(ctx: CallContext): Promise<never> {
  return new Promise((_, reject) => {
    if (ctx.signal.aborted) reject(ctx.signal.reason);
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
  });
}

const handlers: Partial<ServiceHandlers<Coordination>> = {
  async get(request, ctx) {
    seen.contexts.push(ctx);
    recordAbort(ctx);
    switch (request.path) {
      case '/missing':
        throw new TributaryError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'no node /missing');
      case '/moved':
        throw new TributaryError(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'not the leader');
      case '/fenced':
        throw new TributaryError(ErrorCode.NOT_CONTROLLER, 'stale', { retriable: false });
      case '/exists':
        throw new GrpcStatusError(Status.ALREADY_EXISTS, 'node /exists already exists', { 'tributary-coordination-error': 'NODE_EXISTS' });
      case '/bug':
        throw new TypeError('boom at /bug');
      case '/slow':
        return untilAborted(ctx);
      default:
        return GetResponse.fromPartial({ data: Buffer.from(JSON.stringify(ctx.principal)) });
    }
  },

  async watch(request, stream, ctx) {
    recordAbort(ctx);
    const count = request.path === '/flood' ? 10_000 : Number(request.fromRevision);
    const data = request.path === '/flood' ? Buffer.alloc(32 * 1024, 1) : Buffer.alloc(0);
    for (let i = 1; i <= count; i++) {
      await stream.write(WatchEvent.fromPartial({ path: request.path, revision: BigInt(i), data }));
      seen.watchWrites = i;
    }
    if (request.path === '/then-fail') throw new TributaryError(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'backend lost');
    if (request.path === '/forever') await untilAborted(ctx);
  },

  async keepAlive(requests, stream, ctx) {
    recordAbort(ctx);
    for await (const r of requests) {
      if (r.leaseId === 0n) throw new GrpcStatusError(Status.NOT_FOUND, 'lease 0 expired', { 'tributary-coordination-error': 'LEASE_EXPIRED' });
      await stream.write(KeepAliveResponse.fromPartial({ leaseId: r.leaseId, ttlMs: 1000 }));
    }
  },
};

/** Sets the principal from `x-user`; rejects calls carrying `x-deny`. */
const interceptors: Interceptor[] = [
  async (metadata) => {
    const user = metadata.get('x-user')[0];
    return user === undefined ? undefined : { kind: 'user', name: String(user) };
  },
  async (metadata, _peer, info) => {
    if (metadata.get('x-deny').length > 0) {
      throw new GrpcStatusError(Status.PERMISSION_DENIED, `${JSON.stringify(info.principal)} may not call ${info.method}`);
    }
  },
];

let metrics: Metrics;
let server: GrpcServer;
let client: CoordinationServiceClient;

beforeAll(async () => {
  metrics = createMetrics({ service: 'test', nodeId: 1, defaultMetrics: false });
  server = createGrpcServer({ logger, registry: metrics.registry, interceptors });
  server.addService(CoordinationServiceService, handlers);
  const port = await server.listen('127.0.0.1', 0);
  client = createClient(CoordinationServiceClient, `127.0.0.1:${port}`);
});

afterAll(async () => {
  client.close();
  await server.shutdown(100);
});

beforeEach(() => {
  seen.contexts.length = 0;
  seen.aborts.length = 0;
  seen.watchWrites = 0;
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('unary', () => {
  it('round-trips a request; the handler sees an anonymous principal, metadata, peer and deadline', async () => {
    const before = Date.now();
    const response = await unary(client, 'get', { path: '/a' }, { metadata: { 'x-trace': 't1' }, deadlineMs: 5000 });
    expect(JSON.parse(response.data.toString())).toEqual({ kind: 'anonymous' });
    const ctx = seen.contexts[0] as CallContext;
    expect(ctx.method).toBe('tributary.v1.CoordinationService/Get');
    expect(ctx.metadata.get('x-trace')).toEqual(['t1']);
    expect(ctx.peer).toMatch(/127\.0\.0\.1:\d+$/);
    expect(ctx.deadline).toBeGreaterThanOrEqual(before + 4000);
    expect(ctx.deadline).toBeLessThanOrEqual(Date.now() + 5000);
    expect(ctx.signal.aborted).toBe(false);
  });

  it('gives the handler the principal set by the interceptor chain', async () => {
    const response = await unary(client, 'get', { path: '/a' }, { metadata: { 'x-user': 'alice' } });
    expect(JSON.parse(response.data.toString())).toEqual({ kind: 'user', name: 'alice' });
  });

  it('lets an interceptor reject the call before the handler runs', async () => {
    const e = await rejection(unary(client, 'get', { path: '/a' }, { metadata: { 'x-user': 'bob', 'x-deny': '1' } }));
    expect(e).toBeInstanceOf(GrpcStatusError);
    expect((e as GrpcStatusError).code).toBe(Status.PERMISSION_DENIED);
    expect((e as GrpcStatusError).message).toBe('{"kind":"user","name":"bob"} may not call tributary.v1.CoordinationService/Get');
    expect(seen.contexts).toHaveLength(0);
  });

  it('carries a TributaryError across: Kafka code, message, retriable, mapped status', async () => {
    const e = await rejection(unary(client, 'get', { path: '/moved' }));
    expect(e).toBeInstanceOf(TributaryError);
    const te = e as TributaryError;
    expect(te.code).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(te.message).toBe('not the leader');
    expect(te.retriable).toBe(true);
    expect((te.cause as grpc.ServiceError).code).toBe(Status.UNAVAILABLE);
    expect((te.cause as grpc.ServiceError).metadata.get('tributary-error-code')).toEqual(['6']);

    const missing = (await rejection(unary(client, 'get', { path: '/missing' }))) as TributaryError;
    expect(missing.code).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((missing.cause as grpc.ServiceError).code).toBe(Status.NOT_FOUND);

    // An overridden retriable flag survives too.
    const fenced = (await rejection(unary(client, 'get', { path: '/fenced' }))) as TributaryError;
    expect(fenced.code).toBe(ErrorCode.NOT_CONTROLLER);
    expect(fenced.retriable).toBe(false);
  });

  it('carries a GrpcStatusError across with its metadata', async () => {
    const e = await rejection(unary(client, 'get', { path: '/exists' }));
    expect(e).toBeInstanceOf(GrpcStatusError);
    const ge = e as GrpcStatusError;
    expect(ge.code).toBe(Status.ALREADY_EXISTS);
    expect(ge.codeName).toBe('ALREADY_EXISTS');
    expect(ge.message).toBe('node /exists already exists');
    expect(ge.metadata.get('tributary-coordination-error')).toEqual(['NODE_EXISTS']);
  });

  it('turns an unexpected error into INTERNAL with its message and logs its stack', async () => {
    const e = (await rejection(unary(client, 'get', { path: '/bug' }))) as GrpcStatusError;
    expect(e).toBeInstanceOf(GrpcStatusError);
    expect(e.code).toBe(Status.INTERNAL);
    expect(e.message).toBe('boom at /bug');
    const line = logLines.find((l) => l['msg'] === 'grpc handler failed');
    expect(line).toMatchObject({ level: 'error', service: 'test', nodeId: 1, method: 'tributary.v1.CoordinationService/Get' });
    expect((line?.['err'] as { stack: string }).stack).toContain('TypeError: boom at /bug');
  });

  it('answers UNIMPLEMENTED for a method without a handler', async () => {
    const e = (await rejection(unary(client, 'set', { path: '/a', data: Buffer.alloc(0), expectedVersion: -1 }))) as GrpcStatusError;
    expect(e.code).toBe(Status.UNIMPLEMENTED);
  });

  it('aborts the handler signal when the client aborts, and rejects with the abort reason', async () => {
    const controller = new AbortController();
    const call = unary(client, 'get', { path: '/slow' }, { signal: controller.signal });
    await waitFor(() => seen.contexts.length === 1, 'the handler to start');
    const reason = new Error('caller gave up');
    controller.abort(reason);
    expect(await rejection(call)).toBe(reason);
    await waitFor(() => seen.aborts.length === 1, 'the handler signal');
    expect((seen.aborts[0]?.reason as GrpcStatusError).code).toBe(Status.CANCELLED);
    // An already aborted signal never starts the call.
    expect(await rejection(unary(client, 'get', { path: '/a' }, { signal: controller.signal }))).toBe(reason);
  });

  it('ends with DEADLINE_EXCEEDED and aborts the handler when the deadline passes', async () => {
    const e = (await rejection(unary(client, 'get', { path: '/slow' }, { deadlineMs: 50 }))) as GrpcStatusError;
    expect(e.code).toBe(Status.DEADLINE_EXCEEDED);
    await waitFor(() => seen.aborts.length === 1, 'the handler signal');
    expect((seen.aborts[0]?.reason as GrpcStatusError).code).toBe(Status.DEADLINE_EXCEEDED);
  });
});

describe('server streaming', () => {
  it('streams every message, then ends', async () => {
    const revisions: bigint[] = [];
    for await (const event of serverStream(client, 'watch', { path: '/n', children: false, fromRevision: 50n })) {
      revisions.push(event.revision);
    }
    expect(revisions).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
  });

  it('delivers the messages sent before an error, then throws the error', async () => {
    const revisions: bigint[] = [];
    const e = await rejection(
      (async () => {
        for await (const event of serverStream(client, 'watch', { path: '/then-fail', children: false, fromRevision: 3n })) {
          revisions.push(event.revision);
        }
      })(),
    );
    expect(revisions).toEqual([1n, 2n, 3n]);
    expect(e).toBeInstanceOf(TributaryError);
    expect((e as TributaryError).code).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });

  it('holds a writer back while the client does not read, and cancels it when the client leaves', async () => {
    const events = serverStream(client, 'watch', { path: '/flood', children: false, fromRevision: 0n });
    const first = await events.next();
    expect(first.done).toBe(false);
    await waitFor(() => seen.watchWrites > 0, 'writes');
    await new Promise((r) => setTimeout(r, 150));
    // 10 000 × 32 KiB = 320 MiB would have been written without back-pressure.
    const stalledAt = seen.watchWrites;
    expect(stalledAt).toBeLessThan(500);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.watchWrites).toBe(stalledAt);
    // Leaving the loop cancels the call; the handler's pending write rejects.
    await events.return?.();
    await waitFor(() => seen.aborts.length === 1, 'the handler signal');
    expect((seen.aborts[0]?.reason as GrpcStatusError).code).toBe(Status.CANCELLED);
  });

  it('cancels through the caller signal', async () => {
    const controller = new AbortController();
    const events = serverStream(client, 'watch', { path: '/forever', children: false, fromRevision: 1n }, { signal: controller.signal });
    const reason = new Error('stop watching');
    const received: bigint[] = [];
    const e = await rejection(
      (async () => {
        for await (const event of events) {
          received.push(event.revision);
          controller.abort(reason);
        }
      })(),
    );
    expect(e).toBe(reason);
    expect(received).toEqual([1n]);
    await waitFor(() => seen.aborts.length === 1, 'the handler signal');
  });
});

describe('bidi', () => {
  it('answers each request, and ends when the client half-closes', async () => {
    const call = bidi(client, 'keepAlive');
    const answers: bigint[] = [];
    for (const id of [1n, 2n, 3n]) {
      await call.write({ leaseId: id });
      const r = await call.next();
      answers.push((r.value as KeepAliveResponse).leaseId);
    }
    call.end();
    expect((await call.next()).done).toBe(true);
    expect(answers).toEqual([1n, 2n, 3n]);
  });

  it('throws the status the handler ended with', async () => {
    const call = bidi(client, 'keepAlive');
    await call.write({ leaseId: 7n });
    await call.write({ leaseId: 0n });
    const received: bigint[] = [];
    const e = await rejection(
      (async () => {
        for await (const r of call) received.push(r.leaseId);
      })(),
    );
    expect(received).toEqual([7n]);
    expect((e as GrpcStatusError).code).toBe(Status.NOT_FOUND);
    expect((e as GrpcStatusError).metadata.get('tributary-coordination-error')).toEqual(['LEASE_EXPIRED']);
    await expect(call.write({ leaseId: 8n })).rejects.toBe(e);
  });

  it('reaches the handler signal when the client cancels', async () => {
    const call = bidi(client, 'keepAlive');
    await call.write({ leaseId: 5n });
    await call.next();
    call.cancel();
    expect(((await rejection(call.next())) as GrpcStatusError).code).toBe(Status.CANCELLED);
    await waitFor(() => seen.aborts.length === 1, 'the handler signal');
  });
});

describe('metrics', () => {
  it('counts calls by method and code, times them, and tracks active streams', async () => {
    const text = await metrics.registry.metrics();
    const get = 'method="tributary.v1.CoordinationService/Get"';
    const count = (labels: string): number => {
      const m = new RegExp(`^tributary_grpc_server_requests_total\\{${labels}\\} (\\d+)$`, 'm').exec(text);
      return m ? Number(m[1]) : -1;
    };
    expect(count(`${get},code="OK"`)).toBeGreaterThanOrEqual(2);
    expect(count(`${get},code="UNAVAILABLE"`)).toBe(2); // /moved and /fenced
    expect(count(`${get},code="NOT_FOUND"`)).toBe(1);
    expect(count(`${get},code="ALREADY_EXISTS"`)).toBe(1);
    expect(count(`${get},code="INTERNAL"`)).toBe(1);
    expect(count(`${get},code="PERMISSION_DENIED"`)).toBe(1);
    expect(count(`${get},code="CANCELLED"`)).toBe(1);
    expect(count(`${get},code="DEADLINE_EXCEEDED"`)).toBe(1);
    expect(count('method="tributary.v1.CoordinationService/Watch",code="OK"')).toBe(1);
    expect(count('method="tributary.v1.CoordinationService/Watch",code="CANCELLED"')).toBe(2);
    // Methods without calls are zeroed, so dashboards see the series from the start.
    expect(count('method="tributary.v1.CoordinationService/Multi",code="OK"')).toBe(0);
    expect(text).toMatch(/^tributary_grpc_server_handling_seconds_bucket\{le="0.0001",method="tributary.v1.CoordinationService\/Get"\} \d+$/m);
    expect(text).toMatch(/^tributary_grpc_server_handling_seconds_bucket\{le="10",method="tributary.v1.CoordinationService\/Get"\} \d+$/m);
    expect(text).toContain('tributary_grpc_server_active_streams{method="tributary.v1.CoordinationService/KeepAlive"} 0');
    expect(text).not.toContain('tributary_grpc_server_active_streams{method="tributary.v1.CoordinationService/Get"}');
  });

  it('counts an open stream as active until it ends', async () => {
    const active = async (): Promise<string | undefined> =>
      /^tributary_grpc_server_active_streams\{method="tributary.v1.CoordinationService\/Watch"\} (\d+)$/m.exec(await metrics.registry.metrics())?.[1];
    const controller = new AbortController();
    const events = serverStream(client, 'watch', { path: '/forever', children: false, fromRevision: 1n }, { signal: controller.signal });
    await events.next();
    expect(await active()).toBe('1');
    controller.abort();
    await waitFor(() => seen.aborts.length === 1, 'the handler signal');
    expect(await active()).toBe('0');
  });
});

describe('client streaming (hand-written JSON service)', () => {
  const json = <T>() => ({
    serialize: (v: T): Buffer => Buffer.from(JSON.stringify(v)),
    deserialize: (b: Buffer): T => JSON.parse(b.toString()) as T,
  });
  const SumService = {
    sum: {
      path: '/test.Sum/Sum' as const,
      requestStream: true as const,
      responseStream: false as const,
      requestSerialize: json<{ n: number }>().serialize,
      requestDeserialize: json<{ n: number }>().deserialize,
      responseSerialize: json<{ total: number }>().serialize,
      responseDeserialize: json<{ total: number }>().deserialize,
    },
  };

  it('hands the handler an async iterable of requests and sends its response', async () => {
    const own = createGrpcServer({ logger, registry: metrics.registry });
    own.addService(SumService, {
      async sum(requests, ctx) {
        let total = 0;
        for await (const r of requests) total += r.n;
        expect(ctx.principal).toEqual({ kind: 'anonymous' });
        return { total };
      },
    });
    const port = await own.listen('127.0.0.1', 0);
    const Ctor = grpc.makeGenericClientConstructor(SumService, 'Sum');
    const raw = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const total = await new Promise<number>((resolve, reject) => {
        const call = raw.makeClientStreamRequest<{ n: number }, { total: number }>(
          SumService.sum.path,
          SumService.sum.requestSerialize,
          SumService.sum.responseDeserialize,
          (err, res) => (err ? reject(err) : resolve(res?.total ?? -1)),
        );
        for (const n of [1, 2, 3, 4]) call.write({ n });
        call.end();
      });
      expect(total).toBe(10);
    } finally {
      raw.close();
      await own.shutdown(100);
    }
  });

  it('rejects handlers for methods the service does not have', () => {
    const own = createGrpcServer({ logger, registry: metrics.registry });
    expect(() => own.addService(SumService, { nope: async () => ({ total: 0 }) } as never)).toThrow('nope is not a method of the service');
  });
});

describe('shutdown', () => {
  it('waits for running calls up to the grace period, then cancels them', async () => {
    const own = createGrpcServer({ logger, registry: metrics.registry });
    own.addService(CoordinationServiceService, handlers);
    const port = await own.listen('127.0.0.1', 0);
    const c = createClient(CoordinationServiceClient, `127.0.0.1:${port}`);
    try {
      const events = serverStream(c, 'watch', { path: '/forever', children: false, fromRevision: 1n });
      await events.next();
      const started = Date.now();
      await own.shutdown(150);
      expect(Date.now() - started).toBeGreaterThanOrEqual(100);
      await waitFor(() => seen.aborts.length === 1, 'the handler signal');
      const e = await rejection(events.next());
      expect(e).toBeInstanceOf(GrpcStatusError);
    } finally {
      c.close();
    }
  });

  it('returns at once when nothing runs', async () => {
    const own = createGrpcServer({ logger, registry: metrics.registry });
    own.addService(CoordinationServiceService, handlers);
    await own.listen('127.0.0.1', 0);
    const started = Date.now();
    await own.shutdown(5000);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('typing (checked by tsc -b, never run)', () => {
  it('derives handler and call types from the generated definition and client', () => {
    const typeChecks = (c: CoordinationServiceClient): void => {
      // @ts-expect-error Watch is server-streaming, not unary
      void unary(c, 'watch', { path: '/a', children: false, fromRevision: 0n });
      // @ts-expect-error a GetRequest has no `data`
      void unary(c, 'get', { path: '/a', data: Buffer.alloc(0) });
      // @ts-expect-error Get is unary, not server-streaming
      void serverStream(c, 'get', { path: '/a' });
      // @ts-expect-error KeepAlive is the only bidi method
      void bidi(c, 'observe');
      const stat: Promise<bigint | undefined> = unary(c, 'get', { path: '/a' }).then((r) => r.stat?.modRevision);
      void stat;
      const wrong: Partial<ServiceHandlers<Coordination>> = {
        // @ts-expect-error Get must resolve to a GetResponse
        get: async () => ({ path: '/not-a-get-response' }),
        watch: async (request, stream) => {
          const revision: bigint = request.fromRevision;
          // @ts-expect-error Watch writes WatchEvents
          await stream.write({ leaseId: revision });
        },
      };
      void wrong;
    };
    expect(typeof typeChecks).toBe('function');
  });
});
