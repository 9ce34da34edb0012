import { ErrorCode, TributaryError } from '@tributary/records';
import { writeErrorCode } from './coordinator';

describe("writeErrorCode (Kafka's mapping of a failed __consumer_offsets append)", () => {
  const err = (code: ErrorCode): TributaryError => new TributaryError(code, 'x');

  it('sends clients back to FindCoordinator for leadership and availability failures', () => {
    expect(writeErrorCode(err(ErrorCode.NOT_LEADER_OR_FOLLOWER), true)).toBe(ErrorCode.NOT_COORDINATOR);
    expect(writeErrorCode(err(ErrorCode.KAFKA_STORAGE_ERROR), false)).toBe(ErrorCode.NOT_COORDINATOR);
    for (const code of [ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.REQUEST_TIMED_OUT]) {
      expect(writeErrorCode(err(code), true)).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
    expect(writeErrorCode(new Error('socket hang up'), false)).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });

  it('answers a too large commit INVALID_COMMIT_OFFSET_SIZE, a too large group UNKNOWN_SERVER_ERROR', () => {
    expect(writeErrorCode(err(ErrorCode.MESSAGE_TOO_LARGE), true)).toBe(ErrorCode.INVALID_COMMIT_OFFSET_SIZE);
    expect(writeErrorCode(err(ErrorCode.RECORD_LIST_TOO_LARGE), false)).toBe(ErrorCode.UNKNOWN_SERVER_ERROR);
  });
});
