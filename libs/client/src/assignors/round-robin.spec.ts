import { RoundRobinAssignor } from './round-robin';
import { names, seededRandom, topics, verifyValidityAndBalance, itRefusesBadInputAndSkipsMissingTopics } from './spec-helpers';
import type { MemberSubscription } from './types';

// Scenarios of Kafka's RoundRobinAssignorTest.
describe('RoundRobinAssignor', () => {
  const assignor = new RoundRobinAssignor();

  it("has Kafka's name and is eager only", () => {
    expect(assignor.name).toBe('roundrobin');
    expect(assignor.supportedProtocols).toEqual(['EAGER']);
  });

  itRefusesBadInputAndSkipsMissingTopics(assignor);

  it('gives one consumer every partition of its topics, and only of its topics', () => {
    const a = assignor.assign(topics({ t1: 1, t2: 2, other: 3 }), [{ memberId: 'c1', topics: ['t2', 't1'] }]);
    expect(names(a, 'c1')).toEqual(['t1-0', 't2-0', 't2-1']);
  });

  it('two consumers, one topic with one or two partitions', () => {
    const one = assignor.assign(topics({ t: 1 }), [{ memberId: 'c1', topics: ['t'] }, { memberId: 'c2', topics: ['t'] }]);
    expect([names(one, 'c1'), names(one, 'c2')]).toEqual([['t-0'], []]);
    const two = assignor.assign(topics({ t: 2 }), [{ memberId: 'c1', topics: ['t'] }, { memberId: 'c2', topics: ['t'] }]);
    expect([names(two, 'c1'), names(two, 'c2')]).toEqual([['t-0'], ['t-1']]);
  });

  it('two consumers, two topics of three partitions: dealt alternately across topics', () => {
    const a = assignor.assign(topics({ t1: 3, t2: 3 }), [{ memberId: 'c2', topics: ['t1', 't2'] }, { memberId: 'c1', topics: ['t1', 't2'] }]);
    expect(names(a, 'c1')).toEqual(['t1-0', 't1-2', 't2-1']);
    expect(names(a, 'c2')).toEqual(['t1-1', 't2-0', 't2-2']);
  });

  it('consumers with mixed subscriptions: members not subscribed to a topic are skipped', () => {
    const a = assignor.assign(topics({ t1: 3, t2: 2 }), [
      { memberId: 'c1', topics: ['t1'] },
      { memberId: 'c2', topics: ['t1', 't2'] },
      { memberId: 'c3', topics: ['t1'] },
    ]);
    expect(names(a, 'c1')).toEqual(['t1-0']);
    expect(names(a, 'c2')).toEqual(['t1-1', 't2-0', 't2-1']);
    expect(names(a, 'c3')).toEqual(['t1-2']);
  });

  it('orders static members by group.instance.id, before dynamic members', () => {
    const a = assignor.assign(topics({ t: 3 }), [
      { memberId: 'a', topics: ['t'] },
      { memberId: 'y', groupInstanceId: 'i2', topics: ['t'] },
      { memberId: 'z', groupInstanceId: 'i1', topics: ['t'] },
    ]);
    expect([names(a, 'z'), names(a, 'y'), names(a, 'a')]).toEqual([['t-0'], ['t-1'], ['t-2']]);
  });

  it('random groups with equal subscriptions: valid, complete, counts differ by at most one', () => {
    const random = seededRandom(7);
    for (let round = 0; round < 50; round++) {
      const counts = new Map<string, number>();
      const nTopics = 1 + Math.floor(random() * 6);
      for (let t = 0; t < nTopics; t++) counts.set(`t${t}`, Math.floor(random() * 12));
      const subscribed = [...counts.keys()].filter(() => random() < 0.7);
      const members: MemberSubscription[] = [];
      for (let m = 0, n = 1 + Math.floor(random() * 8); m < n; m++) members.push({ memberId: `m${m}`, topics: subscribed });
      verifyValidityAndBalance(counts, members, assignor.assign(counts, members));
    }
  });
});
