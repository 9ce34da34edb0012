export * from './model';
export * from './rate';
export * from './store';
export * from './manager';
export { entityFromWire, entityToWire, filterFromWire as quotaFilterFromWire, filterToWire as quotaFilterToWire } from './wire';
