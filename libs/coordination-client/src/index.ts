export * from './client';
export * from './election';
