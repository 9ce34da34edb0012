/** Temporary directories for tests, removed by `removeTempDirs()` or by their owner. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const created = new Set<string>();

/** A new empty directory under the OS temp dir, named `tributary-<prefix>-XXXXXX`. */
export function tempDir(prefix = 'test'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tributary-${prefix}-`));
  created.add(dir);
  return dir;
}

/** Removes a directory tree (no error if it is gone). */
export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  created.delete(dir);
}

/** Removes every directory made by `tempDir()` in this process; for `afterAll`. */
export function removeTempDirs(): void {
  for (const dir of [...created]) removeDir(dir);
}
