/**
 * Errors of Tributary's libraries. One base class, `TributaryError`, carries the Kafka wire
 * error code (`ErrorCode` from proto/tributary/v1/errors.proto), whether retrying may help,
 * and the underlying cause. Subclasses are few and specific. Boundaries (gRPC handlers,
 * CLI) normalise anything thrown with `TributaryError.from(e)`.
 *
 * This file lives in the lowest library (records) so that every other library can share it
 * without depending on the network stack.
 */
import { ErrorCode } from '@tributary/proto/errors';

export { ErrorCode };

const RETRIABLE = new Set<ErrorCode>([
  ErrorCode.CORRUPT_MESSAGE,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
  ErrorCode.NOT_CONTROLLER,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.OFFSET_NOT_AVAILABLE,
  ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE,
  ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE,
  ErrorCode.UNSTABLE_OFFSET_COMMIT,
]);

/** Whether a client may retry a request that failed with `code`. */
export function isRetriable(code: ErrorCode): boolean {
  return RETRIABLE.has(code);
}

export interface TributaryErrorOptions {
  cause?: unknown;
  /** Overrides the default retriability of the code. */
  retriable?: boolean;
}

/** Base of every error Tributary raises on purpose. */
export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: TributaryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TributaryError';
    this.code = code;
    this.retriable = options.retriable ?? isRetriable(code);
  }

  /** The Kafka name of the code, e.g. `CORRUPT_MESSAGE`. */
  get codeName(): string {
    return ErrorCode[this.code] ?? `ERROR_${this.code}`;
  }

  /** Normalises anything thrown into a TributaryError (UNKNOWN_SERVER_ERROR if foreign). */
  static from(e: unknown): TributaryError {
    if (e instanceof TributaryError) return e;
    const message = e instanceof Error ? e.message : String(e);
    return new TributaryError(ErrorCode.UNKNOWN_SERVER_ERROR, message, { cause: e });
  }
}

/** Why a record batch was rejected. */
export type CorruptionReason =
  /** Fewer bytes than the header or than batchLength announces. */
  | 'truncated'
  /** magic byte is not 2. */
  | 'bad-magic'
  /** CRC32C over attributes..end does not match the stored CRC. */
  | 'crc-mismatch'
  /** batchLength is negative, below the header size, above the limit, or not the byte count. */
  | 'bad-batch-length'
  /** recordsCount, lastOffsetDelta or a record's varint lengths run past the batch or disagree. */
  | 'bad-records'
  /** Compressed payload cannot be decompressed. */
  | 'bad-compression';

/** A record batch failed validation (Kafka CORRUPT_MESSAGE). */
export class CorruptRecordError extends TributaryError {
  readonly reason: CorruptionReason;
  /** Byte position in the input where the problem was found. */
  readonly position: number;

  constructor(reason: CorruptionReason, message: string, position: number, options: TributaryErrorOptions = {}) {
    super(ErrorCode.CORRUPT_MESSAGE, message, options);
    this.name = 'CorruptRecordError';
    this.reason = reason;
    this.position = position;
  }
}

/** A batch uses a compression codec this build cannot handle (UNSUPPORTED_COMPRESSION_TYPE). */
export class UnsupportedCompressionError extends TributaryError {
  constructor(codec: number) {
    super(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `compression codec ${codec} is not supported by this build`);
    this.name = 'UnsupportedCompressionError';
  }
}
