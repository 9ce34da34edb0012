/**
 * For the proxy's integration specs: the REAL proxy process (apps/rest-proxy/dist/main.js)
 * against a real cluster, reached over real HTTP with Node's fetch. The proxy takes
 * `--port`/`--admin-port` rather than `--grpc-port`, so it is spawned here rather than with
 * startServiceProcess (same readiness rule: /readyz answers 200).
 */
import { join } from 'node:path';
import type { SpawnedProcess } from '@tributary/testing';
import { freePorts, spawnProcess, waitFor } from '@tributary/testing';
import { RestError } from './errors';

/** The REST error code `f` throws (undefined when it does not throw, -1 for another error). */
export function errorCodeOf(f: () => unknown): number | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof RestError ? e.errorCode : -1;
  }
}

export const PROXY_MAIN = join(__dirname, '..', 'dist', 'main.js');

export interface ProxyProcess {
  proc: SpawnedProcess;
  /** `http://127.0.0.1:<port>` */
  url: string;
  adminUrl: string;
  metrics(): Promise<string>;
}

export async function startProxy(bootstrap: string, flags: Record<string, string | number | boolean> = {}, name = 'rest-proxy'): Promise<ProxyProcess> {
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  const args = [PROXY_MAIN, '--port', String(port), '--admin-port', String(adminPort), '--bootstrap', bootstrap];
  for (const [k, v] of Object.entries(flags)) {
    if (typeof v === 'boolean') args.push(v ? `--${k}` : `--no-${k}`);
    else args.push(`--${k}`, String(v));
  }
  const proc = spawnProcess({ command: process.execPath, args, name });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`${name} exited early:\n${proc.outputTail(30)}`);
      const res = await fetch(`${adminUrl}/readyz`).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs: 30_000, message: `${name} /readyz` },
  );
  return { proc, url: `http://127.0.0.1:${port}`, adminUrl, metrics: async () => (await fetch(`${adminUrl}/metrics`)).text() };
}

export const V2 = 'application/vnd.kafka.v2+json';
export const V2_JSON = 'application/vnd.kafka.json.v2+json';
export const V2_BINARY = 'application/vnd.kafka.binary.v2+json';

export interface HttpAnswer {
  status: number;
  contentType: string;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** One HTTP request; the body (a string is sent as is, anything else as JSON) with `contentType`. */
export async function http(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; contentType?: string; accept?: string; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.contentType !== undefined) headers['content-type'] = options.contentType;
  if (options.accept !== undefined) headers.accept = options.accept;
  const body = options.body === undefined ? undefined : typeof options.body === 'string' || Buffer.isBuffer(options.body) ? options.body : JSON.stringify(options.body);
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, json };
}

let topicCounter = 0;
/** A topic name unique to this run. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${topicCounter++}`;
}

/**
 * One HTTP request with node:http, for what fetch cannot send: a path exactly as given (no
 * `..` or `%2e%2e` normalisation) and a GET with a body (Confluent's committed-offsets lookup).
 */
export async function rawHttp(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; contentType?: string; accept?: string } = {},
): Promise<HttpAnswer> {
  const { request } = await import('node:http');
  const url = new URL(base);
  const body = options.body === undefined ? undefined : Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body));
  const headers: Record<string, string | number> = {};
  if (options.contentType !== undefined) headers['content-type'] = options.contentType;
  if (options.accept !== undefined) headers.accept = options.accept;
  if (body !== undefined) headers['content-length'] = body.length;
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      readAnswer(res).then(resolve, reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Status, content type, text and parsed JSON (undefined if empty or not JSON) of a response. */
function readAnswer(res: import('node:http').IncomingMessage): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text, json });
    });
  });
}

/** An HTTPS answer, with its headers and the server certificate's SHA-256 fingerprint. */
export interface HttpsAnswer extends HttpAnswer {
  headers: Record<string, string | string[] | undefined>;
  serverFingerprint: string;
}

/** One HTTPS request with node:https, trusting `ca` (PEM) only; a fresh connection each time. */
export async function httpsRequest(
  base: string,
  method: string,
  path: string,
  options: { ca: Buffer; cert?: Buffer; key?: Buffer; body?: unknown; contentType?: string; accept?: string; headers?: Record<string, string> },
): Promise<HttpsAnswer> {
  const { request } = await import('node:https');
  const url = new URL(base);
  const body = options.body === undefined ? undefined : Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body));
  const headers: Record<string, string | number> = { ...options.headers };
  if (options.contentType !== undefined) headers['content-type'] = options.contentType;
  if (options.accept !== undefined) headers.accept = options.accept;
  if (body !== undefined) headers['content-length'] = body.length;
  return new Promise((resolve, reject) => {
    const clientCert = options.cert !== undefined && options.key !== undefined ? { cert: options.cert, key: options.key } : {};
    const req = request({ host: url.hostname, port: url.port, method, path, headers, ca: options.ca, ...clientCert, agent: false }, (res) => {
      const socket = res.socket as import('node:tls').TLSSocket;
      const serverFingerprint = socket.getPeerCertificate().fingerprint256;
      readAnswer(res).then((answer) => resolve({ ...answer, headers: res.headers, serverFingerprint }), reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `Authorization: Basic` for `user:password`. */
export function basicAuth(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}` };
}

/**
 * The proxy process with HTTPS (its readiness asked over HTTPS, trusting `ca`); stdout and
 * stderr also go to `logFile` (whole, for greps of secrets).
 */
export async function startSecureProxy(bootstrap: string, flags: Record<string, string | number | boolean>, ca: Buffer, logFile: string, name = 'rest-proxy-secure'): Promise<ProxyProcess> {
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  const args = [PROXY_MAIN, '--port', String(port), '--admin-port', String(adminPort), '--bootstrap', bootstrap];
  for (const [k, v] of Object.entries(flags)) {
    if (typeof v === 'boolean') args.push(v ? `--${k}` : `--no-${k}`);
    else args.push(`--${k}`, String(v));
  }
  const proc = spawnProcess({ command: process.execPath, args, name, logFile });
  const adminUrl = `https://127.0.0.1:${adminPort}`;
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`${name} exited early:\n${proc.outputTail(30)}`);
      const res = await httpsRequest(adminUrl, 'GET', '/readyz', { ca }).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs: 30_000, message: `${name} /readyz` },
  );
  return { proc, url: `https://127.0.0.1:${port}`, adminUrl, metrics: async () => (await httpsRequest(adminUrl, 'GET', '/metrics', { ca })).text };
}
