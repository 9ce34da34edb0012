/**
 * Types of the consumer-side partition assignors. In Kafka's group protocol the broker only
 * relays: the group leader member runs an assignor over every member's subscription and
 * hands the result back through SyncGroup. These types are that computation's input and
 * output; how subscriptions and assignments are encoded on the wire is defined elsewhere.
 */
import type { TopicPartition } from '../consumer-options';

/**
 * Kafka's `RebalanceProtocol`: EAGER members revoke everything before rejoining; COOPERATIVE
 * members keep what they own and revoke only what the assignment takes away (KIP-429).
 */
export type RebalanceProtocol = 'EAGER' | 'COOPERATIVE';

/** Kafka's `ConsumerPartitionAssignor.DEFAULT_GENERATION`: a member that never had one. */
export const DEFAULT_GENERATION = -1;

/** One member's subscription, as the group leader sees it (Kafka's `Subscription`). */
export interface MemberSubscription {
  /** The member id the coordinator gave in JoinGroup. */
  memberId: string;
  /** `group.instance.id` of a static member (KIP-345); absent for dynamic members. */
  groupInstanceId?: string;
  /** Topics the member subscribes to (patterns already resolved by the member). */
  topics: readonly string[];
  /** Partitions the member owns now (cooperative protocols); empty for eager members. */
  ownedPartitions?: readonly TopicPartition[];
  /** The generation in which the member got `ownedPartitions`; {@link DEFAULT_GENERATION} if none. */
  generation?: number;
  /** Opaque assignor-specific data from the member. */
  userData?: Uint8Array;
}

/** Partition count of every topic that exists; subscribed topics not in it are ignored. */
export type PartitionsPerTopic = ReadonlyMap<string, number>;

/** The result: member id → its partitions, with an entry (possibly empty) for every member. */
export type GroupAssignment = Map<string, TopicPartition[]>;

/** Kafka's `ConsumerPartitionAssignor`: a pure function from subscriptions to an assignment. */
export interface PartitionAssignor {
  /** Kafka's name, sent in JoinGroup as the protocol name: 'range', 'roundrobin', 'cooperative-sticky'. */
  readonly name: string;
  /** The rebalance protocols the assignor's result is safe for, most preferred first. */
  readonly supportedProtocols: readonly RebalanceProtocol[];
  /**
   * Assigns the partitions of subscribed, existing topics to members. Deterministic: equal
   * input gives equal output whatever the order of `members`.
   */
  assign(partitionsPerTopic: PartitionsPerTopic, members: readonly MemberSubscription[]): GroupAssignment;
}
