/**
 * `@tributary/client`: the TypeScript SDK of Tributary — {@link Producer}, {@link Consumer}
 * (alone, or in a consumer group with `groupId`) and {@link Admin}. Each needs only a
 * bootstrap list of brokers.
 */
export { Producer } from './producer';
export type { CloseOptions } from './producer';
export { Consumer } from './consumer';
export { Admin } from './admin';
export { AclOperationError } from './acl-admin';
export type { AclBinding, AclBindingFilter } from './acl-admin';
export { ClientQuotaAlterationError } from './quota-admin';
export type { ClientQuotaAlteration, ClientQuotaEntity, ClientQuotaEntry, ClientQuotaFilter, ClientQuotaFilterComponent, ClientQuotaOp } from './quota-admin';
export { UserScramCredentialsError } from './user-admin';
export type { ScramCredentialInfo, ScramMechanism, UserScramCredentialAlteration, UserScramCredentialDeletion, UserScramCredentialUpsertion, UserScramCredentialsDescription } from './user-admin';
export type {
  AdminOptions,
  NewTopic,
  CreatedTopic,
  PartitionInfo,
  TopicInfo,
  ConfigEntry,
  TopicConfigs,
  AlterTopicConfigs,
  BrokerInfo,
  ClusterInfo,
  OffsetSpec,
  PartitionOffset,
  ElectionType,
  ElectionPartitions,
  ElectionResult,
  PartitionReassignment,
  ReassignmentOutcome,
  OngoingReassignment,
  GroupListing,
  GroupDescription,
  GroupMemberDescription,
  DeletedGroup,
  GroupOffset,
  AlteredGroupOffset,
} from './admin';
export { PRODUCER_DEFAULTS } from './producer-options';
export type {
  Acks,
  CompressionType,
  Bytes,
  HeaderValue,
  ProducerRecord,
  RecordMetadata,
  Partitioner,
  PartitionerArgs,
  ProducerOptions,
} from './producer-options';
export { CONSUMER_DEFAULTS } from './consumer-options';
export type {
  TopicPartition,
  AutoOffsetReset,
  ConsumerOptions,
  ConsumerRecord,
  FetchedBatch,
  RebalanceListener,
  CommitOffset,
  CommittedOffset,
  GroupMetadata,
} from './consumer-options';
export { CLIENT_DEFAULTS, BOOTSTRAP_ENV, DEFAULT_BOOTSTRAP, defaultBootstrap, parseBootstrap, tlsOptionsFromFiles } from './config';
export type { ClientOptions, ClientLogger, TlsOptions, SaslOptions } from './config';
export {
  NoBrokerAvailableError,
  ClientClosedError,
  UnknownTopicError,
  OffsetOutOfRangeError,
  ClientTimeoutError,
  TopicOperationError,
  CommitFailedError,
  InvalidGroupIdError,
  GroupMembershipError,
} from './errors';
export { murmur2, toPositive, partitionForKey } from './partitioner';
export { RecordAccumulator, ACCUMULATOR_DEFAULTS, RecordTooLargeError, BufferExhaustedError, AccumulatorClosedError } from './accumulator';
export type { AccumulatorOptions, ReadyBatch, RecordCallback, DeliveryRunCallback } from './accumulator';
export { RangeAssignor, RoundRobinAssignor, CooperativeStickyAssignor, DEFAULT_GENERATION } from './assignors';
export type { RebalanceProtocol, MemberSubscription, PartitionsPerTopic, GroupAssignment, PartitionAssignor } from './assignors';
/** Re-exported so users need not depend on the records library for these. */
export { TributaryError, ErrorCode } from '@tributary/records';
export type { RecordHeader, RecordView } from '@tributary/records';
