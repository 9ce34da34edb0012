/**
 * Starts the REAL coordination service (apps/coordination/dist/main.js, built by `tsc -b`)
 * as a child process on free loopback ports and waits until /readyz answers 200.
 */
import { join } from 'node:path';
import { freePorts, spawnProcess, waitFor } from '@tributary/testing';
import type { SpawnedProcess } from '@tributary/testing';

export const COORDINATION_MAIN = join(__dirname, '..', '..', 'dist', 'main.js');

export interface CoordinationProcess {
  proc: SpawnedProcess;
  address: string;
  grpcPort: number;
  adminPort: number;
  metrics(): Promise<string>;
}

export async function startCoordinationProcess(
  flags: Record<string, string | number>,
  ports?: { grpcPort: number; adminPort: number },
): Promise<CoordinationProcess> {
  const [grpcPort, adminPort] = ports ? [ports.grpcPort, ports.adminPort] : await freePorts(2);
  const args = [COORDINATION_MAIN, '--grpc-port', String(grpcPort), '--admin-port', String(adminPort)];
  for (const [k, v] of Object.entries(flags)) args.push(`--${k}`, String(v));
  const proc = spawnProcess({ command: process.execPath, args, name: 'coordination' });
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`coordination exited early:\n${proc.outputTail(30)}`);
      const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs: 15_000, message: 'coordination /readyz' },
  );
  return {
    proc,
    address: `127.0.0.1:${grpcPort}`,
    grpcPort: grpcPort!,
    adminPort: adminPort!,
    metrics: async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(),
  };
}
