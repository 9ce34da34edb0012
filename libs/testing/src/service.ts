/**
 * Starts a REAL Tributary service process (a built `dist/main.js`) on free loopback ports
 * and waits until its /readyz answers 200. Every service takes `--grpc-port` and
 * `--admin-port`; other settings go in `flags` (`{ 'data-dir': '/tmp/x' }` → `--data-dir /tmp/x`).
 */
import { freePorts } from './net';
import { spawnProcess } from './process';
import type { SpawnedProcess } from './process';
import { waitFor } from './wait';

export interface ServiceProcess {
  proc: SpawnedProcess;
  /** `127.0.0.1:<grpc port>`. */
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
  flags?: Record<string, string | number>;
  /** Reuse these ports (a restart on the same address); default: free ones. */
  ports?: { grpcPort: number; adminPort: number };
  readyTimeoutMs?: number;
  /** Node options before the script (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
}

export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const { name } = options;
  const [grpcPort, adminPort] = options.ports ? [options.ports.grpcPort, options.ports.adminPort] : ((await freePorts(2)) as [number, number]);
  const args = [...(options.nodeArgs ?? []), options.main, '--grpc-port', String(grpcPort), '--admin-port', String(adminPort)];
  for (const [k, v] of Object.entries(options.flags ?? {})) args.push(`--${k}`, String(v));
  const proc = spawnProcess({ command: process.execPath, args, name });
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`${name} exited early:\n${proc.outputTail(30)}`);
      const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs: options.readyTimeoutMs ?? 15_000, message: `${name} /readyz` },
  );
  return {
    proc,
    address: `127.0.0.1:${grpcPort}`,
    grpcPort: grpcPort!,
    adminPort: adminPort!,
    metrics: async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(),
  };
}
