/**
 * The local cluster's life: plan the processes (services.ts), take the data directory's lock,
 * check the ports, start the services stage by stage (each stage ready before the next
 * starts), print the endpoints, restart a service that dies (with backoff, same data), and on
 * SIGINT / SIGTERM / SIGHUP stop everything in reverse order (SIGTERM, SIGKILL after
 * --stop-timeout-ms). A second signal forces: SIGKILL to every service, exit 130.
 *
 * Console: one line per event, plus service log lines at warn and above (all with
 * --verbose); the full JSON logs are in `<data>/logs/<name>.log`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CertificateError, ensureCertificates } from './certs';
import { Guardian } from './guardian';
import { AlreadyRunningError, acquireLock } from './lock';
import type { Lock } from './lock';
import { logTail, parseLogLine } from './log-lines';
import type { LauncherOptions } from './options';
import { busyPorts } from './ports';
import { servesTls } from './probe';
import type { ProbeTls } from './probe';
import { ADMIN_MECHANISMS, AdminBootstrapError, bootstrapAdmin } from './secure';
import type { AdminOutcome } from './secure';
import { ServiceProcess, ServiceStartError, abortableSleep, describeExit } from './service-process';
import type { ProcessExit, ServiceRun } from './service-process';
import { ADMIN_USER, certFilesOf, planCluster, planPorts } from './services';
import type { ClusterPlan } from './services';

/** Where the launcher writes its console lines (stdout in production, captured in tests). */
export interface Output {
  line(text: string): void;
  error(text: string): void;
}

export const consoleOutput: Output = {
  line: (text) => process.stdout.write(`${text}\n`),
  error: (text) => process.stderr.write(`${text}\n`),
};

/** Restart delay after the n-th consecutive crash (n from 1): 1 s, 2 s, 4 s ... 30 s. */
export function restartDelayMs(consecutiveCrashes: number): number {
  return Math.min(30_000, 1_000 * 2 ** Math.max(0, consecutiveCrashes - 1));
}

/** A service that ran at least this long before crashing starts its backoff over. */
const STABLE_RUN_MS = 30_000;
/** Signals repeated within this window are one press (npm forwards the terminal's SIGINT). */
const SIGNAL_DEBOUNCE_MS = 500;

export const STATE_FILE = 'local-cluster.json';
export const LOCK_FILE = 'local-cluster.pid';

type Phase = 'starting' | 'running' | 'stopping';

export class Launcher {
  private readonly plan: ClusterPlan;
  private readonly services: ServiceProcess[] = [];
  private readonly crashes = new Map<ServiceProcess, number>();
  private phase: Phase = 'starting';
  private readonly stopController = new AbortController();
  private startFailure: ((e: ServiceStartError) => void) | undefined;
  private lock: Lock | undefined;
  private guardian: Guardian | undefined;
  private firstSignalAtMs = 0;
  private readonly startedAt = new Date();
  private readonly pending = new Set<Promise<unknown>>();
  /** With --secure: TLS of the readiness probes. */
  private probeTls: ProbeTls | undefined;
  /** With --secure: what the admin bootstrap did (printed with the endpoints). */
  private admin: AdminOutcome | undefined;
  private adminFailure: string | undefined;
  /** With --secure: HTTP APIs (the REST proxy) found serving plaintext, by service name. */
  private readonly plaintextApis = new Set<string>();

  constructor(
    private readonly options: LauncherOptions,
    private readonly root: string,
    private readonly out: Output = consoleOutput,
  ) {
    this.plan = planCluster(options, root);
  }

  private get dataDir(): string {
    return this.options.dataDir;
  }

  private shown(file: string): string {
    const rel = path.relative(process.env['INIT_CWD'] ?? process.cwd(), file);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
  }

  /** Runs the cluster until a signal stops it; resolves to the exit code. */
  async run(): Promise<number> {
    const { out } = this;
    for (const s of this.plan.skipped) {
      const why = !s.written ? `apps/${s.app} does not exist yet` : this.options.build ? `${s.main} was not built` : `${s.main} is not built (run without --no-build)`;
      out.line(`skipping ${s.app}: ${why}`);
    }
    if (!this.plan.services.some((s) => s.app === 'coordination')) {
      out.error(`cannot start: apps/coordination/dist/main.js is not built; run \`npm start\` without --no-build (or \`npm run build\`)`);
      return 1;
    }
    fs.mkdirSync(path.join(this.dataDir, 'logs'), { recursive: true });
    try {
      this.lock = acquireLock(path.join(this.dataDir, LOCK_FILE));
    } catch (e) {
      if (e instanceof AlreadyRunningError) {
        out.error(e.message);
        return 1;
      }
      throw e;
    }
    try {
      if (this.lock.stalePid !== undefined) out.line(`took over a stale lock (launcher pid ${this.lock.stalePid} is not running)`);
      const busy = await busyPorts(planPorts(this.plan));
      if (busy.length > 0) {
        const list = busy.map((b) => `${b.port} (${b.what})`).join(', ');
        out.error(`cannot start: port${busy.length > 1 ? 's' : ''} ${list} already in use; another cluster or program holds them: stop it, or shift every port with --base-port (e.g. --base-port ${this.options.basePort + 10_000})`);
        return 1;
      }
      if (!this.prepareSecurity()) return 1;
      this.installSignalHandlers();
      this.guardian = new Guardian(this.options.stopTimeoutMs);
      return await this.runStarted();
    } finally {
      this.guardian?.close();
      this.removeStateFile();
      this.lock.release();
    }
  }

  /** With --secure: the CA and certificates (made or reused), and the probes' TLS. */
  private prepareSecurity(): boolean {
    const security = this.plan.security;
    if (security === undefined) return true;
    try {
      const report = ensureCertificates(security.tlsDir, security.principals);
      const made = report.created.map((f) => path.basename(f, '.crt'));
      this.out.line(
        made.length === 0
          ? `secure mode: reusing the CA and certificates in ${this.shown(security.tlsDir)}`
          : `secure mode: made ${made.join(', ')} in ${this.shown(security.tlsDir)}${made.length < security.principals.length + 1 ? ' (the others reused)' : ''}`,
      );
    } catch (e) {
      if (e instanceof CertificateError) {
        this.out.error(`cannot start: ${e.message}`);
        return false;
      }
      throw e;
    }
    const admin = certFilesOf(security.tlsDir, ADMIN_USER);
    this.probeTls = { ca: fs.readFileSync(security.caFile), cert: fs.readFileSync(admin.certFile), key: fs.readFileSync(admin.keyFile) };
    return true;
  }

  /** With --secure, once every service is ready: the SCRAM user admin (secure.ts). */
  private async ensureAdmin(): Promise<void> {
    const security = this.plan.security;
    if (security === undefined) return;
    for (const s of this.services.filter((x) => x.spec.api === 'http')) {
      if (!(await servesTls(s.spec.apiPort, this.probeTls!).catch(() => true))) this.plaintextApis.add(s.name);
    }
    if (this.plaintextApis.size > 0 || this.services.some((s) => !s.adminTls)) {
      const plain = [...this.plaintextApis, ...this.services.filter((s) => !s.adminTls).map((s) => `${s.name} admin`)];
      this.out.error(`  warning: --secure, but these listeners serve plaintext HTTP (the service does not take TLS there yet): ${plain.join(', ')}`);
    }
    if (this.plan.bootstrap === '') return;
    try {
      this.admin = await bootstrapAdmin({
        root: this.root,
        bootstrap: this.plan.bootstrap,
        security,
        reset: this.options.resetAdminPassword,
        timeoutMs: this.options.readyTimeoutMs,
        signal: this.stopController.signal,
      });
    } catch (e) {
      if (!(e instanceof AdminBootstrapError)) throw e;
      if (!this.stopController.signal.aborted) this.adminFailure = e.message;
    }
  }

  private async runStarted(): Promise<number> {
    const { out } = this;
    const env = { ...process.env };
    // The launcher's own setting; a service reading it would take the wrong directory.
    delete env['TRIBUTARY_DATA_DIR'];
    const logDir = path.join(this.dataDir, 'logs');
    for (const spec of this.plan.services) {
      this.services.push(
        new ServiceProcess({
          spec,
          logDir,
          env,
          guardian: this.guardian!,
          ...(this.probeTls ? { probeTls: this.probeTls } : {}),
          onLine: (s, line) => this.onLine(s, line),
          onExit: (s, exit, run) => this.onExit(s, exit, run),
        }),
      );
    }
    out.line(`starting a local cluster in ${this.shown(this.dataDir)} (logs in ${this.shown(logDir)})`);
    const failure = new Promise<ServiceStartError>((resolve) => (this.startFailure = resolve));
    const started = this.startStages()
      .then(() => this.ensureAdmin())
      .then(
      () => undefined,
      (e: unknown) => e,
    );
    const first = await Promise.race([started, failure]);
    this.startFailure = undefined;
    if (first instanceof ServiceStartError) {
      if (!this.stopController.signal.aborted) {
        out.error(`\ncannot start the cluster: ${first.message}`);
        const tail = logTail(first.service.logFile);
        out.error(tail ? `last lines of ${this.shown(first.service.logFile)}:\n${tail}` : `(nothing in ${this.shown(first.service.logFile)})`);
      }
      await this.stopAll();
      return 1;
    }
    if (first !== undefined && !this.stopController.signal.aborted) throw first;
    if (!this.stopController.signal.aborted) {
      this.phase = 'running';
      this.writeStateFile(true);
      this.printEndpoints();
      await new Promise<void>((resolve) => this.stopController.signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    await this.stopAll();
    return 0;
  }

  /** Starts each stage and waits until all its processes are ready. */
  private async startStages(): Promise<void> {
    const stages = [...new Set(this.services.map((s) => s.spec.stage))];
    for (const stage of stages) {
      const group = this.services.filter((s) => s.spec.stage === stage);
      for (const s of group) {
        const run = s.start();
        this.out.line(`  starting ${s.name} (pid ${run.pid})`);
      }
      this.writeStateFile(false);
      const t0 = Date.now();
      await Promise.all(group.map((s) => s.waitReady(this.options.readyTimeoutMs, this.stopController.signal)));
      this.out.line(`  ready: ${group.map((s) => s.name).join(', ')} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }

  private onLine(service: ServiceProcess, line: string): void {
    // Node's warning when grpc-js dials an IP address over TLS (DEP0123): noise on every
    // service; it stays in the service's log file.
    if (/\[DEP0123\]|node --trace-deprecation/.test(line)) return;
    const parsed = parseLogLine(line);
    // While stopping, services warn about what stopping does (leadership lost, ...): noise.
    const minRank = this.options.verbose ? 0 : this.phase === 'stopping' ? 50 : 40;
    if (parsed.rank >= minRank) this.out.line(`  ${service.name} | ${parsed.text}`);
  }

  private onExit(service: ServiceProcess, exit: ProcessExit, run: ServiceRun): void {
    if (run.stopping || this.phase === 'stopping') return;
    if (this.phase === 'starting') {
      this.startFailure?.(new ServiceStartError(service, `${service.name} exited (${describeExit(exit)})`, true));
      return;
    }
    const ranMs = Date.now() - run.startedAtMs;
    const crashes = ranMs >= STABLE_RUN_MS ? 1 : (this.crashes.get(service) ?? 0) + 1;
    this.crashes.set(service, crashes);
    const delayMs = restartDelayMs(crashes);
    const tail = logTail(service.logFile, 10);
    this.out.error(
      `${service.name} (pid ${run.pid}) exited unexpectedly: ${describeExit(exit)}` +
        (tail ? `; last lines of ${this.shown(service.logFile)}:\n${tail}` : '') +
        `\n  restarting ${service.name} in ${delayMs / 1000} s (same data; crash ${crashes} in a row)`,
    );
    this.writeStateFile(true);
    this.track(this.restart(service, delayMs));
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private async restart(service: ServiceProcess, delayMs: number): Promise<void> {
    const signal = this.stopController.signal;
    await abortableSleep(delayMs, signal);
    if (this.phase !== 'running') return;
    service.restarts++;
    const run = service.start();
    this.out.line(`  restarted ${service.name} (pid ${run.pid})`);
    this.writeStateFile(true);
    try {
      await service.waitReady(this.options.readyTimeoutMs, signal);
      this.out.line(`  ${service.name} is ready again`);
      this.writeStateFile(true);
    } catch (e) {
      // An exit is handled by onExit (another restart); a stop needs nothing.
      if (e instanceof ServiceStartError && !e.exited && this.phase === 'running') {
        this.out.error(`  ${e.message}; leaving it running (see ${this.shown(service.logFile)})`);
      }
    }
  }

  /** Stops every service, last stage first; each stage SIGTERM'd together. */
  private async stopAll(): Promise<void> {
    this.phase = 'stopping';
    if (!this.stopController.signal.aborted) this.stopController.abort();
    const running = this.services.filter((s) => s.running);
    if (running.length > 0) {
      this.out.line(`stopping ${running.length} process${running.length > 1 ? 'es' : ''} (Ctrl-C again to force)`);
    }
    const t0 = Date.now();
    const stages = [...new Set(this.services.map((s) => s.spec.stage))].reverse();
    for (const stage of stages) {
      const group = this.services.filter((s) => s.spec.stage === stage && s.running);
      if (group.length === 0) continue;
      await Promise.all(
        group.map(async (s) => {
          const exit = await s.stop(this.options.stopTimeoutMs);
          const how = exit === undefined ? 'stopped' : exit.signal === 'SIGKILL' ? `killed (no exit within ${this.options.stopTimeoutMs} ms of SIGTERM)` : `stopped (${describeExit(exit)})`;
          this.out.line(`  ${s.name} ${how}`);
        }),
      );
    }
    await Promise.allSettled([...this.pending]);
    await Promise.all(this.services.map((s) => s.close()));
    if (running.length > 0) this.out.line(`stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s; the data stays in ${this.shown(this.dataDir)}`);
  }

  private installSignalHandlers(): void {
    const onSignal = (signal: NodeJS.Signals): void => {
      const now = Date.now();
      if (this.firstSignalAtMs === 0) {
        this.firstSignalAtMs = now;
        this.out.line(`\n${signal}: stopping the cluster`);
        this.stopController.abort();
        return;
      }
      if (now - this.firstSignalAtMs < SIGNAL_DEBOUNCE_MS) return;
      this.out.error(`${signal} again: killing every process`);
      for (const s of this.services) s.signal('SIGKILL');
      this.guardian?.close();
      this.removeStateFile();
      this.lock?.release();
      process.exit(130);
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  }

  private printEndpoints(): void {
    const { out } = this;
    const security = this.plan.security;
    const http = security ? 'https' : 'http';
    const rows = this.services.map((s) => [
      s.name,
      s.spec.api === 'grpc' ? `127.0.0.1:${s.spec.apiPort}` : `${this.plaintextApis.has(s.name) ? 'http' : http}://127.0.0.1:${s.spec.apiPort}`,
      `${s.adminTls ? http : 'http'}://127.0.0.1:${s.spec.adminPort}/metrics`,
    ]);
    const header = ['service', security ? 'API (gRPC over TLS unless https://)' : 'API (gRPC unless http://)', 'admin (/metrics /healthz /readyz)'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
    const fmt = (r: readonly string[]): string => `  ${r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i] as number) : c)).join('   ')}`;
    out.line('');
    out.line(`Tributary local cluster is ready${security ? ' (secure: TLS, SCRAM, ACLs)' : ''}: ${this.services.length} processes, data in ${this.shown(this.dataDir)}`);
    out.line('');
    out.line(fmt(header));
    for (const r of rows) out.line(fmt(r));
    out.line('');
    out.line('Use it:');
    // npm links apps/cli's `bin` there at install; existsSync follows the link to the file.
    const cli = fs.existsSync(path.join(this.root, 'node_modules', '.bin', 'tributary'));
    if (this.plan.bootstrap !== '') {
      const first = this.plan.bootstrap.split(',')[0];
      out.line(`  export TRIBUTARY_BOOTSTRAP=${first}`);
      if (!cli) out.line('  (the `tributary` CLI is not there yet: apps/cli; `npm install` links it once it is)');
      else if (!security) out.line('  npx tributary topics list');
    } else {
      out.line('  (no brokers yet: apps/broker is not built)');
    }
    if (security) this.printSecurity(cli);
    const controllers = this.services.filter((s) => s.spec.app === 'controller').map((s) => `127.0.0.1:${s.spec.apiPort}`);
    if (controllers.length > 0) {
      out.line(`  Admin API (gRPC tributary.v1.AdminService): ${controllers.join(', ')} (the active controller serves it; standbys answer NOT_CONTROLLER)`);
    }
    out.line(`  logs: ${this.shown(path.join(this.dataDir, 'logs'))}/<service>.log (JSON); warnings and errors also appear here`);
    out.line('');
    out.line(`Ctrl-C stops the cluster; \`npm start${security ? ' -- --secure' : ''}\` again brings it back with its data.`);
  }

  /** The secure-mode part of the banner: the admin password (once) and how to connect. */
  private printSecurity(cli: boolean): void {
    const { out } = this;
    const security = this.plan.security!;
    const ca = this.shown(security.caFile);
    const admin = certFilesOf(security.tlsDir, ADMIN_USER);
    const outcome = this.admin;
    out.line('');
    out.line(`  Security: TLS on every listener (clients trust ${ca}), client certificates from that CA name their CN (User:<CN>),`);
    out.line(`  SCRAM-SHA-256/512 logins, ACLs enforced (super users: ${security.superUsers.join(', ')}).`);
    if (outcome?.kind === 'created' || outcome?.kind === 'reset') {
      out.line('');
      out.line(`  The SCRAM user ${ADMIN_USER} ${outcome.kind === 'created' ? 'was created' : 'has a new password'} (${ADMIN_MECHANISMS.join(', ')}). Its password, shown this once and stored nowhere:`);
      out.line('');
      out.line(`    ${outcome.password}`);
      out.line('');
      out.line(`  export TRIBUTARY_SASL_PASSWORD='${outcome.password}'`);
    } else if (outcome?.kind === 'exists') {
      out.line(`  The SCRAM user ${ADMIN_USER} exists (${outcome.mechanisms.join(', ')}); its password was printed when it was made. Lost it? \`npm start -- --secure --reset-admin-password\``);
      out.line(`  export TRIBUTARY_SASL_PASSWORD='<the admin password>'`);
    } else if (outcome?.kind === 'no-cli') {
      out.line(`  The SCRAM user ${ADMIN_USER} was not made: ${outcome.main} is not built (use the admin certificate below)`);
    } else if (this.adminFailure !== undefined) {
      out.error(`  The SCRAM user ${ADMIN_USER} could not be made: ${this.adminFailure}`);
    }
    const run = cli ? 'npx tributary' : 'node apps/cli/dist/main.js';
    out.line(`  ${run} --tls-ca-file ${ca} --sasl-mechanism SCRAM-SHA-512 --sasl-username ${ADMIN_USER} topics list`);
    out.line(`  or as User:${ADMIN_USER} by client certificate (mutual TLS, no password):`);
    out.line(`  ${run} --tls-ca-file ${ca} --tls-cert-file ${this.shown(admin.certFile)} --tls-key-file ${this.shown(admin.keyFile)} topics list`);
    const proxy = this.services.find((s) => s.spec.app === 'rest-proxy');
    if (proxy && !this.plaintextApis.has(proxy.name)) out.line(`  REST proxy: curl --cacert ${ca} -u ${ADMIN_USER}:"$TRIBUTARY_SASL_PASSWORD" https://127.0.0.1:${proxy.spec.apiPort}/topics`);
    out.line(`  more users and ACLs: \`tributary users create <name> --password-file <file>\`, \`tributary acls add --allow-principal User:<name> ...\``);
  }

  /** `<data>/local-cluster.json`: what runs where, for scripts and tests. */
  private writeStateFile(ready: boolean): void {
    const file = path.join(this.dataDir, STATE_FILE);
    const state = {
      launcherPid: process.pid,
      startedAt: this.startedAt.toISOString(),
      ready,
      dataDir: this.dataDir,
      basePort: this.options.basePort,
      secure: this.plan.security !== undefined,
      ...(this.plan.security ? { caFile: this.plan.security.caFile, tlsDir: this.plan.security.tlsDir } : {}),
      bootstrap: this.plan.bootstrap,
      services: this.services.map((s) => ({
        name: s.name,
        app: s.spec.app,
        pid: s.running ? s.run!.pid : null,
        api: s.spec.api,
        apiPort: s.spec.apiPort,
        adminPort: s.spec.adminPort,
        adminTls: s.adminTls,
        restarts: s.restarts,
        logFile: s.logFile,
      })),
      skipped: this.plan.skipped.map((s) => s.app),
    };
    try {
      fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
      fs.renameSync(`${file}.tmp`, file);
    } catch (e) {
      this.out.error(`could not write ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private removeStateFile(): void {
    fs.rmSync(path.join(this.dataDir, STATE_FILE), { force: true });
  }
}

/** The shape of `<data>/local-cluster.json`. */
export interface ClusterState {
  launcherPid: number;
  startedAt: string;
  ready: boolean;
  dataDir: string;
  basePort: number;
  /** Started with --secure (TLS, SCRAM, ACLs). */
  secure: boolean;
  /** With --secure: the CA clients trust, and the folder of the certificates. */
  caFile?: string;
  tlsDir?: string;
  bootstrap: string;
  /** `adminTls`: the admin port serves HTTPS (--secure, a service that takes TLS there). */
  services: { name: string; app: string; pid: number | null; api: 'grpc' | 'http'; apiPort: number; adminPort: number; adminTls: boolean; restarts: number; logFile: string }[];
  skipped: string[];
}
