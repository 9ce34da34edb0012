/**
 * `npm start` → tools/local-cluster/start.js (install, build) → this: parse the flags and run
 * the local cluster until Ctrl-C. Exit codes: 0 stopped cleanly, 1 could not start, 2 bad
 * flag, 130 forced stop (second Ctrl-C).
 */
import * as path from 'node:path';
import { Launcher } from './launcher';
import { UsageError, helpText, parseOptions } from './options';

const root = path.join(__dirname, '..', '..', '..');

async function main(): Promise<number> {
  let launcher: Launcher;
  try {
    const options = parseOptions(process.argv.slice(2), process.env, process.env['INIT_CWD'] ?? process.cwd(), root);
    if (options.help) {
      process.stdout.write(`${helpText()}\n`);
      return 0;
    }
    launcher = new Launcher(options, root);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`local-cluster: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  return launcher.run();
}

main().then(
  // process.exit: an idle keep-alive socket of a readiness probe must not hold the exit.
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`local-cluster failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
