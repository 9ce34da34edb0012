/**
 * One service of the local cluster as a child process, across restarts: spawned detached (its
 * own process group, so the terminal's Ctrl-C reaches only the launcher), its stdout and
 * stderr appended verbatim to `<data>/logs/<name>.log` and passed line by line to `onLine`
 * (the console summary), readiness polled on its admin port's /readyz, stopped with SIGTERM
 * then SIGKILL. The same log file and arguments are used at every (re)start, so a restart
 * keeps the service's data.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Guardian } from './guardian';
import { isPlaintextPeer, probe } from './probe';
import type { ProbeTls } from './probe';
import type { PlannedService } from './services';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function describeExit(exit: ProcessExit): string {
  if (exit.signal) return `killed by ${exit.signal}`;
  return exit.code === null ? 'could not be started' : `exit code ${exit.code}`;
}

/** A start that failed: the message names the service and says why. */
export class ServiceStartError extends Error {
  override readonly name = 'ServiceStartError';
  constructor(
    readonly service: ServiceProcess,
    message: string,
    readonly exited: boolean,
  ) {
    super(message);
  }
}

export interface ServiceProcessOptions {
  spec: PlannedService;
  logDir: string;
  /** Children's environment. */
  env: NodeJS.ProcessEnv;
  guardian: Guardian;
  /** With --secure: the admin endpoints serve HTTPS; probes trust the CA and present the admin certificate. */
  probeTls?: ProbeTls;
  /** Every output line of the child. */
  onLine(service: ServiceProcess, line: string): void;
  /** The child exited (whether asked to or not). */
  onExit(service: ServiceProcess, exit: ProcessExit, run: ServiceRun): void;
}

/** One run of the process. */
export interface ServiceRun {
  readonly pid: number;
  readonly startedAtMs: number;
  readonly exited: Promise<ProcessExit>;
  /** True once the launcher asked it to stop (the exit is not a crash). */
  stopping: boolean;
  exit: ProcessExit | undefined;
}

export class ServiceProcess {
  readonly spec: PlannedService;
  readonly logFile: string;
  /** Restarts after unexpected exits, for the console and the state file. */
  restarts = 0;
  /**
   * With --secure, false once the admin port answered in plaintext HTTP (a service that does
   * not serve TLS on it yet): it is then probed, and shown, as http.
   */
  adminTls: boolean;
  private readonly log: fs.WriteStream;
  private current: ServiceRun | undefined;
  private child: ChildProcess | undefined;

  constructor(private readonly options: ServiceProcessOptions) {
    this.spec = options.spec;
    this.adminTls = options.probeTls !== undefined;
    this.logFile = path.join(options.logDir, `${this.spec.name}.log`);
    fs.mkdirSync(options.logDir, { recursive: true });
    this.log = fs.createWriteStream(this.logFile, { flags: 'a' });
  }

  get name(): string {
    return this.spec.name;
  }

  get run(): ServiceRun | undefined {
    return this.current;
  }

  get running(): boolean {
    return this.current !== undefined && this.current.exit === undefined;
  }

  get readyzUrl(): string {
    return `${this.adminTls ? 'https' : 'http'}://127.0.0.1:${this.spec.adminPort}/readyz`;
  }

  /** Spawns the process (it must not be running). */
  start(): ServiceRun {
    if (this.running) throw new Error(`${this.name} is already running`);
    const child = spawn(process.execPath, [...this.spec.nodeArgs, this.spec.main, ...this.spec.args], {
      env: this.options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    let partial = { stdout: '', stderr: '' };
    const onData = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      this.log.write(chunk);
      const lines = (partial[stream] + chunk.toString('utf8')).split('\n');
      partial = { ...partial, [stream]: lines.pop() ?? '' };
      for (const line of lines) if (line.trim() !== '') this.options.onLine(this, line);
    };
    child.stdout?.on('data', onData('stdout'));
    child.stderr?.on('data', onData('stderr'));
    let spawnError: Error | undefined;
    child.on('error', (e) => {
      spawnError = e;
    });
    const pid = child.pid ?? -1;
    let resolveExit!: (exit: ProcessExit) => void;
    const run: ServiceRun = {
      pid,
      startedAtMs: Date.now(),
      exited: new Promise<ProcessExit>((resolve) => (resolveExit = resolve)),
      stopping: false,
      exit: undefined,
    };
    const done = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (run.exit !== undefined) return;
      for (const rest of [partial.stdout, partial.stderr]) if (rest.trim() !== '') this.options.onLine(this, rest);
      partial = { stdout: '', stderr: '' };
      if (spawnError !== undefined) {
        const line = `local-cluster: could not start ${this.spec.main}: ${spawnError.message}\n`;
        this.log.write(line);
        this.options.onLine(this, line.trimEnd());
      }
      run.exit = { code, signal };
      if (pid > 0) this.options.guardian.forget(pid);
      this.options.onExit(this, run.exit, run);
      resolveExit(run.exit);
    };
    child.on('exit', done);
    child.on('close', done); // a spawn failure emits 'close' without 'exit'
    if (pid > 0) this.options.guardian.watch(pid);
    this.current = run;
    return run;
  }

  /**
   * Resolves when /readyz answers 200. Rejects with a {@link ServiceStartError} if the
   * process exits first or `timeoutMs` passes, and with the abort reason if `signal` aborts.
   */
  async waitReady(timeoutMs: number, signal: AbortSignal): Promise<void> {
    const run = this.current;
    if (run === undefined) throw new Error(`${this.name} was not started`);
    const deadline = Date.now() + timeoutMs;
    let lastProblem = 'no answer yet';
    for (;;) {
      signal.throwIfAborted();
      if (run.exit !== undefined) {
        throw new ServiceStartError(this, `${this.name} exited before it was ready (${describeExit(run.exit)})`, true);
      }
      try {
        const res = await probe(this.readyzUrl, this.adminTls ? this.options.probeTls : undefined, 2_000);
        const body = res.body;
        if (res.status === 200 && run.exit === undefined) return;
        lastProblem = `HTTP ${res.status}${body ? `: ${body.trim().slice(0, 200)}` : ''}`;
      } catch (e) {
        signal.throwIfAborted();
        if (this.adminTls && isPlaintextPeer(e)) {
          this.adminTls = false;
          continue;
        }
        lastProblem = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
      }
      if (Date.now() >= deadline) {
        throw new ServiceStartError(this, `${this.name} was not ready within ${timeoutMs} ms (${this.readyzUrl}: ${lastProblem})`, false);
      }
      await abortableSleep(100, signal);
    }
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves at exit (at once if not running). */
  async stop(timeoutMs: number): Promise<ProcessExit | undefined> {
    const run = this.current;
    if (run === undefined || run.exit !== undefined) return run?.exit;
    run.stopping = true;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    try {
      return await run.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` to the process group of the current run, if it runs. */
  signal(signal: NodeJS.Signals): void {
    const run = this.current;
    if (run === undefined || run.exit !== undefined || run.pid <= 0) return;
    try {
      process.kill(-run.pid, signal);
    } catch {
      try {
        this.child?.kill(signal);
      } catch {
        // gone
      }
    }
  }

  /** Closes the log file (after the last run). */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects; leaves no listener). */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
