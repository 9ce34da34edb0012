export * from './partitioner';
