/**
 * Process logger: pino writing one JSON object per line to stdout, every line carrying the
 * service and node id, an ISO-8601 `time`, and `level` as a label (`"info"`, not `30`), which
 * is what log collectors (Loki, Elasticsearch, Cloud Logging) index without extra parsing.
 *
 * Components take `logger.child({ component: 'replica-fetcher' })` (plain pino). Messages are
 * constant strings; variable data goes in fields; errors go in the `err` field (pino's
 * serializer keeps type, message and stack).
 */
import pino from 'pino';

/** The logger type every Tributary component receives. */
export type Logger = pino.Logger;

/** Log levels, lowest to highest. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What {@link createLogger} needs. */
export interface LoggerOptions {
  /** Service name: `coordination`, `controller`, `broker`, ... */
  service: string;
  /** This node's id within its service (broker id, replica name, pod ordinal...). */
  nodeId: string | number;
  /** Minimum level written (default `info`). */
  level?: LogLevel;
  /** Where lines go (default stdout, written synchronously so nothing is lost at exit). */
  destination?: pino.DestinationStream;
}

/** Creates the process logger. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service, nodeId: options.nodeId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** Process warnings that say nothing to an operator (see {@link routeProcessWarnings}). */
const SILENCED_WARNINGS = new Set([
  // grpc-js passes the dialled host as the TLS server name; dialling an IP (127.0.0.1:7200,
  // a pod IP) makes Node warn on every TLS connection. The certificate is still verified
  // against the IP (its subjectAltName).
  'DEP0123',
]);

/**
 * Sends Node's process warnings to the service's JSON log (instead of plain stderr lines) and
 * drops the ones in SILENCED_WARNINGS. Services call it once, after creating their logger.
 */
export function routeProcessWarnings(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => {
    if (w.code !== undefined && SILENCED_WARNINGS.has(w.code)) return;
    logger.warn({ warning: w.name, code: w.code, err: w.message }, 'process warning');
  });
}
