/**
 * The group coordinator's settings (flags > TRIBUTARY_* env > --config JSON > defaults, see
 * libs/runtime config.ts). Ports follow ARCHITECTURE.md §7: gRPC 7300, admin 8300. Kafka's
 * broker configs of the group coordinator keep their names (in the descriptions).
 */
import { securityConfigShape } from '@tributary/runtime';
import { z } from 'zod';

export const groupCoordinatorConfigSchema = z.object({
  nodeId: z.number().int().min(0).max(2_147_483_647).default(0).describe('instance id (integer), unique among group coordinators: registered as /group-coordinators/ids/<id>'),
  host: z.string().min(1).default('127.0.0.1').describe('interface the gRPC and admin ports listen on'),
  advertisedHost: z.string().default('').describe('host clients reach this instance at, registered in /group-coordinators/ids/<id> (default: host)'),
  grpcPort: z.number().int().min(0).max(65535).default(7300).describe('gRPC port of GroupCoordinatorService (0 picks a free one)'),
  adminPort: z.number().int().min(0).max(65535).default(8300).describe('HTTP port of /metrics, /healthz, /readyz (0 picks a free one)'),
  coordination: z.string().min(1).default('127.0.0.1:7000').describe('address (host:port) of the coordination service'),
  bootstrap: z.string().min(1).default('127.0.0.1:7200').describe('brokers (host:port, comma-separated) to read and write __consumer_offsets through'),
  leaseTtlMs: z.number().int().min(1000).max(600_000).default(6000).describe('lease TTL of the registration and partition ownership: how long a dead instance keeps its partitions'),
  offsetsTopicNumPartitions: z.number().int().min(1).max(10_000).default(50).describe('offsets.topic.num.partitions: partitions of __consumer_offsets when this instance creates it'),
  offsetsTopicReplicationFactor: z.number().int().min(1).max(32).default(3).describe('offsets.topic.replication.factor: replicas of __consumer_offsets when created (capped to the live brokers)'),
  offsetsTopicSegmentBytes: z.number().int().min(1024).max(1_073_741_824).default(104_857_600).describe('offsets.topic.segment.bytes: segment.bytes of __consumer_offsets when created'),
  offsetMetadataMaxBytes: z.number().int().min(0).max(1_048_576).default(4096).describe('offset.metadata.max.bytes: longest commit metadata accepted (else OFFSET_METADATA_TOO_LARGE)'),
  offsetsRetentionMinutes: z.number().positive().max(52_560_000).default(10_080).describe('offsets.retention.minutes: offsets of a group Empty this long since its last commit expire (fractions allowed, for tests)'),
  offsetsRetentionCheckIntervalMs: z.number().int().min(100).max(86_400_000).default(600_000).describe('offsets.retention.check.interval.ms: how often expired offsets are looked for'),
  offsetsCommitTimeoutMs: z.number().int().min(100).max(600_000).default(5000).describe('offsets.commit.timeout.ms: how long a write to __consumer_offsets may take before the call answers REQUEST_TIMED_OUT / COORDINATOR_NOT_AVAILABLE'),
  groupMinSessionTimeoutMs: z.number().int().min(1).max(86_400_000).default(6000).describe('group.min.session.timeout.ms: smallest session.timeout.ms a member may ask for'),
  groupMaxSessionTimeoutMs: z.number().int().min(1).max(86_400_000).default(1_800_000).describe('group.max.session.timeout.ms: largest session.timeout.ms a member may ask for'),
  groupInitialRebalanceDelayMs: z.number().int().min(0).max(3_600_000).default(3000).describe("group.initial.rebalance.delay.ms: an Empty group's first rebalance waits this long for more members"),
  groupMaxSize: z.number().int().min(1).max(2_147_483_647).default(2_147_483_647).describe('group.max.size: most members a group may hold'),
  lagRefreshIntervalMs: z.number().int().min(100).max(3_600_000).default(10_000).describe('how often log end offsets are read to refresh tributary_consumer_group_lag'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('minimum log level'),
  shutdownTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('how long a graceful shutdown may take before the process exits anyway'),
  ...securityConfigShape,
});

export type GroupCoordinatorConfigInput = z.output<typeof groupCoordinatorConfigSchema>;

export interface GroupCoordinatorConfig extends GroupCoordinatorConfigInput {
  advertisedHost: string;
}

export function resolveGroupCoordinatorConfig(input: GroupCoordinatorConfigInput): GroupCoordinatorConfig {
  if (input.groupMinSessionTimeoutMs > input.groupMaxSessionTimeoutMs) {
    throw new Error(`invalid setting group-min-session-timeout-ms: ${input.groupMinSessionTimeoutMs} is above group-max-session-timeout-ms ${input.groupMaxSessionTimeoutMs}`);
  }
  return { ...input, advertisedHost: input.advertisedHost || input.host };
}
