/**
 * `tributary partitions reassign`: kafka-reassign-partitions.sh for Tributary, on the
 * controller's AlterPartitionReassignments / ListPartitionReassignments (KIP-455) through
 * the SDK's Admin. One action per run:
 *
 *   --generate  --topics-to-move-json-file F --broker-list 1,2,3   propose a plan (prints the
 *               current assignment and the proposal, changes nothing)
 *   --execute   --reassignment-json-file F [--throttle B/s] [--wait]  print the current
 *               assignment (keep it: it is the rollback file), start the moves; with --wait,
 *               show progress (partitions done, how many records the new replicas are
 *               behind their leader) until every partition is done
 *   --verify    --reassignment-json-file F   per partition: completed / still in progress /
 *               not as asked
 *   --cancel    --reassignment-json-file F   cancel the moves in progress (back to the
 *               original replicas; the added copies are deleted)
 *   --list      the reassignments in progress
 *
 * The throttle (--throttle, bytes/s) applies to each moving replica until its partition's
 * reassignment completes or is cancelled; the controller then removes it by itself, so
 * --verify has none left to clear (Kafka's --verify clears the broker configs it set).
 */
import { readFileSync } from 'node:fs';
import { Admin } from '@tributary/client';
import type { OngoingReassignment, TopicInfo } from '@tributary/client';
import { ErrorCode } from '@tributary/records';
import type { GlobalOptions, Io } from '../context';
import { withAdmin, hasCode, noSuchTopic, writeOut } from '../context';
import { OperationError, UsageError } from '../errors';
import type { PartitionReplicas } from '../reassign-plan';
import { formatPlan, parseReassignment, parseTopicsToMove, proposeAssignment } from '../reassign-plan';
import { StopSignal } from '../signals';

export interface ReassignOptions {
  generate?: boolean;
  execute?: boolean;
  verify?: boolean;
  cancel?: boolean;
  list?: boolean;
  topicsToMoveJsonFile?: string;
  brokerList?: number[];
  reassignmentJsonFile?: string;
  throttle?: number;
  additional?: boolean;
  wait?: boolean;
  reportingIntervalMs: number;
  timeoutMs?: number;
}

const ACTIONS = ['generate', 'execute', 'verify', 'cancel', 'list'] as const;

function readFile(path: string | undefined, option: string): string {
  if (path === undefined) throw new UsageError(`${option} <file> is required with this action`);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${option} ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const key = (p: { topic: string; partition: number }): string => `${p.topic}-${p.partition}`;

/** The current replicas of `topics`, failing clearly on a topic that does not exist. */
async function currentAssignment(admin: Admin, topics: readonly string[]): Promise<PartitionReplicas[]> {
  let infos: TopicInfo[];
  try {
    infos = await admin.describeTopics([...new Set(topics)]);
  } catch (e) {
    if (hasCode(e, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)) {
      const missing = (e as { errors?: Map<string, unknown> }).errors?.keys().next().value ?? topics[0] ?? '';
      throw new OperationError(noSuchTopic(missing), { cause: e });
    }
    throw e;
  }
  return infos.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition, replicas: p.replicas })));
}

export async function reassign(io: Io, global: GlobalOptions, o: ReassignOptions): Promise<void> {
  const chosen = ACTIONS.filter((a) => o[a] === true);
  if (chosen.length !== 1) throw new UsageError(`give exactly one of --generate, --execute, --verify, --cancel, --list (see \`tributary partitions reassign --help\`)`);
  if (o.throttle !== undefined && o.execute !== true) throw new UsageError('--throttle applies to --execute only');
  if (o.wait === true && o.execute !== true) throw new UsageError('--wait applies to --execute only');
  await withAdmin(global, async (admin) => {
    switch (chosen[0]) {
      case 'generate':
        return generate(io, admin, o);
      case 'execute':
        return execute(io, admin, o);
      case 'verify':
        return verify(io, admin, o);
      case 'cancel':
        return cancel(io, admin, o);
      default:
        return list(io, admin);
    }
  });
}

async function generate(io: Io, admin: Admin, o: ReassignOptions): Promise<void> {
  const topics = parseTopicsToMove(readFile(o.topicsToMoveJsonFile, '--topics-to-move-json-file'));
  if (o.brokerList === undefined || o.brokerList.length === 0) throw new UsageError('--broker-list 1,2,3 is required with --generate');
  const live = new Set((await admin.describeCluster()).brokers.map((b) => b.id));
  const unknown = o.brokerList.filter((b) => !live.has(b));
  if (unknown.length > 0) {
    throw new OperationError(`broker(s) ${unknown.join(',')} in --broker-list are not registered (live: ${[...live].sort((a, b) => a - b).join(',')}); see \`tributary cluster describe\``);
  }
  const current = await currentAssignment(admin, topics);
  const proposed = proposeAssignment(current, o.brokerList);
  await writeOut(io.stdout, `Current partition replica assignment\n${formatPlan(current)}\n\nProposed partition reassignment configuration\n${formatPlan(proposed)}\n`);
}

async function execute(io: Io, admin: Admin, o: ReassignOptions): Promise<void> {
  const plan = parseReassignment(readFile(o.reassignmentJsonFile, '--reassignment-json-file'));
  const current = await currentAssignment(admin, plan.partitions.map((p) => p.topic));
  const known = new Set(current.map(key));
  const missing = plan.partitions.find((p) => !known.has(key(p)));
  if (missing) throw new OperationError(`partition ${missing.partition} of topic '${missing.topic}' does not exist (see \`tributary topics describe ${missing.topic}\`)`);
  const running = await admin.listPartitionReassignments();
  if (running.length > 0 && o.additional !== true) {
    throw new OperationError(
      `cannot execute: ${running.length} partition reassignment(s) are in progress (${running.slice(0, 5).map(key).join(',')}${running.length > 5 ? ',...' : ''}); wait for them (--verify), or add --additional to start this one too (a partition already moving is reassigned again)`,
    );
  }
  const wanted = new Set(plan.partitions.map(key));
  await writeOut(io.stdout, `Current partition replica assignment\n\n${formatPlan(current.filter((p) => wanted.has(key(p))))}\n\nSave this to use as the --reassignment-json-file option during rollback\n`);
  const outcomes = await admin.alterPartitionReassignments(
    plan.partitions.map((p) => ({ topic: p.topic, partition: p.partition, replicas: p.replicas })),
    { throttleBytesPerSecond: o.throttle ?? 0 },
  );
  const failed = outcomes.filter((r) => r.error !== undefined);
  const started = outcomes.filter((r) => r.error === undefined);
  if (started.length > 0) await writeOut(io.stdout, `Successfully started partition reassignment${started.length > 1 ? 's' : ''} for ${started.map(key).join(',')}\n`);
  if (o.throttle !== undefined && o.throttle > 0) {
    await writeOut(io.stdout, `Replication of the moving replicas is throttled to ${o.throttle} B/s; each partition's throttle is removed when its reassignment completes or is cancelled.\n`);
  }
  if (failed.length > 0) {
    for (const f of failed) await writeOut(io.stderr, `tributary: reassignment of ${key(f)} not started: ${f.error!.message}\n`);
    throw new OperationError(`${failed.length} of ${outcomes.length} partition reassignment(s) were refused (see above)`);
  }
  if (o.wait === true) await waitForCompletion(io, admin, plan.partitions, o);
}

/** --wait: a progress line until no partition of the plan is moving any more, then checks the result. */
async function waitForCompletion(io: Io, admin: Admin, plan: readonly PartitionReplicas[], o: ReassignOptions): Promise<void> {
  const startedMs = Date.now();
  const topics = [...new Set(plan.map((p) => p.topic))].map((topic) => ({ topic, partitions: plan.filter((p) => p.topic === topic).map((p) => p.partition) }));
  const stop = new StopSignal();
  const wake: { resolve?: () => void } = {};
  stop.onStop(() => wake.resolve?.());
  let drawn = false;
  try {
    for (;;) {
      const moving = await admin.listPartitionReassignments({ topics, logEndOffsets: true });
      const line = progressLine(plan.length, moving);
      if (io.stderrIsTTY) {
        io.stderr.write(`\r\x1b[K${line.bar} ${line.text}`);
        drawn = true;
      } else {
        io.stderr.write(`${line.text}.\n`);
      }
      if (moving.length === 0) break;
      if (stop.requested) {
        if (drawn) io.stderr.write('\n');
        await writeOut(io.stdout, `Stopped waiting; ${moving.length} partition reassignment(s) go on in the cluster (check with --verify, stop them with --cancel).\n`);
        return;
      }
      if (o.timeoutMs !== undefined && Date.now() - startedMs > o.timeoutMs) {
        if (drawn) io.stderr.write('\n');
        throw new OperationError(`${moving.length} partition reassignment(s) still in progress after ${o.timeoutMs} ms (they go on: check with --verify, stop them with --cancel)`);
      }
      await new Promise<void>((resolve) => {
        wake.resolve = resolve;
        // Not unref'd: this wait is what keeps the process alive between polls.
        setTimeout(resolve, io.stderrIsTTY ? 500 : o.reportingIntervalMs);
      });
    }
  } finally {
    stop.dispose();
  }
  if (drawn) io.stderr.write('\n');
  const after = await currentAssignment(admin, topics.map((t) => t.topic));
  const byKey = new Map(after.map((p) => [key(p), p.replicas]));
  const differ = plan.filter((p) => (byKey.get(key(p)) ?? []).join(',') !== p.replicas.join(','));
  if (differ.length > 0) {
    throw new OperationError(`reassignment ended but ${differ.map((p) => `${key(p)} has replicas [${byKey.get(key(p))?.join(',') ?? ''}], not [${p.replicas.join(',')}]`).join('; ')} (cancelled or replaced by another reassignment?)`);
  }
  await writeOut(io.stdout, `Reassignment of ${plan.length} partition(s) completed in ${((Date.now() - startedMs) / 1000).toFixed(1)} s.\n`);
}

/**
 * The progress of the partitions still moving: how many are done and how far the new
 * replicas are behind (records: the leader's log end offset − the adding replica's; the
 * leader is the non-adding replica with the highest log end).
 */
export function progressLine(total: number, moving: readonly OngoingReassignment[]): { bar: string; text: string } {
  const done = total - moving.length;
  let behind = 0n;
  let slowest: { where: string; broker: number; lag: bigint } | undefined;
  let unknown = 0;
  for (const r of moving) {
    const leos = r.logEndOffsets ?? new Map<number, bigint>();
    const sources = r.replicas.filter((b) => !r.addingReplicas.includes(b)).map((b) => leos.get(b)).filter((v): v is bigint => v !== undefined);
    const leaderLeo = sources.reduce<bigint | undefined>((m, v) => (m === undefined || v > m ? v : m), undefined);
    for (const b of r.addingReplicas) {
      const leo = leos.get(b);
      if (leo === undefined || leaderLeo === undefined) {
        unknown++;
        continue;
      }
      const lag = leaderLeo > leo ? leaderLeo - leo : 0n;
      behind += lag;
      if (!slowest || lag > slowest.lag) slowest = { where: key(r), broker: b, lag };
    }
  }
  const width = 24;
  const fraction = total > 0 ? done / total : 1;
  const filled = Math.round(fraction * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`;
  let text = `${done}/${total} partitions reassigned`;
  if (moving.length > 0) {
    text += `, new replicas ${behind} records behind`;
    if (slowest) text += ` (slowest: ${slowest.where} on broker ${slowest.broker}, ${slowest.lag} behind)`;
    if (unknown > 0) text += `, ${unknown} not answering yet`;
  }
  return { bar, text };
}

async function verify(io: Io, admin: Admin, o: ReassignOptions): Promise<void> {
  const plan = parseReassignment(readFile(o.reassignmentJsonFile, '--reassignment-json-file'));
  const topics = [...new Set(plan.partitions.map((p) => p.topic))];
  const [moving, current] = await Promise.all([admin.listPartitionReassignments({ topics: topics.map((topic) => ({ topic })) }), currentAssignment(admin, topics)]);
  const movingKeys = new Set(moving.map(key));
  const replicas = new Map(current.map((p) => [key(p), p.replicas]));
  const lines = ['Status of partition reassignment:'];
  let inProgress = 0;
  let wrong = 0;
  for (const p of plan.partitions) {
    const now = replicas.get(key(p));
    if (movingKeys.has(key(p))) {
      inProgress++;
      lines.push(`Reassignment of partition ${key(p)} is still in progress.`);
    } else if (now !== undefined && now.join(',') === p.replicas.join(',')) {
      lines.push(`Reassignment of partition ${key(p)} is completed.`);
    } else {
      wrong++;
      lines.push(`There is no active reassignment of partition ${key(p)}, but replica set is [${now?.join(',') ?? 'none: no such partition'}] rather than [${p.replicas.join(',')}].`);
    }
  }
  lines.push('');
  lines.push(
    inProgress === 0
      ? 'No reassignment of these partitions is in progress: no replication throttle is left (the controller removes each one when its reassignment ends).'
      : `${inProgress} still in progress: their replication throttle stays until each completes. Run --verify again later.`,
  );
  await writeOut(io.stdout, `${lines.join('\n')}\n`);
  if (wrong > 0) throw new OperationError(`${wrong} partition(s) do not have the replicas asked for and are not being reassigned (run --execute again, or check for a cancelled reassignment)`);
}

async function cancel(io: Io, admin: Admin, o: ReassignOptions): Promise<void> {
  const plan = parseReassignment(readFile(o.reassignmentJsonFile, '--reassignment-json-file'));
  const outcomes = await admin.alterPartitionReassignments(plan.partitions.map((p) => ({ topic: p.topic, partition: p.partition, replicas: null })));
  const cancelled = outcomes.filter((r) => r.error === undefined);
  const idle = outcomes.filter((r) => r.error?.code === ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
  const failed = outcomes.filter((r) => r.error !== undefined && r.error.code !== ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
  if (cancelled.length > 0) await writeOut(io.stdout, `Successfully cancelled partition reassignment${cancelled.length > 1 ? 's' : ''} for ${cancelled.map(key).join(',')}\n`);
  if (idle.length > 0) await writeOut(io.stdout, `${cancelled.length === 0 ? 'None of the specified partition reassignments are active' : `Not being reassigned: ${idle.map(key).join(',')}`}.\n`);
  if (failed.length > 0) {
    for (const f of failed) await writeOut(io.stderr, `tributary: cancelling ${key(f)} failed: ${f.error!.message}\n`);
    throw new OperationError(`${failed.length} cancellation(s) failed (see above)`);
  }
}

async function list(io: Io, admin: Admin): Promise<void> {
  const moving = await admin.listPartitionReassignments();
  if (moving.length === 0) {
    await writeOut(io.stdout, 'No partition reassignments found.\n');
    return;
  }
  const lines = moving.map(
    (r) =>
      `${key(r)}: replicas: ${r.replicas.join(',')}. adding: ${r.addingReplicas.join(',') || '-'}. removing: ${r.removingReplicas.join(',') || '-'}.${r.throttleBytesPerSecond > 0 ? ` throttle: ${r.throttleBytesPerSecond} B/s.` : ''}`,
  );
  await writeOut(io.stdout, `Current partition reassignments:\n${lines.join('\n')}\n`);
}
