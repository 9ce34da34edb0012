/**
 * ProduceStreams against a fake broker (a real gRPC server on loopback serving only
 * ProduceStream, or nothing of it): answers matched by correlation id whatever their order,
 * the client's request timeout ending the stream, and unary Produce for a broker without it.
 */
import type { ProduceRequest, ProduceResponse } from '@tributary/proto';
import { BrokerServiceService } from '@tributary/proto';
import { createGrpcServer, createLogger, createMetrics, GrpcStatusError, Status } from '@tributary/runtime';
import type { GrpcServer } from '@tributary/runtime';
import { resolveClientOptions } from './config';
import { ConnectionPool } from './connections';
import { ProduceStreams } from './produce-stream';

const silent = createLogger({ service: 'fake', nodeId: 0, level: 'silent' });
let server: GrpcServer;
let pool: ConnectionPool;
let address: string;
/** Requests the fake received, by the topic name used as a marker. */
const received: string[] = [];
let streamsOpened = 0;
let unaryCalls = 0;

const request = (marker: string): ProduceRequest => ({ acks: -1, timeoutMs: 1000, topics: [{ name: marker, partitions: [] }] });
const answer = (marker: string): ProduceResponse => ({ topics: [{ name: marker, partitions: [] }], throttleTimeMs: 0 });

async function start(withStream: boolean): Promise<void> {
  server = createGrpcServer({ logger: silent, registry: createMetrics({ service: 'fake', nodeId: 0, defaultMetrics: false }).registry });
  server.addService(BrokerServiceService, {
    produce: async (req) => {
      unaryCalls++;
      return answer(req.topics[0]!.name);
    },
    ...(withStream
      ? {
          produceStream: async (requests, stream) => {
            streamsOpened++;
            const held: Array<() => void> = [];
            for await (const m of requests) {
              const marker = m.request!.topics[0]!.name;
              received.push(marker);
              const reply = (): void => void stream.write({ correlationId: m.correlationId, response: answer(marker) }).catch(() => undefined);
              // "slow" waits for the next request and is answered after it; "never" is never answered.
              if (marker === 'slow') held.push(reply);
              else if (marker !== 'never') {
                reply();
                for (const h of held.splice(0)) h();
              }
            }
          },
        }
      : {}),
  });
  address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
  pool = new ConnectionPool(resolveClientOptions({ bootstrap: [address] }));
}

afterEach(async () => {
  pool.close();
  await server.shutdown(0);
  received.length = 0;
  streamsOpened = 0;
  unaryCalls = 0;
});

it('matches answers to requests by correlation id, whatever the order they come in', async () => {
  await start(true);
  const streams = new ProduceStreams(pool, 5000);
  const signal = new AbortController().signal;
  const slow = streams.send(address, request('slow'), signal);
  const fast = streams.send(address, request('fast'), signal);
  expect((await fast).topics[0]!.name).toBe('fast');
  expect((await slow).topics[0]!.name).toBe('slow');
  expect(received).toEqual(['slow', 'fast']);
  expect([streamsOpened, unaryCalls]).toEqual([1, 0]);
  streams.close(new Error('done'));
});

it('fails an unanswered request after request.timeout.ms, ends the stream (the others on it fail retriably) and opens a new one next time', async () => {
  await start(true);
  const streams = new ProduceStreams(pool, 300);
  const signal = new AbortController().signal;
  const never = streams.send(address, request('never'), signal);
  const slow = streams.send(address, request('slow'), signal); // held until a next request that never comes
  await expect(never).rejects.toMatchObject({ code: Status.DEADLINE_EXCEEDED });
  await expect(slow).rejects.toBeInstanceOf(GrpcStatusError);
  // On a loaded machine the server may not have started the first stream's handler before the
  // client gave up on it: count the streams opened from here on, not since the start.
  const opened = streamsOpened;
  expect((await streams.send(address, request('after'), signal)).topics[0]!.name).toBe('after');
  expect(streamsOpened).toBe(opened + 1);
  streams.close(new Error('done'));
});

it('uses unary Produce for a broker without ProduceStream, the request that found out included', async () => {
  await start(false);
  const streams = new ProduceStreams(pool, 5000);
  const signal = new AbortController().signal;
  expect((await streams.send(address, request('first'), signal)).topics[0]!.name).toBe('first');
  expect((await streams.send(address, request('second'), signal)).topics[0]!.name).toBe('second');
  expect(unaryCalls).toBe(2);
  streams.close(new Error('done'));
});
