/**
 * Errors the SDK raises itself. Everything a broker or controller answers arrives as a
 * `TributaryError` (Kafka code, message, retriable); these add the client-side cases and
 * messages that say what to do. All extend `TributaryError`, so `err.code` / `err.codeName` /
 * `err.retriable` work on anything the SDK throws.
 */
import { ErrorCode, TributaryError } from '@tributary/records';

/** How to start a local cluster, appended to "cannot reach" errors. */
export const START_HINT = 'is the cluster running? start it with `npm start`';

/** No broker of the bootstrap list (nor any known broker) answered. */
export class NoBrokerAvailableError extends TributaryError {
  /** The addresses tried. */
  readonly addresses: readonly string[];

  /** `tls`: whether the client dialled with TLS (the hint then covers certificates instead). */
  constructor(addresses: readonly string[], cause?: unknown, tls = false) {
    const detail = cause instanceof Error ? ` (${cause.message})` : '';
    const security = tls
      ? 'if the cluster requires client certificates, tls.cert must be signed by a CA it trusts (its --tls-ca-file); a plaintext cluster needs no tls option'
      : "if the cluster's listeners use TLS, set the client's tls option (ca; cert and key when it requires client certificates)";
    super(ErrorCode.NETWORK_EXCEPTION, `no broker reachable at ${addresses.join(', ')}${detail}: ${START_HINT}; ${security}`, {
      cause,
      retriable: true,
    });
    this.name = 'NoBrokerAvailableError';
    this.addresses = addresses;
  }
}

/** A method was called after `close()`. */
export class ClientClosedError extends TributaryError {
  constructor(what: string) {
    super(ErrorCode.UNKNOWN_SERVER_ERROR, `the ${what} is closed: create a new one`, { retriable: false });
    this.name = 'ClientClosedError';
  }
}

/** The topic does not exist (after waiting `metadataWaitMs` for it to appear). */
export class UnknownTopicError extends TributaryError {
  readonly topic: string;

  constructor(topic: string, options: { cause?: unknown } = {}) {
    super(
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      `topic '${topic}' does not exist (create it with \`tributary topics create ${topic}\`)`,
      { ...options, retriable: false },
    );
    this.name = 'UnknownTopicError';
    this.topic = topic;
  }
}

/** Consumer: no position and `autoOffsetReset: 'none'`, or a fetch fell outside the log with it. */
export class OffsetOutOfRangeError extends TributaryError {
  readonly topic: string;
  readonly partition: number;
  /** The offset that was out of range, or undefined when there was no position at all. */
  readonly offset: bigint | undefined;

  constructor(topic: string, partition: number, offset: bigint | undefined) {
    super(
      ErrorCode.OFFSET_OUT_OF_RANGE,
      offset === undefined
        ? `${topic}-${partition} has no position and autoOffsetReset is 'none': seek() it first, or use autoOffsetReset 'earliest' or 'latest'`
        : `offset ${offset} is out of range for ${topic}-${partition} and autoOffsetReset is 'none': seek() to a valid offset ` +
            '(the log start moves with retention), or use autoOffsetReset earliest or latest',
      { retriable: false },
    );
    this.name = 'OffsetOutOfRangeError';
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
  }
}

/** A request could not complete within its time bound (delivery.timeout.ms, metadataWaitMs, ...). */
export class ClientTimeoutError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCode.REQUEST_TIMED_OUT, message, { cause, retriable: true });
    this.name = 'ClientTimeoutError';
  }
}

/**
 * An Admin call on several topics where some failed. `errors` has one entry per failed topic
 * (a `TributaryError` with the controller's code and message); `code` is the first failure's.
 * The other topics succeeded.
 */
export class TopicOperationError extends TributaryError {
  /** Failed topic → why. */
  readonly errors: ReadonlyMap<string, TributaryError>;

  constructor(operation: string, errors: ReadonlyMap<string, TributaryError>) {
    const first = errors.values().next().value as TributaryError;
    const lines = [...errors].map(([topic, e]) => `${topic}: ${e.message}`);
    super(first.code, errors.size === 1 ? `${operation} failed: ${lines[0]}` : `${operation} failed for ${errors.size} topics: ${lines.join('; ')}`, {
      cause: first,
      retriable: false,
    });
    this.name = 'TopicOperationError';
    this.errors = errors;
  }
}

/** Adds "what to do" to a broker's or controller's per-topic/partition error. */
export function explain(code: ErrorCode, message: string, topic?: string): TributaryError {
  let hint = '';
  switch (code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      if (topic !== undefined) hint = ` (create it with \`tributary topics create ${topic}\`)`;
      break;
    case ErrorCode.TOPIC_ALREADY_EXISTS:
      hint = ' (choose another name, or delete it first with `tributary topics delete`)';
      break;
    case ErrorCode.INVALID_REPLICATION_FACTOR:
      hint = ' (list the live brokers with `tributary cluster describe`)';
      break;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
      hint = " (send smaller records, or raise the topic's max.message.bytes)";
      break;
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      hint = ' (fewer in-sync replicas than min.insync.replicas: bring brokers back, or produce with acks=1)';
      break;
    default:
  }
  const text = message === '' ? (ErrorCode[code] ?? `error ${code}`) : message;
  return new TributaryError(code, `${topic !== undefined && !text.includes(topic) ? `${topic}: ` : ''}${text}${hint}`);
}

/**
 * A group commit was refused because this consumer is no longer a member of the group's
 * current generation (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID) or the group
 * is rebalancing (REBALANCE_IN_PROGRESS): its partitions may already belong to another member.
 * `code` is the coordinator's. Not retriable as is: the consumer rejoins by itself; poll, then
 * commit what it consumes after the rebalance.
 */
export class CommitFailedError extends TributaryError {
  constructor(groupId: string, code: ErrorCode, message: string) {
    super(
      code,
      `commit for group '${groupId}' failed: ${message || (ErrorCode[code] ?? `error ${code}`)}. ` +
        'The group rebalanced (or this member was removed, e.g. after max.poll.interval.ms without poll): ' +
        'the consumer rejoins at its next poll; commit again what it consumes after that',
      { retriable: false },
    );
    this.name = 'CommitFailedError';
  }
}

/** A group call on a consumer without `groupId` (Kafka's InvalidGroupIdException). */
export class InvalidGroupIdError extends TributaryError {
  constructor(what: string) {
    super(ErrorCode.INVALID_GROUP_ID, `${what} needs a consumer group: create the Consumer with a groupId`, { retriable: false });
    this.name = 'InvalidGroupIdError';
  }
}

/**
 * The group failed in a way rejoining cannot fix: FENCED_INSTANCE_ID (another consumer took
 * this groupInstanceId), INCONSISTENT_GROUP_PROTOCOL (no assignor shared with the group's
 * members), INVALID_SESSION_TIMEOUT (outside the coordinator's bounds), GROUP_MAX_SIZE_REACHED.
 * Thrown by the next poll; the consumer stays out of the group.
 */
export class GroupMembershipError extends TributaryError {
  readonly groupId: string;

  constructor(groupId: string, code: ErrorCode, message: string) {
    super(code, `consumer group '${groupId}': ${message || (ErrorCode[code] ?? `error ${code}`)}${membershipHint(code)}`, { retriable: false });
    this.name = 'GroupMembershipError';
    this.groupId = groupId;
  }
}

function membershipHint(code: ErrorCode): string {
  switch (code) {
    case ErrorCode.FENCED_INSTANCE_ID:
      return ' (another consumer uses the same groupInstanceId: give each consumer its own)';
    case ErrorCode.INCONSISTENT_GROUP_PROTOCOL:
      return ' (configure partitionAssignors with at least one assignor every member of the group has)';
    case ErrorCode.INVALID_SESSION_TIMEOUT:
      return " (choose a sessionTimeoutMs within the coordinator's group.min/max.session.timeout.ms)";
    case ErrorCode.GROUP_MAX_SIZE_REACHED:
      return ' (the group has group.max.size members already)';
    default:
      return '';
  }
}
