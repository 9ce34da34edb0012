import * as net from 'node:net';
import { startTcpProxy, TcpProxy } from './proxy';
import { sleep, waitFor, withTimeout } from './wait';

describe('startTcpProxy', () => {
  let echo: net.Server;
  let proxy: TcpProxy;
  beforeAll(async () => {
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    proxy = await startTcpProxy({ port: (echo.address() as net.AddressInfo).port });
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  function connect(): Promise<{ socket: net.Socket; received: () => string; closed: () => boolean }> {
    return new Promise((resolve, reject) => {
      let data = '';
      let closed = false;
      const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
      socket.on('data', (d) => (data += d.toString()));
      socket.on('close', () => (closed = true));
      socket.on('error', () => undefined);
      socket.once('connect', () => resolve({ socket, received: () => data, closed: () => closed }));
      socket.once('error', reject);
    });
  }

  it('forwards, freezes without closing, heals, and blocks', async () => {
    const a = await connect();
    a.socket.write('one');
    await waitFor(() => a.received() === 'one');
    expect(proxy.connections).toBe(1);

    proxy.freeze();
    a.socket.write('two');
    await sleep(100);
    expect(a.received()).toBe('one');
    expect(a.closed()).toBe(false);
    proxy.heal();
    await waitFor(() => a.received() === 'onetwo', { message: 'the frozen bytes' });

    proxy.block();
    await waitFor(() => a.closed(), { message: 'the connection to be cut' });
    const b = await connect();
    await waitFor(() => b.closed(), { message: 'a new connection to be refused' });
    proxy.heal();
    const c = await connect();
    c.socket.write('three');
    await withTimeout(waitFor(() => c.received() === 'three'), 2_000, 'forwarding after heal');
    c.socket.destroy();
  });
});
