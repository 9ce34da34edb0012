/**
 * One timer that calls `fire` at the EARLIEST of the times asked for: asking for a later time
 * while an earlier one is armed does nothing; asking for an earlier one re-arms. The Sender
 * and the Fetcher use it to wake up for the first partition whose retry backoff ends.
 */
export class WakeupTimer {
  private timer: NodeJS.Timeout | undefined;
  private atMs = Infinity;

  constructor(private readonly fire: () => void) {}

  /** Wakes up at `atMs` (epoch ms) unless already armed for earlier. */
  arm(atMs: number): void {
    if (atMs >= this.atMs) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.atMs = atMs;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.atMs = Infinity;
        this.fire();
      },
      Math.max(0, atMs - Date.now()),
    );
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.atMs = Infinity;
  }
}
