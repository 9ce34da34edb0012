/**
 * The keyed waiting room for requests that cannot be answered yet (Kafka's
 * DelayedOperationPurgatory): a long-poll fetch waiting for min_bytes, an acks=all produce
 * waiting for the high watermark. An operation is watched under one or more keys (e.g.
 * `topic-partition`); the event that may satisfy it (an append, a HW move) calls
 * `checkAndComplete(key)`, which retries only the operations watching that key. Each
 * operation completes exactly once: by `tryComplete` returning true, or by `onExpire` at its
 * deadline. No polling timers: one timer per operation for its deadline.
 *
 * Concurrency: single-threaded; callbacks run synchronously inside watch/checkAndComplete
 * or the deadline timer.
 */

export interface DelayedOperation {
  /** Completes the operation if it can now; returns whether it did. */
  tryComplete(): boolean;
  /** Called once, at the deadline, if the operation never completed. */
  onExpire(): void;
}

interface Entry {
  op: DelayedOperation;
  keys: string[];
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

export class Purgatory {
  private readonly watchers = new Map<string, Set<Entry>>();
  private pending = 0;

  constructor(readonly name: string) {}

  /** Operations waiting now (a gauge). */
  get size(): number {
    return this.pending;
  }

  /**
   * Tries `op` at once; if it cannot complete, parks it under `keys` until one of them is
   * touched and it completes, or `timeoutMs` passes. Returns whether it completed at once.
   */
  watch(op: DelayedOperation, keys: readonly string[], timeoutMs: number): boolean {
    if (op.tryComplete()) return true;
    const entry: Entry = { op, keys: [...keys], timer: undefined, done: false };
    for (const key of entry.keys) {
      let set = this.watchers.get(key);
      if (!set) {
        set = new Set();
        this.watchers.set(key, set);
      }
      set.add(entry);
    }
    this.pending++;
    entry.timer = setTimeout(() => this.expire(entry), Math.max(0, timeoutMs));
    return false;
  }

  /** Retries the operations watching `key`; returns how many completed. */
  checkAndComplete(key: string): number {
    const set = this.watchers.get(key);
    if (!set) return 0;
    let completed = 0;
    for (const entry of [...set]) {
      if (entry.done) continue;
      if (entry.op.tryComplete()) {
        this.finish(entry);
        completed++;
      }
    }
    return completed;
  }

  private expire(entry: Entry): void {
    if (entry.done) return;
    this.finish(entry);
    entry.op.onExpire();
  }

  private finish(entry: Entry): void {
    entry.done = true;
    this.pending--;
    if (entry.timer) clearTimeout(entry.timer);
    for (const key of entry.keys) {
      const set = this.watchers.get(key);
      set?.delete(entry);
      if (set?.size === 0) this.watchers.delete(key);
    }
  }

  /** Expires everything now (shutdown): every waiting request gets its answer. */
  expireAll(): void {
    const all = new Set<Entry>();
    for (const set of this.watchers.values()) for (const e of set) all.add(e);
    for (const entry of all) this.expire(entry);
  }
}
