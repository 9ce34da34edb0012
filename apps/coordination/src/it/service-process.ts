/**
 * Starts the REAL coordination service (apps/coordination/dist/main.js, built by `tsc -b`)
 * as a child process on free loopback ports (libs/testing's startServiceProcess).
 */
import { join } from 'node:path';
import { startServiceProcess } from '@tributary/testing';
import type { ServiceProcess } from '@tributary/testing';

export const COORDINATION_MAIN = join(__dirname, '..', '..', 'dist', 'main.js');

export type CoordinationProcess = ServiceProcess;

export function startCoordinationProcess(
  flags: Record<string, string | number>,
  ports?: { grpcPort: number; adminPort: number },
): Promise<CoordinationProcess> {
  return startServiceProcess({ name: 'coordination', main: COORDINATION_MAIN, flags, ports });
}
