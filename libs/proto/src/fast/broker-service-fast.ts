/**
 * BrokerService definitions whose two bulk directions use the exact-size encoders:
 * Produce requests (`produce.requestSerialize` = {@link encodeProduceRequest},
 * `produceStream.requestSerialize` = {@link encodeProduceStreamRequest}) and Fetch answers
 * (`fetch.responseSerialize` and `replicaFetch.responseSerialize` = {@link encodeFetchResponse}).
 * Everything else is the generated definition, including every deserializer; those of
 * Produce requests and Fetch answers return `records` as zero-copy views (see libs/proto/README.md for who may keep them).
 *
 * The bytes on the wire are the same as with the generated definitions, so any mix works:
 * a fast client against a generated server and the reverse.
 *
 *   server.addService(BrokerServiceFastService, handlers);          // broker
 *   const client = createClient(BrokerServiceFastClient, address);  // @tributary/runtime
 *   await unary(client, 'produce', request);
 */
import { type ChannelCredentials, type ClientOptions, makeGenericClientConstructor } from '@grpc/grpc-js';
import { type BrokerServiceClient, BrokerServiceService } from '../gen/tributary/v1/broker';
import { encodeFetchResponse, encodeProduceRequest, encodeProduceStreamRequest } from './exact-size-encoders';

/** The generated `BrokerServiceService`, with the exact-size Produce and Fetch encoders. */
export type BrokerServiceFastService = BrokerServiceService;
export const BrokerServiceFastService: BrokerServiceFastService = {
  ...BrokerServiceService,
  produce: { ...BrokerServiceService.produce, requestSerialize: encodeProduceRequest },
  produceStream: { ...BrokerServiceService.produceStream, requestSerialize: encodeProduceStreamRequest },
  fetch: { ...BrokerServiceService.fetch, responseSerialize: encodeFetchResponse },
  replicaFetch: { ...BrokerServiceService.replicaFetch, responseSerialize: encodeFetchResponse },
};

/**
 * A BrokerService client that encodes Produce requests with {@link encodeProduceRequest};
 * same interface as the generated `BrokerServiceClient`.
 */
export const BrokerServiceFastClient = makeGenericClientConstructor(
  BrokerServiceFastService,
  'tributary.v1.BrokerService',
) as unknown as {
  new (address: string, credentials: ChannelCredentials, options?: Partial<ClientOptions>): BrokerServiceClient;
  service: BrokerServiceFastService;
  serviceName: string;
};
