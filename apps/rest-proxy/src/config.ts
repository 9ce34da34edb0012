/**
 * The REST proxy's settings (flags > TRIBUTARY_* env > --config JSON > defaults, see
 * libs/runtime config.ts). Ports: the API on 8082 (Confluent's default), the admin HTTP
 * server (/metrics, /healthz, /readyz) on 9082 = API port + 1000 (ARCHITECTURE.md §7).
 */
import { securityConfigShape } from '@tributary/runtime';
import { z } from 'zod';

export const restProxyConfigSchema = z.object({
  host: z.string().min(1).default('127.0.0.1').describe('interface the API and admin ports listen on'),
  port: z.number().int().min(0).max(65535).default(8082).describe('HTTP port of the REST API (0 picks a free one)'),
  adminPort: z.number().int().min(0).max(65535).default(9082).describe('HTTP port of /metrics, /healthz, /readyz (0 picks a free one)'),
  bootstrap: z
    .string()
    .regex(/^\s*[^\s,:]+:\d{1,5}\s*(,\s*[^\s,:]+:\d{1,5}\s*)*$/, 'must be host:port[,host:port...], e.g. 127.0.0.1:7200')
    .default('127.0.0.1:7200')
    .describe('bootstrap.servers: brokers as host:port, comma-separated'),
  advertisedUrl: z.string().default('').describe('base URL put in v3 `metadata.self` links (default http://<host>:<port>)'),
  maxRequestBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(64 * 1024 * 1024).describe('largest request body accepted; larger ones get 413'),
  producerAcks: z.enum(['all', '1', '0']).default('all').describe('acks of the shared producer'),
  producerLingerMs: z.number().int().min(0).max(60_000).default(5).describe('linger.ms of the shared producer'),
  producerBatchSize: z.number().int().min(1024).max(64 * 1024 * 1024).default(256 * 1024).describe('batch.size of the shared producer (bytes per partition batch)'),
  producerBufferMemory: z.number().int().min(1024 * 1024).max(4 * 1024 * 1024 * 1024).default(64 * 1024 * 1024).describe('buffer.memory of the shared producer (bytes)'),
  producerCompression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('none').describe('compression.type of the shared producer'),
  metadataMaxAgeMs: z.number().int().min(100).max(3_600_000).default(30_000).describe('how long the proxy trusts a topic\'s partition count before asking the controller again'),
  requestTimeoutMs: z.number().int().min(100).max(600_000).default(30_000).describe('request.timeout.ms of the proxy\'s clients'),
  consumeMaxBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024).describe('upper bound (and default) of max_bytes of the v3 stateless consume endpoint'),
  consumeTimeoutMs: z.number().int().min(0).max(60_000).default(1000).describe('how long a v3 stateless consume waits for records before answering with none, when it gives no timeout_ms (it may ask up to 60000)'),
  consumerInstanceTimeoutMs: z.number().int().min(100).max(86_400_000).default(300_000).describe('consumer.instance.timeout.ms: a v2 consumer instance idle this long is closed and leaves its group'),
  maxConsumerInstances: z.number().int().min(1).max(100_000).default(1000).describe('most v2 consumer instances one proxy process holds (each is an SDK group consumer); more get 429 / 42901'),
  consumerInstanceBufferBytes: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(16 * 1024 * 1024).describe('prefetched bytes one v2 consumer instance may hold (its maxBufferedBytes and fetch.max.bytes): bounds the proxy\'s memory at this times --max-consumer-instances'),
  consumerRequestTimeoutMs: z.number().int().min(0).max(60_000).default(1000).describe('consumer.request.timeout.ms: how long a v2 records request waits for records when it gives no timeout (an instance may set its own)'),
  consumerRequestMaxBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(64 * 1024 * 1024).describe('consumer.request.max.bytes: upper bound (and default) of max_bytes of a v2 records request'),
  accessLog: z.boolean().default(true).describe('one JSON log line per request (method, route, status, duration; never bodies)'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('minimum log level'),
  shutdownTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('how long a graceful shutdown may take before the process exits anyway'),
  ...securityConfigShape,
  basicAuthAllowPlaintext: z
    .boolean()
    .default(false)
    .describe('allow HTTP Basic authentication (--sasl-enabled-mechanisms) without --tls-cert-file: only behind a TLS-terminating load balancer (default: refuse to start, so passwords never cross plain HTTP)'),
  basicAuthMaxUsers: z.number().int().min(1).max(1_000_000).default(1000).describe('Basic-authenticated users whose cluster clients are kept at once (least recently used closed first)'),
  basicAuthIdleMs: z.number().int().min(1000).max(86_400_000).default(600_000).describe("a Basic user's cluster clients unused this long are closed (its producer flushed first)"),
});

export type RestProxyConfig = z.output<typeof restProxyConfigSchema>;
