/**
 * A service's start-up against the coordination service, security included, in the order it
 * needs: its own identity first (certificate, or SCRAM login at the coordination service), the
 * CoordinationClient carrying it, then its TLS, authenticator and authorizer, which read the
 * credentials and ACLs through that client. The controller, brokers and group coordinators
 * start this way (the coordination service reads its own tree, see apps/coordination).
 */
import { CoordinationClient } from '@tributary/coordination-client';
import type { Registry } from 'prom-client';
import { secureChannel } from '../grpc-client';
import type { Logger } from '../logger';
import { serviceClientSecurity, startServiceSecurity, type SecurityConfig, type StartedServiceSecurity } from './config';

/** The coordination client and the security of a service (see the file header). */
export interface ConnectedService {
  /** The coordination client, with this service's TLS and identity. */
  client: CoordinationClient;
  security: StartedServiceSecurity;
  /** Stops following the store, closes the client and the login session. */
  close(): void;
}

/** See the file header. Throws a ConfigError for bad security settings (nothing left open). */
export async function connectService(config: SecurityConfig & { coordination: string }, deps: { logger: Logger; registry: Registry }): Promise<ConnectedService> {
  const identity = serviceClientSecurity(config, { logger: deps.logger, loginAddress: config.coordination });
  const client = new CoordinationClient({ address: config.coordination, logger: deps.logger.child({ component: 'coordination-client' }), ...secureChannel(identity.clientOptions) });
  let security: StartedServiceSecurity;
  try {
    security = await startServiceSecurity(config, { logger: deps.logger, registry: deps.registry, store: client, client: identity });
  } catch (e) {
    client.close();
    identity.close();
    throw e;
  }
  return {
    client,
    security,
    close() {
      security.close();
      client.close();
      identity.close();
    },
  };
}
