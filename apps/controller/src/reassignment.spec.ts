import { completeReassignment, isBeingReassigned, originReplicas, reassignTo, replicaAssignmentOf, targetReplicas, validateTarget, withReplicaAssignment, withoutReplicas } from './reassignment';
import type { PartitionState, TopicAssignment } from './store';

const settled = (replicas: number[]) => ({ replicas, adding: [], removing: [] });
const state = (leader: number, isr: number[], leaderEpoch = 3): PartitionState => ({ leader, leader_epoch: leaderEpoch, isr, controller_epoch: 1 });
const live = (...ids: number[]) => new Set(ids);

describe('reassignTo (Kafka ReplicaAssignment.reassignTo)', () => {
  it('starts a reassignment: RS = TRS ++ ORS, adding = TRS - ORS, removing = ORS - TRS', () => {
    const a = reassignTo(settled([1, 2]), [2, 3]);
    expect(a).toEqual({ replicas: [2, 3, 1], adding: [3], removing: [1] });
    expect(isBeingReassigned(a)).toBe(true);
    expect(originReplicas(a)).toEqual([2, 1]);
    expect(targetReplicas(a)).toEqual([2, 3]);
  });

  it('replaces a reassignment in progress against the ORIGINAL replicas (what the first one added is dropped)', () => {
    const first = reassignTo(settled([1, 2]), [3, 4]);
    const second = reassignTo(first, [1, 5]);
    expect(second).toEqual({ replicas: [1, 5, 2], adding: [5], removing: [2] });
  });

  it('cancel = reassign to the original replicas: nothing left to add or remove', () => {
    const inProgress = reassignTo(settled([1, 2]), [2, 3]);
    const cancelled = reassignTo(inProgress, originReplicas(inProgress));
    expect(isBeingReassigned(cancelled)).toBe(false);
    expect([...cancelled.replicas].sort()).toEqual([1, 2]);
  });

  it('the same set in another order only changes the preferred leader', () => {
    expect(reassignTo(settled([1, 2, 3]), [3, 1, 2])).toEqual({ replicas: [3, 1, 2], adding: [], removing: [] });
  });
});

describe('validateTarget', () => {
  it('refuses duplicates, unknown brokers and bad ids, naming them', () => {
    expect(validateTarget([1, 2], live(1, 2, 3))).toBeUndefined();
    expect(validateTarget([1, 1], live(1, 2))).toMatch(/more than once/);
    expect(validateTarget([1, 9], live(1, 2))).toMatch(/broker\(s\) 9 are not registered/);
    expect(validateTarget([-1], live(1))).toMatch(/non-negative/);
  });
});

describe('completeReassignment', () => {
  const moving = reassignTo(settled([1, 2]), [2, 3]);

  it('waits while a target replica is not in the ISR', () => {
    expect(completeReassignment(moving, state(1, [1, 2]), live(1, 2, 3), 5)).toBeUndefined();
  });

  it('keeps a leader that is in the target; replicas := TRS, ISR := ISR ∩ TRS, the rest removed', () => {
    const done = completeReassignment(moving, state(2, [1, 2, 3]), live(1, 2, 3), 5)!;
    expect(done.replicas).toEqual([2, 3]);
    expect(done.state).toEqual({ leader: 2, leader_epoch: 3, isr: [2, 3], controller_epoch: 5 });
    expect(done.removed).toEqual([1]);
  });

  it('moves leadership into the target (epoch + 1) when the leader is being removed', () => {
    const toThreeOne = reassignTo(settled([1, 2]), [3, 1]);
    const leaderOut = reassignTo(settled([1, 2]), [2, 3]);
    expect(completeReassignment(toThreeOne, state(1, [1, 2, 3]), live(1, 2, 3), 5)!.state.leader).toBe(1);
    const done = completeReassignment(leaderOut, state(1, [1, 2, 3]), live(1, 2, 3), 5)!;
    expect(done.state).toEqual({ leader: 2, leader_epoch: 4, isr: [2, 3], controller_epoch: 5 });
  });

  it('waits when no target replica in the ISR is live to lead', () => {
    expect(completeReassignment(moving, state(1, [1, 2, 3]), live(1), 5)).toBeUndefined();
  });
});

describe('withoutReplicas (replicas a replaced or cancelled reassignment drops at once)', () => {
  it('takes them out of the ISR, and elects a new leader when one led', () => {
    const s = state(1, [1, 2, 3]);
    expect(withoutReplicas(s, [], [1, 2], live(1, 2), 5)).toBe(s);
    expect(withoutReplicas(s, [3], [1, 2], live(1, 2, 3), 5)).toEqual({ leader: 1, leader_epoch: 3, isr: [1, 2], controller_epoch: 5 });
    expect(withoutReplicas(s, [1], [2, 3], live(1, 2, 3), 5)).toEqual({ leader: 2, leader_epoch: 4, isr: [2, 3], controller_epoch: 5 });
  });
});

describe('the topic node (Kafka layout: adding_replicas / removing_replicas)', () => {
  it('round-trips a reassignment and clears its fields when it completes, remembering the removed replicas', () => {
    const node: TopicAssignment = { partitions: { '0': [1, 2], '1': [2, 3] } };
    const moving = reassignTo(replicaAssignmentOf(node, '0')!, [2, 3]);
    const started = withReplicaAssignment(node, '0', moving, 1000, []);
    expect(started).toEqual({
      partitions: { '0': [2, 3, 1], '1': [2, 3] },
      adding_replicas: { '0': [3] },
      removing_replicas: { '0': [1] },
      reassignment_throttles: { '0': 1000 },
    });
    expect(replicaAssignmentOf(started, '0')).toEqual(moving);
    const done = withReplicaAssignment(started, '0', settled([2, 3]), 0, [1]);
    expect(done).toEqual({ partitions: { '0': [2, 3], '1': [2, 3] }, removed_replicas: { '0': [1] } });
    // A broker taken back into the replicas no longer deletes its copy.
    const back = withReplicaAssignment(done, '0', reassignTo(settled([2, 3]), [1, 2]), 0, []);
    expect(back.removed_replicas).toBeUndefined();
  });
});
