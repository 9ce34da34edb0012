/**
 * Helpers of the launcher's integration specs (cluster.spec.ts, secure.spec.ts): a free range
 * of ports, the launcher (start.js --no-build) as a child process, and waiting for its lines.
 */
import * as path from 'node:path';
import { spawnProcess, waitFor } from '@tributary/testing';
import type { SpawnedProcess } from '@tributary/testing';
import { parseOptions } from './options';
import { busyPorts } from './ports';
import { planCluster, planPorts } from './services';
import type { ClusterPlan } from './services';

export const ROOT = path.join(__dirname, '..', '..', '..');
export const START = path.join(ROOT, 'tools', 'local-cluster', 'start.js');
/** The last line of the endpoints banner: everything before it has been printed. */
export const BANNER_END = 'Ctrl-C stops the cluster;';

/** Every process the launcher can start (built or not) on `base`. */
export function planned(base: number): ClusterPlan {
  return planCluster(parseOptions(['--base-port', String(base)], {}, ROOT, ROOT), ROOT, () => true);
}

/** A --base-port below the ephemeral range whose every port is free right now. */
export async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 10_000 + 100 * Math.floor(Math.random() * 200); // 10000..29900: + 2082 stays below 32768
    if ((await busyPorts(planPorts(planned(base)))).length === 0) return base;
  }
  throw new Error('no free range of ports for the cluster');
}

/** The launcher on `dataDir` and `basePort`, its output kept beside the data directory. */
export function launchCluster(dataDir: string, basePort: number, ...extra: string[]): SpawnedProcess {
  return spawnProcess({
    command: process.execPath,
    args: [START, '--no-build', '--base-port', String(basePort), '--data-dir', dataDir, '--stop-timeout-ms', '5000', ...extra],
    name: 'local-cluster',
    logFile: path.join(dataDir, '..', `launcher-${path.basename(dataDir)}.out`),
    tailLines: 2_000,
    env: { INIT_CWD: undefined },
  });
}

/** Waits until `proc` printed `text`; fails at once, with its output, if it exits first. */
export async function untilPrinted(proc: SpawnedProcess, text: string, timeoutMs = 35_000): Promise<void> {
  await waitFor(() => proc.outputTail().includes(text) || !proc.running, { timeoutMs, message: `'${text}' from the launcher`, intervalMs: 50 });
  if (!proc.outputTail().includes(text)) throw new Error(`the launcher exited before printing '${text}':\n${proc.outputTail(60)}`);
}
