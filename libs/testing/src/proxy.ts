/**
 * A TCP proxy on a free loopback port, for network faults between a client and a server
 * without root or network namespaces: cut every connection (`block`), or keep connections
 * open but carry nothing (`freeze`: what a partition or a dead host looks like to TCP).
 */
import * as net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  /** Connections currently proxied. */
  readonly connections: number;
  /** Drops every connection and refuses new ones (they are accepted and closed at once). */
  block(): void;
  /** Connections stay open, nothing is forwarded either way; new ones are accepted but carry nothing too. */
  freeze(): void;
  /** Back to forwarding (frozen bytes are delivered late, as after a partition heals). */
  heal(): void;
  close(): Promise<void>;
}

type Mode = 'forward' | 'blocked' | 'frozen';

export async function startTcpProxy(target: { port: number; host?: string }): Promise<TcpProxy> {
  const host = target.host ?? '127.0.0.1';
  let mode: Mode = 'forward';
  const pairs = new Set<[net.Socket, net.Socket]>();

  const server = net.createServer((client) => {
    if (mode === 'blocked') {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host, port: target.port });
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of pair) {
      s.on('error', end);
      s.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    if (mode === 'frozen') {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  const proxy: TcpProxy = {
    port,
    address: `127.0.0.1:${port}`,
    get connections() {
      return pairs.size;
    },
    block() {
      mode = 'blocked';
      for (const [a, b] of [...pairs]) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
    freeze() {
      mode = 'frozen';
      for (const [a, b] of pairs) {
        a.pause();
        b.pause();
      }
    },
    heal() {
      mode = 'forward';
      for (const [a, b] of pairs) {
        a.resume();
        b.resume();
      }
    },
    async close() {
      proxy.block();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
