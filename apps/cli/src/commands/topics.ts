/**
 * `tributary topics ...`: create, list, describe, delete, alter-config, add-partitions — the
 * controller's Admin API through the SDK's Admin (which finds the active controller through
 * broker metadata). Output and messages follow kafka-topics.sh.
 */
import type { TopicConfigs, TopicInfo } from '@tributary/client';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { GlobalOptions, Io } from '../context';
import { withAdmin, hasCode, noSuchTopic, writeOut } from '../context';
import { OperationError, UsageError } from '../errors';

export interface CreateOptions {
  partitions?: number;
  replicationFactor?: number;
  config?: Array<[string, string]>;
  ifNotExists?: boolean;
  validateOnly?: boolean;
}

export async function createTopic(io: Io, global: GlobalOptions, name: string, o: CreateOptions): Promise<void> {
  const configs = Object.fromEntries(o.config ?? []);
  await withAdmin(global, async (admin) => {
    try {
      const [created] = await admin.createTopics(
        [
          {
            name,
            ...(o.partitions === undefined ? {} : { numPartitions: o.partitions }),
            ...(o.replicationFactor === undefined ? {} : { replicationFactor: o.replicationFactor }),
            configs,
          },
        ],
        { validateOnly: o.validateOnly === true },
      );
      const detail = created === undefined ? '' : ` (${created.numPartitions} partitions, replication factor ${created.replicationFactor})`;
      await writeOut(io.stdout, o.validateOnly === true ? `Topic ${name} is valid${detail}: nothing created (--validate-only).\n` : `Created topic ${name}${detail}.\n`);
    } catch (e) {
      if (o.ifNotExists === true && hasCode(e, ErrorCode.TOPIC_ALREADY_EXISTS)) return;
      throw e;
    }
  });
}

export async function listTopics(io: Io, global: GlobalOptions, o: { json?: boolean }): Promise<void> {
  const names = await withAdmin(global, (admin) => admin.listTopics());
  await writeOut(io.stdout, o.json === true ? `${JSON.stringify(names)}\n` : names.map((n) => `${n}\n`).join(''));
}

/** A topic as `describe --json` prints it. */
export interface TopicDescription {
  name: string;
  partitionCount: number;
  replicationFactor: number;
  /** Overrides only (configs left at their default are not listed), as kafka-topics does. */
  configs: Record<string, string>;
  partitions: Array<{ partition: number; leader: number; leaderEpoch: number; replicas: number[]; isr: number[]; offline: number[] }>;
}

export async function describeTopics(io: Io, global: GlobalOptions, names: string[], o: { json?: boolean }): Promise<void> {
  const descriptions = await withAdmin(global, async (admin) => {
    let topics: TopicInfo[];
    try {
      topics = await admin.describeTopics(names.length === 0 ? undefined : names);
    } catch (e) {
      throw unknownTopics(e, names);
    }
    for (const n of names) if (!topics.some((t) => t.name === n)) throw new OperationError(noSuchTopic(n));
    topics.sort((a, b) => a.name.localeCompare(b.name));
    const [configs, cluster] = await Promise.all([
      topics.length === 0 ? Promise.resolve<TopicConfigs[]>([]) : admin.describeConfigs(topics.map((t) => t.name)),
      admin.describeCluster(),
    ]);
    const live = new Set(cluster.brokers.map((b) => b.id));
    return topics.map((t): TopicDescription => {
      const partitions = [...t.partitions].sort((a, b) => a.partition - b.partition);
      const overrides = configs.find((c) => c.topic === t.name)?.entries.filter((e) => !e.isDefault) ?? [];
      return {
        name: t.name,
        partitionCount: partitions.length,
        replicationFactor: partitions[0]?.replicas.length ?? 0,
        configs: Object.fromEntries(overrides.map((e) => [e.name, e.value])),
        partitions: partitions.map((p) => ({
          partition: p.partition,
          leader: p.leader,
          leaderEpoch: p.leaderEpoch,
          replicas: p.replicas,
          isr: p.isr,
          offline: p.replicas.filter((r) => !live.has(r)),
        })),
      };
    });
  });
  if (o.json === true) {
    await writeOut(io.stdout, `${JSON.stringify(descriptions)}\n`);
    return;
  }
  await writeOut(io.stdout, descriptions.map(formatDescription).join(''));
}

/** kafka-topics.sh --describe layout: a topic line, then a tab-indented line per partition. */
export function formatDescription(d: TopicDescription): string {
  const configs = Object.entries(d.configs)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  let out = `Topic: ${d.name}\tPartitionCount: ${d.partitionCount}\tReplicationFactor: ${d.replicationFactor}\tConfigs: ${configs}\n`;
  for (const p of d.partitions) {
    out +=
      `\tTopic: ${d.name}\tPartition: ${p.partition}\tLeader: ${p.leader < 0 ? 'none' : p.leader}` +
      `\tReplicas: ${p.replicas.join(',')}\tIsr: ${p.isr.join(',')}\tOffline: ${p.offline.join(',')}\n`;
  }
  return out;
}

export async function deleteTopics(io: Io, global: GlobalOptions, names: string[], o: { ifExists?: boolean }): Promise<void> {
  await withAdmin(global, async (admin) => {
    let missing = new Set<string>();
    try {
      await admin.deleteTopics(names);
    } catch (e) {
      if (o.ifExists !== true) throw unknownTopics(e, names);
      // --if-exists: topics that do not exist are fine; any other failure is not.
      const perTopic = (e as { errors?: unknown }).errors;
      if (perTopic instanceof Map) {
        for (const [topic, err] of perTopic as Map<string, unknown>) {
          if (err instanceof TributaryError && err.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) missing.add(topic);
          else throw e;
        }
      } else if (hasCode(e, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) && names.length === 1) {
        missing = new Set(names);
      } else throw e;
    }
    await writeOut(
      io.stdout,
      names
        .filter((n) => !missing.has(n))
        .map((n) => `Deleted topic ${n}.\n`)
        .join(''),
    );
  });
}

export async function alterConfig(io: Io, global: GlobalOptions, name: string, o: { set?: Array<[string, string]>; delete?: string[] }): Promise<void> {
  const set = Object.fromEntries(o.set ?? []);
  const del = o.delete ?? [];
  if (Object.keys(set).length === 0 && del.length === 0) {
    throw new UsageError(`nothing to change: give --set key=value and/or --delete key (see \`tributary topics alter-config --help\`)`);
  }
  const both = del.filter((k) => k in set);
  if (both.length > 0) throw new UsageError(`config ${both.join(', ')} is both set and deleted: give each key once`);
  await withAdmin(global, async (admin) => {
    try {
      await admin.alterConfigs([{ topic: name, set, delete: del }]);
    } catch (e) {
      throw unknownTopics(e, [name]);
    }
  });
  await writeOut(io.stdout, `Updated config of topic ${name}.\n`);
}

export async function addPartitions(io: Io, global: GlobalOptions, name: string, o: { partitions: number; validateOnly?: boolean }): Promise<void> {
  await withAdmin(global, async (admin) => {
    try {
      await admin.createPartitions([{ topic: name, count: o.partitions }], { validateOnly: o.validateOnly === true });
    } catch (e) {
      throw unknownTopics(e, [name]);
    }
  });
  await writeOut(
    io.stdout,
    o.validateOnly === true ? `Topic ${name} can grow to ${o.partitions} partitions: nothing changed (--validate-only).\n` : `Topic ${name} now has ${o.partitions} partitions.\n`,
  );
}

/** Replaces an unknown-topic failure on one of `names` by the CLI's message; other errors pass. */
function unknownTopics(e: unknown, names: readonly string[]): unknown {
  if (names.length === 1 && hasCode(e, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)) return new OperationError(noSuchTopic(names[0]!), { cause: e });
  return e;
}
