/**
 * Consumer groups end to end against a REAL cluster: coordination, a controller, three
 * brokers and two group coordinators as processes on loopback; consumers are the SDK's
 * group Consumer in this process, or `tributary consume --group` processes where one must be
 * killed -9. The scenarios:
 *   - 3 consumers of one group over 6 partitions get disjoint partitions covering all; a 4th
 *     joins and the cooperative-sticky rebalance moves only what must move (nobody loses a
 *     partition it keeps, nothing is revoked but what moves to the newcomer);
 *   - a consumer killed -9: its partitions go to the others after the session timeout and
 *     consumption resumes from the committed offsets, no record lost (duplicates only from
 *     the dead member's partitions, since its last commit);
 *   - the coordinator owning the group killed -9: the other instance takes over, offsets
 *     intact, members carry on.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Admin, Consumer, CooperativeStickyAssignor, Producer } from '@tributary/client';
import type { TopicPartition } from '@tributary/client';
import type { TestCluster } from '@tributary/testing';
import { WORKSPACE_ROOT, cleanupAll, startCluster, waitFor } from '@tributary/testing';

jest.setTimeout(240_000);

const CLI_MAIN = join(WORKSPACE_ROOT, 'apps', 'cli', 'dist', 'main.js');
/** Short group timeouts (the coordinators allow them: see beforeAll). */
const SESSION_TIMEOUT_MS = 6000;
const HEARTBEAT_INTERVAL_MS = 500;

let cluster: TestCluster;
let admin: Admin;
const bootstrap = (): string[] => [...cluster.brokers.values()].map((b) => b.address);
const key = (tp: TopicPartition): string => `${tp.topic}-${tp.partition}`;

beforeAll(async () => {
  cluster = await startCluster({
    name: 'groups-e2e',
    brokers: 3,
    controllers: 1,
    groupCoordinators: 2,
    logLevel: 'warn',
    groupCoordinatorFlags: { 'group-initial-rebalance-delay-ms': 0, 'group-min-session-timeout-ms': 1000 },
  });
  admin = new Admin({ bootstrap: bootstrap() });
});

afterAll(async () => {
  await admin?.close();
  await cluster?.stop();
  await cleanupAll();
});

async function produceValues(topic: string, values: string[]): Promise<void> {
  const producer = new Producer({ bootstrap: bootstrap(), lingerMs: 2 });
  try {
    await Promise.all(values.map((v, i) => producer.send({ topic, key: `k${i}`, value: v })));
  } finally {
    await producer.close();
  }
}

/** A group member polling in the background, recording its rebalance callbacks. */
class Member {
  readonly consumer: Consumer;
  readonly revoked: TopicPartition[] = [];
  readonly assigned: TopicPartition[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(groupId: string, topic: string, name: string) {
    const consumer = new Consumer({
      bootstrap: bootstrap(),
      clientId: name,
      groupId,
      autoOffsetReset: 'earliest',
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
      partitionAssignors: [new CooperativeStickyAssignor()],
    });
    this.consumer = consumer;
    consumer.subscribe([topic], {
      onPartitionsAssigned: (tps) => void this.assigned.push(...tps),
      onPartitionsRevoked: (tps) => void this.revoked.push(...tps),
    });
    this.loop = (async () => {
      while (this.running) await consumer.poll(100);
    })();
  }

  owned(): string[] {
    return this.consumer.assignment().map(key).sort();
  }

  async close(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.consumer.close();
  }
}

/** Waits until the members' assignments are disjoint, cover `partitions` and the group is Stable. */
async function waitForBalancedGroup(groupId: string, members: Member[], partitions: number): Promise<void> {
  await waitFor(
    async () => {
      const owned = members.map((m) => m.owned());
      if (owned.some((o) => o.length === 0)) return false;
      const all = owned.flat();
      if (all.length !== partitions || new Set(all).size !== partitions) return false;
      const [d] = await admin.describeGroups([groupId]);
      return d?.state === 'Stable' && d.members.length === members.length;
    },
    { timeoutMs: 60_000, message: `group ${groupId}: ${members.length} members sharing ${partitions} partitions` },
  );
}

it('shares 6 partitions among 3 members; a 4th joins and cooperative-sticky moves only what must move', async () => {
  await admin.createTopics([{ name: 'shared', numPartitions: 6, replicationFactor: 2 }]);
  await produceValues('shared', Array.from({ length: 600 }, (_, i) => `v${i}`));
  const members = [new Member('sharers', 'shared', 'c1'), new Member('sharers', 'shared', 'c2'), new Member('sharers', 'shared', 'c3')];
  try {
    await waitForBalancedGroup('sharers', members, 6);
    for (const m of members) expect(m.owned()).toHaveLength(2);
    const before = members.map((m) => m.owned());
    // What the coordinator says agrees with what the members hold.
    const [described] = await admin.describeGroups(['sharers']);
    expect(described!.members.map((m) => m.assignment.map(key).sort()).sort()).toEqual([...before].sort());
    for (const m of members) m.revoked.length = 0;

    const newcomer = new Member('sharers', 'shared', 'c4');
    members.push(newcomer);
    await waitForBalancedGroup('sharers', members, 6);
    const after = members.map((m) => m.owned());
    const sizes = after.map((a) => a.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    // Old members keep a subset of what they had; nothing moves between old members.
    for (let i = 0; i < 3; i++) for (const tp of after[i]!) expect(before[i]).toContain(tp);
    // Only the partitions the newcomer got were revoked, once, from their previous owner.
    const moved = after[3]!;
    const revoked = members.slice(0, 3).flatMap((m) => m.revoked.map(key)).sort();
    expect(revoked).toEqual([...moved].sort());
    expect(moved.length).toBeGreaterThan(0);
  } finally {
    await Promise.all(members.map((m) => m.close()));
  }
});

interface RunningCli {
  readonly lines: string[];
  kill(signal: NodeJS.Signals): void;
  exited: Promise<number | null>;
}

/** `tributary consume --group` as a process, printing `partition offset value` per record. */
function cliConsumer(groupId: string, topic: string): RunningCli {
  const child = spawn(
    process.execPath,
    [
      CLI_MAIN,
      '--bootstrap',
      cluster.bootstrap,
      'consume',
      topic,
      '--group',
      groupId,
      '--from-beginning',
      '--format',
      '%p %o %s\\n',
      '--consumer-property',
      `session.timeout.ms=${SESSION_TIMEOUT_MS}`,
      '--consumer-property',
      `heartbeat.interval.ms=${HEARTBEAT_INTERVAL_MS}`,
      '--consumer-property',
      'auto.commit.interval.ms=300',
      '--consumer-property',
      'partition.assignment.strategy=range',
      '--quiet',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  let partial = '';
  child.stdout.on('data', (d: Buffer) => {
    const parts = (partial + d.toString('utf8')).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr.resume();
  return { lines, kill: (s) => child.kill(s), exited: new Promise((resolve) => child.on('close', (code) => resolve(code))) };
}

it('reassigns the partitions of a consumer killed -9 and resumes from committed offsets: nothing lost', async () => {
  await admin.createTopics([{ name: 'work', numPartitions: 6, replicationFactor: 2 }]);
  const consumers = [cliConsumer('workers', 'work'), cliConsumer('workers', 'work'), cliConsumer('workers', 'work')];
  try {
    // Records only once the three share the topic, so that each prints some.
    await waitFor(
      async () => {
        const [d] = await admin.describeGroups(['workers']);
        return d?.state === 'Stable' && d.members.length === 3 && d.members.every((m) => m.assignment.length === 2);
      },
      { timeoutMs: 60_000, message: 'three members with two partitions each' },
    );
    const first = Array.from({ length: 1200 }, (_, i) => `a${i}`);
    await produceValues('work', first);
    const printed = (): Set<string> => new Set(consumers.flatMap((c) => c.lines.map((l) => l.split(' ')[2]!)));
    await waitFor(async () => printed().size === first.length && consumers.every((c) => c.lines.length > 0), {
      timeoutMs: 90_000,
      message: 'three members printing the first records',
    });
    // Once the group has committed on every partition, crash one member (it may have printed
    // records since its last commit: those are the ones printed again).
    await waitFor(async () => (await admin.listGroupOffsets('workers')).filter((o) => o.offset > 0n).length === 6, {
      timeoutMs: 30_000,
      message: 'commits on every partition',
    });
    const [victim] = consumers;
    victim!.kill('SIGKILL');
    await victim!.exited;
    const victimPartitions = new Set(victim!.lines.map((l) => l.split(' ')[0]!));
    const second = Array.from({ length: 1200 }, (_, i) => `b${i}`);
    await produceValues('work', second);
    // Every record produced is printed by someone: the survivors take over the dead one's
    // partitions after the session timeout, from the group's committed offsets.
    await waitFor(async () => printed().size === first.length + second.length, { timeoutMs: 90_000, message: 'every record printed after the kill' });
    const [described] = await admin.describeGroups(['workers']);
    expect(described!.members).toHaveLength(2);
    expect(described!.members.flatMap((m) => m.assignment).length).toBe(6);
    // Duplicates only where the dead member read: records printed again from its last commit.
    const seen = new Map<string, number>();
    for (const c of consumers) for (const l of c.lines) seen.set(l, (seen.get(l) ?? 0) + 1);
    for (const [line, n] of seen) {
      if (n > 1) expect(victimPartitions).toContain(line.split(' ')[0]);
    }
  } finally {
    for (const c of consumers) c.kill('SIGTERM');
    await Promise.all(consumers.map((c) => c.exited));
  }
});

it('survives kill -9 of the coordinator owning the group: the other takes over with the offsets intact', async () => {
  await admin.createTopics([{ name: 'ledger', numPartitions: 3, replicationFactor: 2 }]);
  await produceValues('ledger', Array.from({ length: 300 }, (_, i) => `l${i}`));
  const member = new Member('ledger-readers', 'ledger', 'ledger-1');
  let owner: number | undefined;
  try {
    await waitForBalancedGroup('ledger-readers', [member], 3);
    await waitFor(async () => (await member.consumer.position({ topic: 'ledger', partition: 0 })) > 0n, { timeoutMs: 30_000, message: 'reading' });
    await member.consumer.commit();
    const committed = (await admin.listGroupOffsets('ledger-readers')).map((o) => `${o.topic}-${o.partition}@${o.offset}`).sort();
    expect(committed.length).toBe(3);
    const [before] = await admin.describeGroups(['ledger-readers']);
    owner = before!.coordinator.nodeId;
    await cluster.stopGroupCoordinator(owner, 'SIGKILL');
    await waitFor(async () => (await admin.describeGroups(['ledger-readers']).catch(() => []))[0]?.coordinator.nodeId !== owner, {
      timeoutMs: 60_000,
      message: 'another coordinator owns the group',
    });
    // Offsets intact, read back from __consumer_offsets by the new owner.
    expect((await admin.listGroupOffsets('ledger-readers')).map((o) => `${o.topic}-${o.partition}@${o.offset}`).sort()).toEqual(committed);
    // The member carries on with the new coordinator: it still owns its partitions and commits.
    await produceValues('ledger', ['after-failover']);
    await waitForBalancedGroup('ledger-readers', [member], 3);
    await waitFor(
      async () => {
        try {
          await member.consumer.commit();
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 60_000, message: 'a commit through the new coordinator' },
    );
    const end = (await admin.listOffsets('ledger', 'latest')).reduce((n, o) => n + o.offset, 0n);
    await waitFor(
      async () => {
        await member.consumer.commit().catch(() => undefined);
        return (await admin.listGroupOffsets('ledger-readers')).reduce((n, o) => n + o.offset, 0n) === end;
      },
      { timeoutMs: 60_000, message: 'the group consumed and committed everything' },
    );
  } finally {
    await member.close();
    if (owner !== undefined) await cluster.startGroupCoordinator(owner).catch(() => undefined);
  }
});
