/** Checks that the ports a cluster needs are free on 127.0.0.1 before anything starts. */
import * as net from 'node:net';

/** The entries whose port cannot be bound on 127.0.0.1 right now. */
export async function busyPorts<T extends { port: number }>(ports: readonly T[]): Promise<T[]> {
  const results = await Promise.all(ports.map(async (p) => ((await canListen(p.port)) ? undefined : p)));
  return results.filter((p): p is Awaited<T> => p !== undefined);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}
