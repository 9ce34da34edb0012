// `@tributary/proto/errors`: only the ErrorCode enum, without any gRPC code, for libraries
// (records, log) that must not depend on the network stack.
export * from './gen/tributary/v1/errors';
