/**
 * ListOffsets through the partition leaders, shared by Admin.listOffsets and the Consumer's
 * offset resets: the requests are grouped per leader (one call per broker), and partitions
 * answered with a leadership error (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE,
 * FENCED_LEADER_EPOCH, ...) or whose broker did not answer are asked again after a metadata
 * refresh and a backoff, until `deadlineMs`.
 */
import { ErrorCode, TributaryError, isRetriable } from '@tributary/records';
import { GrpcStatusError, Status, abortableSleep } from '@tributary/runtime';
import type { ResolvedClientOptions } from './config';
import { retryDelayMs } from './config';
import type { ConnectionPool } from './connections';
import { ClientTimeoutError, explain } from './errors';
import type { Metadata } from './metadata';

/** Special timestamps of ListOffsets. */
export const EARLIEST_TIMESTAMP = -2n;
export const LATEST_TIMESTAMP = -1n;
export const MAX_TIMESTAMP = -3n;

/** One partition to look up. */
export interface OffsetQuery {
  topic: string;
  partition: number;
  /** -2 earliest, -1 latest, -3 max timestamp, else a timestamp in ms. */
  timestamp: bigint;
}

/** What a leader answered. */
export interface OffsetAnswer {
  offset: bigint;
  timestamp: bigint;
}

/** Key of a topic-partition in maps. */
export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * Looks up every query at its partition's leader. Resolves with tpKey → answer; rejects with
 * the first non-retriable error, or ClientTimeoutError at the deadline.
 */
export async function listOffsets(
  queries: readonly OffsetQuery[],
  metadata: Metadata,
  pool: ConnectionPool,
  options: Pick<ResolvedClientOptions, 'retryBackoffMs' | 'retryBackoffMaxMs'>,
  deadlineMs: number,
  signal?: AbortSignal,
): Promise<Map<string, OffsetAnswer>> {
  const answers = new Map<string, OffsetAnswer>();
  let pending = [...queries];
  let lastError: unknown;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) {
      const now = Date.now();
      if (now >= deadlineMs) {
        const what = pending.map((q) => `${q.topic}-${q.partition}`).join(', ');
        throw new ClientTimeoutError(`could not list offsets of ${what}: ${lastError instanceof Error ? lastError.message : 'no leader'}`, lastError);
      }
      await abortableSleep(Math.min(retryDelayMs(options, attempt - 1), deadlineMs - now), signal);
      await metadata.refresh().catch((e: unknown) => (lastError = e));
    }
    const byLeader = new Map<string, OffsetQuery[]>();
    const retry: OffsetQuery[] = [];
    for (const q of pending) {
      const leader = metadata.leaderOf(q.topic, q.partition);
      if (leader === undefined) {
        retry.push(q);
        continue;
      }
      let list = byLeader.get(leader.address);
      if (list === undefined) byLeader.set(leader.address, (list = []));
      list.push(q);
    }
    await Promise.all(
      [...byLeader].map(async ([address, list]) => {
        const topics = new Map<string, Array<{ index: number; currentLeaderEpoch: number; timestamp: bigint }>>();
        for (const q of list) {
          let parts = topics.get(q.topic);
          if (parts === undefined) topics.set(q.topic, (parts = []));
          parts.push({ index: q.partition, currentLeaderEpoch: -1, timestamp: q.timestamp });
        }
        try {
          const response = await pool.call(pool.broker(address), 'listOffsets', {
            replicaId: -1,
            topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
          });
          const seen = new Set<string>();
          for (const t of response.topics) {
            for (const p of t.partitions) {
              const key = tpKey(t.name, p.index);
              seen.add(key);
              if (p.errorCode === ErrorCode.NONE) {
                answers.set(key, { offset: p.offset, timestamp: p.timestamp });
              } else if (isRetriable(p.errorCode)) {
                lastError = explain(p.errorCode, p.errorMessage, t.name);
                retry.push({ topic: t.name, partition: p.index, timestamp: list.find((q) => q.topic === t.name && q.partition === p.index)?.timestamp ?? LATEST_TIMESTAMP });
              } else {
                throw explain(p.errorCode, p.errorMessage, t.name);
              }
            }
          }
          for (const q of list) if (!seen.has(tpKey(q.topic, q.partition))) retry.push(q);
        } catch (e) {
          if (e instanceof TributaryError && !e.retriable) throw e;
          if (e instanceof GrpcStatusError && e.code !== Status.UNAVAILABLE && e.code !== Status.DEADLINE_EXCEEDED) throw e;
          lastError = e;
          retry.push(...list);
        }
      }),
    );
    if (retry.length > 0) metadata.requestUpdate();
    pending = retry;
  }
  return answers;
}
