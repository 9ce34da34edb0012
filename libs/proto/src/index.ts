// Public entry of the generated wire types. Everything under ./gen is produced by
// `nx run proto:generate` (buf + ts-proto) from proto/ and must not be edited.
export * from './gen/tributary/v1/errors';
export * from './gen/tributary/v1/broker';
export * from './gen/tributary/v1/coordination';
export * from './gen/tributary/v1/controller';
export * from './gen/tributary/v1/broker_control';
