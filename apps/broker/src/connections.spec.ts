/** grpcServerConnections: tributary_broker_active_connections, counted from grpc-js channelz with real clients. */
import * as grpc from '@grpc/grpc-js';
import { waitFor } from '@tributary/testing';
import { grpcServerConnections } from './app';

it('counts the open connections of the process\'s gRPC servers, and forgets closed ones', async () => {
  const server = new grpc.Server();
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const before = grpcServerConnections();
  // Separate subchannel pools: three real connections, not one shared.
  const clients = [1, 2, 3].map(() => new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  try {
    await Promise.all(clients.map((c) => new Promise<void>((resolve, reject) => c.waitForReady(Date.now() + 5000, (e) => (e ? reject(e) : resolve())))));
    await waitFor(async () => grpcServerConnections() === before + 3, { timeoutMs: 5000, message: 'three connections counted' });
  } finally {
    for (const c of clients) c.close();
  }
  await waitFor(async () => grpcServerConnections() === before, { timeoutMs: 5000, message: 'closed connections forgotten' });
  server.forceShutdown();
});
