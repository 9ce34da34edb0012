import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { freePorts } from './net';
import { liveProcesses, spawnProcess, stopAllProcesses } from './process';
import { removeDir, removeTempDirs, tempDir } from './temp';
import { sleep, waitFor, withTimeout } from './wait';

afterAll(async () => {
  await stopAllProcesses();
  removeTempDirs();
});

describe('spawnProcess', () => {
  it('captures the output tail, writes the log file and reports the exit code', async () => {
    const dir = tempDir('spawn');
    const logFile = path.join(dir, 'sub', 'out.log');
    const proc = spawnProcess({
      command: process.execPath,
      args: ['-e', 'for (let i = 0; i < 300; i++) console.log("line " + i); console.error("bye " + process.env.GREETING); process.exit(3)'],
      env: { GREETING: 'hello' },
      logFile,
      tailLines: 50,
    });
    expect(proc.pid).toBeGreaterThan(0);
    const exit = await proc.exited;
    expect(exit).toEqual({ code: 3, signal: null });
    expect(proc.running).toBe(false);
    expect(proc.outputTail(1)).toBe('bye hello');
    expect(proc.outputTail().split('\n').length).toBeLessThanOrEqual(51);
    await waitFor(() => fs.readFileSync(logFile, 'utf8').includes('bye hello'), { timeoutMs: 2_000 });
    expect(fs.readFileSync(logFile, 'utf8')).toContain('line 0\n');
  });

  it('kills with a signal and forgets the process once it exited', async () => {
    const proc = spawnProcess({ command: 'sleep', args: ['30'] });
    expect(liveProcesses()).toContain(proc);
    proc.kill('SIGKILL');
    expect(await proc.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(liveProcesses()).not.toContain(proc);
    proc.kill(); // no-op once gone
  });

  it('stop() escalates to SIGKILL when SIGTERM is ignored', async () => {
    const proc = spawnProcess({
      command: process.execPath,
      args: ['-e', 'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)'],
    });
    await waitFor(() => proc.outputTail().includes('ready'));
    const started = Date.now();
    expect(await proc.stop(300)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('a command that cannot be spawned resolves `exited` with the reason', async () => {
    const proc = spawnProcess({ command: '/nonexistent/tributary-binary' });
    const exit = await withTimeout(proc.exited, 5_000, 'exit of a failed spawn');
    expect(exit.code).not.toBe(0);
    expect(proc.outputTail()).toContain('ENOENT');
  });
});

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let n = 0;
    await expect(waitFor(() => (++n >= 3 ? n : 0), { intervalMs: 1 })).resolves.toBe(3);
  });

  it('fails with the message and the last error after the timeout', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('not yet');
        },
        { timeoutMs: 100, intervalMs: 10, message: 'the moon' },
      ),
    ).rejects.toThrow(/timed out after 100 ms waiting for the moon \(last error: not yet\)/);
  });

  it('withTimeout rejects a promise that does not settle in time', async () => {
    await expect(withTimeout(sleep(1_000), 20, 'a slow thing')).rejects.toThrow('a slow thing');
  });
});

describe('tempDir and freePorts', () => {
  it('makes distinct empty directories and removes them', () => {
    const a = tempDir('x');
    const b = tempDir('x');
    expect(a).not.toBe(b);
    expect(fs.readdirSync(a)).toEqual([]);
    removeDir(a);
    expect(fs.existsSync(a)).toBe(false);
  });

  it('hands out distinct ports that can be bound', async () => {
    const ports = await freePorts(9);
    expect(new Set(ports).size).toBe(9);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(ports[0], '127.0.0.1', resolve));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
