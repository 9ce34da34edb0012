// A real grpc-js server and client in this process, with the fast definitions on both sides
// and on one side only (against the generated ones): Produce and Fetch carry the same records.
import * as grpc from '@grpc/grpc-js';
import type { BrokerServiceClient, BrokerServiceServer, FetchRequest, FetchResponse, ProduceRequest, ProduceResponse } from '../index';
import { BrokerServiceClient as GeneratedClient, BrokerServiceService as GeneratedService, ErrorCode } from '../index';
import { BrokerServiceFastClient, BrokerServiceFastService } from './broker-service-fast';
import { encodeFetchResponse, encodeProduceRequest } from './exact-size-encoders';

type ClientCtor = new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ClientOptions>) => BrokerServiceClient;

// Type-level: the fast client is constructed and typed like the generated one (what
// @tributary/runtime's createClient and unary take), and the fast service is a BrokerServiceService.
const fastCtor: ClientCtor = BrokerServiceFastClient;
const generatedShape: typeof GeneratedService = BrokerServiceFastService;

/** ~1 MiB of records per direction: 6 partitions of 11 × 16 KiB, distinct bytes each. */
function partitionRecords(index: number): Buffer {
  const b = Buffer.allocUnsafe(11 * 16 * 1024);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + index * 7) & 0xff;
  return b;
}
const RECORDS = Array.from({ length: 6 }, (_, i) => partitionRecords(i));

const PRODUCE: ProduceRequest = {
  acks: -1,
  timeoutMs: 30_000,
  topics: [{ name: 'orders-ü', partitions: RECORDS.map((records, index) => ({ index, records })) }],
};

function fetchAnswer(request: FetchRequest): FetchResponse {
  return {
    topics: request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        index: p.index,
        errorCode: p.index === 6 ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.NONE,
        errorMessage: p.index === 6 ? 'partition 6 is led by broker 2' : '',
        highWatermark: p.index === 6 ? -1n : 2n ** 40n + BigInt(p.index),
        logStartOffset: p.index === 6 ? -1n : 0n,
        records: RECORDS[p.index] ?? Buffer.alloc(0),
      })),
    })),
    throttleTimeMs: 0,
  };
}

/** What the server's Produce handler received, per call. */
let received: ProduceRequest[] = [];

const handlers: BrokerServiceServer = {
  produce(call, callback) {
    received.push(call.request);
    const response: ProduceResponse = {
      topics: call.request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ index: p.index, errorCode: ErrorCode.NONE, errorMessage: '', baseOffset: BigInt(p.records.length), logAppendTimeMs: -1n, logStartOffset: 0n })),
      })),
      throttleTimeMs: 0,
    };
    callback(null, response);
  },
  fetch(call, callback) {
    callback(null, fetchAnswer(call.request));
  },
  listOffsets(_call, callback) {
    callback({ code: grpc.status.UNIMPLEMENTED });
  },
  metadata(_call, callback) {
    callback({ code: grpc.status.UNIMPLEMENTED });
  },
  offsetsForLeaderEpoch(_call, callback) {
    callback({ code: grpc.status.UNIMPLEMENTED });
  },
  replicaFetch(call) {
    call.end();
  },
  produceStream(call) {
    call.end();
  },
  initProducerId(_call, callback) {
    callback({ code: grpc.status.UNIMPLEMENTED });
  },
};

async function startServer(service: typeof GeneratedService): Promise<{ server: grpc.Server; address: string }> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  server.addService(service, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { server, address: `127.0.0.1:${port}` };
}

function call<Req, Res>(client: BrokerServiceClient, method: 'produce' | 'fetch', request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as unknown as (r: Req, m: grpc.Metadata, o: Partial<grpc.CallOptions>, cb: (e: grpc.ServiceError | null, res: Res) => void) => void;
    fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (e, res) => (e ? reject(e) : resolve(res)));
  });
}

const FETCH: FetchRequest = {
  replicaId: -1,
  maxWaitMs: 0,
  minBytes: 1,
  maxBytes: 0,
  topics: [{ name: 'orders-ü', partitions: [0, 1, 2, 3, 4, 5, 6].map((index) => ({ index, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 0 })) }],
};

describe('BrokerServiceFastService / BrokerServiceFastClient over grpc-js', () => {
  it('plugs the exact-size encoders into Produce requests and Fetch answers only', () => {
    expect(fastCtor).toBe(BrokerServiceFastClient);
    expect(generatedShape.produce.requestSerialize).toBe(encodeProduceRequest);
    expect(generatedShape.fetch.responseSerialize).toBe(encodeFetchResponse);
    expect(BrokerServiceFastClient.service.produce.requestSerialize).toBe(encodeProduceRequest);
    expect(BrokerServiceFastService.produce.requestDeserialize).toBe(GeneratedService.produce.requestDeserialize);
    expect(BrokerServiceFastService.fetch.responseDeserialize).toBe(GeneratedService.fetch.responseDeserialize);
    expect(BrokerServiceFastService.metadata).toBe(GeneratedService.metadata);
    expect(BrokerServiceFastService.produce.path).toBe('/tributary.v1.BrokerService/Produce');
  });

  const cases: Array<[string, typeof GeneratedService, ClientCtor]> = [
    ['fast server, fast client', BrokerServiceFastService, BrokerServiceFastClient],
    ['generated server, fast client', GeneratedService, BrokerServiceFastClient],
    ['fast server, generated client', BrokerServiceFastService, GeneratedClient],
  ];

  describe.each(cases)('%s', (_name, service, Client) => {
    let server: grpc.Server;
    let client: BrokerServiceClient;

    beforeAll(async () => {
      const started = await startServer(service);
      server = started.server;
      client = new Client(started.address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
    });
    afterAll(() => {
      client.close();
      server.forceShutdown();
    });
    beforeEach(() => {
      received = [];
    });

    it('produces: the broker receives every partition’s records intact, as views', async () => {
      const response = await call<ProduceRequest, ProduceResponse>(client, 'produce', PRODUCE);
      expect(response.topics[0]?.partitions.map((p) => p.baseOffset)).toEqual(RECORDS.map((r) => BigInt(r.length)));
      expect(received).toHaveLength(1);
      const request = received[0] as ProduceRequest;
      expect(request.acks).toBe(-1);
      expect(request.timeoutMs).toBe(30_000);
      expect(request.topics[0]?.name).toBe('orders-ü');
      const partitions = request.topics[0]?.partitions ?? [];
      expect(partitions.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5]);
      for (const p of partitions) {
        expect(p.records.equals(RECORDS[p.index] as Buffer)).toBe(true);
        // zero-copy decode: all partitions share the one received message buffer
        expect(p.records.buffer).toBe(partitions[0]?.records.buffer);
        expect(p.records.buffer.byteLength).toBeGreaterThan(6 * p.records.length);
      }
    });

    it('fetches: the consumer receives every partition’s records, offsets and errors', async () => {
      const response = await call<FetchRequest, FetchResponse>(client, 'fetch', FETCH);
      const partitions = response.topics[0]?.partitions ?? [];
      expect(response.topics[0]?.name).toBe('orders-ü');
      expect(partitions).toHaveLength(7);
      for (const p of partitions.slice(0, 6)) {
        expect(p.errorCode).toBe(ErrorCode.NONE);
        expect(p.highWatermark).toBe(2n ** 40n + BigInt(p.index));
        expect(p.records.equals(RECORDS[p.index] as Buffer)).toBe(true);
        expect(p.records.buffer).toBe(partitions[0]?.records.buffer);
      }
      expect(partitions[6]).toEqual({ index: 6, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, errorMessage: 'partition 6 is led by broker 2', highWatermark: -1n, logStartOffset: -1n, records: Buffer.alloc(0) });
    });
  });
});
