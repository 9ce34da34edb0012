/**
 * `tributary-broker`: the broker process. Wiring only: config, logger, metrics, the broker
 * (app.ts), graceful shutdown on SIGTERM/SIGINT.
 */
import { BROKER_NODE_FLAGS, createLogger, routeProcessWarnings, createMetrics, installShutdown, loadConfigOrExit } from '@tributary/runtime';
import { startBroker } from './app';
import { brokerConfigSchema, resolveBrokerConfig } from './config';

async function main(): Promise<void> {
  const input = loadConfigOrExit({
    service: 'broker',
    schema: brokerConfigSchema,
    describe: "Tributary's broker: hosts partition replicas on local disk and serves Produce, Fetch, ListOffsets and Metadata; takes its partitions from the active controller.",
  });
  const config = resolveBrokerConfig(input);
  const logger = createLogger({ service: 'broker', nodeId: String(config.nodeId), level: config.logLevel });
  routeProcessWarnings(logger);
  const missing = BROKER_NODE_FLAGS.filter((flag) => !process.execArgv.includes(flag));
  if (missing.length > 0) {
    logger.warn({ missing }, `started without the broker's node flags: run it as \`node ${BROKER_NODE_FLAGS.join(' ')} main.js\` (the image, npm start and the test clusters do); without them a busy broker spends much of its CPU in full GCs`);
  }
  const metrics = createMetrics({ service: 'broker', nodeId: String(config.nodeId) });
  const running = await startBroker(config, logger, metrics);
  installShutdown({
    logger,
    timeoutMs: config.shutdownTimeoutMs,
    hooks: [{ name: 'broker', run: () => running.stop(Math.max(100, config.shutdownTimeoutMs - 2000)) }],
  });
}

main().catch((e: unknown) => {
  // Before the logger exists (or if start-up fails): one line, non-zero exit.
  process.stderr.write(`broker failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
