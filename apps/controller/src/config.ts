/**
 * The controller's settings (flags > TRIBUTARY_* env > --config JSON > defaults, see
 * libs/runtime config.ts). Ports follow ARCHITECTURE.md §7: gRPC 7100, admin 8100.
 */
import { securityConfigShape } from '@tributary/runtime';
import { z } from 'zod';

export const controllerConfigSchema = z.object({
  nodeId: z.number().int().min(0).max(2_147_483_647).default(0).describe('controller id (integer), unique among controllers'),
  host: z.string().min(1).default('127.0.0.1').describe('interface the gRPC and admin ports listen on, and the host advertised in /controller'),
  grpcPort: z.number().int().min(0).max(65535).default(7100).describe('gRPC port of the Admin API (0 picks a free one)'),
  adminPort: z.number().int().min(0).max(65535).default(8100).describe('HTTP port of /metrics, /healthz, /readyz (0 picks a free one)'),
  coordination: z.string().min(1).default('127.0.0.1:7000').describe('address (host:port) of the coordination service'),
  leaseTtlMs: z.number().int().min(1000).max(600_000).default(6000).describe('election lease TTL: how long a dead active controller keeps the office'),
  autoLeaderRebalanceEnable: z.boolean().default(true).describe('auto.leader.rebalance.enable: move leadership back to preferred replicas when a broker\'s imbalance is above the threshold'),
  leaderImbalancePerBrokerPercentage: z.number().int().min(0).max(100).default(10).describe('leader.imbalance.per.broker.percentage: share (percent) of a broker\'s preferred partitions led elsewhere above which a rebalance runs'),
  leaderImbalanceCheckIntervalSeconds: z.number().int().min(1).max(86_400).default(300).describe('leader.imbalance.check.interval.seconds: how often the active controller checks the leader imbalance'),
  numPartitions: z.number().int().min(1).max(100_000).default(1).describe('num.partitions: partitions of a topic created with num_partitions -1 (KIP-464: "the cluster default")'),
  defaultReplicationFactor: z.number().int().min(1).max(100).default(1).describe('default.replication.factor: replicas of a topic created with replication_factor -1 (KIP-464)'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('minimum log level'),
  shutdownTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('how long a graceful shutdown may take before the process exits anyway'),
  ...securityConfigShape,
});

export type ControllerConfig = z.output<typeof controllerConfigSchema>;
