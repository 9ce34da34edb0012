// ProducerIdAllocator against an in-memory stand-in of the coordination store (unit test: the
// real store, the fenced Multi and a controller failover are exercised by apps/broker's
// idempotence.spec.ts).
import type { CoordinationClient } from '@tributary/coordination-client';
import { CoordinationClientError } from '@tributary/coordination-client';
import type { Op } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { Logger } from '@tributary/runtime';
import { PRODUCER_ID_BLOCK_PATH, PRODUCER_ID_BLOCK_SIZE, ProducerIdAllocator } from './producer-ids';
import type { ProducerIdBlockNode } from './producer-ids';

/** One node, versioned; a Multi of one create/set applies it with the store's CAS rules. */
class OneNodeStore {
  node: { data: Buffer; version: number } | undefined;
  /** Runs once before the next write (a concurrent writer). */
  beforeWrite: (() => void) | undefined;

  async tryGet(path: string): Promise<{ data: Buffer; stat: { version: number } } | undefined> {
    expect(path).toBe(PRODUCER_ID_BLOCK_PATH);
    return this.node && { data: this.node.data, stat: { version: this.node.version } };
  }

  async multi(writes: Op[]): Promise<void> {
    const hook = this.beforeWrite;
    this.beforeWrite = undefined;
    hook?.();
    for (const { op } of writes) {
      if (op?.$case === 'create') {
        if (this.node) throw new CoordinationClientError('NODE_EXISTS', 'exists');
        this.node = { data: op.value.data, version: 0 };
      } else if (op?.$case === 'set') {
        if (!this.node || this.node.version !== op.value.expectedVersion) throw new CoordinationClientError('BAD_VERSION', 'version');
        this.node = { data: op.value.data, version: this.node.version + 1 };
      }
    }
  }

  content(): ProducerIdBlockNode {
    return JSON.parse(this.node!.data.toString()) as ProducerIdBlockNode;
  }
}

const silent = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;

function allocator(store: OneNodeStore, registered = [0, 1, 2], fenced = false): ProducerIdAllocator {
  return new ProducerIdAllocator({
    client: store as unknown as CoordinationClient,
    logger: silent,
    fencedMulti: async (writes) => {
      if (fenced) throw new TributaryError(ErrorCode.NOT_CONTROLLER, 'not the controller');
      await store.multi(writes);
    },
    retrying: async (step) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await step();
        } catch (e) {
          if (!(e instanceof CoordinationClientError) || attempt >= 10) throw e;
        }
      }
    },
    isRegistered: async (id) => registered.includes(id),
  });
}

it('hands out consecutive blocks of 1000, recording the last one as Kafka does', async () => {
  const store = new OneNodeStore();
  const ids = allocator(store);
  const first = await ids.allocate(1);
  expect(first).toEqual({ errorCode: ErrorCode.NONE, errorMessage: '', producerIdStart: 0n, producerIdLen: PRODUCER_ID_BLOCK_SIZE });
  expect(store.content()).toEqual({ version: 1, broker: 1, block_start: '0', block_end: '999' });
  const second = await ids.allocate(2);
  expect(second.producerIdStart).toBe(1000n);
  expect(store.content()).toEqual({ version: 1, broker: 2, block_start: '1000', block_end: '1999' });
});

it('re-reads and takes the next block when another allocation wins the compare-and-set', async () => {
  const store = new OneNodeStore();
  const ids = allocator(store);
  await ids.allocate(0); // 0..999
  const rival = allocator(store);
  // Between this allocation's read and its write, another one takes 1000..1999.
  store.beforeWrite = () => {
    store.node = { data: Buffer.from(JSON.stringify({ version: 1, broker: 2, block_start: '1000', block_end: '1999' })), version: store.node!.version + 1 };
  };
  const mine = await rival.allocate(1);
  expect(mine.producerIdStart).toBe(2000n);
  expect(store.content().broker).toBe(1);
});

it('refuses an unregistered broker, reports an unreadable block node, and lets NOT_CONTROLLER fail the call', async () => {
  const store = new OneNodeStore();
  expect((await allocator(store, [0]).allocate(5)).errorCode).toBe(ErrorCode.BROKER_NOT_AVAILABLE);
  expect(store.node).toBeUndefined();
  store.node = { data: Buffer.from('{"version":7}'), version: 3 };
  const unreadable = await allocator(store).allocate(0);
  expect(unreadable.errorCode).toBe(ErrorCode.UNKNOWN_SERVER_ERROR);
  expect(unreadable.errorMessage).toMatch(/unreadable block.*fix or remove it/);
  store.node = undefined;
  await expect(allocator(store, [0], true).allocate(0)).rejects.toMatchObject({ code: ErrorCode.NOT_CONTROLLER });
});
