/**
 * Real ZooKeeper servers for integration tests: the Debian package's jar run as a plain java
 * process (no init script, no root), on free loopback ports, each in its own temp directory:
 *
 *   <dir>/zoo.cfg          generated config
 *   <dir>/data/            ZooKeeper's dataDir (snapshots, txn logs, myid)
 *   <dir>/zookeeper.log    the server's log (slf4j-simple on the class path), stdout+stderr
 *
 * A server is ready when `srvr` reports a Mode (standalone / leader / follower); `ruok`
 * alone answers `imok` before the database is loaded or a quorum exists. Small `tickTime`
 * (200 ms) and session bounds let tests use session timeouts of about 1–10 s.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fourLetterWord, freePorts } from './net';
import { spawnProcess, SpawnedProcess } from './process';
import { removeDir, tempDir } from './temp';
import { sleep } from './wait';

export const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
export const SLF4J_SIMPLE_JAR = '/usr/share/java/slf4j-simple.jar';
export const ZOOKEEPER_INSTALL_COMMAND =
  'sudo apt-get update && sudo apt-get install -y --no-install-recommends zookeeper';

export interface ZooKeeperOptions {
  /** ZooKeeper's basic time unit (default 200 ms); session expiry is checked once a tick. */
  tickTimeMs?: number;
  /** Smallest session timeout the server grants (default 2 ticks). */
  minSessionTimeoutMs?: number;
  /** Largest session timeout the server grants (default 30 s). */
  maxSessionTimeoutMs?: number;
  /** JVM heap (default 128 MiB). */
  heapMb?: number;
  /** How long to wait for the server to serve (default 30 s). */
  startTimeoutMs?: number;
  /** More zoo.cfg lines, e.g. `{ 'globalOutstandingLimit': 100 }`. */
  extraConfig?: Record<string, string | number | boolean>;
}

export type ZooKeeperMode = 'standalone' | 'leader' | 'follower' | 'observer';

export interface StartOptions {
  /** Wait until `srvr` reports a Mode (default true); false: only until `ruok` says imok. */
  waitForServing?: boolean;
}

export interface ZooKeeperServer {
  /** `myid` (1..n) in an ensemble, 0 for a standalone server. */
  readonly id: number;
  readonly host: string;
  readonly port: number;
  /** `127.0.0.1:<port>` for a client. */
  readonly connectionString: string;
  /** Instance directory: zoo.cfg, data/, zookeeper.log. */
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly running: boolean;
  /** The java process id while running. */
  readonly pid: number | undefined;
  /** Starts the server again after stop()/kill(): same port, same data. */
  start(options?: StartOptions): Promise<void>;
  /** SIGTERM and wait for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit: a crash. */
  kill(): Promise<void>;
  /** stop() if running, then start(): same port, data survives. */
  restart(options?: StartOptions): Promise<void>;
  /** What `srvr` reports now, or undefined if the server is down or not serving. */
  mode(): Promise<ZooKeeperMode | undefined>;
  /** The last lines of the server's output. */
  logTail(lines?: number): string;
  /** kill() and remove the instance directory. */
  cleanup(): Promise<void>;
}

export interface ZooKeeperEnsemble {
  readonly members: readonly ZooKeeperServer[];
  /** `127.0.0.1:p1,127.0.0.1:p2,...` for a client. */
  readonly connectionString: string;
  /** The member with this myid (1-based). */
  member(id: number): ZooKeeperServer;
  /** The running member that reports Mode: leader, if any. */
  leader(): Promise<ZooKeeperServer | undefined>;
  /** Waits until every running member serves and exactly one of them leads. */
  waitForQuorum(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

/** Whether the Debian package and a java runtime are present. */
export function zooKeeperInstalled(): boolean {
  return fs.existsSync(ZOOKEEPER_JAR) && findJava() !== undefined;
}

function findJava(): string | undefined {
  const candidates = [
    ...(process.env['JAVA_HOME'] ? [path.join(process.env['JAVA_HOME'], 'bin', 'java')] : []),
    ...(process.env['PATH'] ?? '').split(path.delimiter).map((d) => path.join(d, 'java')),
  ];
  return candidates.find((c) => {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

interface PeerPorts {
  id: number;
  clientPort: number;
  peerPort: number;
  electionPort: number;
}

class ZooKeeperProcess implements ZooKeeperServer {
  readonly host = '127.0.0.1';
  readonly dataDir: string;
  readonly logFile: string;
  private readonly configFile: string;
  private proc: SpawnedProcess | undefined;
  private removed = false;

  constructor(
    readonly id: number,
    readonly port: number,
    readonly dir: string,
    private readonly options: ZooKeeperOptions,
    peers: readonly PeerPorts[],
  ) {
    this.dataDir = path.join(dir, 'data');
    this.logFile = path.join(dir, 'zookeeper.log');
    this.configFile = path.join(dir, 'zoo.cfg');
    fs.mkdirSync(this.dataDir, { recursive: true });
    const tickTimeMs = options.tickTimeMs ?? 200;
    const config: Record<string, string | number | boolean> = {
      tickTime: tickTimeMs,
      dataDir: this.dataDir,
      clientPort: port,
      clientPortAddress: this.host,
      minSessionTimeout: options.minSessionTimeoutMs ?? 2 * tickTimeMs,
      maxSessionTimeout: options.maxSessionTimeoutMs ?? 30_000,
      'admin.enableServer': false,
      '4lw.commands.whitelist': 'srvr,ruok',
      // Txn logs are preallocated in 64 MiB steps by default; tests write little.
      preAllocSize: 1024,
      // Never purge: restart tests read old data.
      'autopurge.purgeInterval': 0,
    };
    if (peers.length > 0) {
      Object.assign(config, {
        initLimit: 20,
        syncLimit: 10,
      });
      for (const p of peers) config[`server.${p.id}`] = `${this.host}:${p.peerPort}:${p.electionPort}`;
      fs.writeFileSync(path.join(this.dataDir, 'myid'), `${id}\n`);
    }
    Object.assign(config, options.extraConfig);
    const text = Object.entries(config)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join('\n');
    fs.writeFileSync(this.configFile, `${text}\n`);
  }

  get connectionString(): string {
    return `${this.host}:${this.port}`;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  get pid(): number | undefined {
    return this.running ? this.proc?.pid : undefined;
  }

  async start(options: StartOptions = {}): Promise<void> {
    if (this.removed) throw new Error(`ZooKeeper ${this.describe()} was cleaned up`);
    if (this.running) return;
    const java = findJava();
    if (!fs.existsSync(ZOOKEEPER_JAR) || java === undefined) {
      throw new Error(`ZooKeeper is not installed (${ZOOKEEPER_JAR} and java are needed); run: ${ZOOKEEPER_INSTALL_COMMAND}`);
    }
    const classPath = [ZOOKEEPER_JAR, ...(fs.existsSync(SLF4J_SIMPLE_JAR) ? [SLF4J_SIMPLE_JAR] : [])];
    fs.appendFileSync(this.logFile, `---- starting ${this.describe()} at ${new Date().toISOString()}\n`);
    const proc = spawnProcess({
      name: `zookeeper-${this.id}:${this.port}`,
      command: java,
      args: [
        `-Xmx${this.options.heapMb ?? 128}m`,
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-XX:-UsePerfData',
        '-Djava.net.preferIPv4Stack=true',
        '-Dzookeeper.admin.enableServer=false',
        // Election connections to a dead peer give up after 1 s instead of 5 s.
        '-Dzookeeper.cnxTimeout=1000',
        '-Dorg.slf4j.simpleLogger.showDateTime=true',
        '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
        '-cp',
        classPath.join(':'),
        'org.apache.zookeeper.server.quorum.QuorumPeerMain',
        this.configFile,
      ],
      logFile: this.logFile,
    });
    this.proc = proc;
    const waitForServing = options.waitForServing ?? true;
    const timeoutMs = this.options.startTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!proc.running) {
        const exit = await proc.exited;
        throw new Error(
          `ZooKeeper ${this.describe()} exited during start-up (code ${exit.code}, signal ${exit.signal}); ` +
            `log ${this.logFile}:\n${proc.outputTail(30)}`,
        );
      }
      if (waitForServing ? (await this.mode()) !== undefined : await this.answersRuok()) return;
      if (Date.now() > deadline) {
        const tail = proc.outputTail(30);
        await proc.killAndWait('SIGKILL');
        throw new Error(
          `ZooKeeper ${this.describe()} did not ${waitForServing ? 'serve' : "answer 'ruok'"} within ${timeoutMs} ms; ` +
            `log ${this.logFile}:\n${tail}`,
        );
      }
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await this.proc?.stop(10_000);
  }

  async kill(): Promise<void> {
    await this.proc?.killAndWait('SIGKILL');
  }

  async restart(options?: StartOptions): Promise<void> {
    await this.stop();
    await this.start(options);
  }

  async mode(): Promise<ZooKeeperMode | undefined> {
    if (!this.running) return undefined;
    try {
      const answer = await fourLetterWord(this.port, 'srvr', 1_000, this.host);
      const match = /^Mode: (standalone|leader|follower|observer)$/m.exec(answer);
      return match?.[1] as ZooKeeperMode | undefined;
    } catch {
      return undefined;
    }
  }

  logTail(lines = 50): string {
    return this.proc?.outputTail(lines) ?? '';
  }

  async cleanup(): Promise<void> {
    await this.kill();
    if (!this.removed) {
      this.removed = true;
      removeDir(this.dir);
    }
  }

  private async answersRuok(): Promise<boolean> {
    try {
      return (await fourLetterWord(this.port, 'ruok', 1_000, this.host)) === 'imok';
    } catch {
      return false;
    }
  }

  private describe(): string {
    return this.id === 0 ? `on port ${this.port}` : `server ${this.id} on port ${this.port}`;
  }
}

/** Starts a standalone ZooKeeper and waits until it serves. */
export async function startZooKeeper(options: ZooKeeperOptions = {}): Promise<ZooKeeperServer> {
  const [port] = (await freePorts(1)) as [number];
  const server = new ZooKeeperProcess(0, port, tempDir('zookeeper'), options, []);
  try {
    await server.start();
  } catch (e) {
    await server.cleanup();
    throw e;
  }
  return server;
}

class Ensemble implements ZooKeeperEnsemble {
  constructor(
    readonly members: readonly ZooKeeperServer[],
    private readonly root: string,
  ) {}

  get connectionString(): string {
    return this.members.map((m) => m.connectionString).join(',');
  }

  member(id: number): ZooKeeperServer {
    const m = this.members[id - 1];
    if (m === undefined) throw new Error(`no ensemble member ${id} (1..${this.members.length})`);
    return m;
  }

  async leader(): Promise<ZooKeeperServer | undefined> {
    const modes = await Promise.all(this.members.map((m) => m.mode()));
    const i = modes.indexOf('leader');
    return i < 0 ? undefined : this.members[i];
  }

  async waitForQuorum(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.members.filter((m) => m.running);
      const modes = await Promise.all(running.map((m) => m.mode()));
      const leaders = modes.filter((m) => m === 'leader').length;
      if (running.length > 0 && leaders === 1 && modes.every((m) => m === 'leader' || m === 'follower')) return;
      if (Date.now() > deadline) {
        const state = running.map((m, i) => `${m.id}:${modes[i] ?? 'not serving'}`).join(', ');
        const tails = running.map((m) => `-- server ${m.id} (${m.logFile}):\n${m.logTail(15)}`).join('\n');
        throw new Error(`ZooKeeper ensemble has no quorum after ${timeoutMs} ms (${state})\n${tails}`);
      }
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop()));
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.members.map((m) => m.cleanup()));
    removeDir(this.root);
  }
}

/**
 * Starts `size` ZooKeeper servers forming one ensemble on 127.0.0.1 (client, peer and
 * election ports all distinct) and waits until a leader is elected and every member serves.
 */
export async function startZooKeeperEnsemble(size = 3, options: ZooKeeperOptions = {}): Promise<ZooKeeperEnsemble> {
  if (!Number.isInteger(size) || size < 1) throw new Error(`ensemble size must be a positive integer, got ${size}`);
  const ports = await freePorts(3 * size);
  const peers: PeerPorts[] = Array.from({ length: size }, (_, i) => ({
    id: i + 1,
    clientPort: ports[3 * i] as number,
    peerPort: ports[3 * i + 1] as number,
    electionPort: ports[3 * i + 2] as number,
  }));
  const root = tempDir('zookeeper-ensemble');
  const members = peers.map(
    (p) => new ZooKeeperProcess(p.id, p.clientPort, path.join(root, `server-${p.id}`), options, peers),
  );
  const ensemble = new Ensemble(members, root);
  try {
    await Promise.all(members.map((m) => m.start({ waitForServing: false })));
    await ensemble.waitForQuorum(options.startTimeoutMs ?? 30_000);
  } catch (e) {
    await ensemble.cleanup();
    throw e;
  }
  return ensemble;
}
