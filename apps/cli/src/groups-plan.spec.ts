import { InvalidArgumentError } from 'commander';
import { UsageError } from './errors';
import { dateTimeArg, durationArg, formatTable, offsetArg, parsePlanCsv, planCsv, planReset, resetSpecOf, shiftArg, topicScope } from './groups-plan';
import type { PartitionState } from './groups-plan';

const partitions: PartitionState[] = [
  { topic: 'orders', partition: 1, current: 40n, logStart: 10n, logEnd: 100n, offsetForTime: 55n },
  { topic: 'orders', partition: 0, current: undefined, logStart: 0n, logEnd: 50n },
  { topic: 'audit', partition: 0, current: 5n, logStart: 0n, logEnd: 5n, offsetForTime: 5n },
];

describe('topic scopes', () => {
  it('reads a topic alone or with partitions, repeatable', () => {
    expect(topicScope('orders')).toEqual([{ topic: 'orders' }]);
    expect(topicScope('orders:2,0,2', [{ topic: 'a' }])).toEqual([{ topic: 'a' }, { topic: 'orders', partitions: [0, 2] }]);
  });
  it('refuses empty names and bad partition lists', () => {
    for (const bad of ['', ':1', 'orders:', 'orders:a', 'orders:1,,2']) expect(() => topicScope(bad)).toThrow(InvalidArgumentError);
  });
});

describe('argument parsers', () => {
  it('reads offsets and shifts', () => {
    expect(offsetArg('42')).toBe(42n);
    expect(shiftArg('-100')).toBe(-100n);
    expect(shiftArg('+7')).toBe(7n);
    expect(() => offsetArg('-1')).toThrow(InvalidArgumentError);
    expect(() => shiftArg('1.5')).toThrow(InvalidArgumentError);
  });
  it('reads ISO-8601 durations as Java Duration.parse', () => {
    expect(durationArg('PT1H')).toBe(3_600_000);
    expect(durationArg('P1DT12H')).toBe(36 * 3_600_000);
    expect(durationArg('PT1M30.5S')).toBe(90_500);
    expect(durationArg('P2D')).toBe(2 * 86_400_000);
    for (const bad of ['P', 'PT', '1H', 'PT-1H', 'P1H', '-PT1H', 'PT1.2345S']) expect(() => durationArg(bad)).toThrow(InvalidArgumentError);
  });
  it('reads date-times with a zone, and refuses impossible dates', () => {
    expect(dateTimeArg('2026-11-26T10:00:00.000Z')).toBe(Date.UTC(2026, 10, 26, 10));
    expect(dateTimeArg('2026-11-26T10:00+02:00')).toBe(Date.UTC(2026, 10, 26, 8));
    expect(dateTimeArg('2026-11-26T10:00:05.5-0130')).toBe(Date.UTC(2026, 10, 26, 11, 30, 5, 500));
    expect(dateTimeArg('2026-11-26T10:00:00')).toBe(new Date(2026, 10, 26, 10).getTime());
    for (const bad of ['2026-02-30T00:00:00Z', '2026-11-26', '2026-11-26T25:00:00Z', 'yesterday']) expect(() => dateTimeArg(bad)).toThrow(InvalidArgumentError);
  });
});

describe('reset specification', () => {
  it('needs exactly one', () => {
    expect(() => resetSpecOf({}, 0)).toThrow(UsageError);
    expect(() => resetSpecOf({ toEarliest: true, toLatest: true }, 0)).toThrow(/only one/);
    expect(resetSpecOf({ byDuration: 1000 }, 5000)).toEqual({ kind: 'to-timestamp', timestampMs: 4000, as: 'by-duration' });
  });
});

describe('planReset', () => {
  const offsets = (spec: Parameters<typeof planReset>[0]) => planReset(spec, partitions).map((p) => `${p.topic}-${p.partition}=${p.offset}`);

  it('moves to the log start or end, sorted by topic and partition', () => {
    expect(offsets({ kind: 'to-earliest' })).toEqual(['audit-0=0', 'orders-0=0', 'orders-1=10']);
    expect(offsets({ kind: 'to-latest' })).toEqual(['audit-0=5', 'orders-0=50', 'orders-1=100']);
  });
  it('keeps current offsets, leaving out partitions without one', () => {
    expect(offsets({ kind: 'to-current' })).toEqual(['audit-0=5', 'orders-1=40']);
  });
  it('clamps --to-offset and --shift-by into the log', () => {
    expect(offsets({ kind: 'to-offset', offset: 60n })).toEqual(['audit-0=5', 'orders-0=50', 'orders-1=60']);
    expect(offsets({ kind: 'to-offset', offset: 3n })).toEqual(['audit-0=3', 'orders-0=3', 'orders-1=10']);
    const withCurrent = partitions.filter((p) => p.current !== undefined);
    expect(planReset({ kind: 'shift-by', delta: -35n }, withCurrent).map((p) => p.offset)).toEqual([0n, 10n]);
    expect(planReset({ kind: 'shift-by', delta: 1000n }, withCurrent).map((p) => p.offset)).toEqual([5n, 100n]);
  });
  it('refuses to shift a partition without a committed offset, naming it', () => {
    expect(() => planReset({ kind: 'shift-by', delta: 1n }, partitions)).toThrow(/orders-0/);
  });
  it('moves to the offset for a time, or the end when no record is that recent', () => {
    expect(offsets({ kind: 'to-timestamp', timestampMs: 1, as: 'to-datetime' })).toEqual(['audit-0=5', 'orders-0=50', 'orders-1=55']);
  });
});

describe('tables and files', () => {
  it('aligns columns two spaces apart without trailing blanks', () => {
    expect(formatTable(['GROUP', 'LAG'], [['g', '10'], ['a-longer-group', '']])).toBe('GROUP           LAG\ng               10\na-longer-group\n');
  });
  it('round-trips a plan through --export / --from-file CSV and refuses bad lines', () => {
    const plan = [{ topic: 'a,b', partition: 0, offset: 5n }, { topic: 'c', partition: 3, offset: 0n }];
    expect(parsePlanCsv(planCsv(plan))).toEqual(plan);
    expect(() => parsePlanCsv('a,1\n')).toThrow(/line 1/);
    expect(() => parsePlanCsv('\n')).toThrow(/no partitions/);
  });
});
