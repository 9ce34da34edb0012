/**
 * The coordination service's settings (flags > TRIBUTARY_* env > --config JSON > defaults,
 * see libs/runtime config.ts). Ports follow ARCHITECTURE.md §7: gRPC 7000, admin 8000.
 */
import { securityConfigShape } from '@tributary/runtime';
import { z } from 'zod';

export const coordinationConfigSchema = z.object({
  nodeId: z.string().min(1).default('coordination-0').describe('name of this replica in logs and metrics'),
  host: z.string().min(1).default('127.0.0.1').describe('interface the gRPC and admin ports listen on'),
  grpcPort: z.number().int().min(0).max(65535).default(7000).describe('gRPC port (0 picks a free one)'),
  adminPort: z.number().int().min(0).max(65535).default(8000).describe('HTTP port of /metrics, /healthz, /readyz (0 picks a free one)'),
  backend: z.enum(['embedded', 'zookeeper']).default('embedded').describe('where the tree lives: embedded (this process, one machine) or zookeeper'),
  dataDir: z.string().min(1).default('./.tributary/coordination').describe('embedded backend: directory of the write-ahead log and snapshot'),
  zookeeperConnect: z.string().min(1).default('127.0.0.1:2181').describe('zookeeper backend: connection string host:port[,host:port...]'),
  zookeeperChroot: z.string().regex(/^\/[^/]/).default('/tributary').describe('zookeeper backend: root of the tree inside ZooKeeper'),
  zookeeperSessionTimeoutMs: z.number().int().min(1000).max(120_000).default(10_000).describe('zookeeper backend: session timeout of the main session'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('minimum log level'),
  shutdownTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('how long a graceful shutdown may take before the process exits anyway'),
  scramCredentialsFile: z
    .string()
    .min(1)
    .optional()
    .describe("SCRAM credentials created at start when missing (lines from 'tributary users hash': salted, never a password; Kafka's kafka-storage --add-scram)"),
  ...securityConfigShape,
});

export type CoordinationConfig = z.output<typeof coordinationConfigSchema>;
