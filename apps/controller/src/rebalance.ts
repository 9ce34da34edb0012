/**
 * Automatic preferred-leader rebalance (Kafka's `auto.leader.rebalance.enable`): every
 * `leader.imbalance.check.interval.seconds` the active controller computes, per broker, the
 * share of the partitions it is the preferred leader of (first replica of the assignment)
 * that another broker leads; above `leader.imbalance.per.broker.percentage` it runs a
 * preferred election for those partitions (the election itself only moves a partition whose
 * preferred replica is alive, in the ISR and not shutting down).
 */
import type { ElectLeadersTopic } from '@tributary/proto';
import { ElectionType } from '@tributary/proto';
import { electLeaders } from './elect-leaders';
import type { LeadershipContext, PartitionSnapshot } from './elections';
import { readPartitions } from './elections';

/** One broker's imbalance: partitions it is the preferred leader of, and those another broker leads. */
export interface BrokerImbalance {
  broker: number;
  preferred: number;
  notLed: Array<{ topic: string; index: number }>;
  /** notLed / preferred, 0..1. */
  ratio: number;
}

/** Per preferred leader (first replica), the partitions it does not lead; brokers sorted by id. */
export function leaderImbalance(partitions: ReadonlyArray<Pick<PartitionSnapshot, 'topic' | 'index' | 'replicas' | 'state'>>): BrokerImbalance[] {
  const byBroker = new Map<number, BrokerImbalance>();
  for (const p of partitions) {
    const preferred = p.replicas[0];
    if (preferred === undefined) continue;
    let b = byBroker.get(preferred);
    if (!b) byBroker.set(preferred, (b = { broker: preferred, preferred: 0, notLed: [], ratio: 0 }));
    b.preferred++;
    if (p.state.leader !== preferred) b.notLed.push({ topic: p.topic, index: p.index });
  }
  const result = [...byBroker.values()].sort((a, b) => a.broker - b.broker);
  for (const b of result) b.ratio = b.notLed.length / b.preferred;
  return result;
}

/** The partitions a rebalance should elect: those of every broker whose ratio is above `percentage`/100. */
export function partitionsToRebalance(imbalance: readonly BrokerImbalance[], percentage: number): Array<{ topic: string; index: number }> {
  return imbalance.filter((b) => b.ratio > percentage / 100).flatMap((b) => b.notLed);
}

export interface AutoRebalanceOptions {
  /** auto.leader.rebalance.enable */
  enabled: boolean;
  /** leader.imbalance.per.broker.percentage */
  percentage: number;
  /** leader.imbalance.check.interval.seconds */
  intervalSeconds: number;
}

/** Runs the check on a timer while the controller is active (start on taking office, stop on leaving). */
export class AutoRebalancer {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly ctx: LeadershipContext,
    private readonly options: AutoRebalanceOptions,
  ) {}

  start(): void {
    if (!this.options.enabled || this.timer) return;
    this.timer = setInterval(() => void this.check(), this.options.intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check (skipped while the previous one runs); failures are logged, the next tick tries again. */
  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const { partitions } = await readPartitions(this.ctx.client);
      const imbalance = leaderImbalance(partitions);
      const targets = partitionsToRebalance(imbalance, this.options.percentage);
      if (targets.length === 0) return;
      this.ctx.logger.info(
        { brokers: imbalance.filter((b) => b.ratio > this.options.percentage / 100).map((b) => ({ broker: b.broker, ratio: b.ratio })), partitions: targets.length },
        'leader imbalance above leader.imbalance.per.broker.percentage: electing preferred leaders',
      );
      const byTopic = new Map<string, number[]>();
      for (const t of targets) byTopic.set(t.topic, [...(byTopic.get(t.topic) ?? []), t.index]);
      const topics: ElectLeadersTopic[] = [...byTopic].map(([name, indexes]) => ({ name, partitions: indexes }));
      await electLeaders(this.ctx, ElectionType.ELECTION_TYPE_PREFERRED, topics, 'auto');
    } catch (e) {
      if (this.timer) this.ctx.logger.warn({ err: e }, 'automatic leader rebalance check failed; retrying at the next interval');
    } finally {
      this.running = false;
    }
  }
}
