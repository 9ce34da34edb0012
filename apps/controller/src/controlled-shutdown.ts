/**
 * Controlled shutdown, the controller's side (Kafka's ControlledShutdown request): a broker
 * about to stop asks the active controller to move leadership of every partition it leads to
 * another live ISR member and to take it out of the ISRs it is in, before it deregisters, so
 * that producers and consumers switch over at once instead of waiting for its lease to expire.
 *
 * From the first request on, the broker is "shutting down": no election (failover, preferred,
 * unclean, this one) picks it, and its leader cannot add it back to an ISR. That lasts until
 * its registration disappears or another incarnation of it registers (a restart).
 *
 * The answer names the partitions it still leads (no other eligible ISR member): the broker
 * retries after `controlled.shutdown.retry.backoff.ms`, up to `controlled.shutdown.max.retries`.
 */
import type { ControlledShutdownResponse, ControlledShutdownTopic } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { LeadershipContext, PartitionSnapshot } from './elections';
import { controlledShutdownState, eligibility, readPartitions, writeStates } from './elections';
import type { PartitionState } from './store';

/** Brokers in controlled shutdown, each with the incarnation (registration) that asked. */
export class ShuttingDownBrokers {
  private readonly brokers = new Map<number, string | undefined>();

  add(id: number, incarnation: string | undefined): void {
    this.brokers.set(id, incarnation);
  }

  has(id: number): boolean {
    return this.brokers.has(id);
  }

  ids(): Set<number> {
    return new Set(this.brokers.keys());
  }

  get size(): number {
    return this.brokers.size;
  }

  /** Forgets brokers no longer registered, or registered again under another incarnation. */
  prune(registered: ReadonlyArray<{ id: number; incarnation?: string }>): void {
    const current = new Map(registered.map((b) => [b.id, b.incarnation]));
    for (const [id, incarnation] of this.brokers) {
      if (!current.has(id) || current.get(id) !== incarnation) this.brokers.delete(id);
    }
  }

  clear(): void {
    this.brokers.clear();
  }
}

/** Handles one ControlledShutdown request from `brokerId` (see the file header). */
export async function controlledShutdown(ctx: LeadershipContext, brokerId: number, incarnation: string): Promise<ControlledShutdownResponse> {
  const epoch = ctx.controllerEpoch();
  const registered = (await ctx.liveBrokers()).find((b) => b.id === brokerId);
  if (!registered) {
    return { errorCode: ErrorCode.BROKER_NOT_AVAILABLE, errorMessage: `broker ${brokerId} is not registered under /brokers/ids`, remainingPartitions: [] };
  }
  if (incarnation !== '' && registered.incarnation !== incarnation) {
    return {
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: `broker ${brokerId} is registered as incarnation ${registered.incarnation ?? '(none)'}, not ${incarnation}: the request comes from an older process`,
      remainingPartitions: [],
    };
  }
  if (!ctx.shuttingDown.has(brokerId)) ctx.logger.info({ broker: brokerId }, 'controlled shutdown: moving leadership away from the broker');
  ctx.shuttingDown.add(brokerId, registered.incarnation);

  const remaining = await ctx.retrying(async () => {
    const e = await eligibility(ctx);
    const { partitions } = await readPartitions(ctx.client);
    const changes: { snapshot: PartitionSnapshot; next: PartitionState }[] = [];
    const left: PartitionSnapshot[] = [];
    for (const snapshot of partitions) {
      const { state } = snapshot;
      if (state.leader !== brokerId && !state.isr.includes(brokerId)) continue;
      const next = controlledShutdownState(state, snapshot.replicas, brokerId, e, epoch);
      if (next !== state) changes.push({ snapshot, next });
      if (next.leader === brokerId) left.push(snapshot);
    }
    await writeStates(ctx, changes);
    const moved = changes.filter((c) => c.next.leader !== c.snapshot.state.leader);
    for (const c of changes) {
      ctx.logger.info({ topic: c.snapshot.topic, partition: c.snapshot.index, broker: brokerId, from: c.snapshot.state, to: c.next }, 'controlled shutdown: partition state changed');
    }
    if (moved.length > 0) ctx.onElections(moved.length, 'controlled_shutdown');
    if (changes.length > 0) ctx.changed();
    return left;
  });
  if (remaining.length > 0) {
    ctx.logger.warn(
      { broker: brokerId, remaining: remaining.map((p) => `${p.topic}-${p.index}`) },
      'controlled shutdown: the broker still leads partitions no other live in-sync replica can take',
    );
  }
  return { errorCode: ErrorCode.NONE, errorMessage: '', remainingPartitions: groupByTopic(remaining) };
}

function groupByTopic(partitions: readonly PartitionSnapshot[]): ControlledShutdownTopic[] {
  const byTopic = new Map<string, number[]>();
  for (const p of partitions) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.index]);
  return [...byTopic].map(([name, indexes]) => ({ name, partitions: indexes }));
}
