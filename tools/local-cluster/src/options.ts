/**
 * The launcher's flags: `npm start -- [flags]`. Parsed by hand (no dependency: the bootstrap
 * runs before anything else is known to be installed), validated with one clear line that
 * names the flag and what it accepts.
 */
import * as path from 'node:path';

/** Service log levels (libs/runtime's LOG_LEVELS, repeated: the launcher imports no lib). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The default ports of ARCHITECTURE.md §7 start at coordination's 7000. */
export const DEFAULT_BASE_PORT = 7000;

export interface LauncherOptions {
  /** Number of brokers (ids 0..brokers-1, gRPC 7200 + id). */
  brokers: number;
  /** Number of controllers (ids 0..controllers-1: one active, the others standbys). */
  controllers: number;
  /** Absolute data directory: coordination store, broker logs, service logs, lock. */
  dataDir: string;
  /** Every default port is shifted by basePort - 7000. */
  basePort: number;
  /** Skip `npm run build` (the bootstrap reads this flag; the launcher only reports it). */
  build: boolean;
  /** Passed to every service as --log-level. */
  logLevel: LogLevel;
  /** Print every service log line on the console, not only warnings and errors. */
  verbose: boolean;
  /** How long one service may take to answer /readyz at start. */
  readyTimeoutMs: number;
  /** How long a service may take to stop after SIGTERM before it gets SIGKILL. */
  stopTimeoutMs: number;
  /**
   * TLS, SCRAM and ACLs on every service: a local CA and certificates under
   * `<dataDir>/tls`, and the SCRAM user `admin` (see secure.ts).
   */
  secure: boolean;
  /** With `secure`: give the existing `admin` user a new random password (printed once). */
  resetAdminPassword: boolean;
  help: boolean;
}

/** A bad flag: `message` is the one line to print (exit code 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

interface FlagSpec {
  name: string;
  value?: string;
  doc: string;
  apply(options: LauncherOptions, value: string, cwd: string): void;
}

function integerFlag(
  name: string,
  min: number,
  max: number,
  doc: string,
  set: (o: LauncherOptions, n: number) => void,
): FlagSpec {
  return {
    name,
    value: 'N',
    doc,
    apply(o, value) {
      const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        throw new UsageError(`invalid --${name} '${value}': expected an integer from ${min} to ${max}`);
      }
      set(o, n);
    },
  };
}

const FLAGS: readonly FlagSpec[] = [
  integerFlag('brokers', 1, 100, 'brokers to run (default 3; gRPC 7200 + id)', (o, n) => (o.brokers = n)),
  integerFlag('controllers', 1, 10, 'controllers to run, one active and standbys (default 2; gRPC 7100 + id)', (o, n) => (o.controllers = n)),
  {
    name: 'data-dir',
    value: 'DIR',
    doc: 'where data and logs live (default ./.tributary, or TRIBUTARY_DATA_DIR)',
    apply(o, value, cwd) {
      if (value === '') throw new UsageError('invalid --data-dir: expected a directory path');
      o.dataDir = path.resolve(cwd, value);
    },
  },
  integerFlag('base-port', 1024, 63000, 'shift every port so coordination gets this one (default 7000)', (o, n) => (o.basePort = n)),
  { name: 'no-build', doc: 'start what is already built (skip npm run build)', apply: (o) => (o.build = false) },
  {
    name: 'log-level',
    value: 'LEVEL',
    doc: `services' log level: ${LOG_LEVELS.join(', ')} (default info)`,
    apply(o, value) {
      if (!(LOG_LEVELS as readonly string[]).includes(value)) {
        throw new UsageError(`invalid --log-level '${value}': expected one of ${LOG_LEVELS.join(', ')}`);
      }
      o.logLevel = value as LogLevel;
    },
  },
  { name: 'verbose', doc: 'show every service log line on the console (default: warnings and errors)', apply: (o) => (o.verbose = true) },
  integerFlag('ready-timeout-ms', 1000, 600_000, 'how long a service may take to become ready (default 30000)', (o, n) => (o.readyTimeoutMs = n)),
  integerFlag('stop-timeout-ms', 100, 600_000, 'how long a service may take to stop before SIGKILL (default 15000)', (o, n) => (o.stopTimeoutMs = n)),
  {
    name: 'secure',
    doc: 'TLS, SCRAM authentication and ACLs on every service: a local CA and certificates in <data-dir>/tls, the SCRAM user admin (password printed once)',
    apply: (o) => (o.secure = true),
  },
  { name: 'reset-admin-password', doc: 'with --secure: give the admin user a new random password (printed once)', apply: (o) => (o.resetAdminPassword = true) },
  { name: 'help', doc: 'this text', apply: (o) => (o.help = true) },
];

/**
 * Parses `argv` (without node and the script). Relative paths resolve against `cwd` (the
 * directory `npm start` was typed in: npm's INIT_CWD). The default data directory is
 * `<root>/.tributary`, or TRIBUTARY_DATA_DIR.
 */
export function parseOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  root: string,
): LauncherOptions {
  const envDataDir = env['TRIBUTARY_DATA_DIR'];
  const options: LauncherOptions = {
    brokers: 3,
    controllers: 2,
    dataDir: envDataDir ? path.resolve(cwd, envDataDir) : path.join(root, '.tributary'),
    basePort: DEFAULT_BASE_PORT,
    build: true,
    logLevel: 'info',
    verbose: false,
    readyTimeoutMs: 30_000,
    stopTimeoutMs: 15_000,
    secure: false,
    resetAdminPassword: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}' (flags start with --; see --help)`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = FLAGS.find((f) => f.name === name);
    if (spec === undefined) throw new UsageError(`unknown flag --${name} (see --help)`);
    let value = '';
    if (spec.value !== undefined) {
      if (eq !== -1) value = arg.slice(eq + 1);
      else {
        const next = argv[i + 1];
        if (next === undefined || next.startsWith('--')) throw new UsageError(`--${name} needs a value (${spec.value})`);
        value = next;
        i++;
      }
    } else if (eq !== -1) {
      throw new UsageError(`--${name} takes no value`);
    }
    spec.apply(options, value, cwd);
  }
  if (options.resetAdminPassword && !options.secure) throw new UsageError('--reset-admin-password needs --secure (the admin user exists only in secure mode)');
  return options;
}

/** `--help`. */
export function helpText(): string {
  const rows = FLAGS.map((f) => [`--${f.name}${f.value ? ` ${f.value}` : ''}`, f.doc] as const);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return [
    'npm start [-- flags]: a local Tributary cluster, each service a separate process.',
    '',
    'Installs dependencies if node_modules is missing, builds (npm run build), then starts',
    'embedded coordination, the controllers, the brokers (and the group coordinator and REST',
    'proxy once they exist), waits until each is ready and prints the endpoints.',
    'Ctrl-C stops everything (a second Ctrl-C forces); the data stays for the next start.',
    '',
    'Flags:',
    ...rows.map(([flag, doc]) => `  ${flag.padEnd(width)}  ${doc}`),
    '',
    'Files: <data-dir>/coordination, <data-dir>/broker-N, <data-dir>/logs/<service>.log,',
    '<data-dir>/local-cluster.pid (lock), <data-dir>/local-cluster.json (endpoints and pids),',
    '<data-dir>/tls (--secure: ca.crt for clients, the services\' and admin\'s certificates and keys).',
  ].join('\n');
}
