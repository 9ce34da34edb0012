// Public entry of @tributary/groups: Kafka's consumer group encodings (README.md).
export { GroupCodecError, MAX_STRING_BYTES } from './codec';
export {
  CONSUMER_PROTOCOL_TYPE,
  CONSUMER_PROTOCOL_VERSION,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
} from './consumer-protocol';
export type { Assignment, Subscription, TopicPartitions } from './consumer-protocol';
export {
  CONSUMER_OFFSETS_TOPIC,
  GROUP_METADATA_KEY_VERSION,
  OFFSET_COMMIT_KEY_VERSION,
  decodeGroupMetadataValue,
  decodeOffsetCommitValue,
  decodeOffsetsRecordKey,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
} from './offsets-records';
export type { GroupMemberMetadata, GroupMetadataValue, OffsetCommitValue, OffsetsRecordKey } from './offsets-records';
export { DEFAULT_OFFSETS_TOPIC_PARTITIONS, javaStringHashCode, kafkaAbs, partitionFor } from './partition';
export { ConsumerGroup, DEFAULT_GROUP_CONFIG } from './group';
export { joinGroupInput, syncGroupInput } from './requests';
export type {
  ConsumerGroupOptions,
  GroupAnswer,
  GroupConfig,
  GroupMember,
  GroupProtocol,
  GroupState,
  GroupTimer,
  GroupTimers,
  JoinGroupInput,
  JoinGroupResult,
  LeaveGroupResult,
  MemberRef,
  SyncGroupInput,
  SyncGroupResult,
} from './group';
