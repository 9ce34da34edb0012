import { desiredOwner, planOwnership } from './ownership-plan';
import type { OwnershipView } from './ownership-plan';

function view(over: Partial<OwnershipView>): OwnershipView {
  return { selfId: 0, liveIds: [0], owners: new Map(), held: new Set(), numPartitions: 6, freeSinceMs: new Map(), nowMs: 10_000, orphanGraceMs: 1000, ...over };
}

describe('planOwnership (partition claiming plan)', () => {
  it('spreads partitions by sorted live ids[p mod n], whatever the order they are listed in', () => {
    expect([0, 1, 2, 3, 4, 5].map((p) => desiredOwner(p, [7, 3]))).toEqual([3, 7, 3, 7, 3, 7]);
    expect(desiredOwner(0, [])).toBeUndefined();
  });

  it('a lone instance claims every free partition', () => {
    expect(planOwnership(view({}))).toEqual({ claim: [0, 1, 2, 3, 4, 5], release: [], lost: [] });
  });

  it('claims only its desired free partitions while the others are fresh, and nothing owned by others', () => {
    const owners = new Map([[0, 1]]);
    const plan = planOwnership(view({ selfId: 0, liveIds: [1, 0], owners, freeSinceMs: new Map([[1, 9_500]]) }));
    // desired of 0: p0, p2, p4; p0 is owned by 1 (it will release it).
    expect(plan).toEqual({ claim: [2, 4], release: [], lost: [] });
  });

  it('claims an orphan (free past the grace) even when another instance is its desired owner', () => {
    const plan = planOwnership(view({ selfId: 0, liveIds: [0, 1], owners: new Map([[3, 1], [5, 1]]), freeSinceMs: new Map([[1, 8_000]]) }));
    expect(plan.claim).toEqual([0, 1, 2, 4]);
  });

  it('releases held partitions whose desired owner is another live instance; reports lost ones', () => {
    const owners = new Map([[0, 0], [1, 0], [2, 0], [3, 1]]);
    const plan = planOwnership(view({ selfId: 0, liveIds: [0, 1], owners, held: new Set([0, 1, 2, 3]) }));
    expect(plan).toEqual({ claim: [4], release: [1], lost: [3] });
  });

  it('leaves a node of its own id it does not hold (a previous run) alone, and claims nothing before it is registered', () => {
    expect(planOwnership(view({ owners: new Map([[0, 0]]), numPartitions: 2 })).claim).toEqual([1]);
    expect(planOwnership(view({ liveIds: [1] })).claim).toEqual([]);
  });
});
