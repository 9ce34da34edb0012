/**
 * The guardian: services run in their own process groups (so a Ctrl-C in the terminal reaches
 * only the launcher, which then stops them in order), which also means nothing stops them
 * if the launcher itself dies without cleaning up (kill -9, an OOM kill). The guardian is a
 * tiny detached node process holding the pids of the running services (`+pid` / `-pid` lines
 * on its stdin). When its stdin reaches EOF — which the kernel delivers when the launcher
 * dies for any reason — it sends SIGTERM to the process groups still listed, then SIGKILL
 * after `graceMs`, and exits. A launcher that stops normally has unlisted every pid, so the
 * guardian exits at once.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

const GUARDIAN_SOURCE = `
const graceMs = Number(process.argv[1]);
const pids = new Set();
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  const lines = buf.split('\\n');
  buf = lines.pop();
  for (const l of lines) {
    if (l[0] === '+') pids.add(Number(l.slice(1)));
    else if (l[0] === '-') pids.delete(Number(l.slice(1)));
  }
});
const signal = (sig) => { for (const pid of pids) { try { process.kill(-pid, sig); } catch {} } };
const reap = () => {
  if (pids.size === 0) process.exit(0);
  signal('SIGTERM');
  setTimeout(() => { signal('SIGKILL'); process.exit(0); }, graceMs);
};
process.stdin.on('end', reap);
process.stdin.on('error', reap);
`;

export class Guardian {
  private readonly child: ChildProcess;

  constructor(graceMs: number) {
    this.child = spawn(process.execPath, ['-e', GUARDIAN_SOURCE, String(graceMs)], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    this.child.on('error', () => undefined);
    this.child.stdin?.on('error', () => undefined);
    // Neither the guardian nor its pipe keeps the launcher alive.
    this.child.unref();
    (this.child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }

  /** Starts watching a service (a process group leader). */
  watch(pid: number): void {
    this.child.stdin?.write(`+${pid}\n`);
  }

  /** Stops watching it (it exited, or was stopped on purpose). */
  forget(pid: number): void {
    this.child.stdin?.write(`-${pid}\n`);
  }

  /** Lets the guardian exit (after the launcher stopped every service). */
  close(): void {
    this.child.stdin?.end();
  }
}
