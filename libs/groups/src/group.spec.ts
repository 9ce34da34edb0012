import { ErrorCode } from '@tributary/records';
import { ConsumerGroup, GroupTimers, JoinGroupInput, JoinGroupResult, SyncGroupResult } from './group';

/** A fake clock: timers fire only when the test advances time. */
class FakeTimers implements GroupTimers {
  private now = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fire: () => void }>();
  nowMs(): number {
    return this.now;
  }
  schedule(delayMs: number, fire: () => void): { cancel(): void } {
    const id = this.seq++;
    this.timers.set(id, { at: this.now + delayMs, fire });
    return { cancel: () => this.timers.delete(id) };
  }
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fire: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= until && (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[0] < next[0]))) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.now = next[1].at;
      next[1].fire();
    }
    this.now = until;
  }
}

const SESSION_MS = 10_000;
const REBALANCE_MS = 30_000;

function joinReq(clientId: string, over: Partial<JoinGroupInput> = {}): JoinGroupInput {
  return {
    memberId: '',
    groupInstanceId: '',
    clientId,
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: SESSION_MS,
    rebalanceTimeoutMs: REBALANCE_MS,
    protocolType: 'consumer',
    protocols: [
      { name: 'range', metadata: Buffer.from(`${clientId}-range`) },
      { name: 'roundrobin', metadata: Buffer.from(`${clientId}-rr`) },
    ],
    ...over,
  };
}

interface Setup {
  timers: FakeTimers;
  group: ConsumerGroup;
}

function setup(initialRebalanceDelayMs = 0, maxSize?: number): Setup {
  const timers = new FakeTimers();
  let n = 0;
  const group = new ConsumerGroup('g', timers, {
    config: { initialRebalanceDelayMs, minSessionTimeoutMs: 1_000, maxSessionTimeoutMs: 60_000, ...(maxSize !== undefined ? { maxSize } : {}) },
    newMemberId: (clientId) => `${clientId}-${++n}`,
  });
  return { timers, group };
}

/** Joins and records the (maybe later) answer. */
function join(group: ConsumerGroup, req: JoinGroupInput): { result?: JoinGroupResult } {
  const box: { result?: JoinGroupResult } = {};
  group.join(req, (r) => {
    box.result = r;
  });
  return box;
}

function sync(group: ConsumerGroup, generationId: number, memberId: string, assignments: { memberId: string; assignment: Buffer }[] = [], groupInstanceId = ''): { result?: SyncGroupResult } {
  const box: { result?: SyncGroupResult } = {};
  group.sync({ generationId, memberId, groupInstanceId, protocolType: 'consumer', protocolName: '', assignments }, (r) => {
    box.result = r;
  });
  return box;
}

/** KIP-394 dance: a first join gets MEMBER_ID_REQUIRED, then joins with the id. */
function firstJoin(group: ConsumerGroup, clientId: string, over: Partial<JoinGroupInput> = {}): { memberId: string; box: { result?: JoinGroupResult } } {
  const first = join(group, joinReq(clientId, over));
  expect(first.result?.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
  const memberId = first.result?.memberId ?? '';
  expect(memberId).not.toBe('');
  return { memberId, box: join(group, joinReq(clientId, { ...over, memberId })) };
}

/** Two members in a Stable group at generation 1, with a1/a2 assigned. */
function stableTwo(s: Setup): { a: string; b: string } {
  const { group } = s;
  const a = firstJoin(group, 'a');
  expect(a.box.result?.errorCode).toBe(ErrorCode.NONE); // a alone: all known members joined
  expect(group.generationId).toBe(1);
  // b joins: rebalance to generation 2, a must rejoin.
  const b = firstJoin(group, 'b');
  expect(b.box.result).toBeUndefined();
  expect(group.state).toBe('PreparingRebalance');
  const aAgain = join(group, joinReq('a', { memberId: a.memberId }));
  expect(aAgain.result?.generationId).toBe(2);
  expect(b.box.result?.generationId).toBe(2);
  const leaderSync = sync(group, 2, a.memberId, [
    { memberId: a.memberId, assignment: Buffer.from('a1') },
    { memberId: b.memberId, assignment: Buffer.from('a2') },
  ]);
  expect(leaderSync.result?.assignment.toString()).toBe('a1');
  const followerSync = sync(group, 2, b.memberId);
  expect(followerSync.result?.assignment.toString()).toBe('a2');
  expect(group.state).toBe('Stable');
  return { a: a.memberId, b: b.memberId };
}

describe('ConsumerGroup (Kafka GroupCoordinator state machine)', () => {
  it('answers a first join without a member id with MEMBER_ID_REQUIRED and a new id (KIP-394)', () => {
    const { group } = setup();
    const r = join(group, joinReq('client'));
    expect(r.result).toMatchObject({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, memberId: 'client-1', generationId: -1 });
    expect(group.state).toBe('Empty');
    expect(group.size).toBe(1);
  });

  it('two members join: the leader gets every member, computes, and SyncGroup distributes; a follower waits for the leader', () => {
    const s = setup();
    const { group } = s;
    const a = firstJoin(group, 'a');
    const b = firstJoin(group, 'b');
    // a's join completed alone at generation 1; b's join starts generation 2, a must rejoin.
    expect(a.box.result?.generationId).toBe(1);
    const aAgain = join(group, joinReq('a', { memberId: a.memberId }));
    const leader = aAgain.result;
    expect(leader).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 2, leader: a.memberId, protocolType: 'consumer', protocolName: 'range' });
    expect(leader?.members.map((m) => [m.memberId, m.metadata.toString()])).toEqual([
      [a.memberId, 'a-range'],
      [b.memberId, 'b-range'],
    ]);
    expect(b.box.result?.members).toEqual([]);
    expect(group.state).toBe('CompletingRebalance');

    const follower = sync(group, 2, b.memberId);
    expect(follower.result).toBeUndefined(); // waits for the leader's assignment
    const leaderSync = sync(group, 2, a.memberId, [
      { memberId: a.memberId, assignment: Buffer.from('p0') },
      { memberId: b.memberId, assignment: Buffer.from('p1') },
    ]);
    expect(leaderSync.result).toMatchObject({ errorCode: ErrorCode.NONE, protocolName: 'range' });
    expect(leaderSync.result?.assignment.toString()).toBe('p0');
    expect(follower.result?.assignment.toString()).toBe('p1');
    expect(group.state).toBe('Stable');
    expect(group.heartbeat({ generationId: 2, memberId: b.memberId, groupInstanceId: '' }).errorCode).toBe(ErrorCode.NONE);
  });

  it('a third member joins: REBALANCE_IN_PROGRESS to heartbeats, generation bump, old generation refused', () => {
    const s = setup();
    const { group } = s;
    const { a, b } = stableTwo(s);
    const c = firstJoin(group, 'c');
    expect(group.state).toBe('PreparingRebalance');
    expect(group.heartbeat({ generationId: 2, memberId: a, groupInstanceId: '' }).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(sync(group, 2, b).result?.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const ja = join(group, joinReq('a', { memberId: a }));
    expect(ja.result).toBeUndefined();
    const jb = join(group, joinReq('b', { memberId: b }));
    for (const r of [ja, jb, c.box]) expect(r.result?.generationId).toBe(3);
    expect(ja.result?.members).toHaveLength(3);
    expect(group.heartbeat({ generationId: 2, memberId: a, groupInstanceId: '' }).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(sync(group, 2, a).result?.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
  });

  it('a member whose session expires is removed and the group rebalances without it', () => {
    const s = setup();
    const { group, timers } = s;
    const { a, b } = stableTwo(s);
    // a keeps heartbeating, b goes silent.
    for (let t = 0; t < 4; t++) {
      timers.advance(SESSION_MS / 2);
      expect(group.heartbeat({ generationId: 2, memberId: a, groupInstanceId: '' }).errorCode).toBe(group.state === 'Stable' ? ErrorCode.NONE : ErrorCode.REBALANCE_IN_PROGRESS);
    }
    expect(group.memberList().map((m) => m.memberId)).toEqual([a]);
    expect(group.state).toBe('PreparingRebalance');
    const ja = join(group, joinReq('a', { memberId: a }));
    expect(ja.result).toMatchObject({ generationId: 3, leader: a });
    expect(group.heartbeat({ generationId: 2, memberId: b, groupInstanceId: '' }).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('the rebalance timeout removes a member that did not rejoin', () => {
    const s = setup();
    const { group, timers } = s;
    const { a, b } = stableTwo(s);
    const c = firstJoin(group, 'c');
    // a rejoins, b stays silent but keeps heartbeating (its consumer is stuck in poll processing).
    const ja = join(group, joinReq('a', { memberId: a }));
    for (let t = 0; t < REBALANCE_MS - 5_000; t += 5_000) {
      timers.advance(5_000);
      expect(group.heartbeat({ generationId: 2, memberId: b, groupInstanceId: '' }).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    }
    expect(ja.result).toBeUndefined();
    timers.advance(5_000);
    expect(ja.result).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 3 });
    expect(c.box.result?.generationId).toBe(3);
    expect(group.memberList().map((m) => m.memberId).sort()).toEqual([a, c.memberId].sort());
    expect(group.heartbeat({ generationId: 3, memberId: b, groupInstanceId: '' }).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('LeaveGroup (batched) removes members, answers unknown ones, and rebalances the rest', () => {
    const s = setup();
    const { group } = s;
    const { a, b } = stableTwo(s);
    const r = group.leave([
      { memberId: b, groupInstanceId: '' },
      { memberId: 'nobody', groupInstanceId: '' },
    ]);
    expect(r.errorCode).toBe(ErrorCode.NONE);
    expect(r.members.map((m) => m.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID]);
    expect(group.state).toBe('PreparingRebalance');
    expect(join(group, joinReq('a', { memberId: a })).result).toMatchObject({ generationId: 3, leader: a });
    // The last member leaves: the next rebalance ends Empty.
    sync(group, 3, a, [{ memberId: a, assignment: Buffer.from('all') }]);
    group.leave([{ memberId: a, groupInstanceId: '' }]);
    expect(group.state).toBe('Empty');
    expect(group.memberList()).toEqual([]);
  });

  it('a static member restarting with unchanged metadata takes its place without a rebalance; the old id is fenced', () => {
    const { group } = setup();
    const first = join(group, joinReq('s', { groupInstanceId: 'inst-1' }));
    // Static members skip MEMBER_ID_REQUIRED.
    expect(first.result).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1 });
    const oldId = first.result?.memberId ?? '';
    sync(group, 1, oldId, [{ memberId: oldId, assignment: Buffer.from('mine') }], 'inst-1');
    expect(group.state).toBe('Stable');

    const restarted = join(group, joinReq('s', { groupInstanceId: 'inst-1' }));
    const newId = restarted.result?.memberId ?? '';
    expect(newId).not.toBe(oldId);
    expect(restarted.result).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, leader: newId, skipAssignment: true });
    expect(group.state).toBe('Stable');
    expect(group.generationId).toBe(1);
    expect(sync(group, 1, newId, [], 'inst-1').result?.assignment.toString()).toBe('mine');
    // The zombie with the old id is fenced everywhere.
    expect(group.heartbeat({ generationId: 1, memberId: oldId, groupInstanceId: 'inst-1' }).errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(group.validateOffsetCommit({ generationId: 1, memberId: oldId, groupInstanceId: 'inst-1' }).errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(join(group, joinReq('s', { memberId: oldId, groupInstanceId: 'inst-1' })).result?.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(group.leave([{ memberId: oldId, groupInstanceId: 'inst-1' }]).members[0]?.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    // An admin removes it by instance id alone.
    expect(group.leave([{ memberId: '', groupInstanceId: 'inst-1' }]).members[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(group.state).toBe('Empty');
  });

  it('a static member restarting with changed metadata keeps the generation unless the selected protocol changes (Kafka)', () => {
    const { group } = setup();
    const first = join(group, joinReq('s', { groupInstanceId: 'inst-1' }));
    const oldId = first.result?.memberId ?? '';
    sync(group, 1, oldId, [{ memberId: oldId, assignment: Buffer.from('mine') }], 'inst-1');
    // New metadata (a restarted consumer has no generation, owns nothing), same protocol 'range'.
    const restarted = join(group, joinReq('s', { groupInstanceId: 'inst-1', protocols: [{ name: 'range', metadata: Buffer.from('restarted') }] }));
    const newId = restarted.result?.memberId ?? '';
    expect(restarted.result).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1 });
    expect(group.state).toBe('Stable');
    expect(sync(group, 1, newId, [], 'inst-1').result?.assignment.toString()).toBe('mine');
    // A restart preferring another protocol changes the group's choice: rebalance.
    const switched = join(group, joinReq('s', { groupInstanceId: 'inst-1', protocols: [{ name: 'roundrobin', metadata: Buffer.from('rr') }, { name: 'range', metadata: Buffer.from('r') }] }));
    expect(switched.result).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 2, protocolName: 'roundrobin' });
    expect(group.state).toBe('CompletingRebalance');
  });

  it('validates offset commits: stale generation, unknown member, rebalance, and simple consumers only while Empty', () => {
    const s = setup();
    const { group } = s;
    const simple = { generationId: -1, memberId: '', groupInstanceId: '' };
    expect(group.validateOffsetCommit(simple).errorCode).toBe(ErrorCode.NONE);
    const { a } = stableTwo(s);
    expect(group.validateOffsetCommit({ generationId: 2, memberId: a, groupInstanceId: '' }).errorCode).toBe(ErrorCode.NONE);
    expect(group.validateOffsetCommit({ generationId: 1, memberId: a, groupInstanceId: '' }).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(group.validateOffsetCommit({ generationId: 2, memberId: 'zombie', groupInstanceId: '' }).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(group.validateOffsetCommit(simple).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    // A third member's join, then everyone rejoins: CompletingRebalance refuses commits.
    const c = firstJoin(group, 'c');
    join(group, joinReq('a', { memberId: a }));
    const b = group.memberList().find((m) => m.clientId === 'b')?.memberId ?? '';
    join(group, joinReq('b', { memberId: b }));
    expect(c.box.result?.generationId).toBe(3);
    expect(group.state).toBe('CompletingRebalance');
    expect(group.validateOffsetCommit({ generationId: 3, memberId: a, groupInstanceId: '' }).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it('refuses inconsistent protocols, bad session timeouts and joins beyond group.max.size', () => {
    const s = setup(0, 2);
    const { group } = s;
    expect(join(group, joinReq('x', { protocolType: '' })).result?.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(join(group, joinReq('x', { sessionTimeoutMs: 100 })).result?.errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect(join(group, joinReq('x', { sessionTimeoutMs: 120_000 })).result?.errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    stableTwo(s);
    expect(join(group, joinReq('c', { protocolType: 'connect' })).result?.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(join(group, joinReq('c', { protocols: [{ name: 'sticky', metadata: Buffer.alloc(0) }] })).result?.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(join(group, joinReq('c')).result?.errorCode).toBe(ErrorCode.GROUP_MAX_SIZE_REACHED);
    expect(join(group, joinReq('c', { memberId: 'made-up' })).result?.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it("selects the protocol by Kafka's vote among those every member supports", () => {
    const { group } = setup();
    const protos = (...names: string[]): { name: string; metadata: Buffer }[] => names.map((name) => ({ name, metadata: Buffer.from(name) }));
    const a = firstJoin(group, 'a', { protocols: protos('roundrobin', 'range', 'sticky') });
    const b = firstJoin(group, 'b', { protocols: protos('range', 'roundrobin') });
    const c = firstJoin(group, 'c', { protocols: protos('range', 'cooperative-sticky', 'roundrobin') });
    join(group, joinReq('a', { memberId: a.memberId, protocols: protos('roundrobin', 'range', 'sticky') }));
    join(group, joinReq('b', { memberId: b.memberId, protocols: protos('range', 'roundrobin') }));
    expect(c.box.result?.protocolName).toBe('range'); // 2 votes for range, 1 for roundrobin
  });

  it('group.initial.rebalance.delay.ms holds the first rebalance of an Empty group, extended while members arrive', () => {
    const { group, timers } = setup(3_000);
    const a = firstJoin(group, 'a');
    expect(a.box.result).toBeUndefined();
    timers.advance(2_000);
    const b = firstJoin(group, 'b');
    timers.advance(1_000); // first delay ends, b arrived meanwhile: wait another delay
    expect(a.box.result).toBeUndefined();
    timers.advance(3_000);
    expect(a.box.result).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1 });
    expect(b.box.result).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1 });
    expect(a.box.result?.members).toHaveLength(2);
  });

  it('a dead group answers COORDINATOR_NOT_AVAILABLE, including parked requests', () => {
    const s = setup();
    const { group } = s;
    const { a } = stableTwo(s);
    firstJoin(group, 'c');
    const parked = join(group, joinReq('a', { memberId: a }));
    group.markDead();
    expect(parked.result?.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(group.heartbeat({ generationId: 2, memberId: a, groupInstanceId: '' }).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(group.validateOffsetCommit({ generationId: -1, memberId: '', groupInstanceId: '' }).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });
  it('removes members that do not send SyncGroup within the rebalance timeout (Kafka pending sync), and rebalances', () => {
    const s = setup();
    const { group, timers } = s;
    const { a, b } = stableTwo(s);
    const c = firstJoin(group, 'c');
    join(group, joinReq('a', { memberId: a }));
    join(group, joinReq('b', { memberId: b }));
    expect(group.state).toBe('CompletingRebalance');
    expect(c.box.result?.generationId).toBe(3);
    // The leader a and c sync; b heartbeats but never syncs.
    sync(group, 3, a, [{ memberId: a, assignment: Buffer.from('x') }]);
    sync(group, 3, c.memberId);
    for (let t = 0; t < REBALANCE_MS - 5_000; t += 5_000) {
      timers.advance(5_000);
      for (const m of [a, b, c.memberId]) expect(group.heartbeat({ generationId: 3, memberId: m, groupInstanceId: '' }).errorCode).toBe(ErrorCode.NONE);
    }
    expect(group.state).toBe('Stable');
    timers.advance(5_000);
    expect(group.state).toBe('PreparingRebalance');
    expect(group.memberList().map((m) => m.memberId).sort()).toEqual([a, c.memberId].sort());
    expect(group.heartbeat({ generationId: 3, memberId: b, groupInstanceId: '' }).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('keeps a generation whose members all synced past the rebalance timeout', () => {
    const s = setup();
    const { group, timers } = s;
    const { a, b } = stableTwo(s);
    for (let t = 0; t < 3 * REBALANCE_MS; t += 5_000) {
      timers.advance(5_000);
      for (const m of [a, b]) expect(group.heartbeat({ generationId: 2, memberId: m, groupInstanceId: '' }).errorCode).toBe(ErrorCode.NONE);
    }
    expect(group.state).toBe('Stable');
    expect(group.generationId).toBe(2);
  });

  it('a member id handed out with MEMBER_ID_REQUIRED expires after the session timeout if never used', () => {
    const { group, timers } = setup();
    const first = join(group, joinReq('p'));
    const id = first.result?.memberId ?? '';
    expect(group.size).toBe(1);
    timers.advance(SESSION_MS);
    expect(group.size).toBe(0);
    expect(join(group, joinReq('p', { memberId: id })).result?.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('a pending member id holds the join until it joins with it', () => {
    const s = setup();
    const { group } = s;
    const { a, b } = stableTwo(s);
    const [ja, jb] = [join(group, joinReq('a', { memberId: a, protocols: [{ name: 'range', metadata: Buffer.from('new') }] })), join(group, joinReq('b', { memberId: b }))];
    expect(ja.result?.generationId).toBe(3);
    expect(jb.result?.generationId).toBe(3);
    // A new member's first join during the next rebalance: the join waits for its second join.
    const ja2 = join(group, joinReq('a', { memberId: a, protocols: [{ name: 'range', metadata: Buffer.from('newer') }] }));
    const c = join(group, joinReq('c'));
    expect(c.result?.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    join(group, joinReq('b', { memberId: b }));
    expect(ja2.result).toBeUndefined();
    const c2 = join(group, joinReq('c', { memberId: c.result?.memberId ?? '' }));
    expect(c2.result?.generationId).toBe(4);
    expect(ja2.result?.members).toHaveLength(3);
  });

  it('a leader leaving while followers wait in SyncGroup sends them back to join (REBALANCE_IN_PROGRESS)', () => {
    const s = setup();
    const { group } = s;
    const { a, b } = stableTwo(s);
    join(group, joinReq('a', { memberId: a, protocols: [{ name: 'range', metadata: Buffer.from('new') }] }));
    join(group, joinReq('b', { memberId: b }));
    expect(group.state).toBe('CompletingRebalance');
    const waiting = sync(group, 3, b);
    expect(waiting.result).toBeUndefined();
    group.leave([{ memberId: a, groupInstanceId: '' }]);
    expect(waiting.result?.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(group.state).toBe('PreparingRebalance');
    expect(join(group, joinReq('b', { memberId: b })).result).toMatchObject({ generationId: 4, leader: b });
  });
  it('a follower rejoining a Stable group unchanged gets the current generation; the leader rejoining rebalances', () => {
    const s = setup();
    const { group } = s;
    const { a, b } = stableTwo(s);
    const jb = join(group, joinReq('b', { memberId: b }));
    expect(jb.result).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 2, leader: a, members: [] });
    expect(group.state).toBe('Stable');
    const ja = join(group, joinReq('a', { memberId: a }));
    expect(ja.result).toBeUndefined();
    expect(group.state).toBe('PreparingRebalance');
  });

  it('the rebalance timeout keeps a static member that did not rejoin, as Kafka does', () => {
    const s = setup();
    const { group, timers } = s;
    const st = join(group, joinReq('s', { groupInstanceId: 'inst-1' }));
    const sid = st.result?.memberId ?? '';
    sync(group, 1, sid, [], 'inst-1');
    const d = firstJoin(group, 'd');
    for (let t = 0; t < REBALANCE_MS; t += 5_000) {
      timers.advance(5_000);
      group.heartbeat({ generationId: 1, memberId: sid, groupInstanceId: 'inst-1' });
    }
    expect(d.box.result).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 2, leader: d.memberId });
    expect(group.memberList().map((m) => m.memberId).sort()).toEqual([sid, d.memberId].sort());
  });

  it('toMetadata / fromMetadata round-trip a Stable group; loaded members get fresh session timers and dead ones expire', () => {
    const s = setup();
    const { a, b } = stableTwo(s);
    const value = s.group.toMetadata();
    expect(value).toMatchObject({ protocolType: 'consumer', generation: 2, protocol: 'range', leader: a });
    expect(value.members.map((m) => [m.memberId, m.subscription.toString(), m.assignment.toString()])).toEqual([
      [a, 'a-range', 'a1'],
      [b, 'b-range', 'a2'],
    ]);
    const timers = new FakeTimers();
    const loaded = ConsumerGroup.fromMetadata('g', value, timers, { config: { initialRebalanceDelayMs: 0, minSessionTimeoutMs: 1_000, maxSessionTimeoutMs: 60_000 } });
    expect(loaded).toMatchObject({ state: 'Stable', generationId: 2, leader: a, protocol: 'range', protocolType: 'consumer' });
    expect(loaded.toMetadata()).toEqual(value);
    // a keeps heartbeating on the new coordinator; b died with the old one.
    expect(loaded.heartbeat({ generationId: 2, memberId: a, groupInstanceId: '' }).errorCode).toBe(ErrorCode.NONE);
    expect(loaded.validateOffsetCommit({ generationId: 1, memberId: a, groupInstanceId: '' }).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    timers.advance(SESSION_MS / 2);
    loaded.heartbeat({ generationId: 2, memberId: a, groupInstanceId: '' });
    timers.advance(SESSION_MS / 2 + 1);
    expect(loaded.state).toBe('PreparingRebalance');
    expect(loaded.memberList().map((m) => m.memberId)).toEqual([a]);
    const rejoin = join(loaded, joinReq('a', { memberId: a }));
    expect(rejoin.result).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 3, leader: a });
  });

  it('fromMetadata of an empty group (no members) is Empty and accepts simple-consumer commits', () => {
    const timers = new FakeTimers();
    const loaded = ConsumerGroup.fromMetadata('g', { protocolType: 'consumer', generation: 5, protocol: null, leader: null, currentStateTimestampMs: 42, members: [] }, timers);
    expect(loaded.state).toBe('Empty');
    expect(loaded.generationId).toBe(5);
    expect(loaded.stateSinceMs).toBe(42);
    expect(loaded.validateOffsetCommit({ generationId: -1, memberId: '', groupInstanceId: '' }).errorCode).toBe(ErrorCode.NONE);
  });

  it('with persist, members get their assignment only after the write succeeds; a failed write answers its code and rebalances', () => {
    const timers = new FakeTimers();
    const writes: { generation: number; done: (e: ErrorCode) => void }[] = [];
    const states: string[] = [];
    let n = 0;
    const group = new ConsumerGroup('g', timers, {
      config: { initialRebalanceDelayMs: 0, minSessionTimeoutMs: 1_000, maxSessionTimeoutMs: 60_000 },
      newMemberId: (clientId) => `${clientId}-${++n}`,
      persist: (value, done) => writes.push({ generation: value.generation, done }),
      onStateChange: (_from, to) => states.push(to),
    });
    const a = firstJoin(group, 'a');
    expect(a.box.result?.generationId).toBe(1);
    const leaderSync = sync(group, 1, a.memberId, [{ memberId: a.memberId, assignment: Buffer.from('x') }]);
    expect(leaderSync.result).toBeUndefined();
    expect(group.state).toBe('CompletingRebalance');
    expect(writes.map((w) => w.generation)).toEqual([1]);
    writes[0]!.done(ErrorCode.NONE);
    expect(leaderSync.result).toMatchObject({ errorCode: ErrorCode.NONE });
    expect(leaderSync.result?.assignment.toString()).toBe('x');
    expect(group.state).toBe('Stable');
    // Next generation: the write fails.
    const again = join(group, joinReq('a', { memberId: a.memberId }));
    expect(again.result?.generationId).toBe(2);
    const failed = sync(group, 2, a.memberId, [{ memberId: a.memberId, assignment: Buffer.from('y') }]);
    writes[1]!.done(ErrorCode.NOT_COORDINATOR);
    expect(failed.result?.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(group.state).toBe('PreparingRebalance');
    // The last member leaving stores the Empty group.
    group.leave([{ memberId: a.memberId, groupInstanceId: '' }]);
    timers.advance(1);
    expect(group.state).toBe('Empty');
    expect(writes.length).toBe(3);
    expect(group.toMetadata()).toMatchObject({ members: [], protocol: null, leader: null, generation: 3 });
    expect(states).toEqual(['PreparingRebalance', 'CompletingRebalance', 'Stable', 'PreparingRebalance', 'CompletingRebalance', 'PreparingRebalance', 'Empty']);
  });
});
