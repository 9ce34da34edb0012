/**
 * Graceful shutdown. On the first SIGTERM or SIGINT (or a call to `shutdown()`), the hooks
 * run one after the other in the order given, each awaited; a failing hook is logged and the
 * next one still runs; then the process exits 0. A second signal, or the overall timeout,
 * exits 1 at once.
 *
 * A service's usual order: mark not ready (so /readyz fails and traffic drains), stop the
 * gRPC server (grace period, then cancel), stop background work and flush/close storage,
 * close the admin server last (so /metrics is scrapeable while stopping).
 *
 * Install it early in `main.ts` (before servers start) and `add` hooks as resources appear.
 */
import type { Logger } from './logger';

/** One step of shutdown. */
export interface ShutdownHook {
  /** Logged with the step's outcome. */
  name: string;
  /** The work; may be async. */
  run: () => unknown;
}

/** Options of {@link installShutdown}. */
export interface ShutdownOptions {
  logger: Logger;
  /** Longest the whole shutdown may take before exiting 1 (default 30 000 ms). */
  timeoutMs?: number;
  /** Steps, run in order. */
  hooks?: readonly ShutdownHook[];
  /** How to exit (default `process.exit`); tests inject a recorder. */
  exit?: (code: number) => void;
  /** Signals that start the shutdown (default SIGTERM and SIGINT). */
  signals?: readonly NodeJS.Signals[];
  /** Where signals come from (default `process`); tests pass an EventEmitter. */
  signalSource?: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
}

/** Control over an installed shutdown. */
export interface Shutdown {
  /** Starts the shutdown (as a signal would); resolves after the exit call. Idempotent. */
  shutdown(reason?: string): Promise<void>;
  /** Appends a hook (runs after those already registered). */
  add(hook: ShutdownHook): void;
  /** True once shutdown has started (e.g. for /readyz). */
  readonly stopping: boolean;
  /** Removes the signal listeners (tests). */
  uninstall(): void;
}

/** Installs signal handlers that run `hooks` and exit (see the file header). */
export function installShutdown(options: ShutdownOptions): Shutdown {
  const logger = options.logger.child({ component: 'shutdown' });
  const hooks: ShutdownHook[] = [...(options.hooks ?? [])];
  const timeoutMs = options.timeoutMs ?? 30_000;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const source = options.signalSource ?? process;
  let running: Promise<void> | undefined;
  let exited = false;

  const exitOnce = (code: number): void => {
    if (exited) return;
    exited = true;
    exit(code);
  };

  const shutdown = (reason = 'requested'): Promise<void> => {
    if (running) return running;
    const started = Date.now();
    logger.info({ reason, timeoutMs }, 'shutting down');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const steps = (async (): Promise<'done'> => {
      for (const hook of hooks) {
        if (exited) break;
        const hookStarted = Date.now();
        try {
          await hook.run();
          logger.info({ hook: hook.name, durationMs: Date.now() - hookStarted }, 'shutdown step done');
        } catch (err) {
          logger.error({ hook: hook.name, err }, 'shutdown step failed');
        }
      }
      return 'done';
    })();
    running = Promise.race([steps, timedOut]).then((outcome) => {
      clearTimeout(timer);
      if (outcome === 'timeout') {
        logger.error({ timeoutMs }, 'shutdown timed out: exiting');
        exitOnce(1);
      } else {
        logger.info({ durationMs: Date.now() - started }, 'shutdown complete');
        exitOnce(0);
      }
    });
    return running;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (running) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      exitOnce(1);
      return;
    }
    void shutdown(signal);
  };
  for (const s of signals) source.on(s, onSignal);

  return {
    shutdown,
    add: (hook) => {
      hooks.push(hook);
    },
    get stopping() {
      return running !== undefined;
    },
    uninstall: () => {
      for (const s of signals) source.off(s, onSignal);
    },
  };
}
