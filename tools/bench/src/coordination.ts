/**
 * coordination: the adapter's overhead. A real ZooKeeper (Debian package, started here) and
 * the coordination service process over it; the same operations done through the service
 * (libs/coordination-client, gRPC) and directly with node-zookeeper-client, in the same run:
 * Get and Set ops/s with 64 calls in flight, and the latency from a write until the watcher
 * knows the new data (p50/p99), one at a time, direct and adapter samples alternating. Both
 * watch paths are triggered by the same kind of direct ZooKeeper setData, so they differ only
 * in how the change reaches the watcher:
 * through the adapter a Watch event carries the data; directly, a ZooKeeper notification is
 * followed by a getData (the bare notification is reported too).
 */
import { join } from 'node:path';
import { CoordinationClient } from '@tributary/coordination-client';
import { freePorts, spawnProcess, startZooKeeper, stopAllProcesses, waitFor } from '@tributary/testing';
import type { Client as ZkClient } from 'node-zookeeper-client';
import * as zookeeper from 'node-zookeeper-client';
import type { Benchmark, BenchContext } from './harness';
import { nowSeconds, round } from './harness';

const IN_FLIGHT = 64;
const VALUE = Buffer.alloc(100, 7);

// node-zookeeper-client callbacks: (error, result...) — error is an Error or an Exception.
function zkCall<T>(fn: (cb: (error: unknown, result: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((error, result) => (error ? reject(error) : resolve(result))));
}

/** Runs `op` with IN_FLIGHT calls outstanding for `seconds`; returns completed ops/s. */
async function throughput(seconds: number, op: () => Promise<unknown>): Promise<number> {
  const deadline = nowSeconds() + seconds;
  let done = 0;
  const start = nowSeconds();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (nowSeconds() < deadline) {
        await op();
        done++;
      }
    }),
  );
  return done / (nowSeconds() - start);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const bench: Benchmark = {
  description: 'Get/Set ops/s and watch latency through the coordination service vs node-zookeeper-client directly, on a real ZooKeeper',
  async run(ctx: BenchContext) {
    const seconds = ctx.quick ? 3 : 10;
    const watchRounds = ctx.quick ? 200 : 1000;
    const zk = await startZooKeeper();
    const [grpcPort, adminPort] = await freePorts(2);
    const main = join(__dirname, '..', '..', '..', 'apps', 'coordination', 'dist', 'main.js');
    const service = spawnProcess({
      command: process.execPath,
      args: [main, '--backend', 'zookeeper', '--zookeeper-connect', zk.connectionString, '--zookeeper-chroot', '/bench',
        '--grpc-port', String(grpcPort), '--admin-port', String(adminPort), '--log-level', 'warn'],
      name: 'coordination',
    });
    const direct: ZkClient = zookeeper.createClient(zk.connectionString);
    const client = new CoordinationClient({ address: `127.0.0.1:${grpcPort}` });
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`).catch(() => undefined))?.status === 200, {
        timeoutMs: 20_000,
        message: `the coordination service (${service.outputTail(10)})`,
      });
      await new Promise<void>((resolve) => {
        direct.once('connected', () => resolve());
        direct.connect();
      });
      // Direct nodes live outside the service's chroot.
      await zkCall((cb) => direct.mkdirp('/direct/node', cb));
      await zkCall((cb) => direct.setData('/direct/node', VALUE, -1, cb));
      await client.ensurePath('/adapter/node');
      await client.set('/adapter/node', VALUE);
      // Warm-up both paths (JIT, connections).
      await throughput(0.5, () => zkCall((cb) => direct.getData('/direct/node', cb)));
      await throughput(0.5, () => client.get('/adapter/node'));

      const getDirect = await throughput(seconds, () => zkCall((cb) => direct.getData('/direct/node', cb)));
      const getAdapter = await throughput(seconds, () => client.get('/adapter/node'));
      ctx.report(`get: direct ${getDirect.toFixed(0)} ops/s, adapter ${getAdapter.toFixed(0)} ops/s (${(getAdapter / getDirect).toFixed(2)})`);
      const setDirect = await throughput(seconds, () => zkCall((cb) => direct.setData('/direct/node', VALUE, -1, cb)));
      const setAdapter = await throughput(seconds, () => client.set('/adapter/node', VALUE));
      ctx.report(`set: direct ${setDirect.toFixed(0)} ops/s, adapter ${setAdapter.toFixed(0)} ops/s (${(setAdapter / setDirect).toFixed(2)})`);

      // Watch latency. A ZooKeeper watch only says "changed"; the adapter's Watch delivers the
      // new data, which a ZooKeeper client gets by reading again (the standard recipe:
      // notification → getData with a new watch). So the like-for-like direct figure is
      // notification + read; the bare notification is reported beside it. Both paths are
      // triggered by the same kind of direct setData (the service's tree lives under its
      // chroot), and their samples alternate, so both meet the same machine conditions (the
      // tail of either swings by several ms from one minute to the next on this VM).
      const directLatencies: number[] = [];
      const notifyOnlyLatencies: number[] = [];
      const adapterLatencies: number[] = [];
      let onEvent: (() => void) | undefined;
      const lastRevision = (await client.get('/adapter/node')).stat.modRevision;
      const watch = client.watch('/adapter/node', {
        fromRevision: lastRevision,
        onEvent: () => onEvent?.(),
      });
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < watchRounds; i++) {
        let fired!: () => void;
        const notified = new Promise<void>((resolve) => (fired = resolve));
        await zkCall((cb) => direct.getData('/direct/node', () => fired(), cb));
        let t0 = nowSeconds();
        direct.setData('/direct/node', VALUE, -1, () => undefined);
        await notified;
        notifyOnlyLatencies.push((nowSeconds() - t0) * 1000);
        await zkCall((cb) => direct.getData('/direct/node', () => undefined, cb));
        directLatencies.push((nowSeconds() - t0) * 1000);

        const event = new Promise<void>((resolve) => (onEvent = resolve));
        t0 = nowSeconds();
        direct.setData('/bench/adapter/node', VALUE, -1, () => undefined);
        await event;
        adapterLatencies.push((nowSeconds() - t0) * 1000);
      }
      watch.cancel();
      for (const xs of [directLatencies, notifyOnlyLatencies, adapterLatencies]) xs.sort((x, y) => x - y);
      const stats = (xs: number[]) => ({ p50: percentile(xs, 50), p99: percentile(xs, 99) });
      const d = stats(directLatencies);
      const n = stats(notifyOnlyLatencies);
      const a = stats(adapterLatencies);
      ctx.report(
        `watch latency, set → new data known (${watchRounds} rounds): direct (notification + getData) p50 ${d.p50.toFixed(2)} ms p99 ${d.p99.toFixed(2)} ms | ` +
          `adapter (Watch event with data) p50 ${a.p50.toFixed(2)} ms p99 ${a.p99.toFixed(2)} ms | direct notification alone p50 ${n.p50.toFixed(2)} ms p99 ${n.p99.toFixed(2)} ms`,
      );
      return {
        get_ops_s_direct: Math.round(getDirect),
        get_ops_s_adapter: Math.round(getAdapter),
        ratio_get: round(getAdapter / getDirect, 3),
        set_ops_s_direct: Math.round(setDirect),
        set_ops_s_adapter: Math.round(setAdapter),
        ratio_set: round(setAdapter / setDirect, 3),
        watch_p50_ms_direct: round(d.p50, 3),
        watch_p99_ms_direct: round(d.p99, 3),
        watch_p50_ms_adapter: round(a.p50, 3),
        watch_p99_ms_adapter: round(a.p99, 3),
        watch_p99_added_ms: round(a.p99 - d.p99, 3),
        watch_p50_ms_direct_notify_only: round(n.p50, 3),
        watch_p99_ms_direct_notify_only: round(n.p99, 3),
      };
    } finally {
      client.close();
      direct.close();
      await service.stop(5000);
      await zk.cleanup();
      await stopAllProcesses();
    }
  },
};

export default bench;
