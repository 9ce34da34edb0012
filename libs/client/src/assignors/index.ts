export { RangeAssignor } from './range';
export { RoundRobinAssignor } from './round-robin';
export { DEFAULT_GENERATION } from './types';
export type { RebalanceProtocol, MemberSubscription, PartitionsPerTopic, GroupAssignment, PartitionAssignor } from './types';
export { CooperativeStickyAssignor } from './cooperative-sticky';
