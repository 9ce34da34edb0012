/**
 * Starts a REAL Tributary service process (a built `dist/main.js`) on free loopback ports
 * and waits until its /readyz answers 200. Every service takes `--grpc-port` and
 * `--admin-port`; other settings go in `flags` (`{ 'data-dir': '/tmp/x' }` → `--data-dir /tmp/x`;
 * booleans: `{ x: true }` → `--x`, `{ x: false }` → `--no-x`).
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { freePorts } from './net';
import { spawnProcess } from './process';
import type { SpawnedProcess } from './process';
import { waitFor } from './wait';

export interface ServiceProcess {
  proc: SpawnedProcess;
  /** `<host>:<grpc port>` (host 127.0.0.1 unless started with another). */
  address: string;
  grpcPort: number;
  adminPort: number;
  /** The Prometheus text of /metrics. */
  metrics(): Promise<string>;
}

export interface ServiceProcessOptions {
  name: string;
  /** Path of the service's built entry point. */
  main: string;
  flags?: Record<string, string | number | boolean>;
  /** Reuse these ports (a restart on the same address); default: free ones. */
  ports?: { grpcPort: number; adminPort: number };
  readyTimeoutMs?: number;
  /** Node options before the script (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /**
   * Host the service listens on and is reached at (default 127.0.0.1); passed as `--host`
   * when not loopback. For services in or next to a network namespace (netns.ts).
   */
  host?: string;
  /** Command the node process runs under, e.g. `['ip', 'netns', 'exec', 'ns1']`. */
  wrapper?: string[];
  /** CA file of the service's admin port when it serves HTTPS (its TLS flags are set). */
  adminCaFile?: string;
  /** Appends the service's whole output (stdout and stderr) to this file. */
  logFile?: string;
}

/** GET `path` on an admin port (HTTP, or HTTPS verified against `caFile`): status and body. */
export function adminGet(host: string, port: number, path: string, caFile?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const done = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    };
    const req = caFile
      ? httpsRequest({ host, port, path, ca: readFileSync(caFile), servername: host === '127.0.0.1' ? 'localhost' : host, timeout: 5000 }, done)
      : httpRequest({ host, port, path, timeout: 5000 }, done);
    req.on('timeout', () => req.destroy(new Error(`GET ${path} on ${host}:${port} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const { name } = options;
  const [grpcPort, adminPort] = options.ports ? [options.ports.grpcPort, options.ports.adminPort] : ((await freePorts(2)) as [number, number]);
  const host = options.host ?? '127.0.0.1';
  const args = [...(options.nodeArgs ?? []), options.main, '--grpc-port', String(grpcPort), '--admin-port', String(adminPort)];
  if (host !== '127.0.0.1') args.push('--host', host);
  for (const [k, v] of Object.entries(options.flags ?? {})) {
    if (typeof v === 'boolean') args.push(v ? `--${k}` : `--no-${k}`);
    else args.push(`--${k}`, String(v));
  }
  const [command, ...prefix] = [...(options.wrapper ?? []), process.execPath];
  const proc = spawnProcess({ command: command!, args: [...prefix, ...args], name, ...(options.logFile !== undefined ? { logFile: options.logFile } : {}) });
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`${name} exited early:\n${proc.outputTail(30)}`);
      const res = await adminGet(host, adminPort, '/readyz', options.adminCaFile).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs: options.readyTimeoutMs ?? 15_000, message: `${name} /readyz` },
  );
  return {
    proc,
    address: `${host}:${grpcPort}`,
    grpcPort: grpcPort!,
    adminPort: adminPort!,
    metrics: async () => (await adminGet(host, adminPort, '/metrics', options.adminCaFile)).body,
  };
}
