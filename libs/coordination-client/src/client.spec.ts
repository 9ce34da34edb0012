/**
 * The client against a small real gRPC server (a toy implementation of the coordination
 * service, in this process): Execute-stream multiplexing, error codes, deadlines, a broken
 * stream, the CAS helper's retries.
 */
import * as grpc from '@grpc/grpc-js';
import type { ExecuteOperation, ExecuteRequest, ExecuteResponse, ExecuteResult } from '@tributary/proto';
import { CoordinationServiceService } from '@tributary/proto';
import { CoordinationClient, CoordinationClientError, toClientError } from './client';

/** Called for each operation; `reply` sends one result (in its own message). */
type ExecuteHandler = (req: ExecuteOperation, reply: (res: ExecuteResult) => void, call: grpc.ServerDuplexStream<ExecuteRequest, ExecuteResponse>) => void;

let server: grpc.Server;
let port: number;
let onExecute: ExecuteHandler;
const stat = (version: number) => ({
  version,
  cversion: 0,
  createRevision: 1n,
  modRevision: BigInt(version + 1),
  childrenRevision: 1n,
  leaseId: 0n,
  numChildren: 0,
  dataLength: 0,
});

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(CoordinationServiceService, {
    execute: (call: grpc.ServerDuplexStream<ExecuteRequest, ExecuteResponse>) => {
      call.on('data', (req: ExecuteRequest) => {
        for (const op of req.operations) onExecute(op, (res) => call.write({ results: [res] }), call);
      });
      call.on('end', () => call.end());
    },
  } as unknown as grpc.UntypedServiceImplementation);
  port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
});
afterAll(() => server.forceShutdown());

function client(deadlineMs = 2000): CoordinationClient {
  return new CoordinationClient({ address: `127.0.0.1:${port}`, deadlineMs });
}

it('multiplexes operations over one stream and matches out-of-order answers by id', async () => {
  const held: [ExecuteOperation, (r: ExecuteResult) => void][] = [];
  onExecute = (req, reply) => {
    held.push([req, reply]);
    if (held.length === 3) {
      // Answer in reverse order.
      for (const [r, send] of held.reverse()) {
        const path = r.op?.$case === 'get' ? r.op.value.path : '?';
        send({ id: r.id, result: { $case: 'get', value: { data: Buffer.from(path), stat: stat(0) } } });
      }
    }
  };
  const c = client();
  const answers = await Promise.all(['/a', '/b', '/c'].map((p) => c.get(p)));
  expect(answers.map((a) => a.data.toString())).toEqual(['/a', '/b', '/c']);
  c.close();
});

it('turns error results into codes, and unanswered operations into UNAVAILABLE at the deadline', async () => {
  onExecute = (req, reply) => {
    if (req.op?.$case === 'create') reply({ id: req.id, result: { $case: 'error', value: { code: 'NODE_EXISTS', message: 'node /x already exists', opIndex: -1 } } });
    // gets are never answered
  };
  const c = client(300);
  await expect(c.create('/x', Buffer.alloc(0))).rejects.toMatchObject({ code: 'NODE_EXISTS' });
  await expect(c.get('/slow')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  c.close();
});

it('fails operations in flight when the stream breaks, and reopens it for the next one', async () => {
  let calls = 0;
  onExecute = (req, reply, call) => {
    calls++;
    if (calls === 1) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'server going away' }); // ends the stream with a status
      return;
    }
    reply({ id: req.id, result: { $case: 'get', value: { data: Buffer.from('ok'), stat: stat(0) } } });
  };
  const c = client();
  const error = await c.get('/first').then(
    () => undefined,
    (e: unknown) => e as CoordinationClientError,
  );
  expect(error?.code).toBe('UNAVAILABLE');
  expect((await c.get('/second')).data.toString()).toBe('ok');
  c.close();
});

it('cas retries on BAD_VERSION until its write goes through', async () => {
  let version = 0;
  let conflicts = 2;
  onExecute = (req, reply) => {
    const op = req.op;
    if (op?.$case === 'get') {
      reply({ id: req.id, result: { $case: 'get', value: { data: Buffer.from(String(version)), stat: stat(version) } } });
    } else if (op?.$case === 'set') {
      if (conflicts-- > 0 || op.value.expectedVersion !== version) {
        version++; // someone else wrote meanwhile
        reply({ id: req.id, result: { $case: 'error', value: { code: 'BAD_VERSION', message: 'conflict', opIndex: -1 } } });
      } else {
        version++;
        reply({ id: req.id, result: { $case: 'set', value: { stat: stat(version) } } });
      }
    }
  };
  const c = client();
  const seen: string[] = [];
  const result = await c.cas('/counter', (cur) => {
    seen.push(cur!.data.toString());
    return Buffer.from('next');
  });
  expect(seen).toEqual(['0', '1', '2']);
  expect(result?.version).toBe(3);
  c.close();
});

it('maps gRPC statuses without a coordination code', () => {
  const meta = new grpc.Metadata();
  meta.set('tributary-coordination-error', 'BAD_VERSION');
  expect(toClientError({ code: grpc.status.FAILED_PRECONDITION, details: 'x', metadata: meta }).code).toBe('BAD_VERSION');
  expect(toClientError({ code: grpc.status.UNAVAILABLE, details: 'down', metadata: new grpc.Metadata() }).retriable).toBe(true);
  expect(toClientError({ code: grpc.status.DEADLINE_EXCEEDED, details: 'late', metadata: new grpc.Metadata() }).code).toBe('UNAVAILABLE');
  expect(toClientError(new Error('plain')).code).toBe('INTERNAL');
});
