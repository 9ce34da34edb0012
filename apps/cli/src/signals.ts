/** SIGINT/SIGTERM as a stop request for long-running commands (consume, perf): a clean exit 0. */
export class StopSignal {
  private stopped = false;
  private readonly listeners: Array<() => void> = [];
  private readonly onSignal = (): void => this.stop();

  constructor() {
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  get requested(): boolean {
    return this.stopped;
  }

  /** Calls `listener` on stop (at once if already stopped). */
  onStop(listener: () => void): void {
    if (this.stopped) listener();
    else this.listeners.push(listener);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const l of this.listeners.splice(0)) l();
  }

  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
