/**
 * Child processes for integration tests: spawn with output to a log file, keep the tail of
 * that output for failure messages, and never leak a process past the test run.
 *
 * Leak protection has two layers, because a jest worker can end in ways no JS handler sees:
 * - every child is tracked; `process.on('exit')` SIGKILLs the ones still alive, and
 *   `stopAllProcesses()` (for an `afterAll`) stops them politely first;
 * - a small detached "reaper" process is started with the first child. It holds the pids of
 *   the live children (sent over its stdin) and SIGKILLs them when its stdin reaches EOF,
 *   which the kernel delivers when this process dies for any reason, SIGKILL included. It
 *   runs in its own process group, so a Ctrl-C of the test run does not kill it first.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scanOutputLine } from './secrets';

export interface SpawnOptions {
  command: string;
  args?: readonly string[];
  /** Added to (and overriding) this process's environment. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** stdout and stderr are appended to this file (created with its directory). */
  logFile?: string;
  /** Lines of output kept in memory for `outputTail()` (default 200). */
  tailLines?: number;
  /** Shown in messages; defaults to the command's base name. */
  name?: string;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedProcess {
  readonly name: string;
  readonly pid: number;
  /** True until the process has exited. */
  readonly running: boolean;
  /** Resolves (never rejects) when the process has exited, spawn failures included. */
  readonly exited: Promise<ProcessExit>;
  readonly logFile: string | undefined;
  /** Sends a signal (default SIGTERM); no-op once the process has exited. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL if still alive after `graceMs` (default 10 s); resolves at exit. */
  stop(graceMs?: number): Promise<ProcessExit>;
  /** Sends `signal` (default SIGKILL) and resolves at exit. */
  killAndWait(signal?: NodeJS.Signals): Promise<ProcessExit>;
  /** The last `lines` lines of combined stdout/stderr (default: everything kept). */
  outputTail(lines?: number): string;
}

const live = new Set<TrackedProcess>();

class TrackedProcess implements SpawnedProcess {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<ProcessExit>;
  readonly logFile: string | undefined;
  private exit: ProcessExit | undefined;
  private readonly tail: string[] = [];
  private partial = '';
  private readonly log: fs.WriteStream | undefined;

  constructor(
    private readonly child: ChildProcess,
    options: SpawnOptions,
  ) {
    this.name = options.name ?? path.basename(options.command);
    this.logFile = options.logFile;
    const tailLines = options.tailLines ?? 200;
    if (options.logFile !== undefined) {
      fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
      this.log = fs.createWriteStream(options.logFile, { flags: 'a' });
    }
    const onData = (chunk: Buffer): void => {
      this.log?.write(chunk);
      const lines = (this.partial + chunk.toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) scanOutputLine(this.name, line);
      this.tail.push(...lines);
      if (this.tail.length > tailLines) this.tail.splice(0, this.tail.length - tailLines);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    let spawnError: Error | undefined;
    child.on('error', (e) => {
      spawnError = e;
    });
    // 'exit' rather than 'close': a grandchild holding the pipes must not delay it.
    child.on('close', () => this.log?.end());
    this.exited = new Promise<ProcessExit>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.exit !== undefined) return;
        if (spawnError !== undefined) this.tail.push(`spawn failed: ${spawnError.message}`);
        this.exit = { code, signal };
        live.delete(this);
        if (this.pid > 0) reaperSend(`-${this.pid}`);
        resolve(this.exit);
      };
      child.on('exit', done);
      // A spawn failure emits 'error' and 'close' but no 'exit'.
      child.on('close', done);
    });
    this.pid = child.pid ?? -1;
    // A forgotten child must not keep the test process alive; the exit handler kills it.
    child.unref();
    (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  }

  get running(): boolean {
    return this.exit === undefined && this.pid > 0;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone
    }
  }

  async stop(graceMs = 10_000): Promise<ProcessExit> {
    if (!this.running) return this.exited;
    this.kill('SIGTERM');
    // Also keeps this process alive while waiting (the child itself is unref'd).
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  async killAndWait(signal: NodeJS.Signals = 'SIGKILL'): Promise<ProcessExit> {
    this.kill(signal);
    const keepAlive = setInterval(() => undefined, 1_000);
    try {
      return await this.exited;
    } finally {
      clearInterval(keepAlive);
    }
  }

  outputTail(lines?: number): string {
    const all = this.partial === '' ? this.tail : [...this.tail, this.partial];
    return (lines === undefined ? all : all.slice(-lines)).join('\n');
  }
}

/**
 * Starts a tracked child process. stdin is ignored; stdout and stderr go to `logFile` (if
 * given) and to an in-memory tail. The child does not keep this process alive: when this
 * process exits, every child still running is killed. A command that cannot be spawned gives a handle whose
 * `exited` resolves at once (code null) with the reason in `outputTail()`.
 */
export function spawnProcess(options: SpawnOptions): SpawnedProcess {
  const child = spawn(options.command, options.args ?? [], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tracked = new TrackedProcess(child, options);
  if (tracked.pid > 0) {
    live.add(tracked);
    installExitHandler();
    reaperSend(`+${tracked.pid}`);
  }
  return tracked;
}

/** Processes started by `spawnProcess` that have not exited yet. */
export function liveProcesses(): SpawnedProcess[] {
  return [...live];
}

/** Stops every live child (SIGTERM, SIGKILL after `graceMs`); for `afterAll`. */
export async function stopAllProcesses(graceMs = 5_000): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(graceMs)));
}

let exitHandlerInstalled = false;
function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on('exit', () => {
    for (const p of live) p.kill('SIGKILL');
  });
}

// The reaper: `+pid` adds, `-pid` removes; EOF on stdin kills whatever is left.
const REAPER_SOURCE = `
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
const reap = () => {
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  process.exit(0);
};
process.stdin.on('end', reap);
process.stdin.on('error', reap);
`;

let reaper: ChildProcess | undefined;
function reaperSend(line: string): void {
  if (reaper === undefined) {
    if (line[0] === '-') return;
    reaper = spawn(process.execPath, ['-e', REAPER_SOURCE], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    reaper.on('error', () => undefined);
    reaper.stdin?.on('error', () => undefined);
    reaper.unref();
    // The pipe must not keep this process alive either.
    (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }
  reaper.stdin?.write(`${line}\n`);
}

/** True if `proc` exits within `timeoutMs`, false otherwise (the process is left alone). */
export async function exitedWithin(proc: SpawnedProcess, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([proc.exited.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
