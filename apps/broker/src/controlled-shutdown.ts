/**
 * Controlled shutdown, the broker's side (Kafka's KafkaServer.controlledShutdown): before a
 * broker stopping on SIGTERM deregisters, it asks the active controller (ControlledShutdown,
 * over the same BrokerToControllerService channel as AlterPartition) to move leadership of
 * its partitions to other in-sync replicas, so that clients switch over at once instead of
 * waiting for the registration lease to expire.
 *
 * Attempts: up to `controlled.shutdown.max.retries` (default 3), `controlled.shutdown.retry.backoff.ms`
 * (default 5000) apart, while the controller answers that partitions remain (no other live ISR
 * member could take them) or cannot be reached. Then the broker stops anyway (logged): the
 * controller's failover handles what is left when the registration goes. Every attempt
 * and wait also stays within `deadline`, so the whole shutdown fits its timeout.
 */
import type { ControlledShutdownRequest, ControlledShutdownResponse } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { Logger } from '@tributary/runtime';

export interface ControlledShutdownOptions {
  brokerId: number;
  /** The incarnation of this broker's registration (empty when unknown). */
  incarnation(): string | undefined;
  /**
   * Sends one ControlledShutdown to the active controller within `timeoutMs`; rejects when no
   * controller is known or it cannot be reached (or is not the active one).
   */
  send(request: ControlledShutdownRequest, timeoutMs: number): Promise<ControlledShutdownResponse>;
  /** controlled.shutdown.max.retries: attempts in all. */
  maxRetries: number;
  /** controlled.shutdown.retry.backoff.ms: wait between attempts. */
  retryBackoffMs: number;
  /** Epoch ms after which no attempt starts and no wait continues. */
  deadline: number;
  logger: Logger;
  /** Waits (tests inject a fake clock). */
  sleep?(ms: number): Promise<void>;
  now?(): number;
}

/** The outcome: whether leadership moved away entirely, and after how many attempts. */
export interface ControlledShutdownOutcome {
  succeeded: boolean;
  attempts: number;
}

/** Longest a single attempt may take. */
const ATTEMPT_TIMEOUT_MS = 10_000;

export async function controlledShutdown(options: ControlledShutdownOptions): Promise<ControlledShutdownOutcome> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let attempts = 0;
  for (let remaining = options.maxRetries; remaining > 0; ) {
    const timeoutMs = Math.min(ATTEMPT_TIMEOUT_MS, options.deadline - now());
    if (timeoutMs <= 0) break;
    remaining--;
    attempts++;
    try {
      const response = await options.send({ brokerId: options.brokerId, incarnation: options.incarnation() ?? '' }, timeoutMs);
      if (response.errorCode !== ErrorCode.NONE) {
        logger.warn({ attempt: attempts, code: ErrorCode[response.errorCode], message: response.errorMessage }, 'controlled shutdown refused by the controller');
      } else if (response.remainingPartitions.length === 0) {
        logger.info({ attempts }, 'controlled shutdown succeeded: this broker leads no partition any more');
        return { succeeded: true, attempts };
      } else {
        const partitions = response.remainingPartitions.flatMap((t) => t.partitions.map((p) => `${t.name}-${p}`));
        logger.warn({ attempt: attempts, remaining: partitions }, 'controlled shutdown: partitions still led by this broker (no other live in-sync replica); retrying');
      }
    } catch (e) {
      logger.warn({ attempt: attempts, err: e instanceof Error ? e.message : String(e) }, 'controlled shutdown: the controller could not be reached');
    }
    if (remaining > 0) {
      const wait = Math.min(options.retryBackoffMs, options.deadline - now());
      if (wait <= 0) break;
      await sleep(wait);
    }
  }
  logger.warn(
    { attempts, maxRetries: options.maxRetries },
    'controlled shutdown did not complete; shutting down anyway (the controller fails over what this broker still leads once it deregisters)',
  );
  return { succeeded: false, attempts };
}
