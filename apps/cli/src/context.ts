/**
 * What every command gets: the standard streams (injectable, so commands can be run in
 * process) and the global options turned into SDK client options.
 */
import type { Readable, Writable } from 'node:stream';
import { Admin } from '@tributary/client';
import type { ClientOptions } from '@tributary/client';
import { ErrorCode, TributaryError } from '@tributary/records';
import { OperationError } from './errors';
import type { ClientSecurity } from './security';

export interface Io {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Whether stderr is a terminal (progress bars) — false when redirected. */
  stderrIsTTY: boolean;
}

/** The process' own streams. */
export function processIo(): Io {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, stderrIsTTY: process.stderr.isTTY === true };
}

/** Options of the `tributary` program itself, valid before or after any command. */
export interface GlobalOptions {
  bootstrap: string[];
  requestTimeoutMs: number;
  /** TLS and SCRAM of every client the command makes (security.ts); absent: plaintext, anonymous. */
  security?: ClientSecurity;
}

/**
 * SDK options for the global options: requests and metadata waits bounded by
 * --request-timeout-ms, TLS and SCRAM login from the security options.
 */
export function clientOptions(global: GlobalOptions): ClientOptions {
  const security = global.security;
  return {
    bootstrap: global.bootstrap,
    clientId: 'tributary-cli',
    requestTimeoutMs: global.requestTimeoutMs,
    metadataWaitMs: global.requestTimeoutMs,
    ...(security?.tls !== undefined ? { tls: security.tls } : {}),
    ...(security?.sasl !== undefined ? { sasl: security.sasl } : {}),
  };
}

/** Runs `run` with an Admin client for the global options, closing it afterwards. */
export async function withAdmin<T>(global: GlobalOptions, run: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin(clientOptions(global));
  try {
    return await run(admin);
  } finally {
    await admin.close();
  }
}

/** Whether `e` (or, for a multi-topic failure, every per-topic error) has `code`. */
export function hasCode(e: unknown, code: ErrorCode): boolean {
  if (!(e instanceof TributaryError)) return false;
  const perTopic = (e as { errors?: unknown }).errors;
  if (perTopic instanceof Map && perTopic.size > 0) {
    for (const err of perTopic.values()) if (!(err instanceof TributaryError) || err.code !== code) return false;
    return true;
  }
  return e.code === code;
}

/** The message for a topic that does not exist. */
export function noSuchTopic(topic: string): string {
  return `topic '${topic}' does not exist (create it with \`tributary topics create ${topic}\`, or see \`tributary topics list\`)`;
}

/** The topic's partition ids, failing with a clear message when it does not exist. */
export async function topicPartitions(admin: Admin, topic: string): Promise<number[]> {
  let infos;
  try {
    infos = await admin.describeTopics([topic]);
  } catch (e) {
    if (hasCode(e, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)) throw new OperationError(noSuchTopic(topic), { cause: e });
    throw e;
  }
  const info = infos.find((t) => t.name === topic);
  if (info === undefined) throw new OperationError(noSuchTopic(topic));
  return info.partitions.map((p) => p.partition).sort((a, b) => a - b);
}

/** Writes `text` to a stream, resolving once it is handed to the OS (or the stream failed). */
export function writeOut(stream: Writable, text: string | Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (text.length === 0) return resolve();
    stream.write(text, () => resolve());
  });
}
