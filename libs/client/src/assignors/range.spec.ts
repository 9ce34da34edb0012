import { RangeAssignor } from './range';
import { names, seededRandom, topics, verifyValidityAndBalance, itRefusesBadInputAndSkipsMissingTopics } from './spec-helpers';
import type { MemberSubscription } from './types';

// Scenarios of Kafka's RangeAssignorTest.
describe('RangeAssignor', () => {
  const assignor = new RangeAssignor();

  it("has Kafka's name and is eager only", () => {
    expect(assignor.name).toBe('range');
    expect(assignor.supportedProtocols).toEqual(['EAGER']);
  });

  itRefusesBadInputAndSkipsMissingTopics(assignor);

  it('gives one consumer every partition of its topics, and only of its topics', () => {
    const a = assignor.assign(topics({ t1: 1, t2: 2, other: 3 }), [{ memberId: 'c1', topics: ['t1', 't2'] }]);
    expect(names(a, 'c1')).toEqual(['t1-0', 't2-0', 't2-1']);
  });

  it('two consumers, one topic with one partition: the second gets nothing', () => {
    const a = assignor.assign(topics({ t: 1 }), [{ memberId: 'c2', topics: ['t'] }, { memberId: 'c1', topics: ['t'] }]);
    expect(names(a, 'c1')).toEqual(['t-0']);
    expect(names(a, 'c2')).toEqual([]);
  });

  it('two consumers, two topics of three partitions: the first gets the extra partition of each', () => {
    const a = assignor.assign(topics({ t1: 3, t2: 3 }), [{ memberId: 'c1', topics: ['t1', 't2'] }, { memberId: 'c2', topics: ['t1', 't2'] }]);
    expect(names(a, 'c1')).toEqual(['t1-0', 't1-1', 't2-0', 't2-1']);
    expect(names(a, 'c2')).toEqual(['t1-2', 't2-2']);
  });

  it('consumers with mixed subscriptions: ranges are per topic over its subscribers', () => {
    const a = assignor.assign(topics({ t1: 3, t2: 2 }), [
      { memberId: 'c1', topics: ['t1'] },
      { memberId: 'c2', topics: ['t1', 't2'] },
      { memberId: 'c3', topics: ['t1'] },
    ]);
    expect(names(a, 'c1')).toEqual(['t1-0']);
    expect(names(a, 'c2')).toEqual(['t1-1', 't2-0', 't2-1']);
    expect(names(a, 'c3')).toEqual(['t1-2']);
  });

  it('orders static members by group.instance.id, before dynamic members, so a restarted static member gets the same range', () => {
    const members: MemberSubscription[] = [
      { memberId: 'a-dynamic', topics: ['t'] },
      { memberId: 'z-new-id', groupInstanceId: 'instance-1', topics: ['t'] },
      { memberId: 'b-id', groupInstanceId: 'instance-2', topics: ['t'] },
    ];
    const a = assignor.assign(topics({ t: 3 }), members);
    expect(names(a, 'z-new-id')).toEqual(['t-0']);
    expect(names(a, 'b-id')).toEqual(['t-1']);
    expect(names(a, 'a-dynamic')).toEqual(['t-2']);
  });

  it('does not depend on the order members are given in', () => {
    const members: MemberSubscription[] = ['c3', 'c1', 'c2'].map((memberId) => ({ memberId, topics: ['t1', 't2'] }));
    const a = assignor.assign(topics({ t1: 7, t2: 5 }), members);
    const b = assignor.assign(topics({ t1: 7, t2: 5 }), [...members].reverse());
    expect(b).toEqual(a);
  });

  it('random groups: valid, complete, and within a topic ranges differ by at most one', () => {
    const random = seededRandom(42);
    for (let round = 0; round < 50; round++) {
      const counts = new Map<string, number>();
      const nTopics = 1 + Math.floor(random() * 6);
      for (let t = 0; t < nTopics; t++) counts.set(`t${t}`, Math.floor(random() * 12));
      const members: MemberSubscription[] = [];
      const nMembers = 1 + Math.floor(random() * 8);
      for (let m = 0; m < nMembers; m++) members.push({ memberId: `m${m}`, topics: [...counts.keys()].filter(() => random() < 0.6) });
      const a = assignor.assign(counts, members);
      verifyValidityAndBalance(counts, members, a, { balanced: false });
      for (const [topic] of counts) {
        const sizes = members.filter((m) => m.topics.includes(topic)).map((m) => (a.get(m.memberId) ?? []).filter((p) => p.topic === topic).length);
        if (sizes.length > 0) expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    }
  });
});
