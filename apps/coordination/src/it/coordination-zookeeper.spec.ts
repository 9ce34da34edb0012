/**
 * The coordination service over a REAL ZooKeeper (Debian package, started by the harness),
 * as real processes: a ZooKeeper restart under connected clients, a lease holder killed with
 * SIGKILL (its ephemerals vanish within the TTL and the next candidate wins), a 3-server
 * ensemble losing a member, the coordination service itself killed and restarted, and a
 * lease (with its ephemeral and its leadership) failing over between two replicas.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoordinationClient, Election } from '@tributary/coordination-client';
import type { LeaderEvent, WatchEvent } from '@tributary/proto';
import { spawnProcess, startZooKeeper, startZooKeeperEnsemble, stopAllProcesses, tempDir, waitFor } from '@tributary/testing';
import type { ZooKeeperServer } from '@tributary/testing';
import { startCoordinationProcess } from './service-process';
import type { CoordinationProcess } from './service-process';

jest.setTimeout(120_000);

const CLIENT_DIST = join(__dirname, '..', '..', '..', '..', 'libs', 'coordination-client', 'dist', 'index.js');

afterAll(async () => {
  await stopAllProcesses();
});

describe('coordination over one ZooKeeper server', () => {
  let zk: ZooKeeperServer;
  let service: CoordinationProcess;
  let client: CoordinationClient;
  const flags = (): Record<string, string | number> => ({
    backend: 'zookeeper',
    'zookeeper-connect': zk.connectionString,
    'zookeeper-chroot': '/it-single',
    'zookeeper-session-timeout-ms': 4000,
  });

  beforeAll(async () => {
    zk = await startZooKeeper({ tickTimeMs: 200, minSessionTimeoutMs: 1000, maxSessionTimeoutMs: 20_000 });
    service = await startCoordinationProcess(flags());
    client = new CoordinationClient({ address: service.address });
  });
  afterAll(async () => {
    client?.close();
    await service?.proc.stop();
    await zk?.cleanup();
  });

  it('survives a ZooKeeper restart: calls recover and the watch misses no change', async () => {
    await client.ensurePath('/zk/restart');
    const events: WatchEvent[] = [];
    const watch = client.watch('/zk/restart', { children: true, onEvent: (e) => events.push(e) });
    await waitFor(() => events.length === 1, { message: 'the first watch event' });
    await zk.restart();
    // Calls work again once the session reconnects (they may fail while it is down).
    await waitFor(async () => (await client.create('/zk/restart/after', Buffer.from('x')).then(() => true, () => false)), {
      timeoutMs: 30_000,
      message: 'a create to succeed after the restart',
    }).catch(async (e) => {
      if (!(await client.tryGet('/zk/restart/after'))) throw e;
    });
    await waitFor(() => events.some((e) => e.children.includes('after')), { timeoutMs: 30_000, message: 'the watch to report the new child' });
    watch.cancel();
  });

  it('removes the ephemerals of a lease holder killed with SIGKILL, and elects the next candidate', async () => {
    const script = join(tempDir('holder'), 'holder.js');
    writeFileSync(
      script,
      `const { CoordinationClient } = require(${JSON.stringify(CLIENT_DIST)});
       (async () => {
         const client = new CoordinationClient({ address: process.argv[2] });
         const lease = await client.grantLease(2000);
         await client.ensurePath('/zk/holders');
         await client.create('/zk/holders/victim', Buffer.from('alive'), { leaseId: lease.id });
         const won = await client.campaign('zk-kill', Buffer.from('victim'), lease.id);
         console.log('LEADING ' + won.leader.term);
       })().catch((e) => { console.error(e); process.exit(1); });`,
    );
    const holder = spawnProcess({ command: process.execPath, args: [script, service.address], name: 'holder' });
    await waitFor(() => holder.outputTail().includes('LEADING'), { timeoutMs: 20_000, message: `the holder to lead (${holder.outputTail(5)})` });
    const victimTerm = BigInt(/LEADING (\d+)/.exec(holder.outputTail())![1]!);
    let successorTerm: bigint | undefined;
    const successor = new Election(client, {
      name: 'zk-kill',
      candidate: Buffer.from('successor'),
      ttlMs: 2000,
      onElected: (term) => (successorTerm = term),
      onLost: () => undefined,
    });
    successor.start();
    await new Promise((r) => setTimeout(r, 500));
    expect(successorTerm).toBeUndefined();
    holder.kill('SIGKILL');
    await waitFor(async () => (await client.tryGet('/zk/holders/victim')) === undefined, { timeoutMs: 15_000, message: 'the ephemeral to vanish' });
    await waitFor(() => successorTerm !== undefined, { timeoutMs: 15_000, message: 'the successor to be elected' });
    expect(successorTerm!).toBeGreaterThan(victimTerm);
    await successor.stop();
  });

  it.each(['SIGKILL', 'SIGTERM'] as const)('fails a lease over to another replica after %s: its ephemeral and leadership outlive the replica that granted it', async (signal) => {
    const replicaA = await startCoordinationProcess(flags());
    const replicaB = await startCoordinationProcess(flags());
    const clientA = new CoordinationClient({ address: replicaA.address });
    const clientB = new CoordinationClient({ address: replicaB.address });
    const leaders: LeaderEvent[] = [];
    const observing = client.observe(`zk-failover-${signal}`, (e) => leaders.push(e));
    try {
      const keeper = await clientA.grantLease(2000);
      await clientA.ensurePath('/zk/failover');
      await clientA.create(`/zk/failover/holder-${signal}`, Buffer.from('a'), { leaseId: keeper.id });
      const won = await clientA.campaign(`zk-failover-${signal}`, Buffer.from('a'), keeper.id);
      await waitFor(() => leaders.at(-1)?.term === won.leader.term, { message: 'the observer to see the leader' });

      replicaA.proc.kill(signal);
      expect((await replicaA.proc.exited).signal ?? 'exit 0').toBe(signal === 'SIGKILL' ? 'SIGKILL' : 'exit 0');
      clientA.close(); // stops its keeper; the lease is not revoked
      const resumed = clientB.keepLease(keeper.id, keeper.ttlMs);
      let expired: string | undefined;
      void resumed.expired.then((why) => (expired = why));
      await new Promise((r) => setTimeout(r, 3 * keeper.ttlMs)); // well past the ttl
      expect(expired).toBeUndefined();
      expect((await client.tryGet(`/zk/failover/holder-${signal}`))?.stat.leaseId).toBe(keeper.id);
      expect(leaders.at(-1)).toMatchObject({ term: won.leader.term, key: won.key, leader: Buffer.from('a') });

      resumed.stop();
      const stopped = Date.now();
      await waitFor(async () => (await client.tryGet(`/zk/failover/holder-${signal}`)) === undefined, { timeoutMs: 10_000, intervalMs: 50, message: 'the ephemeral to vanish' });
      expect(Date.now() - stopped).toBeLessThan(2 * keeper.ttlMs + 5_000); // about the ttl; slack for a loaded 2-core machine
      await waitFor(() => leaders.at(-1)?.term === 0n, { timeoutMs: 5_000, message: 'the leadership to end' });
    } finally {
      observing.cancel();
      clientA.close();
      clientB.close();
      await replicaB.proc.stop();
    }
  });

  it('keeps the data and serves the same clients when the coordination service is killed and restarted', async () => {
    await client.ensurePath('/zk/durable');
    await client.create('/zk/durable/item', Buffer.from('v1'));
    service.proc.kill('SIGKILL');
    await service.proc.exited;
    service = await startCoordinationProcess(flags(), { grpcPort: service.grpcPort, adminPort: service.adminPort });
    expect((await client.get('/zk/durable/item')).data.toString()).toBe('v1');
    await client.set('/zk/durable/item', Buffer.from('v2'));
    expect((await client.get('/zk/durable/item')).data.toString()).toBe('v2');
  });
});

describe('coordination over a 3-server ZooKeeper ensemble', () => {
  it('keeps working when one server is killed', async () => {
    const ensemble = await startZooKeeperEnsemble(3, { tickTimeMs: 200, minSessionTimeoutMs: 1000, maxSessionTimeoutMs: 20_000 });
    const service = await startCoordinationProcess({
      backend: 'zookeeper',
      'zookeeper-connect': ensemble.connectionString,
      'zookeeper-chroot': '/it-ensemble',
      'zookeeper-session-timeout-ms': 6000,
    });
    const client = new CoordinationClient({ address: service.address });
    try {
      await client.ensurePath('/ens');
      await client.create('/ens/before', Buffer.from('1'));
      await ensemble.member(1).kill();
      await waitFor(async () => (await client.create('/ens/after', Buffer.from('2')).then(() => true, () => false)) || (await client.tryGet('/ens/after')) !== undefined, {
        timeoutMs: 30_000,
        message: 'a write after losing a server',
      });
      expect((await client.children('/ens')).children).toEqual(['after', 'before']);
    } finally {
      client.close();
      await service.proc.stop();
      await ensemble.cleanup();
    }
  });
});
