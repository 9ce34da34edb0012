/**
 * TLS end to end: a REAL cluster (coordination, a controller, two brokers as processes on
 * loopback) whose every listener is TLS only with mutual TLS required
 * (`--tls-client-auth required`): every service presents its certificate, and the services
 * call each other over TLS with it. The SDK on the client side.
 *
 * - a client speaking plaintext gets a clear error within its deadline, never a hang;
 * - a client whose certificate comes from another CA is refused;
 * - a client with a certificate from the cluster's CA produces and consumes;
 * - a topic with replication factor 2 and min.insync.replicas 2 takes acks=all writes: the
 *   follower's fetches from the leader (broker to broker, over TLS) succeed;
 * - the services' certificate rotated on disk (new key and certificate from the same CA) is
 *   served on new connections without a restart (its serial, read by tls.connect).
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { Admin, Consumer, NoBrokerAvailableError, Producer } from '@tributary/client';
import type { ConsumerRecord, TlsOptions } from '@tributary/client';
import type { TestCa, TestCluster } from '@tributary/testing';
import { cleanupAll, makeCa, makeCert, startCluster, tempDir, waitFor, withTimeout } from '@tributary/testing';

jest.setTimeout(180_000);

const SERVICE = 'tributary-service';

let dir: string;
let ca: TestCa;
let cluster: TestCluster;
let goodTls: TlsOptions;
let serviceCertFile: string;
const bootstrap = (): string[] => cluster.bootstrap.split(',');

beforeAll(async () => {
  dir = tempDir('tls-e2e-certs');
  mkdirSync(dir, { recursive: true });
  ca = makeCa(dir, 'cluster');
  const service = makeCert(dir, ca, SERVICE, 'service');
  const client = makeCert(dir, ca, 'alice');
  goodTls = { ca: ca.certFile, cert: client.certFile, key: client.keyFile, serverName: 'localhost' };
  serviceCertFile = service.certFile;
  cluster = await startCluster({
    name: 'tls-e2e',
    brokers: 2,
    controllers: 1,
    commonFlags: {
      'tls-cert-file': service.certFile,
      'tls-key-file': service.keyFile,
      'tls-ca-file': ca.certFile,
      'tls-client-auth': 'required',
      'tls-reload-interval-ms': 500,
    },
    adminCaFile: ca.certFile,
  });
});

afterAll(async () => {
  await cluster?.stop();
  await cleanupAll();
});

/** Reads `count` records of partition 0 of `topic` from the beginning. */
async function consume(topic: string, count: number, tls: TlsOptions): Promise<ConsumerRecord[]> {
  const consumer = new Consumer({ bootstrap: bootstrap(), autoOffsetReset: 'earliest', tls });
  try {
    consumer.assign([{ topic, partition: 0 }]);
    const got: ConsumerRecord[] = [];
    await waitFor(
      async () => {
        got.push(...(await consumer.poll(500)));
        return got.length >= count;
      },
      { timeoutMs: 30_000, message: `${count} records of ${topic}` },
    );
    return got;
  } finally {
    await consumer.close();
  }
}

it('refuses a plaintext client with an error within its deadline', async () => {
  const admin = new Admin({ bootstrap: bootstrap(), requestTimeoutMs: 2_000, metadataWaitMs: 4_000, retryBackoffMaxMs: 200 });
  try {
    // The bound is the test's, far above the client's own: the client must give up by itself.
    const error = await withTimeout(admin.listTopics().then(() => undefined, (e: unknown) => e), 30_000, 'a plaintext client gives up');
    expect(error).toBeInstanceOf(NoBrokerAvailableError);
    expect((error as Error).message).toContain("if the cluster's listeners use TLS, set the client's tls option");
  } finally {
    await admin.close();
  }
});

it('refuses a client whose certificate comes from another CA', async () => {
  const otherCa = makeCa(dir, 'other');
  const mallory = makeCert(dir, otherCa, 'mallory');
  const admin = new Admin({
    bootstrap: bootstrap(),
    requestTimeoutMs: 2_000,
    metadataWaitMs: 4_000,
    retryBackoffMaxMs: 200,
    tls: { ca: ca.certFile, cert: mallory.certFile, key: mallory.keyFile, serverName: 'localhost' },
  });
  try {
    const error = await withTimeout(admin.listTopics().then(() => undefined, (e: unknown) => e), 30_000, 'a client of another CA gives up');
    expect(error).toBeInstanceOf(NoBrokerAvailableError);
    expect((error as Error).message).toContain('tls.cert must be signed by a CA it trusts');
  } finally {
    await admin.close();
  }
  // The handshake by hand: the broker refuses that certificate, and accepts one from its CA.
  const [host, port] = bootstrap()[0]!.split(':') as [string, string];
  expect(await handshake(host, Number(port), mallory)).toMatch(/^refused/);
  expect(await handshake(host, Number(port), { certFile: goodTls.cert as string, keyFile: goodTls.key as string })).toBe('accepted');
});

it('produces and consumes with a certificate from the cluster CA', async () => {
  const admin = new Admin({ bootstrap: bootstrap(), tls: goodTls });
  try {
    await admin.createTopics([{ name: 'tls-basic', numPartitions: 1, replicationFactor: 1 }]);
  } finally {
    await admin.close();
  }
  const producer = new Producer({ bootstrap: bootstrap(), tls: goodTls });
  const meta = await producer.send({ topic: 'tls-basic', key: 'k', value: 'over TLS' });
  await producer.close();
  const [record] = await consume('tls-basic', 1, goodTls);
  expect(record!.offset).toBe(meta.offset);
  expect(record!.value!.toString()).toBe('over TLS');
});

it('replicates between brokers over TLS (RF 2, min.insync.replicas 2, acks=all)', async () => {
  const admin = new Admin({ bootstrap: bootstrap(), tls: goodTls });
  try {
    await admin.createTopics([{ name: 'tls-replicated', numPartitions: 1, replicationFactor: 2, configs: { 'min.insync.replicas': '2' } }]);
    const producer = new Producer({ bootstrap: bootstrap(), tls: goodTls, acks: 'all' });
    // acks=all with min.insync.replicas 2 is acknowledged only once the follower has the records.
    const metas = await Promise.all(Array.from({ length: 20 }, (_, i) => producer.send({ topic: 'tls-replicated', key: null, value: `r${i}` })));
    await producer.close();
    expect(metas.map((m) => m.offset)).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i)));
    const [topic] = await admin.describeTopics(['tls-replicated']);
    expect([...topic!.partitions[0]!.isr].sort()).toEqual([0, 1]);
  } finally {
    await admin.close();
  }
});

it('serves a certificate rotated on disk on new connections, without a restart', async () => {
  const [host, port] = bootstrap()[0]!.split(':') as [string, string];
  const before = await servedSerial(host, Number(port));
  expect(before).toBe(serialOf(serviceCertFile));
  const pid = cluster.brokers.get(0)!.proc.pid;

  const rotated = makeCert(dir, ca, SERVICE, 'service');
  const after = serialOf(rotated.certFile);
  expect(after).not.toBe(before);
  let served = before;
  await waitFor(
    async () => {
      served = await servedSerial(host, Number(port));
      return served === after;
    },
    { timeoutMs: 20_000, message: `broker 0 serving the rotated certificate (serial ${after}; still ${served})` },
  );
  expect(cluster.brokers.get(0)!.proc.pid).toBe(pid);
  expect(cluster.brokers.get(0)!.proc.running).toBe(true);

  // The services reach each other with the new certificate too: a new topic gets a leader and replicates.
  const admin = new Admin({ bootstrap: bootstrap(), tls: goodTls });
  try {
    await admin.createTopics([{ name: 'tls-after-rotation', numPartitions: 1, replicationFactor: 2, configs: { 'min.insync.replicas': '2' } }]);
    const producer = new Producer({ bootstrap: bootstrap(), tls: goodTls, acks: 'all' });
    const meta = await producer.send({ topic: 'tls-after-rotation', key: null, value: 'rotated' });
    await producer.close();
    expect(meta.offset).toBe(0n);
  } finally {
    await admin.close();
  }
});

function readPem(file: string): Buffer {
  return readFileSync(file);
}

/** The serial number of a PEM certificate file (upper-case hex, as `PeerCertificate.serialNumber`). */
function serialOf(certFile: string): string {
  return new X509Certificate(readPem(certFile)).serialNumber.toUpperCase();
}

/**
 * A TLS connection to `host:port` presenting `client`: 'accepted' when the server's HTTP/2
 * SETTINGS arrive (it sends them as soon as it accepts the connection), 'refused: <why>'
 * when it closes or fails first. TLS 1.3 completes the client's side of the handshake before
 * the server checks the client's certificate, so the refusal comes after secureConnect.
 */
async function handshake(host: string, port: number, client: { certFile: string; keyFile: string }): Promise<string> {
  return new Promise<string>((resolve) => {
    const socket = connect({ host, port, ca: readPem(ca.certFile), cert: readPem(client.certFile), key: readPem(client.keyFile), ALPNProtocols: ['h2'], servername: 'localhost' });
    const done = (outcome: string): void => {
      socket.destroy();
      resolve(outcome);
    };
    socket.once('data', () => done('accepted'));
    socket.once('error', (e: NodeJS.ErrnoException) => done(`refused: ${e.code ?? e.message}`));
    socket.once('close', () => done('refused: closed'));
  });
}

/** The serial of the certificate a NEW TLS connection to `host:port` is served (with the client certificate mutual TLS asks for). */
async function servedSerial(host: string, port: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect({ host, port, ca: readPem(ca.certFile), cert: readPem(goodTls.cert as string), key: readPem(goodTls.key as string), ALPNProtocols: ['h2'], servername: 'localhost' });
    socket.once('secureConnect', () => {
      const serial = socket.getPeerCertificate().serialNumber.toUpperCase();
      socket.destroy();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}
