/**
 * Binds CoordinationHandlers to the gRPC service definition through libs/runtime's server
 * helper, and maps CoordinationError codes to gRPC statuses. The precise code always travels
 * in the trailer `tributary-coordination-error` (what libs/coordination-client reads).
 */
import { CoordinationServiceService } from '@tributary/proto';
import type { ExecuteResult } from '@tributary/proto';
import type { GrpcServer } from '@tributary/runtime';
import { GrpcStatusError, Status } from '@tributary/runtime';
import type { CoordinationErrorCode } from './backend';
import { CoordinationError } from './backend';
import type { CoordinationHandlers } from './service';
import { ABORTED, orAbort } from './abort';

export const COORDINATION_ERROR_METADATA_KEY = 'tributary-coordination-error';
/** Operations one Execute stream may have running at once. */
const MAX_EXECUTE_IN_FLIGHT = 1024;

const STATUS_OF: Record<CoordinationErrorCode, Status> = {
  NODE_EXISTS: Status.ALREADY_EXISTS,
  NO_NODE: Status.NOT_FOUND,
  LEASE_EXPIRED: Status.NOT_FOUND,
  BAD_VERSION: Status.FAILED_PRECONDITION,
  NOT_EMPTY: Status.FAILED_PRECONDITION,
  UNAVAILABLE: Status.UNAVAILABLE,
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
};

/** Runs `fn`, turning a CoordinationError into the gRPC status clients understand. */
async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof CoordinationError) {
      const metadata: Record<string, string> = { [COORDINATION_ERROR_METADATA_KEY]: e.code };
      if (e.opIndex !== undefined) metadata['tributary-op-index'] = String(e.opIndex);
      throw new GrpcStatusError(STATUS_OF[e.code], e.message, metadata);
    }
    throw e;
  }
}

export function addCoordinationService(server: GrpcServer, handlers: CoordinationHandlers): void {
  server.addService(CoordinationServiceService, {
    create: (req) => mapped(() => handlers.create(req)),
    get: (req) => mapped(() => handlers.get(req)),
    set: (req) => mapped(() => handlers.set(req)),
    delete: (req) => mapped(() => handlers.delete(req)),
    children: (req) => mapped(() => handlers.children(req)),
    multi: (req) => mapped(() => handlers.multi(req)),
    grant: (req) => mapped(() => handlers.grant(req)),
    revoke: (req) => mapped(() => handlers.revoke(req)),
    campaign: (req, ctx) => mapped(() => handlers.campaign(req, ctx.signal)),
    resign: (req) => mapped(() => handlers.resign(req)),
    watch: (req, stream, ctx) =>
      mapped(async () => {
        for await (const event of handlers.watch(req, ctx.signal)) await stream.write(event);
      }),
    observe: (req, stream, ctx) =>
      mapped(async () => {
        for await (const event of handlers.observe(req, ctx.signal)) await stream.write(event);
      }),
    execute: async (requests, stream, ctx) => {
      // Operations run concurrently; answers completed in the same turn of the event loop go
      // back in one message. At most MAX_EXECUTE_IN_FLIGHT run per stream: beyond that,
      // reading requests waits (back-pressure on the client).
      const stop = handlers.linkStop(ctx.signal);
      const iterator = requests[Symbol.asyncIterator]();
      let inFlight = 0;
      let wake: (() => void) | undefined;
      let outbox: ExecuteResult[] = [];
      let flushing: Promise<void> | undefined;
      const running = new Set<Promise<void>>();
      const flush = (): Promise<void> =>
        (flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
          const results = outbox;
          outbox = [];
          flushing = undefined;
          await stream.write({ results }).catch(() => undefined); // the stream is gone: the client sees the call end
        }));
      for (;;) {
        const next = await orAbort(iterator.next(), stop);
        if (next === ABORTED || next.done) break;
        for (const operation of next.value.operations) {
          while (inFlight >= MAX_EXECUTE_IN_FLIGHT) await new Promise<void>((r) => (wake = r));
          inFlight++;
          const p = handlers
            .execute(operation)
            .then((result) => {
              outbox.push(result);
              return flush();
            })
            .finally(() => {
              inFlight--;
              running.delete(p);
              wake?.();
              wake = undefined;
            });
          running.add(p);
        }
      }
      await Promise.all(running);
    },
    keepAlive: (requests, stream, ctx) =>
      mapped(async () => {
        for await (const answer of handlers.keepAlive(requests, ctx.signal)) await stream.write(answer);
      }),
  });
}
