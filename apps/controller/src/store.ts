/**
 * The controller's state in the coordination store, Kafka's ZooKeeper layout
 * (ARCHITECTURE.md §5): paths, JSON shapes, and Multi operation builders.
 */
import type { Op } from '@tributary/proto';

export const CONTROLLER_PATH = '/controller';
export const CONTROLLER_EPOCH_PATH = '/controller_epoch';
export const BROKER_IDS_PATH = '/brokers/ids';
export const TOPICS_PATH = '/brokers/topics';
export const TOPIC_CONFIGS_PATH = '/config/topics';
export const DELETE_TOPICS_PATH = '/admin/delete_topics';
/** `/cluster/id`: the cluster's id, written once by the first controller (Kafka's layout). */
export const CLUSTER_ID_PATH = '/cluster/id';
/** Parents the controller creates (empty, persistent) when it becomes active. */
export const CONTROLLER_ROOTS = [BROKER_IDS_PATH, TOPICS_PATH, TOPIC_CONFIGS_PATH, DELETE_TOPICS_PATH, '/cluster'];

export const topicPath = (topic: string): string => `${TOPICS_PATH}/${topic}`;
export const partitionsPath = (topic: string): string => `${TOPICS_PATH}/${topic}/partitions`;
export const partitionPath = (topic: string, p: number | string): string => `${TOPICS_PATH}/${topic}/partitions/${p}`;
export const partitionStatePath = (topic: string, p: number | string): string => `${TOPICS_PATH}/${topic}/partitions/${p}/state`;
export const topicConfigPath = (topic: string): string => `${TOPIC_CONFIGS_PATH}/${topic}`;
export const deleteMarkerPath = (topic: string): string => `${DELETE_TOPICS_PATH}/${topic}`;

/** `/controller`: who the active controller is (also the Election's candidate data). */
export interface ControllerInfo {
  id: number;
  host: string;
  port: number;
}

/** `/brokers/ids/<id>`: written by the broker itself (ephemeral, with its lease). */
export interface BrokerRegistration {
  host: string;
  port: number;
  rack?: string;
  /** Changes at every registration of the broker (restart, lost lease): a new one gets its full state again. */
  incarnation?: string;
}

/**
 * `/admin/delete_topics/<topic>`: a deletion in progress. The topic's metadata is gone; the
 * marker stays until every broker that held a replica has deleted its data (`brokers` lists
 * those that have not confirmed yet), so the name cannot be reused before.
 */
export interface DeletionMarker {
  requested: number;
  partitions?: number[];
  brokers?: number[];
}

/**
 * `/brokers/topics/<topic>`: the replica assignment, preferred leader first. While a partition
 * is being reassigned (KIP-455, Kafka's same fields), `partitions[p]` is the full replica set
 * (target replicas first, then the original ones being removed) and `adding_replicas[p]` /
 * `removing_replicas[p]` say which are which (reassignment.ts); absent keys: none.
 */
export interface TopicAssignment {
  partitions: Record<string, number[]>;
  /** KIP-455: replicas being added by a reassignment in progress, per partition. */
  adding_replicas?: Record<string, number[]>;
  /** KIP-455: replicas being removed by a reassignment in progress, per partition. */
  removing_replicas?: Record<string, number[]>;
  /** Tributary: the replication throttle (bytes/s) of a partition's reassignment in progress. */
  reassignment_throttles?: Record<string, number>;
  /**
   * Tributary: brokers a reassignment took a partition away from that have not yet confirmed
   * deleting their copy (StopReplica with delete), per partition; kept here so a new
   * controller finishes the clean-up.
   */
  removed_replicas?: Record<string, number[]>;
}

/** `/brokers/topics/<topic>/partitions/<p>/state`. */
export interface PartitionState {
  leader: number;
  leader_epoch: number;
  isr: number[];
  controller_epoch: number;
}

export const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
export const parseJson = <T>(data: Buffer): T => JSON.parse(data.toString('utf8')) as T;

export const ops = {
  create: (path: string, data: Buffer = Buffer.alloc(0), leaseId = 0n): Op => ({ op: { $case: 'create', value: { path, data, leaseId, sequential: false } } }),
  set: (path: string, data: Buffer, expectedVersion: number): Op => ({ op: { $case: 'set', value: { path, data, expectedVersion } } }),
  delete: (path: string, expectedVersion: number): Op => ({ op: { $case: 'delete', value: { path, expectedVersion } } }),
  check: (path: string, expectedVersion: number): Op => ({ op: { $case: 'check', value: { path, expectedVersion } } }),
};
