/**
 * No dashboard panel or alert rule points at a metric nobody exports: a real cluster
 * (coordination, 1 controller, 3 brokers, 1 group coordinator — libs/testing startCluster —
 * and the REST proxy as its own process) takes traffic through the SDK, the REST proxy and a
 * group's offset commit; then every service's /metrics is scraped and every metric name in
 * deploy/grafana/*.json and deploy/prometheus/alerts.yml must have samples.
 */
import { Admin, Consumer, Producer } from '@tributary/client';
import { BrokerServiceClient, ErrorCode, GroupCoordinatorServiceClient } from '@tributary/proto';
import { encodeBatch } from '@tributary/records';
import { createClient, unary } from '@tributary/runtime';
import type { SpawnedProcess, TestCluster } from '@tributary/testing';
import { cleanupAll, freePorts, serviceMain, spawnProcess, startCluster, waitFor } from '@tributary/testing';
import { dashboardExpressions, dashboardFiles, ruleExpressions } from './dashboards';
import { isExported, metricNamesIn, parseScrape } from './promql';
import type { ScrapedNames } from './promql';

jest.setTimeout(180_000);

const TOPIC = 'observed';
const GROUP = 'observed-group';
let cluster: TestCluster;
let proxy: SpawnedProcess;
let proxyUrl: string;
let proxyAdminUrl: string;
let admin: Admin;
let gc: GroupCoordinatorServiceClient | undefined;

beforeAll(async () => {
  cluster = await startCluster({ name: 'observability', brokers: 3, controllers: 1, groupCoordinators: 1, groupCoordinatorFlags: { 'lag-refresh-interval-ms': 300 } });
  // The proxy takes --port/--admin-port (not --grpc-port), so it is spawned here with the
  // readiness rule of startServiceProcess: /readyz answers 200.
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  proxyUrl = `http://127.0.0.1:${port}`;
  proxyAdminUrl = `http://127.0.0.1:${adminPort}`;
  proxy = spawnProcess({
    command: process.execPath,
    args: [serviceMain('rest-proxy'), '--port', String(port), '--admin-port', String(adminPort), '--bootstrap', cluster.bootstrap],
    name: 'observability-rest-proxy',
  });
  await waitFor(
    async () => {
      if (!proxy.running) throw new Error(`rest proxy exited early:\n${proxy.outputTail(30)}`);
      return (await fetch(`${proxyAdminUrl}/readyz`).catch(() => undefined))?.status === 200;
    },
    { timeoutMs: 30_000, message: 'rest proxy /readyz' },
  );
  admin = new Admin({ bootstrap: cluster.bootstrap.split(',') });
});

afterAll(async () => {
  gc?.close();
  await admin?.close();
  await proxy?.stop();
  await cluster?.stop();
  await cleanupAll();
});

/** Produces and consumes through the SDK, produces through the REST proxy, commits a group offset behind the log end. */
async function traffic(): Promise<void> {
  await admin.createTopics([{ name: TOPIC, numPartitions: 3, replicationFactor: 3 }]);
  const producer = new Producer({ bootstrap: cluster.bootstrap.split(',') });
  try {
    await Promise.all(Array.from({ length: 60 }, (_, i) => producer.send({ topic: TOPIC, partition: i % 3, value: `m${i}` })));
  } finally {
    await producer.close();
  }
  const consumer = new Consumer({ bootstrap: cluster.bootstrap.split(','), autoOffsetReset: 'earliest' });
  try {
    consumer.assign([0, 1, 2].map((partition) => ({ topic: TOPIC, partition })));
    let got = 0;
    await waitFor(async () => (got += (await consumer.poll(300)).length) >= 60, { timeoutMs: 30_000, message: '60 records consumed' });
  } finally {
    await consumer.close();
  }
  const produced = await fetch(`${proxyUrl}/topics/${TOPIC}`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.kafka.json.v2+json', accept: 'application/vnd.kafka.v2+json' },
    body: JSON.stringify({ records: [{ value: { via: 'rest' }, partition: 0 }] }),
  });
  expect(produced.status).toBe(200);
  expect((await fetch(`${proxyUrl}/topics`)).status).toBe(200);

  // A produce that fails for its partition (there is no partition 99): counted as a failed request.
  const broker0 = createClient(BrokerServiceClient, cluster.brokers.get(0)!.address);
  try {
    const refused = await unary(broker0, 'produce', {
      acks: 1,
      timeoutMs: 5000,
      topics: [{ name: TOPIC, partitions: [{ index: 99, records: encodeBatch([{ key: null, value: Buffer.from('nowhere') }]) }] }],
    });
    expect(refused.topics[0]!.partitions[0]!.errorCode).not.toBe(ErrorCode.NONE);
  } finally {
    broker0.close();
  }

  // The SDK has no group consumer yet: commit like one, over the group coordinator's gRPC API.
  const gcAddress = [...cluster.groupCoordinators.values()][0]!.address;
  const finder = createClient(GroupCoordinatorServiceClient, gcAddress);
  try {
    const coordinator = await waitFor(
      async () => {
        const c = (await unary(finder, 'findCoordinator', { keyType: 0, coordinatorKeys: [GROUP] })).coordinators[0]!;
        return c.errorCode === ErrorCode.NONE ? `${c.host}:${c.port}` : undefined;
      },
      { timeoutMs: 30_000, message: `coordinator of ${GROUP}` },
    );
    gc = createClient(GroupCoordinatorServiceClient, coordinator);
    const client = gc;
    await waitFor(
      async () => {
        const res = await unary(client, 'offsetCommit', {
          groupId: GROUP,
          generationId: -1,
          memberId: '',
          groupInstanceId: '',
          topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: -1, committedMetadata: '' }] }],
        }).catch(() => undefined);
        return res?.topics[0]?.partitions[0]?.errorCode === ErrorCode.NONE;
      },
      { timeoutMs: 30_000, message: `offset commit of ${GROUP}` },
    );
  } finally {
    finder.close();
  }
}

/** /metrics of every process: coordination, controllers, brokers, group coordinators, REST proxy. */
async function scrapeAll(): Promise<Map<string, string>> {
  const scrapes = new Map<string, string>();
  scrapes.set('coordination', await cluster.coordination.metrics());
  for (const [id, c] of cluster.controllers) scrapes.set(`controller-${id}`, await c.metrics());
  for (const [id, b] of cluster.brokers) scrapes.set(`broker-${id}`, await b.metrics());
  for (const [id, g] of cluster.groupCoordinators) scrapes.set(`group-coordinator-${id}`, await g.metrics());
  scrapes.set('rest-proxy', await (await fetch(`${proxyAdminUrl}/metrics`)).text());
  return scrapes;
}

it('exports every metric that a dashboard panel, a dashboard variable or an alert rule uses', async () => {
  await traffic();
  // The lag gauge is refreshed every 300 ms here: wait until the committed group shows.
  await waitFor(async () => (await scrapeAll()).get('group-coordinator-0')!.includes(`tributary_consumer_group_lag{group="${GROUP}"`), {
    timeoutMs: 30_000,
    message: `tributary_consumer_group_lag of ${GROUP}`,
  });
  const scrapes = await scrapeAll();
  const exported: ScrapedNames = { samples: new Set(), types: new Map() };
  for (const text of scrapes.values()) parseScrape(text, exported);

  const expressions = [...dashboardFiles().flatMap(dashboardExpressions), ...ruleExpressions()];
  // The files are not empty and cover the four dashboards the issue names.
  expect(dashboardFiles().map((f) => f.split('/').pop())).toEqual(['cluster-overview.json', 'consumer-groups.json', 'services.json', 'topics.json']);
  expect(ruleExpressions().length).toBeGreaterThanOrEqual(8);
  const missing: string[] = [];
  let checked = 0;
  for (const { where, expr } of expressions) {
    const names = metricNamesIn(expr);
    if (names.length === 0) missing.push(`${where}: no metric name found in ${expr}`);
    for (const name of names) {
      checked++;
      if (!isExported(name, exported)) missing.push(`${where}: ${name}`);
    }
  }
  expect(missing).toEqual([]);
  expect(checked).toBeGreaterThan(50);

  // Exactly one active controller (the alert rule's invariant), and traffic in the counters.
  const active = [...scrapes.entries()].filter(([n]) => n.startsWith('controller-')).map(([, t]) => Number(/^tributary_controller_active (\d+)/m.exec(t)?.[1]));
  expect(active.reduce((a, b) => a + b, 0)).toBe(1);
  const brokersText = [...scrapes.entries()].filter(([n]) => n.startsWith('broker-')).map(([, t]) => t).join('\n');
  expect(brokersText).toMatch(new RegExp(`^tributary_broker_messages_in_total\\{topic="${TOPIC}"\\} [1-9]`, 'm'));
  expect(brokersText).toMatch(new RegExp(`^tributary_broker_messages_out_total\\{topic="${TOPIC}"\\} [1-9]`, 'm'));
  expect(scrapes.get('broker-0')).toMatch(/^tributary_broker_partition_errors_total\{api="produce",error="[A-Z_]+"\} 1$/m);
  expect(scrapes.get('rest-proxy')).toMatch(/^tributary_rest_requests_total\{[^}]*status="200"[^}]*\} [1-9]/m);
});

it('shows every process as up on its own admin port (what the scrape config and the ServiceMonitors target)', async () => {
  const scrapes = await scrapeAll();
  expect([...scrapes.keys()].sort()).toEqual(['broker-0', 'broker-1', 'broker-2', 'controller-0', 'coordination', 'group-coordinator-0', 'rest-proxy']);
  for (const [name, text] of scrapes) {
    expect({ name, info: /^tributary_build_info\{[^}]*\} 1$/m.test(text) }).toEqual({ name, info: true });
    expect({ name, lag: /^nodejs_eventloop_lag_p99_seconds /m.test(text) }).toEqual({ name, lag: true });
  }
});
