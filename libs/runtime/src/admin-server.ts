/**
 * The admin HTTP server every service runs beside its gRPC port (node:http, no framework):
 * - `GET /metrics`: the process registry in Prometheus text format;
 * - `GET /healthz`: 200 `ok` while the process runs (liveness: restart me if this fails);
 * - `GET /readyz`: 200 `ready` when `isReady()` says so, else 503 with the reason
 *   (readiness: send me traffic only if this succeeds);
 * - anything else 404, a method other than GET/HEAD 405 (with `Allow`).
 * With `tls` it serves HTTPS (optionally mutual) and follows certificate changes (new
 * connections use the new files, security/tls.ts); without it, plain HTTP as before.
 * Query strings are ignored. Malformed requests get a 400 from the parser's error hook and
 * the connection is closed; nothing a client sends can throw out of the server.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger';
import { ReloadingServerTls, type ServerTlsOptions } from './security/tls';

/** What `isReady` may answer: a boolean, or `{ ready, reason }` to explain a 503. */
export type Readiness = boolean | { ready: boolean; reason?: string };

/** Options of {@link startAdminServer}. */
export interface AdminServerOptions {
  /** Interface to bind (e.g. `0.0.0.0` in a pod, `127.0.0.1` locally). */
  host: string;
  /** Port; 0 picks a free one (see the returned `port`). */
  port: number;
  /** Served on /metrics. */
  registry: Registry;
  logger: Logger;
  /** Readiness probe (default: always ready). A throw counts as not ready. */
  isReady?: () => Readiness | Promise<Readiness>;
  /** HTTPS from files (optionally mutual), reloaded on change; absent: plain HTTP. */
  tls?: ServerTlsOptions | ReloadingServerTls;
}

/** A running admin server. */
export interface AdminServer {
  /** The bound port. */
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** Starts the admin server; resolves once it listens. */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const logger = options.logger.child({ component: 'admin-server' });
  const isReady = options.isReady ?? (() => true);

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err, url: req.url }, 'admin request failed');
      if (!res.headersSent) reply(res, 500, 'internal error\n');
      else res.destroy();
    });
  };
  const tls = options.tls === undefined || options.tls instanceof ReloadingServerTls ? options.tls : new ReloadingServerTls(options.tls, logger);
  const ownsTls = tls !== undefined && tls !== options.tls;
  let server: http.Server;
  let stopFollowing: (() => void) | undefined;
  if (tls) {
    // Server authentication only, even when the gRPC listener requires client certificates:
    // these endpoints carry no data, and Kubernetes probes and most scrapers present none.
    const secure = https.createServer({ ...tls.secureContextOptions(), requestCert: false }, onRequest);
    stopFollowing = tls.onChange((o) => secure.setSecureContext(o));
    server = secure;
  } else {
    server = http.createServer(onRequest);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
      reply(res, 404, 'not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      reply(res, 405, 'method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      reply(res, 200, 'ok');
    } else if (path === '/readyz') {
      let readiness: Readiness;
      try {
        readiness = await isReady();
      } catch (e) {
        readiness = { ready: false, reason: `readiness check failed: ${e instanceof Error ? e.message : String(e)}` };
      }
      const ready = typeof readiness === 'boolean' ? readiness : readiness.ready;
      const reason = typeof readiness === 'boolean' ? undefined : readiness.reason;
      if (ready) reply(res, 200, 'ready\n');
      else reply(res, 503, `not ready${reason ? `: ${reason}` : ''}\n`);
    } else {
      const body = await options.registry.metrics();
      reply(res, 200, body, options.registry.contentType);
    }
  }

  // Idle keep-alive connections outlive the clients' own idle timeouts (Prometheus, undici's
  // 4 s): a client must never send a scrape on a socket the server is closing at that moment.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    logger.debug({ err: err.message, code: err.code }, 'malformed admin request');
    if (socket.writable && err.code !== 'ECONNRESET') {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    } else {
      socket.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`cannot listen for admin HTTP on ${options.host}:${options.port}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => logger.error({ err }, 'admin server error'));
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: options.host, port, tls: tls ? 'server' : 'plaintext' }, 'admin server listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        stopFollowing?.();
        if (ownsTls) tls?.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function reply(res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}
