import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { createLogger } from './logger';
import { installShutdown, type ShutdownHook } from './shutdown';

function setup(hooks: ShutdownHook[], timeoutMs = 5000) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: 'test',
    nodeId: 1,
    destination: new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    }),
  });
  const exits: number[] = [];
  const signals = new EventEmitter();
  const s = installShutdown({ logger, timeoutMs, hooks, exit: (code) => void exits.push(code), signalSource: signals });
  return { s, exits, signals, lines };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('installShutdown', () => {
  it('runs the hooks in order on SIGTERM, each awaited, then exits 0', async () => {
    const order: string[] = [];
    const hook = (name: string, ms: number): ShutdownHook => ({
      name,
      run: async () => {
        order.push(`${name}:start`);
        await tick(ms);
        order.push(`${name}:end`);
      },
    });
    const { s, exits, signals } = setup([hook('readiness', 5), hook('grpc', 1)]);
    s.add(hook('admin', 0));
    expect(s.stopping).toBe(false);
    signals.emit('SIGTERM', 'SIGTERM');
    expect(s.stopping).toBe(true);
    await s.shutdown(); // same run
    expect(order).toEqual(['readiness:start', 'readiness:end', 'grpc:start', 'grpc:end', 'admin:start', 'admin:end']);
    expect(exits).toEqual([0]);
    s.uninstall();
  });

  it('logs a failing hook and carries on', async () => {
    const ran: string[] = [];
    const { s, exits, lines } = setup([
      { name: 'broken', run: () => { throw new Error('close failed'); } },
      { name: 'next', run: () => void ran.push('next') },
    ]);
    await s.shutdown('test');
    expect(ran).toEqual(['next']);
    expect(exits).toEqual([0]);
    const failure = lines.find((l) => l['msg'] === 'shutdown step failed');
    expect(failure).toMatchObject({ hook: 'broken', level: 'error' });
    expect((failure?.['err'] as { message: string }).message).toBe('close failed');
    s.uninstall();
  });

  it('exits 1 at once on a second signal', async () => {
    let release!: () => void;
    const { s, exits, signals } = setup([{ name: 'slow', run: () => new Promise<void>((r) => (release = r)) }]);
    signals.emit('SIGINT', 'SIGINT');
    await tick();
    expect(exits).toEqual([]);
    signals.emit('SIGTERM', 'SIGTERM');
    expect(exits).toEqual([1]);
    release();
    await s.shutdown();
    expect(exits).toEqual([1]); // never a second exit
    s.uninstall();
  });

  it('exits 1 when the hooks outlast the timeout', async () => {
    const { s, exits } = setup([{ name: 'stuck', run: () => new Promise(() => undefined) }], 30);
    await s.shutdown();
    expect(exits).toEqual([1]);
    s.uninstall();
  });

  it('stops listening after uninstall', () => {
    const { s, exits, signals } = setup([]);
    s.uninstall();
    signals.emit('SIGTERM', 'SIGTERM');
    expect(s.stopping).toBe(false);
    expect(exits).toEqual([]);
  });
});
