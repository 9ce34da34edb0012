/**
 * One launcher per data directory: `<data>/local-cluster.pid` holds the running launcher's
 * pid, created exclusively. A lock whose pid is not a live launcher (it was killed, or the
 * machine rebooted and the pid now belongs to something else) is stale and taken over.
 */
import * as fs from 'node:fs';

export class AlreadyRunningError extends Error {
  override readonly name = 'AlreadyRunningError';
  constructor(
    readonly pid: number,
    file: string,
  ) {
    super(
      `a local cluster is already running on this data directory (launcher pid ${pid}, lock ${file}); ` +
        `stop it with Ctrl-C in its terminal or \`kill ${pid}\`, or start another one with --data-dir DIR --base-port PORT`,
    );
  }
}

/** True if `pid` is alive and (where /proc tells) a local-cluster launcher. */
function isLauncher(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: alive, but another user's process, so not our launcher.
    return false;
  }
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('local-cluster');
  } catch {
    return true; // no /proc: trust the pid
  }
}

export interface Lock {
  file: string;
  /** Pid of the stale lock that was taken over, if any. */
  stalePid: number | undefined;
  release(): void;
}

/** Takes the lock or throws {@link AlreadyRunningError}. */
export function acquireLock(file: string): Lock {
  let stalePid: number | undefined;
  for (;;) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let pid = NaN;
    try {
      pid = Number(fs.readFileSync(file, 'utf8').trim());
    } catch {
      continue; // removed meanwhile: try again
    }
    if (isLauncher(pid) && pid !== process.pid) throw new AlreadyRunningError(pid, file);
    stalePid = pid;
    fs.rmSync(file, { force: true });
  }
  return {
    file,
    stalePid,
    release() {
      try {
        if (Number(fs.readFileSync(file, 'utf8').trim()) === process.pid) fs.rmSync(file, { force: true });
      } catch {
        // already gone
      }
    },
  };
}
