/**
 * GET of an admin endpoint (`/readyz`), over HTTP or, for a `--secure` cluster, HTTPS that
 * trusts the local CA and presents the admin's client certificate (so the probe works whether
 * the service requests or requires one). Node's `fetch` takes no CA, hence node:https.
 */
import * as http from 'node:http';
import * as https from 'node:https';

/** TLS of the probes: PEM bytes. */
export interface ProbeTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface ProbeAnswer {
  status: number;
  body: string;
}

/** The status and body of GET `url`; rejects on a connection, TLS or timeout failure. */
export function probe(url: string, tls: ProbeTls | undefined, timeoutMs: number): Promise<ProbeAnswer> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    };
    // agent: false — one connection per probe, closed after it (no keep-alive socket holds the exit).
    const req = tls
      ? https.get(url, { ca: tls.ca, cert: tls.cert, key: tls.key, servername: 'localhost', agent: false, timeout: timeoutMs }, onResponse)
      : http.get(url, { agent: false, timeout: timeoutMs }, onResponse);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Whether `err` is a TLS client's failure against a plaintext HTTP listener. */
export function isPlaintextPeer(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return e?.code === 'EPROTO' || /wrong version number|packet length too long/i.test(e?.message ?? '');
}

/** Whether the HTTP listener on 127.0.0.1:`port` serves TLS (any answer over HTTPS), or plaintext. */
export async function servesTls(port: number, tls: ProbeTls): Promise<boolean> {
  try {
    await probe(`https://127.0.0.1:${port}/`, tls, 2_000);
    return true;
  } catch (e) {
    if (isPlaintextPeer(e)) return false;
    throw e;
  }
}
