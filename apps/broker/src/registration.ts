/**
 * The broker's registration: the ephemeral node `/brokers/ids/<id>` (JSON `{host, port,
 * rack, incarnation}`; the incarnation changes at every registration) tied to a lease the broker keeps alive. While it exists the controller counts the
 * broker alive; when the broker dies the lease expires (after its TTL) and the node vanishes.
 *
 * A broker restarted quickly after a crash finds its previous node still there (the old lease
 * has not expired yet): it waits and retries until it is gone, as a Kafka broker waits for its
 * old ZooKeeper session to expire. When the lease is lost (coordination unreachable for a whole
 * TTL) it registers again with a new lease; the controller then sends it its full state.
 */
import type { CoordinationClient, LeaseKeeper } from '@tributary/coordination-client';
import { CoordinationClientError } from '@tributary/coordination-client';
import type { Logger } from '@tributary/runtime';

export const BROKER_IDS_PATH = '/brokers/ids';

export interface RegistrationInfo {
  host: string;
  port: number;
  rack?: string;
}

export class BrokerRegistration {
  private lease: LeaseKeeper | undefined;
  private stopped = false;
  private registeredOnce = false;
  private currentIncarnation: string | undefined;
  private loop: Promise<void> | undefined;
  private signalStop!: () => void;
  private readonly stopSignal = new Promise<string>((resolve) => (this.signalStop = () => resolve('stopped')));

  constructor(
    private readonly client: CoordinationClient,
    private readonly brokerId: number,
    private readonly info: RegistrationInfo,
    private readonly ttlMs: number,
    private readonly logger: Logger,
    private readonly onChange: (registered: boolean) => void = () => undefined,
  ) {}

  /** The incarnation of the current registration (undefined while not registered). */
  get incarnation(): string | undefined {
    return this.lease ? this.currentIncarnation : undefined;
  }

  get path(): string {
    return `${BROKER_IDS_PATH}/${this.brokerId}`;
  }

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let warnedTaken = false;
    for (let attempt = 0; !this.stopped; ) {
      let lease: LeaseKeeper | undefined;
      try {
        await this.client.ensurePath(BROKER_IDS_PATH);
        lease = await this.client.grantLease(this.ttlMs);
        if (this.stopped) {
          await lease.revoke().catch(() => undefined);
          return;
        }
        // A new incarnation at every registration: the controller resends the full state.
        const incarnation = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
        await this.client.create(this.path, Buffer.from(JSON.stringify({ ...this.info, incarnation })), { leaseId: lease.id });
        this.lease = lease;
        this.currentIncarnation = incarnation;
        attempt = 0;
        warnedTaken = false;
        this.logger.info({ path: this.path, ...this.info, again: this.registeredOnce }, 'registered');
        this.registeredOnce = true;
        this.onChange(true);
        // Once per registration: racing the lease against the stop signal leaks nothing.
        const reason = await Promise.race([lease.expired, this.stopSignal]);
        this.lease = undefined;
        if (this.stopped) return;
        this.onChange(false);
        this.logger.warn({ reason }, 'registration lease lost; registering again');
      } catch (e) {
        await lease?.revoke().catch(() => undefined);
        if (this.stopped) return;
        if (e instanceof CoordinationClientError && e.code === 'NODE_EXISTS') {
          if (!warnedTaken) {
            this.logger.warn(
              { path: this.path },
              `broker id ${this.brokerId} is still registered (a previous run whose lease has not expired yet, or another broker with the same id); waiting for it to go`,
            );
            warnedTaken = true;
          }
          await sleep(Math.min(1000, this.ttlMs / 4));
          continue;
        }
        this.logger.warn({ err: e, attempt }, 'registration failed; retrying');
        await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt++, 5)));
      }
    }
  }

  /** Deregisters at once (revokes the lease: the node vanishes now, not after the TTL). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.signalStop();
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await lease.revoke().catch((e: unknown) => this.logger.warn({ err: e }, 'revoking the registration lease failed'));
    await this.loop?.catch(() => undefined);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
