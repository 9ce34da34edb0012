/**
 * The guard of the APIs only the active controller serves (ACLs, SCRAM users, client quotas):
 * a standby answers NOT_CONTROLLER, which the SDK follows to the active one.
 */
import { ErrorCode, TributaryError } from '@tributary/records';

/** A function that throws NOT_CONTROLLER unless this controller is the active one. */
export function activeControllerGuard(options: { nodeId: number; isActive(): boolean }): () => void {
  return () => {
    if (!options.isActive()) {
      throw new TributaryError(
        ErrorCode.NOT_CONTROLLER,
        `controller ${options.nodeId} is not the active controller: ask a broker for metadata (controller_host/controller_port) and retry there`,
      );
    }
  };
}
