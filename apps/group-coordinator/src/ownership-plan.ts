/**
 * Which `__consumer_offsets` partitions this instance should claim and release, from what the
 * coordination store shows (pure: the I/O is ownership.ts).
 *
 * The desired owner of partition p is `sorted live instance ids[p mod n]`: every instance
 * computes the same spread from the same registrations. An instance
 * - claims a free partition it is the desired owner of;
 * - claims any partition free for longer than the orphan grace, even if not its desired one
 *   (its desired owner is slow or not seen yet): every partition ends up owned;
 * - releases a partition it holds whose desired owner is another live instance (that one then
 *   claims it);
 * - drops a partition it thinks it holds but whose node is gone or someone else's (lost).
 * A node naming this instance's id that it does not hold is a previous run's (its lease has
 * not expired yet): left alone until it vanishes.
 */

export interface OwnershipView {
  selfId: number;
  /** Ids registered under /group-coordinators/ids (this instance included once registered). */
  liveIds: readonly number[];
  /** Owner id of each partition that has an owner node. */
  owners: ReadonlyMap<number, number>;
  /** Partitions this instance holds (claimed under its current lease). */
  held: ReadonlySet<number>;
  numPartitions: number;
  /** Since when each free partition has been seen free (ms). */
  freeSinceMs: ReadonlyMap<number, number>;
  nowMs: number;
  /** How long a free partition waits for its desired owner before anyone claims it. */
  orphanGraceMs: number;
}

export interface OwnershipPlan {
  claim: number[];
  release: number[];
  lost: number[];
}

/** The desired owner of `partition` among the live ids (undefined when there is none). */
export function desiredOwner(partition: number, liveIds: readonly number[]): number | undefined {
  if (liveIds.length === 0) return undefined;
  const sorted = [...liveIds].sort((a, b) => a - b);
  return sorted[partition % sorted.length];
}

export function planOwnership(view: OwnershipView): OwnershipPlan {
  const plan: OwnershipPlan = { claim: [], release: [], lost: [] };
  const live = [...new Set(view.liveIds)].sort((a, b) => a - b);
  const selfLive = live.includes(view.selfId);
  for (let p = 0; p < view.numPartitions; p++) {
    const owner = view.owners.get(p);
    const desired = desiredOwner(p, live);
    if (view.held.has(p)) {
      if (owner !== view.selfId) plan.lost.push(p);
      else if (desired !== undefined && desired !== view.selfId) plan.release.push(p);
      continue;
    }
    if (owner !== undefined || !selfLive) continue;
    if (desired === view.selfId) plan.claim.push(p);
    else if (view.nowMs - (view.freeSinceMs.get(p) ?? view.nowMs) >= view.orphanGraceMs) plan.claim.push(p);
  }
  return plan;
}
