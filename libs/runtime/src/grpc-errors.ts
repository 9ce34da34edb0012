/**
 * Errors across the gRPC boundary, both ways.
 *
 * Server side ({@link toGrpcStatus}): a thrown `TributaryError` becomes the gRPC status of
 * {@link grpcStatusForErrorCode} with the Kafka code in the trailing metadata key
 * `tributary-error-code` (decimal) and its retriability in `tributary-retriable`
 * (`true`/`false`); a {@link GrpcStatusError} is sent as it is (code, message, metadata);
 * anything else is INTERNAL with its message, and the caller logs the stack.
 *
 * Client side ({@link fromGrpcError}): a status carrying `tributary-error-code` becomes the
 * `TributaryError` again (code, message, retriable); any other status a `GrpcStatusError`.
 *
 * The mapping rule: every code Kafka calls retriable maps to UNAVAILABLE (what generic gRPC
 * retry policies retry), except UNKNOWN_TOPIC_OR_PARTITION (NOT_FOUND) and CORRUPT_MESSAGE
 * (DATA_LOSS), whose meaning matters more to a reader; BROKER_NOT_AVAILABLE and
 * REPLICA_NOT_AVAILABLE are UNAVAILABLE too although records' list does not call them
 * retriable. The rest follow gRPC's status guide: invalid input INVALID_ARGUMENT, fencing and
 * group/producer state FAILED_PRECONDITION, authorization PERMISSION_DENIED, SASL
 * UNAUTHENTICATED, unsupported features UNIMPLEMENTED, quotas RESOURCE_EXHAUSTED. The Kafka
 * code in the metadata stays the authority for Tributary's own clients (and its retriable
 * flag travels with it).
 */
import { Metadata, status as Status } from '@grpc/grpc-js';
import { ErrorCode, TributaryError } from '@tributary/records';

export { Status };

/** Trailing metadata key holding the Kafka error code of a failed call (decimal string). */
export const ERROR_CODE_METADATA_KEY = 'tributary-error-code';
/** Trailing metadata key telling whether the Kafka error may be retried (`true`/`false`). */
export const RETRIABLE_METADATA_KEY = 'tributary-retriable';

/**
 * A whole-call failure with a gRPC status outside Kafka's codes (ALREADY_EXISTS with
 * `tributary-coordination-error: NODE_EXISTS`, ...). Handlers throw it; clients receive it
 * for every status without a Kafka code.
 */
export class GrpcStatusError extends Error {
  /** The gRPC status code. */
  readonly code: Status;
  /** The status message (same as `message`; named as in grpc-js `ServiceError`). */
  readonly details: string;
  /** Trailing metadata sent (server) or received (client) with the status. */
  readonly metadata: Metadata;

  /**
   * @param code gRPC status code
   * @param message status message
   * @param metadata trailing metadata, as `Metadata` or a plain object of string values
   */
  constructor(code: Status, message: string, metadata?: Metadata | Record<string, string>, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GrpcStatusError';
    this.code = code;
    this.details = message;
    this.metadata = toMetadata(metadata);
  }

  /** Name of the status code, e.g. `NOT_FOUND`. */
  get codeName(): string {
    return Status[this.code] ?? `STATUS_${this.code}`;
  }

  /** Whether retrying may help: only UNAVAILABLE, as in gRPC's own guidance. */
  get retriable(): boolean {
    return this.code === Status.UNAVAILABLE;
  }
}

/**
 * gRPC status for each Kafka error code. A `Record` over the enum, so adding a code to
 * errors.proto without mapping it here fails to compile.
 */
const STATUS_BY_ERROR_CODE: Record<ErrorCode, Status> = {
  [ErrorCode.NONE]: Status.UNKNOWN, // a bug: nothing should throw NONE
  [ErrorCode.UNKNOWN_SERVER_ERROR]: Status.INTERNAL,
  [ErrorCode.OFFSET_OUT_OF_RANGE]: Status.OUT_OF_RANGE,
  [ErrorCode.CORRUPT_MESSAGE]: Status.DATA_LOSS,
  [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]: Status.NOT_FOUND,
  [ErrorCode.INVALID_FETCH_SIZE]: Status.INVALID_ARGUMENT,
  [ErrorCode.LEADER_NOT_AVAILABLE]: Status.UNAVAILABLE,
  [ErrorCode.NOT_LEADER_OR_FOLLOWER]: Status.UNAVAILABLE,
  [ErrorCode.REQUEST_TIMED_OUT]: Status.UNAVAILABLE,
  [ErrorCode.BROKER_NOT_AVAILABLE]: Status.UNAVAILABLE,
  [ErrorCode.REPLICA_NOT_AVAILABLE]: Status.UNAVAILABLE,
  [ErrorCode.MESSAGE_TOO_LARGE]: Status.INVALID_ARGUMENT,
  [ErrorCode.STALE_CONTROLLER_EPOCH]: Status.FAILED_PRECONDITION,
  [ErrorCode.OFFSET_METADATA_TOO_LARGE]: Status.INVALID_ARGUMENT,
  [ErrorCode.NETWORK_EXCEPTION]: Status.UNAVAILABLE,
  [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]: Status.UNAVAILABLE,
  [ErrorCode.COORDINATOR_NOT_AVAILABLE]: Status.UNAVAILABLE,
  [ErrorCode.NOT_COORDINATOR]: Status.UNAVAILABLE,
  [ErrorCode.INVALID_TOPIC_EXCEPTION]: Status.INVALID_ARGUMENT,
  [ErrorCode.RECORD_LIST_TOO_LARGE]: Status.INVALID_ARGUMENT,
  [ErrorCode.NOT_ENOUGH_REPLICAS]: Status.UNAVAILABLE,
  [ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND]: Status.UNAVAILABLE,
  [ErrorCode.INVALID_REQUIRED_ACKS]: Status.INVALID_ARGUMENT,
  [ErrorCode.ILLEGAL_GENERATION]: Status.FAILED_PRECONDITION,
  [ErrorCode.INCONSISTENT_GROUP_PROTOCOL]: Status.FAILED_PRECONDITION,
  [ErrorCode.INVALID_GROUP_ID]: Status.INVALID_ARGUMENT,
  [ErrorCode.UNKNOWN_MEMBER_ID]: Status.FAILED_PRECONDITION,
  [ErrorCode.INVALID_SESSION_TIMEOUT]: Status.INVALID_ARGUMENT,
  [ErrorCode.REBALANCE_IN_PROGRESS]: Status.ABORTED,
  [ErrorCode.INVALID_COMMIT_OFFSET_SIZE]: Status.INVALID_ARGUMENT,
  [ErrorCode.TOPIC_AUTHORIZATION_FAILED]: Status.PERMISSION_DENIED,
  [ErrorCode.GROUP_AUTHORIZATION_FAILED]: Status.PERMISSION_DENIED,
  [ErrorCode.CLUSTER_AUTHORIZATION_FAILED]: Status.PERMISSION_DENIED,
  [ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED]: Status.PERMISSION_DENIED,
  [ErrorCode.INVALID_TIMESTAMP]: Status.INVALID_ARGUMENT,
  [ErrorCode.UNSUPPORTED_SASL_MECHANISM]: Status.UNAUTHENTICATED,
  [ErrorCode.ILLEGAL_SASL_STATE]: Status.UNAUTHENTICATED,
  [ErrorCode.UNSUPPORTED_VERSION]: Status.UNIMPLEMENTED,
  [ErrorCode.TOPIC_ALREADY_EXISTS]: Status.ALREADY_EXISTS,
  [ErrorCode.INVALID_PARTITIONS]: Status.INVALID_ARGUMENT,
  [ErrorCode.INVALID_REPLICATION_FACTOR]: Status.INVALID_ARGUMENT,
  [ErrorCode.INVALID_REPLICA_ASSIGNMENT]: Status.INVALID_ARGUMENT,
  [ErrorCode.INVALID_CONFIG]: Status.INVALID_ARGUMENT,
  [ErrorCode.NOT_CONTROLLER]: Status.UNAVAILABLE,
  [ErrorCode.INVALID_REQUEST]: Status.INVALID_ARGUMENT,
  [ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT]: Status.UNIMPLEMENTED,
  [ErrorCode.POLICY_VIOLATION]: Status.FAILED_PRECONDITION,
  [ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER]: Status.FAILED_PRECONDITION,
  [ErrorCode.DUPLICATE_SEQUENCE_NUMBER]: Status.ALREADY_EXISTS,
  [ErrorCode.INVALID_PRODUCER_EPOCH]: Status.FAILED_PRECONDITION,
  [ErrorCode.KAFKA_STORAGE_ERROR]: Status.UNAVAILABLE,
  [ErrorCode.LOG_DIR_NOT_FOUND]: Status.NOT_FOUND,
  [ErrorCode.SASL_AUTHENTICATION_FAILED]: Status.UNAUTHENTICATED,
  [ErrorCode.UNKNOWN_PRODUCER_ID]: Status.FAILED_PRECONDITION,
  [ErrorCode.REASSIGNMENT_IN_PROGRESS]: Status.FAILED_PRECONDITION,
  [ErrorCode.NON_EMPTY_GROUP]: Status.FAILED_PRECONDITION,
  [ErrorCode.GROUP_ID_NOT_FOUND]: Status.NOT_FOUND,
  [ErrorCode.UNSTABLE_OFFSET_COMMIT]: Status.UNAVAILABLE,
  [ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE]: Status.UNAVAILABLE,
  [ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE]: Status.UNAVAILABLE,
  [ErrorCode.ELECTION_NOT_NEEDED]: Status.ALREADY_EXISTS,
  [ErrorCode.NO_REASSIGNMENT_IN_PROGRESS]: Status.FAILED_PRECONDITION,
  [ErrorCode.PRODUCER_FENCED]: Status.FAILED_PRECONDITION,
  [ErrorCode.FENCED_LEADER_EPOCH]: Status.UNAVAILABLE,
  [ErrorCode.UNKNOWN_LEADER_EPOCH]: Status.UNAVAILABLE,
  [ErrorCode.UNSUPPORTED_COMPRESSION_TYPE]: Status.UNIMPLEMENTED,
  [ErrorCode.OFFSET_NOT_AVAILABLE]: Status.UNAVAILABLE,
  [ErrorCode.MEMBER_ID_REQUIRED]: Status.FAILED_PRECONDITION,
  [ErrorCode.GROUP_MAX_SIZE_REACHED]: Status.RESOURCE_EXHAUSTED,
  [ErrorCode.FENCED_INSTANCE_ID]: Status.FAILED_PRECONDITION,
  [ErrorCode.INVALID_RECORD]: Status.INVALID_ARGUMENT,
  [ErrorCode.THROTTLING_QUOTA_EXCEEDED]: Status.RESOURCE_EXHAUSTED,
  [ErrorCode.RESOURCE_NOT_FOUND]: Status.NOT_FOUND,
  [ErrorCode.DUPLICATE_RESOURCE]: Status.INVALID_ARGUMENT,
  [ErrorCode.UNACCEPTABLE_CREDENTIAL]: Status.INVALID_ARGUMENT,
};

/** The gRPC status a Kafka error code travels as (UNKNOWN for a code this build does not know). */
export function grpcStatusForErrorCode(code: ErrorCode): Status {
  return STATUS_BY_ERROR_CODE[code] ?? Status.UNKNOWN;
}

/** A status ready to send: what a handler's failure becomes. */
export interface GrpcStatusObject {
  code: Status;
  details: string;
  metadata: Metadata;
  /** True when the error was not one of ours (INTERNAL): the caller should log its stack. */
  unexpected: boolean;
}

/** Converts anything a handler threw into the status to send (see the file header). */
export function toGrpcStatus(e: unknown): GrpcStatusObject {
  if (e instanceof GrpcStatusError) {
    return { code: e.code, details: e.message, metadata: e.metadata.clone(), unexpected: false };
  }
  if (e instanceof TributaryError) {
    const metadata = new Metadata();
    metadata.set(ERROR_CODE_METADATA_KEY, String(e.code));
    metadata.set(RETRIABLE_METADATA_KEY, String(e.retriable));
    return { code: grpcStatusForErrorCode(e.code), details: e.message, metadata, unexpected: false };
  }
  if (isServiceErrorLike(e)) {
    // A status received from a downstream call and rethrown as is: forward it.
    return { code: e.code, details: e.details, metadata: e.metadata.clone(), unexpected: false };
  }
  const details = e instanceof Error ? e.message : String(e);
  return { code: Status.INTERNAL, details, metadata: new Metadata(), unexpected: true };
}

/**
 * Converts an error from a gRPC call into Tributary's errors: a status carrying
 * `tributary-error-code` becomes a `TributaryError`; any other status a `GrpcStatusError`;
 * anything that is not a status is returned unchanged.
 */
export function fromGrpcError(e: unknown): unknown {
  if (e instanceof TributaryError || e instanceof GrpcStatusError) return e;
  if (!isServiceErrorLike(e)) return e;
  const kafkaCode = e.metadata.get(ERROR_CODE_METADATA_KEY)[0];
  if (kafkaCode !== undefined && /^-?\d+$/.test(String(kafkaCode))) {
    const retriable = e.metadata.get(RETRIABLE_METADATA_KEY)[0];
    return new TributaryError(Number(kafkaCode) as ErrorCode, e.details, {
      cause: e,
      ...(retriable === undefined ? {} : { retriable: String(retriable) === 'true' }),
    });
  }
  return new GrpcStatusError(e.code, e.details, e.metadata, { cause: e });
}

/** The shape of grpc-js `ServiceError` (and of anything carrying a status). */
interface ServiceErrorLike {
  code: Status;
  details: string;
  metadata: Metadata;
}

function isServiceErrorLike(e: unknown): e is ServiceErrorLike {
  if (e === null || typeof e !== 'object') return false;
  const o = e as Partial<ServiceErrorLike>;
  return typeof o.code === 'number' && Number.isInteger(o.code) && typeof o.details === 'string' && o.metadata instanceof Metadata;
}

function toMetadata(m: Metadata | Record<string, string> | undefined): Metadata {
  if (m instanceof Metadata) return m;
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(m ?? {})) metadata.set(k, v);
  return metadata;
}
