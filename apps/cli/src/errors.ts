/**
 * Exit codes and error reporting of the `tributary` command, the contract scripts rely on:
 *
 * - 0: the operation succeeded (or was a no-op asked for, e.g. `--if-not-exists`).
 * - 1: the operation failed (cluster unreachable, topic missing, a record not delivered, ...).
 * - 2: usage error (unknown command or option, a missing or malformed argument): nothing was
 *   attempted.
 *
 * Errors go to stderr as ONE line, `tributary: <what happened and what to do>`; data goes to
 * stdout.
 */
import { TributaryError } from '@tributary/records';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A malformed command line detected after commander's own checks (exit 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An operation that failed for a reason the CLI itself established (exit 1). */
export class OperationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OperationError';
  }
}

/** Exit code of an error thrown by a command. */
export function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) return EXIT_USAGE;
  // The SDK throws RangeError for options it refuses (a bad bootstrap address, batch size...).
  if (e instanceof RangeError) return EXIT_USAGE;
  return EXIT_FAILED;
}

/** The one line that reports `e` (without the `tributary: ` prefix and newline). */
export function messageOf(e: unknown): string {
  if (e instanceof TributaryError || e instanceof UsageError || e instanceof OperationError || e instanceof Error) {
    return oneLine(e.message);
  }
  return oneLine(String(e));
}

/** Collapses a multi-line message (gRPC details, nested causes) into one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
