/**
 * A bound on records handed to the producer and not yet acknowledged: the producer's own
 * buffer.memory makes send() wait, but every waiting send is a promise and a queued append;
 * this keeps their number bounded when input arrives faster than the cluster acknowledges.
 */
export class PendingLimit {
  private count = 0;
  private waiter: (() => void) | undefined;
  private waiting: Promise<void> | undefined;

  constructor(readonly max: number) {}

  get pending(): number {
    return this.count;
  }

  /** One more record pending. */
  add(): void {
    this.count++;
  }

  /** `n` more records pending. */
  addMany(n: number): void {
    this.count += n;
  }

  /** `n` records (default one) acknowledged or failed. */
  release(n = 1): void {
    this.count -= n;
    if (this.waiter !== undefined && this.count <= this.max >>> 1) {
      const w = this.waiter;
      this.waiter = undefined;
      this.waiting = undefined;
      w();
    }
  }

  /** undefined while below the bound; else resolves once half of the bound is free again. */
  room(): Promise<void> | undefined {
    if (this.count < this.max) return undefined;
    this.waiting ??= new Promise((resolve) => (this.waiter = resolve));
    return this.waiting;
  }

  /** Resolves when nothing is pending (after the producer's flush, the last callbacks run). */
  async idle(): Promise<void> {
    while (this.count > 0) await new Promise<void>((resolve) => setTimeout(resolve, 2));
  }
}
