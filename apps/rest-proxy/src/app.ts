/**
 * The REST proxy assembled: the SDK clients of the proxy's own identity (an Admin, and a
 * shared Producer on first produce: cluster-clients.ts), with HTTP Basic authentication those
 * of each user instead (principals.ts, http-auth.ts: every request gets `request.clients`),
 * the v2 consumer instances (one SDK group Consumer each, as their creator), the fastify
 * server (HTTPS with certificate reload when TLS is configured: proxy-security.ts) with the
 * v2 and v3 routes, request metrics and access logs, and the admin HTTP(S) server (/metrics,
 * /healthz, /readyz on its own port, as every Tributary service: probes and scrapes never
 * compete with API traffic, and no API path is shadowed).
 *
 * Bodies: every content type is read as a Buffer (up to `maxRequestBytes`, else 413) and
 * each route checks the type itself, so that errors are Confluent's `{error_code, message}`
 * (415 for a wrong type, 400 for broken JSON); the v3 records route reads the body as a
 * stream (many concatenated JSON records in one chunked request).
 */
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance } from 'fastify';
import type http from 'node:http';
import https from 'node:https';
import type { Logger, Metrics, ReloadingServerTls } from '@tributary/runtime';
import { startAdminServer } from '@tributary/runtime';
import { readBody } from './body';
import { ClusterClients } from './cluster-clients';
import type { RestProxyConfig } from './config';
import { WWW_AUTHENTICATE, installHttpAuth } from './http-auth';
import { PrincipalCache } from './principals';
import { proxySecurityFromConfig, type ProxySecurity } from './proxy-security';
import { ConsumerInstances } from './consumer-instances';
import { RestError, RestErrorCode } from './errors';
import { JSON_TYPE, V2_JSON } from './media';
import { registerV2 } from './v2';
import { registerV2Consumers } from './v2-consumers';
import { registerV3 } from './v3';
import { registerV3Groups } from './v3-groups';

export interface RunningRestProxy {
  port: number;
  adminPort: number;
  /** Graceful stop: refuse new requests, finish running ones, close the consumer instances (they leave their groups), flush the producer. */
  stop(graceMs: number): Promise<void>;
}

export async function startRestProxy(config: RestProxyConfig, logger: Logger, metrics: Metrics, security: ProxySecurity = proxySecurityFromConfig(config, logger)): Promise<RunningRestProxy> {
  const bootstrap = config.bootstrap.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const clientLogger = logger.child({ component: 'client' });
  // The proxy's own identity to the cluster: every request without Basic authentication,
  // readiness, and the cluster id.
  const shared = new ClusterClients({ bootstrap, logger: clientLogger, settings: config, security: security.cluster });
  const clusterId = (): Promise<string> => shared.view.clusterId();
  const authentications = metrics.counter({
    name: 'tributary_rest_authentications_total',
    help: 'HTTP Basic logins checked against the cluster (a SCRAM login per new user and password), by result: ok, failed (wrong credentials: 401), error (the cluster did not answer)',
    labelNames: ['result'],
  });
  let users: PrincipalCache | undefined;
  if (security.basic !== undefined) {
    for (const result of ['ok', 'failed', 'error']) authentications.inc({ result }, 0);
    const basic = security.basic;
    users = new PrincipalCache({
      bootstrap,
      mechanisms: basic.mechanisms,
      tls: security.loginTls,
      requestTimeoutMs: config.requestTimeoutMs,
      maxEntries: basic.maxUsers,
      idleMs: basic.idleMs,
      logger: logger.child({ component: 'principals' }),
      onLogin: (result) => authentications.inc({ result }),
      create: (principal, sasl) =>
        new ClusterClients({ bootstrap, logger: clientLogger, settings: config, security: { ...(security.cluster.tls ? { tls: security.cluster.tls } : {}), sasl }, principal, clusterId }),
    });
    const cache = users;
    metrics.gauge({
      name: 'tributary_rest_authenticated_users',
      help: 'Basic-authenticated users whose cluster clients this proxy holds (bounded LRU, closed when idle)',
      collect() {
        this.set(cache.size);
      },
    });
  }

  const app = buildServer(config, logger, metrics, { tls: security.serverTls, basic: users !== undefined });
  const anonymous = users !== undefined && security.anonymous !== undefined ? new ClusterClients({ bootstrap, logger: clientLogger, settings: config, security: security.anonymous, principal: 'User:ANONYMOUS', clusterId }) : undefined;
  installHttpAuth(app, { shared, users, anonymous });
  const produced = metrics.counter({
    name: 'tributary_rest_produced_records_total',
    help: 'Records produced through the REST proxy, by API (v2, v3) and result (ok: acknowledged; error: refused or failed, with its error in the answer)',
    labelNames: ['api', 'result'],
  });
  for (const api of ['v2', 'v3']) for (const result of ['ok', 'error']) produced.inc({ api, result }, 0);
  const countRecords = (api: 'v2' | 'v3', ok: number, failed: number): void => {
    if (ok > 0) produced.inc({ api, result: 'ok' }, ok);
    if (failed > 0) produced.inc({ api, result: 'error' }, failed);
  };
  registerV2(app, { countRecords });
  registerV3(app, { clusterId, config, baseUrl: () => baseUrl, countRecords });
  const expired = metrics.counter({
    name: 'tributary_rest_consumer_instances_expired_total',
    help: 'v2 consumer instances closed after --consumer-instance-timeout-ms without a request (they left their groups)',
  });
  expired.inc(0);
  const instances = new ConsumerInstances({
    bootstrap,
    logger: logger.child({ component: 'consumer-instances' }),
    clientRequestTimeoutMs: config.requestTimeoutMs,
    idleTimeoutMs: config.consumerInstanceTimeoutMs,
    maxInstances: config.maxConsumerInstances,
    bufferBytes: config.consumerInstanceBufferBytes,
    onExpired: () => expired.inc(),
  });
  metrics.gauge({
    name: 'tributary_rest_consumer_instances',
    help: 'v2 consumer instances this proxy process holds (each an SDK group consumer); bounded by --max-consumer-instances',
    collect() {
      this.set(instances.size);
    },
  });
  registerV2Consumers(app, { instances, config, baseUrl: () => baseUrl });
  registerV3Groups(app, { clusterId, baseUrl: () => baseUrl });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const scheme = security.serverTls !== undefined ? 'https' : 'http';
  const baseUrl = config.advertisedUrl !== '' ? config.advertisedUrl.replace(/\/+$/, '') : `${scheme}://${config.host}:${port}`;

  // Ready once the cluster answered (its id is known); until then /readyz says why not.
  let stopping = false;
  let clusterReachable = false;
  let lastError = 'the cluster has not answered yet';
  const probe = async (): Promise<void> => {
    while (!stopping && !clusterReachable) {
      try {
        await clusterId();
        clusterReachable = true;
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  void probe();

  const adminServer = await startAdminServer({
    host: config.host,
    port: config.adminPort,
    registry: metrics.registry,
    logger,
    ...(security.serverTls ? { tls: security.serverTls } : {}),
    isReady: () => (stopping ? { ready: false, reason: 'shutting down' } : clusterReachable ? true : { ready: false, reason: lastError }),
  });
  logger.info({ port, adminPort: adminServer.port, bootstrap, tls: security.serverTls !== undefined, authentication: users !== undefined ? 'BASIC' : 'none' }, 'rest proxy ready');
  return {
    port,
    adminPort: adminServer.port,
    async stop(graceMs: number) {
      stopping = true;
      const deadline = new Promise<void>((r) => setTimeout(r, graceMs).unref());
      const closingApp = app.close();
      // Instances commit (with auto-commit) and leave their groups, so the other members take
      // over at once; a records request waiting on one is woken and answers what it has.
      await Promise.race([Promise.all([closingApp, instances.closeAll()]), deadline]);
      // Flushes the producers (the proxy's and each user's) and closes the clients.
      await Promise.all([shared.close(Math.max(100, graceMs / 2)), anonymous?.close(Math.max(100, graceMs / 2)), users?.closeAll(Math.max(100, graceMs / 2))]).catch((e: unknown) => logger.warn({ err: e }, 'closing the cluster clients failed'));
      await adminServer.close();
      security.close();
    },
  };
}

/** How {@link buildServer} serves: HTTPS (certificate followed on change) or HTTP; Basic or not. */
export interface ServerSecurity {
  /** HTTPS with this material (optionally mutual); undefined: plain HTTP. */
  tls?: ReloadingServerTls | undefined;
  /** HTTP Basic authentication is on (401s carry the challenge). */
  basic?: boolean;
}

/**
 * The node server fastify runs on: `https` with the TLS material (new connections use
 * reloaded certificates: ReloadingServerTls.onChange → setSecureContext), else `http`.
 */
function serverFactory(tls: ReloadingServerTls | undefined): ((handler: http.RequestListener) => http.Server) | undefined {
  if (tls === undefined) return undefined;
  return (handler) => {
    // --tls-client-auth: required refuses a client without a certificate from the CA at the
    // handshake; requested asks and accepts anyway.
    const server = https.createServer({ ...tls.secureContextOptions(), requestCert: tls.requestsClientCert, rejectUnauthorized: tls.mutual }, handler);
    const stop = tls.onChange((options) => server.setSecureContext(options));
    server.once('close', stop);
    // fastify takes it as its raw server; an https.Server serves the same request events.
    return server as unknown as http.Server;
  };
}

/** The fastify server with body parsing, errors, 404s, metrics and access logs; no routes. */
export function buildServer(config: RestProxyConfig, logger: Logger, metrics: Metrics, security: ServerSecurity = {}): FastifyInstance {
  const factory = serverFactory(security.tls);
  const app = Fastify({
    ...(factory ? { serverFactory: factory } : {}),
    logger: false,
    bodyLimit: config.maxRequestBytes,
    return503OnClosing: true,
    keepAliveTimeout: 65_000,
    // Confluent's paths are case-sensitive and exact; a trailing slash is tolerated. (Router
    // options here, not at the top level: fastify 5 warns on stderr for the old place, which
    // breaks the one-JSON-object-per-line logs.)
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 512 },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => {
    readBody(payload, config.maxRequestBytes).then(
      (body) => done(null, body),
      (e: Error) => done(e, undefined),
    );
  });

  const requests = metrics.counter({
    name: 'tributary_rest_requests_total',
    help: 'REST proxy requests answered, by route template (e.g. /topics/:topic), method and HTTP status',
    labelNames: ['route', 'method', 'status'],
  });
  const durations = metrics.histogram({
    name: 'tributary_rest_request_duration_seconds',
    help: 'REST proxy request duration from the first byte read to the response sent, by route template and method',
    labelNames: ['route', 'method'],
  });
  const access = logger.child({ component: 'access' });

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const seconds = reply.elapsedTime / 1000;
    requests.inc({ route, method: request.method, status: String(status) });
    durations.observe({ route, method: request.method }, seconds);
    if (config.accessLog) {
      const q = request.url.indexOf('?');
      const path = q < 0 ? request.url : request.url.slice(0, q);
      // Never headers (Authorization carries the password), bodies or query strings; the
      // principal is the Basic user name once its password was checked.
      access.info(
        {
          method: request.method,
          path: path.length > 256 ? `${path.slice(0, 256)}…` : path,
          route,
          status,
          durationMs: Math.round(reply.elapsedTime * 1000) / 1000,
          remote: request.ip,
          ...(request.principal !== undefined ? { principal: request.principal } : {}),
        },
        'request',
      );
    }
    done();
  });

  app.setNotFoundHandler((request, reply) => {
    const v3 = request.url.startsWith('/v3/');
    void reply
      .code(404)
      .header('content-type', v3 ? JSON_TYPE : V2_JSON)
      .send(Buffer.from(new RestError(RestErrorCode.NOT_FOUND, `HTTP 404 Not Found: no ${request.method} route ${v3 ? 'in the v3 API ' : ''}matches this path`).body()));
  });

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const v3 = request.url.startsWith('/v3/');
    let rest: RestError;
    if (error instanceof RestError) rest = error;
    else if ('code' in error && typeof error.code === 'string' && error.code.startsWith('FST_')) rest = fastifyError(error as FastifyError, config);
    else rest = RestError.from(error, v3 ? 'v3' : 'v2');
    if (rest.status === 401 && !security.basic) {
      // Without Basic authentication a refused login is the proxy's own identity's.
      rest = new RestError(RestErrorCode.INTERNAL, `the cluster refused the REST proxy's own credentials (--sasl-username / --sasl-password-file): ${rest.message}`);
    }
    if (rest.status >= 500) logger.warn({ err: error, route: request.routeOptions.url, method: request.method }, 'request failed');
    if (rest.status === 401) void reply.header('www-authenticate', WWW_AUTHENTICATE);
    void reply
      .code(rest.status)
      .header('content-type', v3 ? JSON_TYPE : V2_JSON)
      .send(Buffer.from(rest.body()));
  });
  return app;
}

/** fastify's own errors (body too large, bad content type, ...) in Confluent's shape. */
function fastifyError(error: FastifyError, config: RestProxyConfig): RestError {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RestError(RestErrorCode.TOO_LARGE, `HTTP 413 Request Entity Too Large: the body is over ${config.maxRequestBytes} bytes (--max-request-bytes); send fewer records per request`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new RestError(RestErrorCode.UNSUPPORTED_MEDIA_TYPE, `HTTP 415 Unsupported Media Type: ${error.message}`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new RestError(RestErrorCode.BAD_REQUEST, error.message);
    default: {
      const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
      return new RestError(status, error.message, status);
    }
  }
}
