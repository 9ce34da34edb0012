/**
 * Starts the REAL coordination service and controller processes for tests (built by
 * `tsc -b`), through libs/testing's startServiceProcess.
 */
import { join } from 'node:path';
import { startServiceProcess } from '@tributary/testing';
import type { ServiceProcess } from '@tributary/testing';

export type { ServiceProcess };

export const COORDINATION_MAIN = join(__dirname, '..', '..', '..', 'coordination', 'dist', 'main.js');
export const CONTROLLER_MAIN = join(__dirname, '..', '..', 'dist', 'main.js');

/** The coordination service (apps/coordination/dist/main.js). */
export function startCoordinationProcess(flags: Record<string, string | number>): Promise<ServiceProcess> {
  return startServiceProcess({ name: 'coordination', main: COORDINATION_MAIN, flags });
}

/** A controller (apps/controller/dist/main.js). */
export function startControllerProcess(flags: Record<string, string | number>): Promise<ServiceProcess> {
  return startServiceProcess({ name: `controller-${flags['node-id'] ?? ''}`, main: CONTROLLER_MAIN, flags });
}
