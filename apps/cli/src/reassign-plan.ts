/**
 * The JSON files of `tributary partitions reassign`, in kafka-reassign-partitions.sh's
 * formats, and the plan generator of `--generate`.
 *
 * Topics to move (`--topics-to-move-json-file`):
 *   {"version":1,"topics":[{"topic":"orders"},{"topic":"payments"}]}
 * Reassignment (`--reassignment-json-file`; also what --generate proposes and --execute
 * prints as the rollback of the current assignment; `log_dirs` is accepted and ignored):
 *   {"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[1,2]}]}
 */
import { InvalidArgumentError } from 'commander';
import { UsageError } from './errors';

/** One partition's replicas, preferred leader first. */
export interface PartitionReplicas {
  topic: string;
  partition: number;
  replicas: number[];
}

/** A reassignment file's contents. */
export interface ReassignmentPlan {
  version: 1;
  partitions: PartitionReplicas[];
}

function parseJsonText(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`${what} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isBrokerId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Topic names of a --topics-to-move-json-file. */
export function parseTopicsToMove(text: string, what = 'the topics-to-move JSON file'): string[] {
  const doc = parseJsonText(text, what);
  if (!isObject(doc) || !Array.isArray(doc.topics)) throw new UsageError(`${what} must look like {"version":1,"topics":[{"topic":"name"}]}`);
  const topics = doc.topics.map((t, i) => {
    if (!isObject(t) || typeof t.topic !== 'string' || t.topic.length === 0) throw new UsageError(`${what}: topics[${i}] has no "topic" name`);
    return t.topic;
  });
  if (topics.length === 0) throw new UsageError(`${what} lists no topics`);
  return [...new Set(topics)];
}

/** A --reassignment-json-file, checked like kafka-reassign-partitions (duplicates refused). */
export function parseReassignment(text: string, what = 'the reassignment JSON file'): ReassignmentPlan {
  const doc = parseJsonText(text, what);
  if (!isObject(doc) || !Array.isArray(doc.partitions)) {
    throw new UsageError(`${what} must look like {"version":1,"partitions":[{"topic":"name","partition":0,"replicas":[1,2]}]}`);
  }
  const seen = new Set<string>();
  const partitions = doc.partitions.map((p, i): PartitionReplicas => {
    if (!isObject(p) || typeof p.topic !== 'string' || p.topic.length === 0) throw new UsageError(`${what}: partitions[${i}] has no "topic"`);
    if (!isBrokerId(p.partition)) throw new UsageError(`${what}: partitions[${i}] (${p.topic}) needs a "partition" number ≥ 0`);
    if (!Array.isArray(p.replicas) || p.replicas.length === 0 || !p.replicas.every(isBrokerId)) {
      throw new UsageError(`${what}: ${p.topic}-${p.partition} needs "replicas": a non-empty list of broker ids`);
    }
    const replicas = p.replicas;
    if (new Set(replicas).size !== replicas.length) throw new UsageError(`${what}: ${p.topic}-${p.partition} lists a broker twice in its replicas [${replicas.join(',')}]`);
    const key = `${p.topic}-${p.partition}`;
    if (seen.has(key)) throw new UsageError(`${what}: ${key} appears more than once`);
    seen.add(key);
    return { topic: p.topic, partition: p.partition, replicas };
  });
  if (partitions.length === 0) throw new UsageError(`${what} lists no partitions`);
  return { version: 1, partitions };
}

/** The file text of a plan: Kafka's one-line JSON. */
export function formatPlan(partitions: readonly PartitionReplicas[]): string {
  const sorted = [...partitions].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  return JSON.stringify({ version: 1, partitions: sorted.map((p) => ({ topic: p.topic, partition: p.partition, replicas: p.replicas, log_dirs: p.replicas.map(() => 'any') })) });
}

/** A stable start index per topic (so the same request proposes the same plan), Kafka's start index otherwise being random. */
function startIndex(topic: string, brokers: number): number {
  let h = 0;
  for (let i = 0; i < topic.length; i++) h = (h * 31 + topic.charCodeAt(i)) >>> 0;
  return h % brokers;
}

/**
 * --generate: a new assignment of each partition of the given topics over `brokers`, keeping
 * each partition's replication factor (Kafka's AdminUtils.assignReplicasToBrokers, without
 * racks): leaders round-robin from a start index, followers each shifted by one more broker
 * every full round, so leaders and replicas spread evenly and no broker appears twice.
 */
export function proposeAssignment(current: readonly PartitionReplicas[], brokerList: readonly number[]): PartitionReplicas[] {
  const brokers = [...new Set(brokerList)].sort((a, b) => a - b);
  if (brokers.length === 0) throw new UsageError('--broker-list names no broker');
  const byTopic = new Map<string, PartitionReplicas[]>();
  for (const p of current) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p]);
  const proposed: PartitionReplicas[] = [];
  for (const [topic, partitions] of byTopic) {
    const n = brokers.length;
    const start = startIndex(topic, n);
    for (const p of [...partitions].sort((a, b) => a.partition - b.partition)) {
      const rf = p.replicas.length;
      if (rf > n) throw new UsageError(`${topic}-${p.partition} has ${rf} replicas but --broker-list names only ${n} broker(s) (${brokers.join(',')})`);
      const first = (start + p.partition) % n;
      const shift = 1 + (Math.floor(p.partition / n) % Math.max(1, n - 1));
      const replicas = [brokers[first]!];
      for (let j = 0; j < rf - 1; j++) replicas.push(brokers[(first + 1 + ((shift - 1 + j) % (n - 1))) % n]!);
      proposed.push({ topic, partition: p.partition, replicas });
    }
  }
  return proposed;
}

/** Parses --broker-list `1,2,3` (commander argParser). */
export function brokerList(value: string): number[] {
  const ids = value.split(',').map((s) => s.trim());
  if (ids.some((s) => !/^\d+$/.test(s))) throw new InvalidArgumentError(`expected broker ids separated by commas, e.g. 1,2,3`);
  return ids.map(Number);
}
