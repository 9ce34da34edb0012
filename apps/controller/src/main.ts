/**
 * `tributary-controller`: the controller process. Wiring only: config, logger, metrics, the
 * controller (app.ts), graceful shutdown on SIGTERM/SIGINT.
 */
import { createLogger, routeProcessWarnings, createMetrics, installShutdown, loadConfigOrExit } from '@tributary/runtime';
import { startController } from './app';
import { controllerConfigSchema } from './config';

async function main(): Promise<void> {
  const config = loadConfigOrExit({
    service: 'controller',
    schema: controllerConfigSchema,
    describe: "Tributary's controller: topics, replica assignment, partition leadership and configs in the coordination store; the Admin API (active controller only).",
  });
  const logger = createLogger({ service: 'controller', nodeId: String(config.nodeId), level: config.logLevel });
  routeProcessWarnings(logger);
  const metrics = createMetrics({ service: 'controller', nodeId: String(config.nodeId) });
  const running = await startController(config, logger, metrics);
  installShutdown({
    logger,
    timeoutMs: config.shutdownTimeoutMs,
    hooks: [{ name: 'controller', run: () => running.stop(Math.max(100, config.shutdownTimeoutMs - 1000)) }],
  });
}

main().catch((e: unknown) => {
  // Before the logger exists (or if start-up fails): one line, non-zero exit.
  process.stderr.write(`controller failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
