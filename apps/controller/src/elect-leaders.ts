/**
 * ElectLeaders (Kafka's KIP-460 admin request, what `tributary leaders elect` and the
 * automatic leader rebalance run): a PREFERRED or UNCLEAN election over the partitions asked
 * for (or every partition), each partition answered on its own. The elected states are
 * written together (CAS, fenced Multis; a conflict re-reads and recomputes everything) and
 * then pushed to the brokers.
 */
import type { ElectLeadersPartitionResult, ElectLeadersTopic, ElectLeadersTopicResult } from '@tributary/proto';
import { ElectionType } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { ElectionOutcome, LeadershipContext, PartitionSnapshot } from './elections';
import { eligibility, preferredElection, readPartitions, uncleanElection, writeStates } from './elections';
import type { PartitionState } from './store';

/** Who asked: the Admin API (logged as such) or the controller's own rebalance. */
export type ElectionTrigger = 'admin' | 'auto';

export async function electLeaders(ctx: LeadershipContext, type: ElectionType, topics: readonly ElectLeadersTopic[], trigger: ElectionTrigger = 'admin'): Promise<ElectLeadersTopicResult[]> {
  const epoch = ctx.controllerEpoch();
  if (type !== ElectionType.ELECTION_TYPE_PREFERRED && type !== ElectionType.ELECTION_TYPE_UNCLEAN) {
    // The whole request is malformed: a whole-call failure, not a per-partition one.
    throw new TributaryError(ErrorCode.INVALID_REQUEST, `election_type must be ELECTION_TYPE_PREFERRED or ELECTION_TYPE_UNCLEAN, not ${String(type)}`);
  }
  const kind = type === ElectionType.ELECTION_TYPE_PREFERRED ? 'preferred' : 'unclean';
  return ctx.retrying(async () => {
    const e = await eligibility(ctx);
    const names = topics.length > 0 ? [...new Set(topics.map((t) => t.name))] : undefined;
    const { partitions, missingTopics } = await readPartitions(ctx.client, names);
    const byKey = new Map(partitions.map((p) => [`${p.topic}\u0000${p.index}`, p]));
    const asked: ElectLeadersTopic[] =
      topics.length > 0 ? [...topics] : [...new Set(partitions.map((p) => p.topic))].map((name) => ({ name, partitions: [] }));

    const changes: { snapshot: PartitionSnapshot; next: PartitionState }[] = [];
    const results: ElectLeadersTopicResult[] = asked.map((t) => {
      if (missingTopics.has(t.name)) {
        const message = `topic '${t.name}' does not exist`;
        return {
          name: t.name,
          partitions: (t.partitions.length > 0 ? t.partitions : [-1]).map((partition) => ({ partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: message, leader: -1 })),
        };
      }
      const indexes = t.partitions.length > 0 ? t.partitions : partitions.filter((p) => p.topic === t.name).map((p) => p.index);
      return {
        name: t.name,
        partitions: indexes.map((partition): ElectLeadersPartitionResult => {
          const snapshot = byKey.get(`${t.name}\u0000${partition}`);
          if (!snapshot) return { partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `partition ${partition} of topic '${t.name}' does not exist`, leader: -1 };
          // The same partition asked twice is elected once; the second answer says so.
          const pending = changes.find((c) => c.snapshot === snapshot);
          const outcome: ElectionOutcome = pending
            ? { kind: 'refused', code: ErrorCode.ELECTION_NOT_NEEDED, message: 'already elected by this request' }
            : kind === 'preferred'
              ? preferredElection(snapshot.state, snapshot.replicas, e, epoch)
              : uncleanElection(snapshot.state, snapshot.replicas, e, epoch);
          if (outcome.kind === 'refused') return { partition, errorCode: outcome.code, errorMessage: outcome.message, leader: pending?.next.leader ?? snapshot.state.leader };
          changes.push({ snapshot, next: outcome.next });
          return { partition, errorCode: ErrorCode.NONE, errorMessage: '', leader: outcome.next.leader };
        }),
      };
    });
    await writeStates(ctx, changes);
    for (const c of changes) {
      const fields = { topic: c.snapshot.topic, partition: c.snapshot.index, from: c.snapshot.state, to: c.next, trigger };
      if (kind === 'unclean' && !c.snapshot.state.isr.includes(c.next.leader)) {
        ctx.logger.warn(fields, 'UNCLEAN leader election: a replica outside the ISR leads; records acknowledged only by the lost ISR may be gone');
      } else {
        ctx.logger.info(fields, `${kind} leader elected`);
      }
    }
    if (changes.length > 0) {
      // An UNCLEAN request that found a live ISR member elected cleanly.
      const unclean = kind === 'unclean' ? changes.filter((c) => !c.snapshot.state.isr.includes(c.next.leader)).length : 0;
      if (unclean > 0) ctx.onElections(unclean, 'unclean');
      if (changes.length - unclean > 0) ctx.onElections(changes.length - unclean, kind === 'preferred' ? 'preferred' : 'clean');
      ctx.changed();
    }
    return results;
  });
}
