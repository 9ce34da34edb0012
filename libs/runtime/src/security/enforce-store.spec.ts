/**
 * A service's authorizer built from its settings (`startServiceAuthorizer`) over a REAL
 * coordination process, plugged into createGrpcServer: an ACL written by another client
 * (as `tributary acls add` does) opens a call refused before, without a restart, and
 * `--super-users` reach the internal APIs.
 */
import * as grpc from '@grpc/grpc-js';
import { CoordinationClient } from '@tributary/coordination-client';
import { AdminServiceClient, AdminServiceService, BrokerControlServiceClient, BrokerControlServiceService, DescribeClusterResponse, UpdateMetadataRequest, UpdateMetadataResponse } from '@tributary/proto';
import { ErrorCode } from '@tributary/records';
import type { ServiceProcess } from '@tributary/testing';
import { cleanupAll, serviceMain, startServiceProcess, tempDir, waitFor } from '@tributary/testing';
import { z } from 'zod';
import { createClient } from '../grpc-client';
import { ERROR_CODE_METADATA_KEY, Status } from '../grpc-errors';
import { createGrpcServer, type GrpcServer, type Interceptor } from '../grpc-server';
import { createLogger } from '../logger';
import { createMetrics } from '../metrics';
import { AclStore } from './acl-store';
import { securityConfigShape } from './config';
import { startServiceAuthorizer, type ServiceAuthorizer } from './enforce';

jest.setTimeout(60_000);

const logger = createLogger({ service: 'test', nodeId: 1, level: 'warn' });
const settings = z.object(securityConfigShape);
let coordination: ServiceProcess;
const clients: CoordinationClient[] = [];
const newClient = (): CoordinationClient => {
  const c = new CoordinationClient({ address: coordination.address });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  coordination = await startServiceProcess({
    name: 'enforce-coordination',
    main: serviceMain('coordination'),
    flags: { backend: 'embedded', 'data-dir': tempDir('enforce-store'), 'node-id': 'enforce-coordination', 'log-level': 'warn' },
  });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await cleanupAll();
});

const asUser: Interceptor = async (metadata) => {
  const user = metadata.get('x-user')[0];
  return user === undefined ? undefined : { kind: 'user', name: String(user) };
};

function metadataOf(user: string): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set('x-user', user);
  return m;
}

/** Resolves to 'OK' or the Kafka code of the refusal (after checking it came as PERMISSION_DENIED). */
function outcome(invoke: (done: (e: grpc.ServiceError | null) => void) => void): Promise<'OK' | number> {
  return new Promise((resolve, reject) =>
    invoke((e) => {
      if (e === null) resolve('OK');
      else if (e.code !== Status.PERMISSION_DENIED) reject(e);
      else resolve(Number(e.metadata.get(ERROR_CODE_METADATA_KEY)[0]));
    }),
  );
}

it('is off unless --authorizer-enable', async () => {
  expect(await startServiceAuthorizer(settings.parse({}), { client: newClient(), logger })).toBeUndefined();
});

it('follows the ACLs in the store: a new ACL opens a refused call without a restart; super users reach internal APIs', async () => {
  const config = settings.parse({ authorizerEnable: true, superUsers: ['User:broker'] });
  const metrics = createMetrics({ service: 'test', nodeId: 1, defaultMetrics: false });
  const service = (await startServiceAuthorizer(config, { client: newClient(), logger, registry: metrics.registry })) as ServiceAuthorizer;
  expect(service).toBeDefined();
  let server: GrpcServer | undefined;
  let admin: AdminServiceClient | undefined;
  let control: BrokerControlServiceClient | undefined;
  try {
    server = createGrpcServer({ logger, registry: metrics.registry, interceptors: [asUser], authorizer: service.authorizer });
    server.addService(AdminServiceService, { describeCluster: async () => DescribeClusterResponse.fromPartial({}) });
    server.addService(BrokerControlServiceService, { updateMetadata: async () => UpdateMetadataResponse.fromPartial({}) });
    const address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
    admin = createClient(AdminServiceClient, address);
    control = createClient(BrokerControlServiceClient, address);
    const describe = (user: string): Promise<'OK' | number> => outcome((done) => admin!.describeCluster({}, metadataOf(user), (e) => done(e)));
    const updateMetadata = (user: string): Promise<'OK' | number> =>
      outcome((done) => control!.updateMetadata(UpdateMetadataRequest.fromPartial({}), metadataOf(user), (e) => done(e)));

    // No ACL, allow.everyone.if.no.acl.found false: refused.
    expect(await describe('dana')).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    expect(await describe('broker')).toBe('OK');

    const results = await new AclStore(newClient()).create([
      { pattern: { resourceType: 'Cluster', name: 'kafka-cluster', patternType: 'LITERAL' }, entry: { principal: 'User:dana', permissionType: 'Allow', operation: 'All', host: '*' } },
    ]);
    expect(results).toEqual([{}]);
    await waitFor(async () => (await describe('dana')) === 'OK', { message: "dana's ACL to reach the service" });

    // All on the cluster still does not open the internal APIs to a client.
    expect(await updateMetadata('dana')).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    expect(await updateMetadata('broker')).toBe('OK');
  } finally {
    admin?.close();
    control?.close();
    await server?.shutdown(100);
    service.close();
  }
});
