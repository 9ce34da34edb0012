// The gRPC server's HTTP/2 receive windows, on a real socket: a client streaming requests
// (the SDK's ProduceStream) may have GRPC_SERVER_DEFAULTS.flowControlWindowBytes in flight on
// a stream and on the connection, not HTTP/2's 64 KiB.
import { connect, type ClientHttp2Session } from 'node:http2';
import { Writable } from 'node:stream';
import { CoordinationServiceService } from '@tributary/proto';
import { createGrpcServer, GRPC_SERVER_DEFAULTS, type GrpcServer } from './grpc-server';
import { createLogger } from './logger';
import { createMetrics } from './metrics';

const logger = createLogger({ service: 'test', nodeId: 1, level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
let server: GrpcServer;
let port: number;

beforeAll(async () => {
  server = createGrpcServer({ logger, registry: createMetrics({ service: 'test', nodeId: 1 }).registry });
  server.addService(CoordinationServiceService, {});
  port = await server.listen('127.0.0.1', 0);
});

afterAll(async () => {
  await server.shutdown(100);
});

it('advertises the configured stream window and opens the connection window to it', async () => {
  const session: ClientHttp2Session = connect(`http://127.0.0.1:${port}`);
  try {
    await new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => resolve());
      session.once('error', reject);
    });
    expect(GRPC_SERVER_DEFAULTS.flowControlWindowBytes).toBeGreaterThan(65_535);
    expect(session.remoteSettings.initialWindowSize).toBe(GRPC_SERVER_DEFAULTS.flowControlWindowBytes);
    // The connection window: what the client may send before the server's WINDOW_UPDATE.
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if ((session.state.remoteWindowSize ?? 0) >= GRPC_SERVER_DEFAULTS.flowControlWindowBytes) resolve();
        else setTimeout(check, 10);
      };
      check();
    });
    expect(session.state.remoteWindowSize).toBe(GRPC_SERVER_DEFAULTS.flowControlWindowBytes);
  } finally {
    session.close();
  }
});
