/**
 * `tributary-rest-proxy`: the REST proxy process. Wiring only: config, logger, metrics, the
 * proxy (app.ts), graceful shutdown on SIGTERM/SIGINT (stop taking requests, answer those
 * running, flush the producer).
 */
import { createLogger, routeProcessWarnings, createMetrics, installShutdown, loadConfigOrExit } from '@tributary/runtime';
import { startRestProxy } from './app';
import { restProxyConfigSchema } from './config';

async function main(): Promise<void> {
  const config = loadConfigOrExit({
    service: 'rest-proxy',
    schema: restProxyConfigSchema,
    describe: "Tributary's REST proxy: the Confluent REST Proxy API (v2 metadata, produce and consumer instances; v3 admin, produce and consumer groups) over HTTP/JSON, for languages without a Tributary client.",
  });
  const nodeId = `${config.host}:${config.port}`;
  const logger = createLogger({ service: 'rest-proxy', nodeId, level: config.logLevel });
  routeProcessWarnings(logger);
  const metrics = createMetrics({ service: 'rest-proxy', nodeId });
  const running = await startRestProxy(config, logger, metrics);
  installShutdown({
    logger,
    timeoutMs: config.shutdownTimeoutMs,
    hooks: [{ name: 'rest-proxy', run: () => running.stop(Math.max(100, config.shutdownTimeoutMs - 1000)) }],
  });
}

main().catch((e: unknown) => {
  // Before the logger exists (or if start-up fails): one line, non-zero exit.
  process.stderr.write(`rest-proxy failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
