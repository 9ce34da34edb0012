/**
 * `tributary leaders elect` without a cluster: which partitions the options select (Kafka's
 * kafka-leader-election.sh rules and JSON file format) and the report it prints. The
 * command against real processes is in apps/controller/src/leader-election.spec.ts.
 */
import { ErrorCode, TributaryError } from '@tributary/records';
import { UsageError } from '../errors';
import { electionScope, formatElection, partitionsFromJson } from './leaders';

describe('electionScope', () => {
  it('selects a topic, one of its partitions, or everything', () => {
    expect(electionScope({ topic: 't' })).toEqual([{ topic: 't' }]);
    expect(electionScope({ topic: 't', partition: 2 })).toEqual([{ topic: 't', partitions: [2] }]);
    expect(electionScope({ allTopicPartitions: true })).toBeUndefined();
  });

  it('needs exactly one of --topic, --all-topic-partitions, --path-to-json-file, and --topic for --partition', () => {
    expect(() => electionScope({})).toThrow(UsageError);
    expect(() => electionScope({ topic: 't', allTopicPartitions: true })).toThrow(/exactly one of/);
    expect(() => electionScope({ allTopicPartitions: true, partition: 1 })).toThrow('--partition needs --topic');
  });

  it('reads the JSON file, and reports an unreadable one as a usage error', () => {
    const file = JSON.stringify({ partitions: [{ topic: 'a', partition: 1 }, { topic: 'b', partition: 0 }, { topic: 'a', partition: 0 }] });
    expect(electionScope({ pathToJsonFile: 'f.json' }, () => file)).toEqual([
      { topic: 'a', partitions: [1, 0] },
      { topic: 'b', partitions: [0] },
    ]);
    expect(() =>
      electionScope({ pathToJsonFile: '/nope.json' }, () => {
        throw new Error('ENOENT');
      }),
    ).toThrow(/cannot read --path-to-json-file \/nope.json: ENOENT/);
  });
});

describe('partitionsFromJson', () => {
  it.each([
    ['not JSON', '{'],
    ['no partitions', '{}'],
    ['an empty list', '{"partitions": []}'],
    ['a negative partition', '{"partitions": [{"topic": "a", "partition": -1}]}'],
    ['a missing topic', '{"partitions": [{"partition": 0}]}'],
    ['a duplicate', '{"partitions": [{"topic": "a", "partition": 0}, {"topic": "a", "partition": 0}]}'],
  ])('refuses %s', (_what, text) => {
    expect(() => partitionsFromJson(text, 'f.json')).toThrow(UsageError);
  });
});

describe('formatElection', () => {
  const error = (code: ErrorCode, message: string) => new TributaryError(code, message);
  it("prints Kafka's lines: elected, already elected, then each failure, and counts the failures", () => {
    const { text, failed } = formatElection('preferred', [
      { topic: 't', partition: 0, leader: 1 },
      { topic: 't', partition: 1, leader: 2, error: error(ErrorCode.ELECTION_NOT_NEEDED, 'the preferred replica 2 already leads') },
      { topic: 't', partition: 2, leader: 2 },
      { topic: 'u', partition: 0, leader: 3, error: error(ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, 'the preferred replica 1 is not alive') },
      { topic: 'gone', partition: -1, leader: -1, error: error(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "topic 'gone' does not exist") },
    ]);
    expect(text).toBe(
      'Successfully completed leader election (PREFERRED) for partitions t-0, t-2\n' +
        'Valid replica already elected for partitions t-1\n' +
        'Error completing leader election (PREFERRED) for partition: u-0: PREFERRED_LEADER_NOT_AVAILABLE: the preferred replica 1 is not alive\n' +
        "Error completing leader election (PREFERRED) for partition: gone: UNKNOWN_TOPIC_OR_PARTITION: topic 'gone' does not exist\n",
    );
    expect(failed).toBe(2);
  });

  it('prints only the no-op line when every leader is already the right one', () => {
    const r = formatElection('unclean', [{ topic: 't', partition: 0, leader: 1, error: error(ErrorCode.ELECTION_NOT_NEEDED, 'alive') }]);
    expect(r).toEqual({ text: 'Valid replica already elected for partitions t-0\n', failed: 0 });
  });
});
