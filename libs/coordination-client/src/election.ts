/**
 * Election: runs for leadership of a named election and says when this process gains and
 * loses it. Each candidacy has its own lease; leadership ends when that lease is lost (the
 * service expired it, or no keep-alive got through for a TTL) or on `stop()`. After a loss
 * it campaigns again (with a new lease) until stopped. The term given to `onElected` is the
 * fencing epoch to stamp on every decision made while leading.
 */
import type { CoordinationClient, LeaseKeeper } from './client';

export interface ElectionOptions {
  /** Election name (e.g. 'controller'). */
  name: string;
  /** What observers see as the leader (e.g. `{"id":1,"host":...}`). */
  candidate: Buffer;
  /** Lease TTL: how long a dead leader keeps the office (default 6 s). */
  ttlMs?: number;
  onElected(term: bigint): void;
  onLost(reason: string): void;
}

export class Election {
  private stopped = false;
  private lease: LeaseKeeper | undefined;
  private key: string | undefined;
  private readonly control = new AbortController();
  private leading = false;

  constructor(
    private readonly client: CoordinationClient,
    private readonly options: ElectionOptions,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.loop();
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        this.lease = await this.client.grantLease(this.options.ttlMs ?? 6000);
        const lost = this.lease.expired.then((reason) => ({ lost: reason }));
        const won = this.client.campaign(this.options.name, this.options.candidate, this.lease.id, this.control.signal).then((r) => ({ won: r }));
        won.catch(() => undefined); // if the lease is lost first, the campaign fails later: not an error
        const first = await Promise.race([won, lost]);
        if ('lost' in first || this.stopped) {
          continue; // the lease died while waiting: campaign again with a new one
        }
        this.key = first.won.key;
        this.leading = true;
        attempt = 0;
        this.options.onElected(first.won.leader.term);
        const reason = await this.lease.expired;
        this.leading = false;
        if (!this.stopped) this.options.onLost(reason);
      } catch (e) {
        if (this.stopped) return;
        if (this.leading) {
          this.leading = false;
          this.options.onLost(e instanceof Error ? e.message : String(e));
        }
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** Math.min(attempt, 5))));
      }
    }
  }

  /** Resigns (if leading) and revokes the lease. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.control.abort();
    // Stop acting as leader before anyone else can be elected.
    if (this.leading) {
      this.leading = false;
      this.options.onLost('stopped');
    }
    try {
      if (this.key) await this.client.resign(this.options.name, this.key);
      await this.lease?.revoke();
    } catch {
      this.lease?.stop(); // unreachable: the lease expires by itself
    }
  }
}
