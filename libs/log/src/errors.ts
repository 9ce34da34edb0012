/** Errors raised by the storage engine, each mapped to its Kafka error code. */
import { ErrorCode, TributaryError } from '@tributary/records';
import type { TributaryErrorOptions } from '@tributary/records';

/** The requested offset is outside [logStartOffset, logEndOffset] (OFFSET_OUT_OF_RANGE). */
export class OffsetOutOfRangeError extends TributaryError {
  constructor(
    readonly offset: number,
    readonly logStartOffset: number,
    readonly logEndOffset: number,
    where: string,
  ) {
    super(
      ErrorCode.OFFSET_OUT_OF_RANGE,
      `offset ${offset} of ${where} is out of range: valid offsets are ${logStartOffset} to ${logEndOffset} (reset the position to the earliest or latest offset)`,
    );
    this.name = 'OffsetOutOfRangeError';
  }
}

/** A batch is larger than max.message.bytes (MESSAGE_TOO_LARGE). */
export class RecordTooLargeError extends TributaryError {
  constructor(size: number, limit: number, where: string) {
    super(
      ErrorCode.MESSAGE_TOO_LARGE,
      `record batch of ${size} bytes for ${where} exceeds max.message.bytes ${limit} (send smaller batches or raise the topic's max.message.bytes)`,
    );
    this.name = 'RecordTooLargeError';
  }
}

/**
 * The log (or its whole directory) failed an I/O operation and refuses further writes
 * (KAFKA_STORAGE_ERROR). Sticky: it stays failed until the process restarts and recovers.
 */
export class KafkaStorageError extends TributaryError {
  constructor(message: string, options: TributaryErrorOptions = {}) {
    super(ErrorCode.KAFKA_STORAGE_ERROR, message, options);
    this.name = 'KafkaStorageError';
  }
}

/** A follower append whose offsets do not continue the log (a replication bug or race). */
export class UnexpectedAppendOffsetError extends TributaryError {
  constructor(message: string) {
    super(ErrorCode.UNKNOWN_SERVER_ERROR, message, { retriable: false });
    this.name = 'UnexpectedAppendOffsetError';
  }
}

/** A record the log refuses, e.g. one without a key in a compacted topic (Kafka INVALID_RECORD). */
export class InvalidRecordError extends TributaryError {
  constructor(message: string) {
    super(ErrorCode.INVALID_RECORD, message, { retriable: false });
    this.name = 'InvalidRecordError';
  }
}
