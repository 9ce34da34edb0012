/**
 * `tributary leaders elect`: Kafka's kafka-leader-election.sh — a PREFERRED or UNCLEAN
 * leader election for one topic (or one of its partitions), every partition, or the
 * partitions listed in a JSON file (`{"partitions": [{"topic": "t", "partition": 0}, ...]}`,
 * Kafka's format), through the SDK's Admin.electLeaders. Output as Kafka prints it:
 *
 *   Successfully completed leader election (PREFERRED) for partitions t-0, t-1
 *   Valid replica already elected for partitions t-2
 *   Error completing leader election (PREFERRED) for partition: t-3: PREFERRED_LEADER_NOT_AVAILABLE: ...
 *
 * Exit 1 when any partition could not be elected ("N replica(s) could not be elected").
 */
import { readFileSync } from 'node:fs';
import { Admin } from '@tributary/client';
import type { ElectionPartitions, ElectionResult, ElectionType } from '@tributary/client';
import { ErrorCode } from '@tributary/records';
import type { GlobalOptions, Io } from '../context';
import { clientOptions, writeOut } from '../context';
import { OperationError, UsageError } from '../errors';

export interface ElectOptions {
  electionType: ElectionType;
  topic?: string;
  partition?: number;
  allTopicPartitions?: boolean;
  pathToJsonFile?: string;
}

/** What to elect, from exactly one of --topic, --all-topic-partitions, --path-to-json-file. */
export function electionScope(o: Omit<ElectOptions, 'electionType'>, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): ElectionPartitions[] | undefined {
  const given = [o.topic !== undefined, o.allTopicPartitions === true, o.pathToJsonFile !== undefined].filter(Boolean).length;
  if (given !== 1) throw new UsageError('give exactly one of --topic, --all-topic-partitions or --path-to-json-file');
  if (o.partition !== undefined && o.topic === undefined) throw new UsageError('--partition needs --topic');
  if (o.topic !== undefined) return [{ topic: o.topic, ...(o.partition === undefined ? {} : { partitions: [o.partition] }) }];
  if (o.allTopicPartitions === true) return undefined;
  const path = o.pathToJsonFile!;
  let text: string;
  try {
    text = readFile(path);
  } catch (e) {
    throw new UsageError(`cannot read --path-to-json-file ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return partitionsFromJson(text, path);
}

/** Kafka's election JSON: `{"partitions": [{"topic": "t", "partition": 0}, ...]}`, grouped by topic in file order. */
export function partitionsFromJson(text: string, path: string): ElectionPartitions[] {
  const expected = `expected {"partitions": [{"topic": "name", "partition": 0}, ...]}`;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path} is not valid JSON (${e instanceof Error ? e.message : String(e)}): ${expected}`);
  }
  const list = (doc as { partitions?: unknown } | null)?.partitions;
  if (!Array.isArray(list) || list.length === 0) throw new UsageError(`${path}: ${expected}, with at least one partition`);
  const byTopic = new Map<string, Set<number>>();
  for (const entry of list) {
    const { topic, partition } = (entry ?? {}) as { topic?: unknown; partition?: unknown };
    if (typeof topic !== 'string' || topic === '' || typeof partition !== 'number' || !Number.isSafeInteger(partition) || partition < 0) {
      throw new UsageError(`${path}: bad entry ${JSON.stringify(entry)}: ${expected}`);
    }
    const seen = byTopic.get(topic) ?? new Set<number>();
    if (seen.has(partition)) throw new UsageError(`${path}: partition ${topic}-${partition} is listed more than once`);
    byTopic.set(topic, seen.add(partition));
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions: [...partitions] }));
}

const name = (r: ElectionResult): string => (r.partition === -1 ? r.topic : `${r.topic}-${r.partition}`);

/** Kafka's report of an election: successes, no-ops, then one line per failure. */
export function formatElection(type: ElectionType, results: readonly ElectionResult[]): { text: string; failed: number } {
  const label = type.toUpperCase();
  const succeeded = results.filter((r) => r.error === undefined);
  const noop = results.filter((r) => r.error?.code === ErrorCode.ELECTION_NOT_NEEDED);
  const failed = results.filter((r) => r.error !== undefined && r.error.code !== ErrorCode.ELECTION_NOT_NEEDED);
  let text = '';
  if (succeeded.length > 0) text += `Successfully completed leader election (${label}) for partitions ${succeeded.map(name).join(', ')}\n`;
  if (noop.length > 0) text += `Valid replica already elected for partitions ${noop.map(name).join(', ')}\n`;
  for (const r of failed) text += `Error completing leader election (${label}) for partition: ${name(r)}: ${ErrorCode[r.error!.code] ?? r.error!.code}: ${r.error!.message}\n`;
  return { text, failed: failed.length };
}

export async function electLeaders(io: Io, global: GlobalOptions, o: ElectOptions): Promise<void> {
  const scope = electionScope(o);
  const admin = new Admin(clientOptions(global));
  let results: ElectionResult[];
  try {
    results = await admin.electLeaders(o.electionType, scope);
  } finally {
    await admin.close();
  }
  const { text, failed } = formatElection(o.electionType, results);
  await writeOut(io.stdout, text);
  if (failed > 0) throw new OperationError(`${failed} replica(s) could not be elected`);
}
