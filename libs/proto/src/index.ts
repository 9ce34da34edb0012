// Public entry of the wire types. Everything under ./gen is produced by
// `nx run proto:generate` (buf + ts-proto, then tools/scripts/proto-postprocess.js) from
// proto/ and must not be edited; ./fast holds the hand-written exact-size encoders of the two
// bulk messages and the BrokerService definitions that use them (libs/proto/README.md).
export * from './gen/tributary/v1/errors';
export * from './gen/tributary/v1/broker';
export * from './gen/tributary/v1/coordination';
export * from './gen/tributary/v1/controller';
export * from './gen/tributary/v1/broker_control';
export * from './gen/tributary/v1/group';
export * from './gen/tributary/v1/security';
export { encodeFetchResponse, encodeProduceRequest, encodeProduceStreamRequest } from './fast/exact-size-encoders';
export { BrokerServiceFastClient, BrokerServiceFastService } from './fast/broker-service-fast';
export * from './gen/tributary/v1/acl';
export * from './gen/tributary/v1/users';
export * from './gen/tributary/v1/quotas';
