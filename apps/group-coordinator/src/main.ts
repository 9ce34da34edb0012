/**
 * `tributary-group-coordinator`: the group coordinator process. Wiring only: config, logger,
 * metrics, the coordinator (app.ts), graceful shutdown on SIGTERM/SIGINT (partitions released
 * to the other instances at once, lease revoked).
 */
import { createLogger, routeProcessWarnings, createMetrics, installShutdown, loadConfigOrExit } from '@tributary/runtime';
import { startGroupCoordinator } from './app';
import { groupCoordinatorConfigSchema, resolveGroupCoordinatorConfig } from './config';

async function main(): Promise<void> {
  const input = loadConfigOrExit({
    service: 'group-coordinator',
    schema: groupCoordinatorConfigSchema,
    describe: "Tributary's group coordinator: consumer group membership, rebalances and committed offsets in __consumer_offsets, whose partitions the instances share through coordination leases.",
  });
  const config = resolveGroupCoordinatorConfig(input);
  const logger = createLogger({ service: 'group-coordinator', nodeId: String(config.nodeId), level: config.logLevel });
  routeProcessWarnings(logger);
  const metrics = createMetrics({ service: 'group-coordinator', nodeId: String(config.nodeId) });
  const running = await startGroupCoordinator(config, logger, metrics);
  installShutdown({
    logger,
    timeoutMs: config.shutdownTimeoutMs,
    hooks: [{ name: 'group-coordinator', run: () => running.stop(Math.max(100, config.shutdownTimeoutMs - 1000)) }],
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`group coordinator failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
