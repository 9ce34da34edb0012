/**
 * Starts the REAL coordination service and controller processes for tests.
 *
 * `startCoordinationProcess` is a copy of apps/coordination/src/it/service-process.ts (~40
 * lines): importing it by relative path would put a file outside this project's `rootDir`
 * into `tsc -b`, and apps may not import apps (module boundaries). Keep the two in step.
 */
import { join } from 'node:path';
import { freePorts, spawnProcess, waitFor } from '@tributary/testing';
import type { SpawnedProcess } from '@tributary/testing';

export const COORDINATION_MAIN = join(__dirname, '..', '..', '..', 'coordination', 'dist', 'main.js');
export const CONTROLLER_MAIN = join(__dirname, '..', '..', 'dist', 'main.js');

export interface ServiceProcess {
  proc: SpawnedProcess;
  address: string;
  grpcPort: number;
  adminPort: number;
  metrics(): Promise<string>;
}

async function startService(name: string, main: string, flags: Record<string, string | number>): Promise<ServiceProcess> {
  const [grpcPort, adminPort] = (await freePorts(2)) as [number, number];
  const args = [main, '--grpc-port', String(grpcPort), '--admin-port', String(adminPort)];
  for (const [k, v] of Object.entries(flags)) args.push(`--${k}`, String(v));
  const proc = spawnProcess({ command: process.execPath, args, name });
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`${name} exited early:\n${proc.outputTail(30)}`);
      const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs: 15_000, message: `${name} /readyz` },
  );
  return {
    proc,
    address: `127.0.0.1:${grpcPort}`,
    grpcPort,
    adminPort,
    metrics: async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(),
  };
}

/** The coordination service (apps/coordination/dist/main.js, built by `tsc -b`). */
export function startCoordinationProcess(flags: Record<string, string | number>): Promise<ServiceProcess> {
  return startService('coordination', COORDINATION_MAIN, flags);
}

/** A controller (apps/controller/dist/main.js, built by `tsc -b`). */
export function startControllerProcess(flags: Record<string, string | number>): Promise<ServiceProcess> {
  return startService(`controller-${flags['node-id'] ?? ''}`, CONTROLLER_MAIN, flags);
}
