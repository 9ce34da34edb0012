/**
 * The Prometheus binaries from the Debian package `prometheus` (`prometheus`, `promtool`):
 * where they are, and the one command that installs them when they are not.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The command that installs the package (tools/scripts/install-system-deps.sh lists it too). */
export const PROMETHEUS_INSTALL_COMMAND = 'sudo apt-get update && sudo apt-get install -y --no-install-recommends prometheus';

/** The absolute path of `name` on PATH (or in /usr/bin), or undefined. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean), '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The path of `name` (prometheus or promtool), or an Error that says how to install it. */
export function requirePrometheusTool(name: 'prometheus' | 'promtool'): string {
  const found = findExecutable(name);
  if (found === undefined) throw new Error(`${name} is missing (Debian package prometheus); run: ${PROMETHEUS_INSTALL_COMMAND}`);
  return found;
}
