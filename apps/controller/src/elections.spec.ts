/**
 * The election strategies as pure functions (Kafka's PartitionLeaderElectionAlgorithms):
 * preferred, unclean, controlled shutdown, the liveness pass's choice with brokers in
 * controlled shutdown, and the partition-health counts behind the controller's gauges.
 */
import { ErrorCode } from '@tributary/records';
import { nextPartitionState } from './controller';
import type { Eligibility } from './elections';
import { controlledShutdownState, partitionHealth, preferredElection, uncleanElection } from './elections';
import type { PartitionState } from './store';

const state = (leader: number, isr: number[], leaderEpoch = 3): PartitionState => ({ leader, leader_epoch: leaderEpoch, isr, controller_epoch: 1 });
const alive = (live: number[], shuttingDown: number[] = []): Eligibility => ({ live: new Set(live), shuttingDown: new Set(shuttingDown) });
const EPOCH = 7;

describe('preferredElection', () => {
  it('moves leadership to the first replica when it is alive and in the ISR, bumping the leader epoch and keeping the ISR', () => {
    expect(preferredElection(state(2, [2, 1, 3]), [1, 2, 3], alive([1, 2, 3]), EPOCH)).toEqual({ kind: 'elected', next: { leader: 1, leader_epoch: 4, isr: [2, 1, 3], controller_epoch: EPOCH } });
  });

  it('answers ELECTION_NOT_NEEDED when the preferred replica already leads', () => {
    expect(preferredElection(state(1, [1, 2]), [1, 2], alive([1, 2]), EPOCH)).toMatchObject({ kind: 'refused', code: ErrorCode.ELECTION_NOT_NEEDED });
  });

  it.each([
    ['not alive', state(2, [1, 2]), alive([2, 3])],
    ['not in the ISR', state(2, [2, 3]), alive([1, 2, 3])],
    ['shutting down', state(2, [1, 2]), alive([1, 2, 3], [1])],
  ])('answers PREFERRED_LEADER_NOT_AVAILABLE when the preferred replica is %s', (_why, s, e) => {
    expect(preferredElection(s, [1, 2, 3], e, EPOCH)).toMatchObject({ kind: 'refused', code: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE });
  });
});

describe('uncleanElection', () => {
  it('answers ELECTION_NOT_NEEDED while the leader is alive', () => {
    expect(uncleanElection(state(2, [2]), [1, 2, 3], alive([1, 2, 3]), EPOCH)).toMatchObject({ kind: 'refused', code: ErrorCode.ELECTION_NOT_NEEDED });
  });

  it('elects a live out-of-ISR replica, alone in the ISR, only when no ISR member is alive', () => {
    expect(uncleanElection(state(-1, [3]), [3, 1, 2], alive([1, 2]), EPOCH)).toEqual({ kind: 'elected', next: { leader: 1, leader_epoch: 4, isr: [1], controller_epoch: EPOCH } });
  });

  it('prefers a live ISR member (a clean choice) and skips brokers shutting down', () => {
    expect(uncleanElection(state(-1, [2, 3]), [1, 2, 3], alive([1, 3]), EPOCH)).toMatchObject({ kind: 'elected', next: { leader: 3, isr: [2, 3] } });
    expect(uncleanElection(state(-1, [3]), [3, 1, 2], alive([1, 2], [1]), EPOCH)).toMatchObject({ kind: 'elected', next: { leader: 2, isr: [2] } });
  });

  it('answers ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is alive', () => {
    expect(uncleanElection(state(-1, [1]), [1, 2], alive([3]), EPOCH)).toMatchObject({ kind: 'refused', code: ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE });
  });
});

describe('controlledShutdownState', () => {
  it('moves leadership to the first live ISR member in assignment order and drops the broker from the ISR', () => {
    expect(controlledShutdownState(state(1, [1, 3, 2]), [1, 2, 3], 1, alive([1, 2, 3], [1]), EPOCH)).toEqual({ leader: 2, leader_epoch: 4, isr: [3, 2], controller_epoch: EPOCH });
  });

  it('never hands over to a dead broker or another one shutting down', () => {
    expect(controlledShutdownState(state(1, [1, 2, 3]), [1, 2, 3], 1, alive([1, 2, 3], [1, 2]), EPOCH)).toMatchObject({ leader: 3 });
    expect(controlledShutdownState(state(1, [1, 2, 3]), [1, 2, 3], 1, alive([1, 3], [1]), EPOCH)).toMatchObject({ leader: 3 });
  });

  it('keeps the leader when no other eligible ISR member exists (the partition remains)', () => {
    const s = state(1, [1]);
    expect(controlledShutdownState(s, [1, 2, 3], 1, alive([1, 2, 3], [1]), EPOCH)).toBe(s);
    const t = state(1, [1, 2]);
    expect(controlledShutdownState(t, [1, 2], 1, alive([1], [1]), EPOCH)).toBe(t);
  });

  it('takes a follower out of the ISR without a leader change, unless it is the last member', () => {
    expect(controlledShutdownState(state(2, [2, 1]), [1, 2], 1, alive([1, 2], [1]), EPOCH)).toEqual({ leader: 2, leader_epoch: 3, isr: [2], controller_epoch: EPOCH });
    const lastMember = state(-1, [1]);
    expect(controlledShutdownState(lastMember, [1, 2], 1, alive([1, 2], [1]), EPOCH)).toBe(lastMember);
    const notMember = state(2, [2]);
    expect(controlledShutdownState(notMember, [1, 2], 1, alive([1, 2], [1]), EPOCH)).toBe(notMember);
  });
});

describe('nextPartitionState with brokers shutting down', () => {
  it('never elects a broker in controlled shutdown after a leader dies', () => {
    const next = nextPartitionState(state(1, [1, 2, 3]), [1, 2, 3], new Set([2, 3]), EPOCH, { ineligible: new Set([2]) });
    expect(next).toMatchObject({ leader: 3, leader_epoch: 4 });
  });

  it('leaves the partition offline rather than electing the only live ISR member while it is shutting down', () => {
    expect(nextPartitionState(state(1, [1, 2]), [1, 2], new Set([2]), EPOCH, { ineligible: new Set([2]) })).toMatchObject({ leader: -1 });
  });
});

describe('partitionHealth', () => {
  it('counts partitions without a leader and those not led by their first replica', () => {
    expect(
      partitionHealth([
        { replicas: [1, 2], state: state(1, [1, 2]) },
        { replicas: [2, 1], state: state(1, [1, 2]) },
        { replicas: [3, 1], state: state(-1, [3]) },
      ]),
    ).toEqual({ offline: 1, preferredImbalance: 2 });
  });
});
