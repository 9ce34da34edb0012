/**
 * `tributary-coordination`: the coordination service process. Wiring only: config, logger,
 * metrics, the service (app.ts), graceful shutdown on SIGTERM/SIGINT.
 */
import { createLogger, routeProcessWarnings, createMetrics, installShutdown, loadConfigOrExit } from '@tributary/runtime';
import { startCoordination } from './app';
import { coordinationConfigSchema } from './config';

async function main(): Promise<void> {
  const config = loadConfigOrExit({
    service: 'coordination',
    schema: coordinationConfigSchema,
    describe: "Tributary's coordination service: the cluster's tree of state, leases and elections, over an embedded store or ZooKeeper.",
  });
  const logger = createLogger({ service: 'coordination', nodeId: config.nodeId, level: config.logLevel });
  routeProcessWarnings(logger);
  const metrics = createMetrics({ service: 'coordination', nodeId: config.nodeId });
  const running = await startCoordination(config, logger, metrics);
  installShutdown({
    logger,
    timeoutMs: config.shutdownTimeoutMs,
    hooks: [{ name: 'coordination service', run: () => running.stop(Math.max(100, config.shutdownTimeoutMs - 1000)) }],
  });
}

main().catch((e: unknown) => {
  // Before the logger exists (or if start-up fails): one line, non-zero exit.
  process.stderr.write(`coordination service failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
