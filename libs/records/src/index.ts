export * from './errors';
export * from './crc32c';
export * from './batch';
export * from './varint';
export * from './compression';
export * from './record';
export * from './encode';
export * from './decode';
