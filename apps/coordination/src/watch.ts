/**
 * Watch streams on top of a backend's one-shot watches: a loop of "read the state and arm a
 * watch; report the state if its revision differs from the last one reported; wait for the
 * watch". Because each read arms the next watch atomically (backend contract), no change
 * between two reads is lost; several quick changes may be reported as one (level-triggered).
 *
 * Revisions: a node's modRevision (it changes on every data change and on re-creation), or
 * the parent's childrenRevision for children; 0 when the node does not exist. The caller
 * passes the revision it last saw and resumes from the last one it received.
 *
 * If the backend loses its session ('lost') the loop simply re-reads. If the backend is
 * unavailable for longer than `unavailableGraceMs`, the stream fails with UNAVAILABLE so the
 * client can resume elsewhere.
 */
import type { Backend, NodeStat, WatchFired } from './backend';
import { CoordinationError } from './backend';
import { ABORTED, orAbort } from './abort';

export type WatchUpdate =
  | { type: 'node-changed'; path: string; data: Buffer; stat: NodeStat; revision: bigint }
  | { type: 'node-deleted'; path: string; revision: 0n }
  | { type: 'children-changed'; path: string; children: string[]; stat: NodeStat; revision: bigint };

export interface WatchOptions {
  children: boolean;
  fromRevision: bigint;
  signal: AbortSignal;
  /** How long to keep retrying while the backend is unavailable (default 10 s). */
  unavailableGraceMs?: number;
}

export async function* watchPath(backend: Backend, path: string, options: WatchOptions): AsyncGenerator<WatchUpdate> {
  const { signal } = options;
  const grace = options.unavailableGraceMs ?? 10_000;
  let last = options.fromRevision;
  let unavailableSince = 0;
  while (!signal.aborted) {
    let update: WatchUpdate;
    let changed: Promise<WatchFired>;
    let cancel: () => void;
    try {
      if (options.children) {
        const w = await backend.childrenAndWatch(path);
        ({ changed, cancel } = w);
        update = w.children
          ? { type: 'children-changed', path, children: w.children.names, stat: w.children.stat, revision: w.children.stat.childrenRevision }
          : { type: 'node-deleted', path, revision: 0n };
      } else {
        const w = await backend.getAndWatch(path);
        ({ changed, cancel } = w);
        update = w.node
          ? { type: 'node-changed', path, data: w.node.data, stat: w.node.stat, revision: w.node.stat.modRevision }
          : { type: 'node-deleted', path, revision: 0n };
      }
      unavailableSince = 0;
    } catch (e) {
      if (!(e instanceof CoordinationError) || e.code !== 'UNAVAILABLE') throw e;
      unavailableSince ||= Date.now();
      if (Date.now() - unavailableSince > grace) throw e;
      await sleep(200, signal);
      continue;
    }
    if (update.revision !== last) {
      last = update.revision;
      yield update;
    }
    const outcome = await orAbort(changed, signal);
    if (outcome === ABORTED) {
      cancel();
      return;
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
