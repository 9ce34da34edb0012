/** Loopback ports and ZooKeeper's four-letter-word commands for integration tests. */
import * as net from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port as number;
}

/**
 * `count` DISTINCT free ports: all are held open together before being released, so the OS
 * cannot hand out the same port twice (an ensemble needs 3 ports per member).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/**
 * Sends a four-letter word (`ruok`, `srvr`, ...) to a ZooKeeper server and returns its whole
 * answer. Rejects on connection errors or after `timeoutMs`. The command must be in the
 * server's `4lw.commands.whitelist`.
 */
export function fourLetterWord(port: number, command: string, timeoutMs = 2_000, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer to '${command}' within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.end(command));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}
