/**
 * Who a request acts as (Confluent's `authentication.method=BASIC` with principal
 * propagation): every request gets `request.clients`, the SDK clients it calls the cluster
 * with, and `request.principal`.
 * - Without Basic authentication: the proxy's own clients (its own identity to the cluster)
 *   and no principal.
 * - With it: the `Authorization: Basic` credentials are checked by a SCRAM login against the
 *   cluster (principals.ts) before anything else is done — before the body is read — and the
 *   request uses that user's clients, so the brokers' ACLs decide (403 / 40301 when they
 *   refuse). With --allow-anonymous, a request with no `Authorization` header at all acts
 *   as the cluster's User:ANONYMOUS (its own clients: no login, no client certificate).
 *   Missing or wrong credentials: 401 / 40101 with `WWW-Authenticate: Basic
 *   realm="tributary"` (added by the error handler to every 401). The header is never logged.
 */
import type { FastifyInstance } from 'fastify';
import { basicAuthProblemMessage, parseBasicAuthorization } from './basic-auth';
import type { ClusterClients } from './cluster-clients';
import { RestError, RestErrorCode } from './errors';
import type { PrincipalCache } from './principals';

/** The realm of the `WWW-Authenticate` challenge. */
export const BASIC_REALM = 'tributary';
export const WWW_AUTHENTICATE = `Basic realm="${BASIC_REALM}"`;

declare module 'fastify' {
  interface FastifyRequest {
    /** The SDK clients this request calls the cluster with (its user's, or the proxy's own). */
    clients: ClusterClients;
    /** `User:<name>` of a Basic-authenticated request; undefined without authentication. */
    principal: string | undefined;
  }
}

export interface HttpAuthOptions {
  /** The proxy's own clients: used by every request when `users` is undefined. */
  shared: ClusterClients;
  /** Basic authentication: the users' clients; undefined: authentication off. */
  users: Pick<PrincipalCache, 'acquire'> | undefined;
  /** With Basic on and --allow-anonymous: the clients of requests WITHOUT credentials (the cluster's User:ANONYMOUS). */
  anonymous?: ClusterClients | undefined;
}

/** Adds the onRequest hook that sets `request.clients` / `request.principal`. */
export function installHttpAuth(app: FastifyInstance, options: HttpAuthOptions): void {
  const { shared, users, anonymous } = options;
  app.decorateRequest('clients', null as unknown as ClusterClients);
  app.decorateRequest('principal', undefined);
  if (users === undefined) {
    app.addHook('onRequest', (request, _reply, done) => {
      request.clients = shared;
      done();
    });
    return;
  }
  app.addHook('onRequest', async (request, reply) => {
    const credentials = parseBasicAuthorization(request.headers.authorization);
    if ('problem' in credentials && credentials.problem === 'missing' && anonymous !== undefined) {
      request.clients = anonymous;
      request.principal = 'User:ANONYMOUS';
      return;
    }
    if ('problem' in credentials) throw new RestError(RestErrorCode.AUTHENTICATION_FAILED, basicAuthProblemMessage(credentials.problem));
    // The lease is released when the answer is sent or the connection drops, whichever comes
    // first — including a drop during the login itself.
    const held: { gone: boolean; release?: () => void } = { gone: false };
    reply.raw.once('close', () => {
      held.gone = true;
      held.release?.();
    });
    const lease = await users.acquire(credentials.username, credentials.password);
    held.release = lease.release;
    if (held.gone) lease.release();
    request.clients = lease.clients;
    request.principal = lease.principal;
  });
}
