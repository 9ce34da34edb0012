/**
 * Errors as the Confluent REST Proxy reports them: an HTTP status and a JSON body
 * `{"error_code": <int>, "message": "..."}`. `error_code` is either the HTTP status itself
 * (400, 404, 406, 413, 415, 422, 500) or a 5-digit code whose first three digits are the
 * status (Confluent's: 40401 topic not found, 40402 partition not found, 50002 Kafka error,
 * 50003 retriable Kafka error; v3: 40002 Kafka bad request, 40403 unknown topic or
 * partition; 40101 authentication failed, 40301 not authorized; v2 consumers: 40403 unknown instance, 40601 format mismatch, 40902 instance exists,
 * 40903 illegal state, 42204 bad instance setting). `RestError.from` maps anything thrown by the SDK.
 */
import { ErrorCode, TopicOperationError, TributaryError } from '@tributary/client';

/** Confluent's error codes used by the proxy. */
export const RestErrorCode = {
  BAD_REQUEST: 400,
  /** Missing or wrong credentials (Confluent's KAFKA_AUTHENTICATION_ERROR_CODE; also Kafka's SASL_AUTHENTICATION_FAILED). */
  AUTHENTICATION_FAILED: 40101,
  /** Kafka refused the principal (TOPIC/GROUP/CLUSTER/TRANSACTIONAL_ID_AUTHORIZATION_FAILED; Confluent's KAFKA_AUTHORIZATION_ERROR_CODE). */
  AUTHORIZATION_FAILED: 40301,
  /** v3: a Kafka error caused by the request (topic exists, bad config, bad partitions...). */
  KAFKA_BAD_REQUEST: 40002,
  NOT_FOUND: 404,
  /** v2: topic not found. */
  TOPIC_NOT_FOUND: 40401,
  /** v2: partition not found. */
  PARTITION_NOT_FOUND: 40402,
  /** v3: unknown topic or partition (Kafka's UNKNOWN_TOPIC_OR_PARTITION). */
  UNKNOWN_TOPIC_OR_PARTITION: 40403,
  /** v2: consumer instance not found (same number as v3's unknown topic, as Confluent). */
  CONSUMER_INSTANCE_NOT_FOUND: 40403,
  NOT_ACCEPTABLE: 406,
  /** v2: the records request's Accept names another embedded format than the instance's. */
  CONSUMER_FORMAT_MISMATCH: 40601,
  /** v2: a consumer instance with this name exists in the group. */
  CONSUMER_ALREADY_EXISTS: 40902,
  /** v2: Kafka's IllegalStateException (subscribe while assigned, read with no subscription...). */
  ILLEGAL_STATE: 40903,
  TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  /** v2: a bad consumer instance setting. */
  INVALID_CONSUMER_CONFIG: 42204,
  /** Too many consumer instances in this proxy process (--max-consumer-instances). */
  TOO_MANY_CONSUMER_INSTANCES: 42901,
  /** Too many requests of a kind at once (logins in progress); retry (Confluent's 42901). */
  TOO_MANY_REQUESTS: 42901,
  INTERNAL: 500,
  /** A Kafka error that retrying will not fix. */
  KAFKA_ERROR: 50002,
  /** A Kafka error that may pass when retried. */
  KAFKA_RETRIABLE_ERROR: 50003,
} as const;

/** An error answered to the HTTP client as `{error_code, message}` with `status`. */
export class RestError extends Error {
  readonly status: number;
  readonly errorCode: number;

  constructor(errorCode: number, message: string, status = errorCode >= 10_000 ? Math.floor(errorCode / 100) : errorCode) {
    super(message);
    this.name = 'RestError';
    this.errorCode = errorCode;
    this.status = status;
  }

  /** The JSON body. */
  body(): string {
    return JSON.stringify({ error_code: this.errorCode, message: this.message });
  }

  /**
   * Normalises anything thrown into a RestError. `api` picks the code family: v2 answers an
   * unknown topic 40401, v3 40403 (as Confluent's two APIs do).
   */
  static from(e: unknown, api: 'v2' | 'v3' = 'v2'): RestError {
    if (e instanceof RestError) return e;
    if (e instanceof TopicOperationError && e.errors.size === 1) return RestError.from(e.errors.values().next().value, api);
    if (e instanceof TributaryError) {
      switch (e.code) {
        case ErrorCode.SASL_AUTHENTICATION_FAILED:
          return new RestError(RestErrorCode.AUTHENTICATION_FAILED, e.message);
        case ErrorCode.TOPIC_AUTHORIZATION_FAILED:
        case ErrorCode.GROUP_AUTHORIZATION_FAILED:
        case ErrorCode.CLUSTER_AUTHORIZATION_FAILED:
        case ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
          return new RestError(RestErrorCode.AUTHORIZATION_FAILED, e.message);
        case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
          return new RestError(api === 'v2' ? RestErrorCode.TOPIC_NOT_FOUND : RestErrorCode.UNKNOWN_TOPIC_OR_PARTITION, e.message);
        case ErrorCode.TOPIC_ALREADY_EXISTS:
        case ErrorCode.INVALID_TOPIC_EXCEPTION:
        case ErrorCode.INVALID_PARTITIONS:
        case ErrorCode.INVALID_REPLICATION_FACTOR:
        case ErrorCode.INVALID_CONFIG:
        case ErrorCode.INVALID_REQUEST:
        case ErrorCode.POLICY_VIOLATION:
          return new RestError(api === 'v2' ? RestErrorCode.UNPROCESSABLE : RestErrorCode.KAFKA_BAD_REQUEST, e.message);
        case ErrorCode.MESSAGE_TOO_LARGE:
        case ErrorCode.RECORD_LIST_TOO_LARGE:
          return new RestError(RestErrorCode.TOO_LARGE, e.message);
        default:
          return new RestError(e.retriable ? RestErrorCode.KAFKA_RETRIABLE_ERROR : RestErrorCode.KAFKA_ERROR, e.message);
      }
    }
    if (e instanceof RangeError) return new RestError(RestErrorCode.UNPROCESSABLE, e.message);
    return new RestError(RestErrorCode.INTERNAL, e instanceof Error ? e.message : String(e));
  }
}

/** True for Kafka's authorization errors (the principal lacks an ACL). */
export function isAuthorizationError(e: unknown): boolean {
  return RestError.from(e).errorCode === RestErrorCode.AUTHORIZATION_FAILED;
}

/**
 * v2's per-record produce error code (Confluent's errorCodeFromProducerException): 40101 an
 * authentication failure, 40301 an authorization failure, 2 retriable, 1 otherwise.
 */
export function produceErrorCode(e: unknown): number {
  if (e instanceof TributaryError) {
    if (e.code === ErrorCode.SASL_AUTHENTICATION_FAILED) return RestErrorCode.AUTHENTICATION_FAILED;
    if (isAuthorizationError(e)) return RestErrorCode.AUTHORIZATION_FAILED;
  }
  return e instanceof TributaryError && e.retriable ? 2 : 1;
}
