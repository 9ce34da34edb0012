/**
 * Kafka's rules for topic names (org.apache.kafka.common.internals.Topic): 1–249 characters
 * of [a-zA-Z0-9._-], not "." or "..". Names that differ only by '.' versus '_' collide in
 * metric names, so creating one when the other exists is refused too.
 */
import { ErrorCode, TributaryError } from '@tributary/records';

export const MAX_TOPIC_NAME_LENGTH = 249;
const LEGAL = /^[a-zA-Z0-9._-]+$/;

export class InvalidTopicError extends TributaryError {
  constructor(message: string) {
    super(ErrorCode.INVALID_TOPIC_EXCEPTION, message);
    this.name = 'InvalidTopicError';
  }
}

/** Throws InvalidTopicError (INVALID_TOPIC_EXCEPTION) unless `name` is a legal topic name. */
export function validateTopicName(name: string): string {
  if (name.length === 0) throw new InvalidTopicError('topic name is empty');
  if (name === '.' || name === '..') throw new InvalidTopicError(`topic name cannot be '${name}'`);
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    throw new InvalidTopicError(`topic name is ${name.length} characters long, at most ${MAX_TOPIC_NAME_LENGTH} are allowed`);
  }
  if (!LEGAL.test(name)) {
    throw new InvalidTopicError(`topic name '${name}' contains characters other than ASCII letters, digits, '.', '_' and '-'`);
  }
  return name;
}

/** The form two names collide in: '.' and '_' are the same once in a metric name. */
export function collisionKey(name: string): string {
  return name.replaceAll('.', '_');
}

/** The existing topic `name` would collide with, if any. */
export function collidingTopic(name: string, existing: Iterable<string>): string | undefined {
  const key = collisionKey(name);
  for (const other of existing) if (other !== name && collisionKey(other) === key) return other;
  return undefined;
}
