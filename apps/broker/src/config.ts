/**
 * The broker's settings (flags > TRIBUTARY_* env > --config JSON > defaults, see libs/runtime
 * config.ts). Ports follow ARCHITECTURE.md §7: broker N serves gRPC on 7200 + N and its admin
 * HTTP port on the gRPC port + 1000, unless set.
 *
 * Size limits keep Kafka's names and defaults: `message.max.bytes` (the largest record batch,
 * 1 MiB + 12 bytes of log overhead) and `socket.request.max.bytes` (the largest request,
 * 100 MiB). A topic's `max.message.bytes` overrides the former per topic.
 */
import { securityConfigShape } from '@tributary/runtime';
import { z } from 'zod';

export const brokerConfigSchema = z.object({
  nodeId: z.number().int().min(0).max(1_000_000).default(0).describe('broker id (integer), unique in the cluster'),
  host: z.string().min(1).default('127.0.0.1').describe('interface the gRPC and admin ports listen on'),
  advertisedHost: z.string().default('').describe('host clients and other brokers reach this broker at (default: host)'),
  grpcPort: z.number().int().min(-1).max(65535).default(-1).describe('gRPC port (Produce, Fetch, ...; 0 picks a free one; default 7200 + node id)'),
  adminPort: z.number().int().min(-1).max(65535).default(-1).describe('HTTP port of /metrics, /healthz, /readyz (0 picks a free one; default gRPC port + 1000)'),
  coordination: z.string().min(1).default('127.0.0.1:7000').describe('address (host:port) of the coordination service'),
  logDir: z.string().min(1).default('./.tributary/broker-0').describe('directory holding this broker\'s partition logs (created if missing)'),
  rack: z.string().default('').describe('rack (failure domain) of this broker, used for rack-aware replica placement'),
  leaseTtlMs: z.number().int().min(1000).max(600_000).default(6000).describe('registration lease TTL: how long after a crash the controller still counts this broker alive'),
  messageMaxBytes: z.number().int().min(1024).max(1_073_741_824).default(1_048_588).describe('message.max.bytes: the largest record batch accepted (a topic\'s max.message.bytes overrides it)'),
  socketRequestMaxBytes: z.number().int().min(1024).max(2_147_483_647).default(104_857_600).describe('socket.request.max.bytes: the largest request accepted, in bytes'),
  fetchMaxBytes: z.number().int().min(1024).max(2_147_483_647).default(57_671_680).describe('fetch.max.bytes: the most record bytes one Fetch answer carries'),
  logCleanerEnable: z.boolean().default(true).describe('log.cleaner.enable: compact topics with cleanup.policy=compact in the background'),
  logCleanerBackoffMs: z.number().int().min(10).max(3_600_000).default(15_000).describe('log.cleaner.backoff.ms: how long the cleaner sleeps when no log needs cleaning'),
  logCleanerDedupeBufferSize: z.number().int().min(1024 * 1024).max(2 ** 31).default(128 * 1024 * 1024).describe('log.cleaner.dedupe.buffer.size: memory of the cleaner\'s offset map, in bytes'),
  logCleanerIoMaxBytesPerSecond: z.number().min(0).default(0).describe('log.cleaner.io.max.bytes.per.second: read + write throttle of the cleaner; 0: unlimited'),
  replicaFetchStream: z.boolean().default(true).describe('followers fetch over one long-lived ReplicaFetch stream per leader (false: a unary Fetch call per round trip)'),
  replicaLagTimeMaxMs: z.number().int().min(100).max(3_600_000).default(30_000).describe('replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR'),
  producerIdExpirationMs: z
    .number()
    .int()
    .min(1)
    .max(2_147_483_647)
    .default(86_400_000)
    .describe('producer.id.expiration.ms: a partition forgets an idempotent producer that wrote nothing for this long (checked with retention)'),
  maxFetchWaitMs: z.number().int().min(0).max(300_000).default(30_000).describe('longest long-poll a Fetch may ask for (max_wait_ms is capped to it)'),
  controlledShutdownEnable: z.boolean().default(true).describe('controlled.shutdown.enable: on SIGTERM, ask the controller to move leadership away before deregistering'),
  controlledShutdownMaxRetries: z.number().int().min(1).max(100).default(3).describe('controlled.shutdown.max.retries: controlled shutdown attempts while partitions remain or the controller is unreachable'),
  controlledShutdownRetryBackoffMs: z.number().int().min(0).max(600_000).default(5000).describe('controlled.shutdown.retry.backoff.ms: wait between controlled shutdown attempts'),
  quotaWindowNum: z.number().int().min(2).max(100).default(11).describe('quota.window.num: sample windows client quota rates are measured over'),
  quotaWindowSizeSeconds: z.number().int().min(1).max(3600).default(1).describe('quota.window.size.seconds: length of one client quota sample window'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('minimum log level'),
  shutdownTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('how long a graceful shutdown may take before the process exits anyway'),
  ...securityConfigShape,
});

export type BrokerConfigInput = z.output<typeof brokerConfigSchema>;

/** The settings with the port defaults that depend on the node id resolved. */
export interface BrokerConfig extends BrokerConfigInput {
  advertisedHost: string;
  grpcPort: number;
  adminPort: number;
}

export function resolveBrokerConfig(input: BrokerConfigInput): BrokerConfig {
  const grpcPort = input.grpcPort === -1 ? 7200 + input.nodeId : input.grpcPort;
  if (grpcPort > 65535) throw new Error(`invalid setting grpc-port: 7200 + node id ${input.nodeId} is above 65535; set --grpc-port`);
  const adminPort = input.adminPort === -1 ? (grpcPort === 0 ? 0 : grpcPort + 1000) : input.adminPort;
  if (adminPort > 65535) throw new Error(`invalid setting admin-port: gRPC port ${grpcPort} + 1000 is above 65535; set --admin-port`);
  return { ...input, advertisedHost: input.advertisedHost || input.host, grpcPort, adminPort };
}
