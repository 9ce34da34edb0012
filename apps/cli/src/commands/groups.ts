/**
 * `tributary groups list|describe|delete|reset-offsets`: kafka-consumer-groups.sh's jobs.
 *
 * - list: group ids, one per line (`--state`: with their state; `--json`).
 * - describe: per partition the group has an offset for or a member owns, CURRENT-OFFSET,
 *   LOG-END-OFFSET, LAG and the owning member (`--members`: one line per member, `--verbose`
 *   with its assignment; `--state`: coordinator, assignor, state, member count; `--json`).
 * - delete: empty groups and their offsets (a group with members is refused by the
 *   coordinator: NON_EMPTY_GROUP).
 * - reset-offsets: moves a group's committed offsets; a dry run printing the plan unless
 *   `--execute`; refused while the group has active members (as Kafka: stop the consumers
 *   first). The plan is computed in groups-plan.ts.
 */
import { readFileSync } from 'node:fs';
import { Admin, ErrorCode } from '@tributary/client';
import type { GroupDescription, TopicPartition } from '@tributary/client';
import type { GlobalOptions, Io } from '../context';
import { withAdmin, noSuchTopic, topicPartitions, writeOut } from '../context';
import { OperationError, UsageError } from '../errors';
import type { PartitionState, PlannedOffset, TopicScope } from '../groups-plan';
import { formatTable, parsePlanCsv, planCsv, planReset, resetSpecOf } from '../groups-plan';

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
const byTopicPartition = (a: TopicPartition, b: TopicPartition): number => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1);

/** States a group may be reset in: nobody consumes it (Kafka's rule). */
const INACTIVE_STATES = new Set(['Empty', 'Dead']);

/** The description of one group, failing with a clear message when the coordinator answered an error. */
async function describeOne(admin: Admin, groupId: string): Promise<GroupDescription> {
  const [d] = await admin.describeGroups([groupId]);
  if (!d) throw new OperationError(`the coordinator said nothing about group '${groupId}'`);
  if (d.errorCode !== ErrorCode.NONE) throw new OperationError(`cannot describe group '${groupId}': ${ErrorCode[d.errorCode] ?? d.errorCode}`);
  return d;
}

export async function listGroups(io: Io, global: GlobalOptions, o: { state?: boolean; json?: boolean }): Promise<void> {
  const groups = await withAdmin(global, (admin) => admin.listGroups());
  groups.sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  if (o.json === true) {
    await writeOut(io.stdout, JSON.stringify(groups.map((g) => ({ group: g.groupId, state: g.state, protocol_type: g.protocolType, coordinator: g.coordinatorId }))) + '\n');
  } else if (o.state === true) {
    await writeOut(io.stdout, formatTable(['GROUP', 'STATE'], groups.map((g) => [g.groupId, g.state])));
  } else {
    await writeOut(io.stdout, groups.map((g) => `${g.groupId}\n`).join(''));
  }
}

/** One line of `describe`'s offsets view. */
interface OffsetRow {
  topic: string;
  partition: number;
  current: bigint | undefined;
  logEnd: bigint | undefined;
  lag: bigint | undefined;
  memberId: string | undefined;
  host: string | undefined;
  clientId: string | undefined;
}

async function offsetRows(admin: Admin, group: GroupDescription): Promise<OffsetRow[]> {
  const committed = await admin.listGroupOffsets(group.groupId);
  const owner = new Map<string, GroupDescription['members'][number]>();
  for (const m of group.members) for (const tp of m.assignment) owner.set(tpKey(tp.topic, tp.partition), m);
  const partitions = new Map<string, TopicPartition>();
  for (const c of committed) if (c.offset >= 0n) partitions.set(tpKey(c.topic, c.partition), { topic: c.topic, partition: c.partition });
  for (const m of group.members) for (const tp of m.assignment) partitions.set(tpKey(tp.topic, tp.partition), tp);
  const current = new Map(committed.filter((c) => c.offset >= 0n).map((c) => [tpKey(c.topic, c.partition), c.offset]));
  const ends = new Map<string, bigint>();
  const topics = [...new Set([...partitions.values()].map((tp) => tp.topic))];
  await Promise.all(
    topics.map(async (topic) => {
      const wanted = [...partitions.values()].filter((tp) => tp.topic === topic).map((tp) => tp.partition);
      try {
        for (const o of await admin.listOffsets(topic, 'latest', wanted)) ends.set(tpKey(topic, o.partition), o.offset);
      } catch {
        // A deleted topic: its offsets stay listed, without an end offset or lag ('-').
      }
    }),
  );
  return [...partitions.values()].sort(byTopicPartition).map((tp) => {
    const k = tpKey(tp.topic, tp.partition);
    const cur = current.get(k);
    const end = ends.get(k);
    const m = owner.get(k);
    return {
      topic: tp.topic,
      partition: tp.partition,
      current: cur,
      logEnd: end,
      lag: cur !== undefined && end !== undefined ? (end > cur ? end - cur : 0n) : undefined,
      memberId: m?.memberId,
      host: m?.clientHost,
      clientId: m?.clientId,
    };
  });
}

const dash = (v: bigint | string | undefined): string => (v === undefined || v === '' ? '-' : String(v));

export async function describeGroups(
  io: Io,
  global: GlobalOptions,
  groupIds: string[],
  o: { allGroups?: boolean; members?: boolean; verbose?: boolean; state?: boolean; json?: boolean },
): Promise<void> {
  if (o.members === true && o.state === true) throw new UsageError('--members and --state are different views: give one of them');
  if (groupIds.length === 0 && o.allGroups !== true) throw new UsageError('name the groups to describe, or give --all-groups');
  await withAdmin(global, async (admin) => {
    const ids = o.allGroups === true ? (await admin.listGroups()).map((g) => g.groupId).sort() : groupIds;
    const json: unknown[] = [];
    for (const id of ids) {
      const group = await describeOne(admin, id);
      if (group.state === 'Dead') {
        if (o.json === true) json.push({ group: id, state: 'Dead', error: `group '${id}' does not exist` });
        else await writeOut(io.stderr, `Consumer group '${id}' does not exist.\n`);
        continue;
      }
      if (o.state === true) {
        const c = group.coordinator;
        const row = [id, `${c.host}:${c.port} (${c.nodeId})`, group.protocol || '-', group.state, String(group.members.length)];
        if (o.json === true) json.push({ group: id, coordinator: c, assignment_strategy: group.protocol, state: group.state, members: group.members.length });
        else await writeOut(io.stdout, formatTable(['GROUP', 'COORDINATOR (ID)', 'ASSIGNMENT-STRATEGY', 'STATE', '#MEMBERS'], [row]) + '\n');
        continue;
      }
      if (o.members === true) {
        const headers = ['GROUP', 'CONSUMER-ID', 'GROUP-INSTANCE-ID', 'HOST', 'CLIENT-ID', '#PARTITIONS', ...(o.verbose === true ? ['ASSIGNMENT'] : [])];
        const rows = group.members.map((m) => {
          const assignment = [...m.assignment].sort(byTopicPartition);
          return [id, m.memberId, dash(m.groupInstanceId), m.clientHost, m.clientId, String(assignment.length), ...(o.verbose === true ? [formatAssignment(assignment)] : [])];
        });
        if (o.json === true) json.push({ group: id, state: group.state, members: group.members.map((m) => ({ ...m, assignment: [...m.assignment].sort(byTopicPartition) })) });
        else await writeOut(io.stdout, (group.members.length === 0 ? `Consumer group '${id}' has no active members.\n` : '') + formatTable(headers, rows) + '\n');
        continue;
      }
      const rows = await offsetRows(admin, group);
      if (o.json === true) {
        json.push({
          group: id,
          state: group.state,
          partitions: rows.map((r) => ({
            topic: r.topic,
            partition: r.partition,
            current_offset: r.current === undefined ? null : Number(r.current),
            log_end_offset: r.logEnd === undefined ? null : Number(r.logEnd),
            lag: r.lag === undefined ? null : Number(r.lag),
            consumer_id: r.memberId ?? null,
            host: r.host ?? null,
            client_id: r.clientId ?? null,
          })),
        });
        continue;
      }
      const note = group.members.length === 0 ? `Consumer group '${id}' has no active members.\n` : '';
      const table = formatTable(
        ['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST', 'CLIENT-ID'],
        rows.map((r) => [id, r.topic, String(r.partition), dash(r.current), dash(r.logEnd), dash(r.lag), dash(r.memberId), dash(r.host), dash(r.clientId)]),
      );
      await writeOut(io.stdout, note + table + '\n');
    }
    if (o.json === true) await writeOut(io.stdout, JSON.stringify(json) + '\n');
  });
}

function formatAssignment(tps: readonly TopicPartition[]): string {
  if (tps.length === 0) return '-';
  const byTopic = new Map<string, number[]>();
  for (const tp of tps) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
  return [...byTopic].map(([t, ps]) => `${t}(${ps.join(',')})`).join(',');
}

export async function deleteGroups(io: Io, global: GlobalOptions, groupIds: string[]): Promise<void> {
  const results = await withAdmin(global, (admin) => admin.deleteGroups(groupIds));
  const failed = results.filter((r) => r.errorCode !== ErrorCode.NONE);
  const done = results.filter((r) => r.errorCode === ErrorCode.NONE);
  if (done.length > 0) await writeOut(io.stdout, `Deletion of requested consumer groups (${done.map((r) => `'${r.groupId}'`).join(', ')}) was successful.\n`);
  if (failed.length > 0) {
    const why = (r: (typeof results)[number]): string => {
      if (r.errorCode === ErrorCode.NON_EMPTY_GROUP) return 'it has active members (stop its consumers first)';
      if (r.errorCode === ErrorCode.GROUP_ID_NOT_FOUND) return 'it does not exist';
      return `${ErrorCode[r.errorCode] ?? r.errorCode}${r.errorMessage ? `: ${r.errorMessage}` : ''}`;
    };
    throw new OperationError(`deletion of some consumer groups failed: ${failed.map((r) => `'${r.groupId}': ${why(r)}`).join('; ')}`);
  }
}

export interface ResetOptions {
  allTopics?: boolean;
  topic?: TopicScope[];
  toEarliest?: boolean;
  toLatest?: boolean;
  toCurrent?: boolean;
  toOffset?: bigint;
  shiftBy?: bigint;
  toDatetime?: number;
  byDuration?: number;
  fromFile?: string;
  dryRun?: boolean;
  execute?: boolean;
  export?: boolean;
}

export async function resetOffsets(io: Io, global: GlobalOptions, groupId: string, o: ResetOptions): Promise<void> {
  if (o.dryRun === true && o.execute === true) throw new UsageError('--dry-run and --execute contradict each other: give one (the default is a dry run)');
  const fromFile = o.fromFile;
  const scoped = o.allTopics === true || (o.topic?.length ?? 0) > 0;
  if (fromFile === undefined && !scoped) throw new UsageError('say which offsets to reset: --all-topics, or --topic T[:partitions] (repeatable)');
  if (fromFile !== undefined && scoped) throw new UsageError('--from-file names its partitions itself: give no --topic / --all-topics with it');
  if (o.allTopics === true && (o.topic?.length ?? 0) > 0) throw new UsageError('--all-topics and --topic contradict each other: give one');
  // Flags first (usage errors before any network work).
  const spec = fromFile === undefined ? resetSpecOf(o, Date.now()) : undefined;
  const fileText = fromFile === undefined ? undefined : readText(fromFile);

  await withAdmin(global, async (admin) => {
    const group = await describeOne(admin, groupId);
    if (!INACTIVE_STATES.has(group.state)) {
      throw new OperationError(
        `assignments can only be reset if the group '${groupId}' is inactive, but the current state is ${group.state} (${group.members.length} member${group.members.length === 1 ? '' : 's'}): stop its consumers first`,
      );
    }
    let plan: PlannedOffset[];
    if (fileText !== undefined) {
      plan = parsePlanCsv(fileText, `--from-file ${fromFile}`);
    } else {
      const committed = await admin.listGroupOffsets(groupId);
      const current = new Map(committed.filter((c) => c.offset >= 0n).map((c) => [tpKey(c.topic, c.partition), c.offset]));
      const scope: TopicPartition[] = [];
      if (o.allTopics === true) {
        for (const c of committed) if (c.offset >= 0n) scope.push({ topic: c.topic, partition: c.partition });
        if (scope.length === 0) throw new OperationError(`group '${groupId}' has no committed offsets: name the topics with --topic`);
      } else {
        for (const s of o.topic ?? []) {
          const all = await topicPartitions(admin, s.topic);
          const wanted = s.partitions ?? all;
          const missing = wanted.filter((p) => !all.includes(p));
          if (missing.length > 0) throw new OperationError(`topic '${s.topic}' has no partition ${missing.join(', ')}: it has ${all.length} partition(s), 0..${all.length - 1}`);
          for (const partition of wanted) scope.push({ topic: s.topic, partition });
        }
      }
      plan = planReset(spec!, await partitionStates(admin, scope, current, spec!.kind === 'to-timestamp' ? spec!.timestampMs : undefined));
    }
    if (o.export === true) {
      await writeOut(io.stdout, planCsv(plan));
    } else {
      await writeOut(io.stdout, formatTable(['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET'], plan.map((p) => [groupId, p.topic, String(p.partition), String(p.offset)])));
    }
    if (o.execute !== true) {
      await writeOut(io.stderr, 'Dry run: nothing changed. Run again with --execute to apply these offsets.\n');
      return;
    }
    if (plan.length === 0) return;
    const results = await admin.alterGroupOffsets(
      groupId,
      plan.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset })),
    );
    const failed = results.filter((r) => r.errorCode !== ErrorCode.NONE);
    if (failed.length > 0) {
      throw new OperationError(
        `the coordinator refused ${failed.length} of ${results.length} offsets (${failed
          .slice(0, 5)
          .map((r) => `${r.topic}-${r.partition}: ${ErrorCode[r.errorCode] ?? r.errorCode}`)
          .join(', ')}${failed.length > 5 ? ', ...' : ''})${failed.some((r) => r.errorCode === ErrorCode.UNKNOWN_MEMBER_ID || r.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) ? ': a consumer joined the group meanwhile; stop it and retry' : ''}`,
      );
    }
    await writeOut(io.stderr, `Reset ${results.length} offset${results.length === 1 ? '' : 's'} of group '${groupId}'.\n`);
  });
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Log start, log end and (for time-based resets) the offset for the time of each partition. */
async function partitionStates(admin: Admin, scope: readonly TopicPartition[], current: ReadonlyMap<string, bigint>, timestampMs: number | undefined): Promise<PartitionState[]> {
  const byTopic = new Map<string, number[]>();
  for (const tp of scope) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
  const states: PartitionState[] = [];
  for (const [topic, partitions] of byTopic) {
    let starts, ends, times;
    try {
      [starts, ends, times] = await Promise.all([
        admin.listOffsets(topic, 'earliest', partitions),
        admin.listOffsets(topic, 'latest', partitions),
        timestampMs === undefined ? Promise.resolve(undefined) : admin.listOffsets(topic, { timestamp: timestampMs }, partitions),
      ]);
    } catch (e) {
      if (e instanceof Error && 'code' in e && (e as { code: unknown }).code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw new OperationError(noSuchTopic(topic));
      throw e;
    }
    const at = (list: readonly { partition: number; offset: bigint }[] | undefined, p: number): bigint | undefined => list?.find((o) => o.partition === p)?.offset;
    for (const partition of partitions) {
      const logStart = at(starts, partition) ?? 0n;
      const logEnd = at(ends, partition) ?? logStart;
      const forTime = at(times, partition);
      states.push({
        topic,
        partition,
        current: current.get(tpKey(topic, partition)),
        logStart,
        logEnd,
        ...(timestampMs === undefined ? {} : { offsetForTime: forTime === undefined || forTime < 0n ? logEnd : forTime }),
      });
    }
  }
  return states;
}
