// ProducerIdManager against an in-process gRPC stand-in of the controller's
// BrokerToControllerService (small blocks, so block changes happen within a few calls).
import { Writable } from 'node:stream';
import { BrokerToControllerServiceService } from '@tributary/proto';
import type { AllocateProducerIdsRequest } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import { createGrpcServer, createLogger, createMetrics } from '@tributary/runtime';
import type { GrpcServer } from '@tributary/runtime';
import { ProducerIdManager } from './producer-id-manager';

const silent = createLogger({ service: 'test', nodeId: 0, level: 'fatal', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const BLOCK = 10;

let server: GrpcServer;
let address: string | undefined;
let asked: AllocateProducerIdsRequest[];
let nextStart: number;
/** Codes the next allocations answer, in order. */
let refusals: ErrorCode[];
const managers: ProducerIdManager[] = [];

beforeEach(async () => {
  asked = [];
  nextStart = 5000;
  refusals = [];
  server = createGrpcServer({ logger: silent, registry: createMetrics({ service: 'test', nodeId: 0, defaultMetrics: false }).registry });
  server.addService(BrokerToControllerServiceService, {
    allocateProducerIds: async (req) => {
      asked.push(req);
      const refusal = refusals.shift();
      if (refusal !== undefined) return { errorCode: refusal, errorMessage: 'refused', producerIdStart: -1n, producerIdLen: 0 };
      const start = nextStart;
      nextStart += BLOCK;
      return { errorCode: ErrorCode.NONE, errorMessage: '', producerIdStart: BigInt(start), producerIdLen: BLOCK };
    },
  });
  address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
});

afterEach(async () => {
  for (const m of managers.splice(0)) m.stop();
  await server.shutdown(0);
});

function manager(requestTimeoutMs = 5_000): ProducerIdManager {
  const m = new ProducerIdManager({ brokerId: 3, controllerAddress: () => address, logger: silent, requestTimeoutMs });
  managers.push(m);
  return m;
}

it('hands out the ids of its block in order and fetches the next block before the current one runs out', async () => {
  const m = manager();
  const ids: number[] = [];
  for (let i = 0; i < 9; i++) ids.push((await m.generateProducerId())!);
  // 90% of the first block used: the next one is asked for while one id is left.
  while (asked.length < 2) await new Promise((r) => setTimeout(r, 1));
  for (let i = 9; i < 25; i++) ids.push((await m.generateProducerId())!);
  // Blocks 5000..5009, 5010..5019, 5020..: no id skipped or repeated while the blocks last.
  expect(ids).toEqual(Array.from({ length: 25 }, (_, i) => 5000 + i));
  expect(asked.map((r) => r.brokerId)).toEqual([3, 3, 3]);
});

it('answers InitProducerId with epoch 0, and refuses a transactional id', async () => {
  const m = manager();
  expect(await m.initProducerId({ transactionalId: '', transactionTimeoutMs: 0 })).toEqual({ errorCode: ErrorCode.NONE, errorMessage: '', producerId: 5000n, producerEpoch: 0 });
  const tx = await m.initProducerId({ transactionalId: 'orders-tx', transactionTimeoutMs: 60_000 });
  expect(tx.errorCode).toBe(ErrorCode.INVALID_REQUEST);
  expect(tx.errorMessage).toMatch(/transactional producers are not supported yet/);
});

it('retries a refused allocation, and answers COORDINATOR_NOT_AVAILABLE when no block comes in time', async () => {
  refusals = [ErrorCode.UNKNOWN_SERVER_ERROR];
  expect(await manager().generateProducerId()).toBe(5000);
  expect(asked).toHaveLength(2);
  address = undefined; // no controller known
  const lonely = manager(300);
  const answer = await lonely.initProducerId({ transactionalId: '', transactionTimeoutMs: 0 });
  expect([answer.errorCode, answer.producerId]).toEqual([ErrorCode.COORDINATOR_NOT_AVAILABLE, -1n]);
});
