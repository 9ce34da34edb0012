/**
 * `tributary`: the command line entry. Runs the command with the process' streams and exits
 * with its code (0 ok, 1 operation failed, 2 usage error) once stdout and stderr are written.
 */
import { BOOTSTRAP_ENV } from '@tributary/client';
import { processIo } from './context';
import { run } from './program';

// A reader that went away (`tributary consume t | head -1`) is not an error of ours.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
});

// grpc-js passes the dialled host as the TLS server name; for an IP address (127.0.0.1:7200)
// Node warns (DEP0123) on every connection. Not the user's concern: other warnings still print.
process.removeAllListeners('warning');
process.on('warning', (w: Error & { code?: string }) => {
  if (w.code !== 'DEP0123') process.stderr.write(`${w.name}: ${w.message}\n`);
});

// An empty TRIBUTARY_BOOTSTRAP means "not set" (the default applies), as in the SDK.
if (process.env[BOOTSTRAP_ENV]?.trim() === '') delete process.env[BOOTSTRAP_ENV];

function exitAfterOutput(code: number): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

run(process.argv.slice(2), processIo()).then(exitAfterOutput, (e: unknown) => {
  process.stderr.write(`tributary: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  exitAfterOutput(1);
});
