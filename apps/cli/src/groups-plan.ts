/**
 * The pure parts of `tributary groups` (no I/O, unit-tested): kafka-consumer-groups.sh's
 * reset specifications and scopes, the new offsets they give, and the tables it prints.
 *
 * Reset specifications, as kafka-consumer-groups.sh `--reset-offsets`:
 *   --to-earliest, --to-latest, --to-current, --to-offset N, --shift-by ±N,
 *   --to-datetime YYYY-MM-DDTHH:mm:SS.sss[zone], --by-duration PnDTnHnMnS.
 * Offsets outside the log are clamped into [log start, log end] (Kafka warns and does the
 * same). Scopes: `--all-topics` (every topic the group has committed offsets for) or
 * `--topic T` / `--topic T:0,2` (repeatable).
 */
import { InvalidArgumentError } from 'commander';
import { UsageError } from './errors';

/** Where to move the group's offsets. */
export type ResetSpec =
  | { kind: 'to-earliest' }
  | { kind: 'to-latest' }
  | { kind: 'to-current' }
  | { kind: 'to-offset'; offset: bigint }
  | { kind: 'shift-by'; delta: bigint }
  /** to-datetime and by-duration: the first offset whose timestamp is ≥ this epoch ms. */
  | { kind: 'to-timestamp'; timestampMs: number; as: 'to-datetime' | 'by-duration' };

/** One `--topic` argument: a topic, and some of its partitions or all (undefined). */
export interface TopicScope {
  topic: string;
  partitions?: number[];
}

/** What a partition looks like before the reset. */
export interface PartitionState {
  topic: string;
  partition: number;
  /** Committed offset of the group, or undefined when it has none. */
  current: bigint | undefined;
  logStart: bigint;
  logEnd: bigint;
  /** For time-based specs: the offset of the first record at or after the time (logEnd when none). */
  offsetForTime?: bigint;
}

/** One planned change. */
export interface PlannedOffset {
  topic: string;
  partition: number;
  offset: bigint;
}

/** `--topic T` or `--topic T:0,2,5`. */
export function topicScope(value: string, previous: TopicScope[] = []): TopicScope[] {
  const colon = value.lastIndexOf(':');
  if (colon < 0) {
    if (value.length === 0) throw new InvalidArgumentError('expected a topic name, or topic:partition,partition');
    return [...previous, { topic: value }];
  }
  const topic = value.slice(0, colon);
  const list = value.slice(colon + 1);
  if (topic.length === 0 || !/^\d+(,\d+)*$/.test(list)) throw new InvalidArgumentError('expected a topic name, or topic:partition,partition (e.g. orders:0,2)');
  const partitions = [...new Set(list.split(',').map(Number))].sort((a, b) => a - b);
  return [...previous, { topic, partitions }];
}

/** `--to-offset N`: an offset ≥ 0. */
export function offsetArg(value: string): bigint {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected an offset >= 0');
  return BigInt(value.trim());
}

/** `--shift-by ±N`. */
export function shiftArg(value: string): bigint {
  if (!/^[+-]?\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number of records, e.g. -100 or 50');
  return BigInt(value.trim());
}

/**
 * `--by-duration`: an ISO-8601 duration of days, hours, minutes and seconds, as Java's
 * `Duration.parse` (PnDTnHnMn.nS; a leading '-' is refused: a duration looks back in time).
 */
export function durationArg(value: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/i.exec(value.trim());
  if (!m || value.trim().toUpperCase() === 'P' || /T$/i.test(value.trim())) {
    throw new InvalidArgumentError('expected an ISO-8601 duration PnDTnHnMnS, e.g. PT1H (one hour) or P1DT12H');
  }
  const [, d, h, min, s] = m;
  return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(min ?? 0)) * 60_000 + Math.round(Number(s ?? 0) * 1000);
}

/**
 * `--to-datetime`: 'YYYY-MM-DDTHH:mm:SS.sss' as kafka-consumer-groups.sh, seconds and
 * milliseconds optional, with an optional zone (Z, ±hh:mm, ±hhmm); without one the local
 * time zone applies, as Kafka's tool does.
 */
export function dateTimeArg(value: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a date-time YYYY-MM-DDTHH:mm:SS.sss, optionally with a zone (Z, +02:00), e.g. 2026-11-26T10:00:00.000');
  const [, y, mo, d, h, mi, s, ms, zone] = m;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), Number((ms ?? '0').padEnd(3, '0'))] as const;
  let epoch: number;
  if (zone === undefined) {
    epoch = new Date(...fields).getTime();
  } else {
    epoch = Date.UTC(...fields);
    if (zone !== 'Z') {
      const sign = zone.startsWith('-') ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      epoch -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
    }
  }
  // Reject dates that rolled over (2026-02-30) rather than silently moving them.
  const check = zone === undefined ? new Date(epoch) : new Date(Date.UTC(...fields));
  const [cy, cmo, cd] = zone === undefined ? [check.getFullYear(), check.getMonth(), check.getDate()] : [check.getUTCFullYear(), check.getUTCMonth(), check.getUTCDate()];
  if (!Number.isFinite(epoch) || cy !== fields[0] || cmo !== fields[1] || cd !== fields[2] || fields[3] > 23 || fields[4] > 59 || fields[5] > 59) {
    throw new InvalidArgumentError(`'${value}' is not a valid date-time`);
  }
  return epoch;
}

/** The reset spec from the command's flags: exactly one must be given. */
export function resetSpecOf(
  o: { toEarliest?: boolean; toLatest?: boolean; toCurrent?: boolean; toOffset?: bigint; shiftBy?: bigint; toDatetime?: number; byDuration?: number },
  nowMs: number,
): ResetSpec {
  const given: ResetSpec[] = [];
  if (o.toEarliest === true) given.push({ kind: 'to-earliest' });
  if (o.toLatest === true) given.push({ kind: 'to-latest' });
  if (o.toCurrent === true) given.push({ kind: 'to-current' });
  if (o.toOffset !== undefined) given.push({ kind: 'to-offset', offset: o.toOffset });
  if (o.shiftBy !== undefined) given.push({ kind: 'shift-by', delta: o.shiftBy });
  if (o.toDatetime !== undefined) given.push({ kind: 'to-timestamp', timestampMs: o.toDatetime, as: 'to-datetime' });
  if (o.byDuration !== undefined) given.push({ kind: 'to-timestamp', timestampMs: nowMs - o.byDuration, as: 'by-duration' });
  if (given.length !== 1) {
    throw new UsageError(
      `${given.length === 0 ? 'say where to reset to' : 'give only one reset specification'}: one of --to-earliest, --to-latest, --to-current, --to-offset, --shift-by, --to-datetime, --by-duration`,
    );
  }
  return given[0]!;
}

function clamp(offset: bigint, p: PartitionState): bigint {
  if (offset < p.logStart) return p.logStart;
  if (offset > p.logEnd) return p.logEnd;
  return offset;
}

/**
 * The new offset of each partition. Partitions without a committed offset: to-current
 * leaves them out (nothing to keep), shift-by refuses (nothing to shift from), as Kafka.
 */
export function planReset(spec: ResetSpec, partitions: readonly PartitionState[]): PlannedOffset[] {
  const out: PlannedOffset[] = [];
  for (const p of partitions) {
    let offset: bigint;
    switch (spec.kind) {
      case 'to-earliest':
        offset = p.logStart;
        break;
      case 'to-latest':
        offset = p.logEnd;
        break;
      case 'to-current':
        if (p.current === undefined) continue;
        offset = p.current;
        break;
      case 'to-offset':
        offset = clamp(spec.offset, p);
        break;
      case 'shift-by':
        if (p.current === undefined) {
          throw new UsageError(`cannot shift the offset of ${p.topic}-${p.partition}: the group has no committed offset there (use --to-earliest, --to-latest or --to-offset for it)`);
        }
        offset = clamp(p.current + spec.delta, p);
        break;
      case 'to-timestamp':
        offset = clamp(p.offsetForTime ?? p.logEnd, p);
        break;
    }
    out.push({ topic: p.topic, partition: p.partition, offset });
  }
  return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/** Plain columns, left-aligned, two spaces apart (as kafka-consumer-groups.sh prints them). */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `--export` of a plan: kafka-consumer-groups.sh's CSV (`topic,partition,offset`), one line per partition. */
export function planCsv(plan: readonly PlannedOffset[]): string {
  return plan.map((p) => `${p.topic},${p.partition},${p.offset}`).join('\n') + (plan.length > 0 ? '\n' : '');
}

/** A `--from-file` CSV (the same format, as --export writes it). */
export function parsePlanCsv(text: string, what = 'the reset file'): PlannedOffset[] {
  const out: PlannedOffset[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line.length === 0) return;
    const m = /^(.+),(\d+),(\d+)$/.exec(line);
    if (!m) throw new UsageError(`${what}, line ${i + 1}: expected topic,partition,offset, got '${line.slice(0, 80)}'`);
    out.push({ topic: m[1]!, partition: Number(m[2]), offset: BigInt(m[3]!) });
  });
  if (out.length === 0) throw new UsageError(`${what} lists no partitions`);
  return out;
}
