import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { startAdminServer, type AdminServer, type Readiness } from './admin-server';
import { createLogger } from './logger';
import { createMetrics } from './metrics';

const logger = createLogger({ service: 'test', nodeId: 1, level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

let readiness: () => Readiness | Promise<Readiness> = () => true;
let server: AdminServer;
const metrics = createMetrics({ service: 'test', nodeId: 'n1', version: '1.2.3' });
metrics.counter({ name: 'tributary_test_events_total', help: 'test events' }).inc(3);

beforeAll(async () => {
  server = await startAdminServer({ host: '127.0.0.1', port: 0, registry: metrics.registry, logger, isReady: () => readiness() });
});
afterAll(() => server.close());

function request(method: string, path: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, method, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function raw(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1', () => socket.write(bytes));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (answer += c));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(answer);
    });
  });
}

describe('admin server', () => {
  it('picks a free port when asked for port 0', () => {
    expect(server.port).toBeGreaterThan(0);
  });

  it('serves Prometheus text on /metrics', async () => {
    const r = await request('GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toContain('text/plain');
    expect(r.body).toContain('tributary_test_events_total 3');
    expect(r.body).toContain('tributary_build_info{service="test",node_id="n1",version="1.2.3"} 1');
    expect(r.body).toContain('process_cpu_seconds_total');
    expect(r.body).toContain('nodejs_eventloop_lag_seconds');
  });

  it('answers /healthz with 200 ok, also with a query string and for HEAD', async () => {
    expect(await request('GET', '/healthz')).toMatchObject({ status: 200, body: 'ok' });
    expect(await request('GET', '/healthz?verbose=1')).toMatchObject({ status: 200, body: 'ok' });
    expect(await request('HEAD', '/healthz')).toMatchObject({ status: 200, body: '' });
  });

  it('answers /readyz from isReady: 200, or 503 with the reason', async () => {
    readiness = () => true;
    expect(await request('GET', '/readyz')).toMatchObject({ status: 200 });
    readiness = () => ({ ready: true });
    expect(await request('GET', '/readyz')).toMatchObject({ status: 200 });
    readiness = () => false;
    expect(await request('GET', '/readyz')).toMatchObject({ status: 503, body: 'not ready\n' });
    readiness = async () => ({ ready: false, reason: 'log recovery in progress' });
    expect(await request('GET', '/readyz')).toMatchObject({ status: 503, body: 'not ready: log recovery in progress\n' });
    readiness = () => {
      throw new Error('probe broke');
    };
    expect(await request('GET', '/readyz')).toMatchObject({ status: 503, body: 'not ready: readiness check failed: probe broke\n' });
    readiness = () => true;
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    expect((await request('GET', '/')).status).toBe(404);
    expect((await request('GET', '/metrics/extra')).status).toBe(404);
    const r = await request('POST', '/metrics');
    expect(r.status).toBe(405);
    expect(r.headers['allow']).toBe('GET, HEAD');
    expect((await request('DELETE', '/healthz')).status).toBe(405);
  });

  it('answers a garbage request line with 400 and keeps serving', async () => {
    expect(await raw('\x00\x01 NOT HTTP AT ALL\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect(await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    // A client that connects and hangs up at once.
    await new Promise<void>((resolve) => {
      const s = net.connect(server.port, '127.0.0.1', () => {
        s.destroy();
        resolve();
      });
    });
    expect(await request('GET', '/healthz')).toMatchObject({ status: 200, body: 'ok' });
  });

  it('reports a port already in use clearly', async () => {
    await expect(
      startAdminServer({ host: '127.0.0.1', port: server.port, registry: metrics.registry, logger }),
    ).rejects.toThrow(`cannot listen for admin HTTP on 127.0.0.1:${server.port}: listen EADDRINUSE`);
  });

  it('closes even with an idle keep-alive connection open', async () => {
    const other = await startAdminServer({ host: '127.0.0.1', port: 0, registry: metrics.registry, logger });
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve) => http.get({ host: '127.0.0.1', port: other.port, path: '/healthz', agent }, (res) => res.resume().on('end', resolve)));
    await other.close();
    agent.destroy();
  });
});
