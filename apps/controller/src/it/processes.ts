/**
 * Starts the REAL coordination service and controller processes for tests (built by
 * `tsc -b`), through libs/testing's startServiceProcess.
 */
import { join } from 'node:path';
import { CoordinationClient } from '@tributary/coordination-client';
import { startServiceProcess, stopAllProcesses, tempDir, waitFor } from '@tributary/testing';
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

/** Coordination (embedded store) and two controllers, with a client of one service to each. */
export interface ControllerPair<C extends { close(): void }> {
  coordination: ServiceProcess;
  /** A client of the coordination store (to check what the controllers wrote). */
  store: CoordinationClient;
  /** The client to the active controller, and to the standby. */
  active: C;
  standby: C;
  /** Closes the clients and stops every process. */
  stop(): Promise<void>;
}

/**
 * Starts coordination and controllers `ids`, connects `connect` to each, and finds the active
 * one: the controller whose `probe` call succeeds (standbys answer NOT_CONTROLLER).
 */
export async function startControllerPair<C extends { close(): void }>(
  name: string,
  ids: [number, number],
  connect: (address: string) => C,
  probe: (client: C) => Promise<unknown>,
): Promise<ControllerPair<C>> {
  const coordination = await startCoordinationProcess({ backend: 'embedded', 'data-dir': tempDir(`controller-${name}`), 'node-id': `coord-${name}` });
  const store = new CoordinationClient({ address: coordination.address });
  const clients = new Map<number, C>();
  for (const id of ids) {
    const proc = await startControllerProcess({ 'node-id': id, coordination: coordination.address, 'lease-ttl-ms': 2000, 'log-level': 'warn' });
    clients.set(id, connect(proc.address));
  }
  const activeId = await waitFor(
    async () => {
      for (const [id, c] of clients) {
        const ok = await probe(c).then(
          () => true,
          () => false,
        );
        if (ok) return id;
      }
      return undefined;
    },
    { timeoutMs: 15_000, message: 'an active controller' },
  );
  return {
    coordination,
    store,
    active: clients.get(activeId)!,
    standby: [...clients].find(([id]) => id !== activeId)![1],
    async stop() {
      for (const c of clients.values()) c.close();
      store.close();
      await stopAllProcesses();
    },
  };
}
