export * from './partitioner';
export * from './accumulator';
