import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zookeeper from 'node-zookeeper-client';
import { fourLetterWord } from './net';
import { liveProcesses, spawnProcess } from './process';
import { removeTempDirs, tempDir } from './temp';
import { waitFor, withTimeout } from './wait';
import { startZooKeeper, startZooKeeperEnsemble, ZooKeeperEnsemble, ZooKeeperServer } from './zookeeper';

jest.setTimeout(30_000);

// Every client call is wrapped in a promise with a deadline: an assertion failing inside a
// node-zookeeper-client callback would otherwise hang the test instead of failing it.
interface Client {
  raw: zookeeper.Client;
  create(p: string, data: string): Promise<string>;
  get(p: string): Promise<string>;
  close(): void;
}

async function connect(connectionString: string, sessionTimeout = 4_000): Promise<Client> {
  const raw = zookeeper.createClient(connectionString, { sessionTimeout, spinDelay: 100 });
  const connected = new Promise<void>((resolve) => raw.once('connected', () => resolve()));
  raw.connect();
  await withTimeout(connected, 10_000, `connecting to ${connectionString}`);
  const call = <T>(what: string, f: (cb: (e: unknown, v: T) => void) => void): Promise<T> =>
    withTimeout(
      new Promise<T>((resolve, reject) => f((e, v) => (e ? reject(e) : resolve(v)))),
      10_000,
      what,
    );
  return {
    raw,
    create: (p, data) => call<string>(`create ${p}`, (cb) => raw.create(p, Buffer.from(data), cb)),
    get: (p) =>
      call<Buffer>(`get ${p}`, (cb) => raw.getData(p, (e, d) => cb(e, d))).then((d) => d.toString('utf8')),
    close: () => raw.close(),
  };
}

const clients: Client[] = [];
async function client(connectionString: string): Promise<Client> {
  const c = await connect(connectionString);
  clients.push(c);
  return c;
}

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(() => removeTempDirs());

describe('startZooKeeper', () => {
  let zk: ZooKeeperServer;
  beforeAll(async () => {
    zk = await startZooKeeper({ tickTimeMs: 100 });
  });
  afterAll(async () => {
    await zk.cleanup();
  });

  it('serves on a loopback port with its own config, data dir and log file', async () => {
    expect(zk.connectionString).toBe(`127.0.0.1:${zk.port}`);
    expect(await fourLetterWord(zk.port, 'ruok')).toBe('imok');
    expect(await zk.mode()).toBe('standalone');
    const config = fs.readFileSync(path.join(zk.dir, 'zoo.cfg'), 'utf8');
    expect(config).toContain('admin.enableServer=false');
    expect(config).toContain('4lw.commands.whitelist=srvr,ruok');
    expect(config).toContain('tickTime=100');
    expect(fs.existsSync(path.join(zk.dataDir, 'version-2'))).toBe(true);
    await waitFor(() => fs.readFileSync(zk.logFile, 'utf8').includes('binding to port'), {
      message: 'the server log',
    });
    const c = await client(zk.connectionString);
    await c.create('/hello', 'world');
    expect(await c.get('/hello')).toBe('world');
  });

  it('restart() keeps the port and the data', async () => {
    const c = await client(zk.connectionString);
    await c.create('/kept', 'v1');
    const pid = zk.pid;
    await zk.restart();
    expect(zk.pid).not.toBe(pid);
    expect(await zk.mode()).toBe('standalone');
    const c2 = await client(zk.connectionString);
    expect(await c2.get('/kept')).toBe('v1');
  });

  it('kill() is a crash: the server is gone at once, and start() brings it back with its data', async () => {
    const c = await client(zk.connectionString);
    await c.create('/before-crash', 'x');
    const pid = zk.pid as number;
    await zk.kill();
    expect(zk.running).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    await expect(fourLetterWord(zk.port, 'ruok')).rejects.toThrow();
    expect(await zk.mode()).toBeUndefined();
    await zk.start();
    const c2 = await client(zk.connectionString);
    expect(await c2.get('/before-crash')).toBe('x');
  });

  it('negotiates session timeouts within the configured bounds', async () => {
    const c = await connect(zk.connectionString, 60_000);
    clients.push(c);
    expect(c.raw.getSessionTimeout()).toBe(30_000); // maxSessionTimeout default
    const d = await connect(zk.connectionString, 50);
    clients.push(d);
    expect(d.raw.getSessionTimeout()).toBe(200); // 2 ticks
  });
});

describe('start-up failures', () => {
  it('say why and quote the log', async () => {
    await expect(startZooKeeper({ extraConfig: { tickTime: 'not-a-number' } })).rejects.toThrow(
      /exited during start-up[\s\S]*zookeeper\.log[\s\S]*not-a-number/,
    );
  });
});

describe('startZooKeeperEnsemble', () => {
  let ensemble: ZooKeeperEnsemble;
  beforeAll(async () => {
    ensemble = await startZooKeeperEnsemble(3);
  });
  afterAll(async () => {
    await ensemble.cleanup();
  });

  it('elects one leader and exposes every member', async () => {
    expect(ensemble.members.map((m) => m.id)).toEqual([1, 2, 3]);
    expect(ensemble.connectionString.split(',')).toEqual(ensemble.members.map((m) => m.connectionString));
    const modes = await Promise.all(ensemble.members.map((m) => m.mode()));
    expect(modes.filter((m) => m === 'leader')).toHaveLength(1);
    expect(modes.filter((m) => m === 'follower')).toHaveLength(2);
    for (const m of ensemble.members) {
      expect(fs.readFileSync(path.join(m.dataDir, 'myid'), 'utf8').trim()).toBe(String(m.id));
    }
  });

  it('keeps serving a client with one member killed, and the member rejoins', async () => {
    const c = await client(ensemble.connectionString);
    await c.create('/e', 'one');
    const leader = await ensemble.leader();
    expect(leader).toBeDefined();
    await leader?.kill();
    await ensemble.waitForQuorum(15_000);
    const newLeader = await ensemble.leader();
    expect(newLeader?.id).not.toBe(leader?.id);
    // The client reconnects by itself to a live member.
    await c.create('/e/two', '2');
    expect(await c.get('/e')).toBe('one');
    const c2 = await client(ensemble.connectionString);
    expect(await c2.get('/e/two')).toBe('2');
    await leader?.start();
    await ensemble.waitForQuorum(15_000);
    expect(await leader?.mode()).toBe('follower');
    const direct = await client(leader?.connectionString ?? '');
    expect(await direct.get('/e/two')).toBe('2');
  });
});

describe('leak protection', () => {
  it('a test process killed with SIGKILL leaves no ZooKeeper behind', async () => {
    // A child process runs the harness (transpiled from these sources) and starts a server;
    // when the child is SIGKILLed, the harness' reaper must kill the java process.
    const dir = tempDir('leak');
    const swc = await import('@swc/core');
    const sources = fs.readdirSync(__dirname).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'));
    for (const name of sources.map((f) => f.slice(0, -3))) {
      const out = await swc.transformFile(path.join(__dirname, `${name}.ts`), {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
      });
      fs.writeFileSync(path.join(dir, `${name}.js`), out.code);
    }
    fs.writeFileSync(
      path.join(dir, 'main.js'),
      `require('./index').startZooKeeper().then((zk) => console.log('java-pid ' + zk.pid));
       setInterval(() => {}, 1000);`,
    );
    const child = spawnProcess({ command: process.execPath, args: [path.join(dir, 'main.js')] });
    const line = await waitFor(
      () => {
        const found = /java-pid (\d+)/.exec(child.outputTail());
        if (!found && !child.running) throw new Error(`the child exited: ${child.outputTail(10)}`);
        return found;
      },
      { timeoutMs: 20_000, message: "the child's ZooKeeper" },
    );
    const javaPid = Number(line[1]);
    expect(() => process.kill(javaPid, 0)).not.toThrow();
    child.kill('SIGKILL');
    await child.exited;
    await waitFor(
      () => {
        try {
          process.kill(javaPid, 0);
          return false;
        } catch {
          return true;
        }
      },
      { timeoutMs: 5_000, message: `java ${javaPid} to be killed by the reaper` },
    );
    expect(liveProcesses()).not.toContain(child);
  });
});
