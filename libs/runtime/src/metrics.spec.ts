import { Writable } from 'node:stream';
import { createLogger } from './logger';
import { checkMetricName, createMetrics, DURATION_BUCKETS_SECONDS, SIZE_BUCKETS_BYTES } from './metrics';

describe('createMetrics', () => {
  it('uses its own registry, with build info and the standard metrics', async () => {
    const a = createMetrics({ service: 'broker', nodeId: 2, version: 'v1' });
    const b = createMetrics({ service: 'broker', nodeId: 3, version: 'v1', defaultMetrics: false });
    const text = await a.registry.metrics();
    expect(text).toContain('tributary_build_info{service="broker",node_id="2",version="v1"} 1');
    expect(text).toContain('process_resident_memory_bytes');
    const other = await b.registry.metrics();
    expect(other).toContain('node_id="3"');
    expect(other).not.toContain('process_resident_memory_bytes');
    // No identity labels stamped on every series (Prometheus adds target labels).
    expect(text).not.toMatch(/^process_cpu_seconds_total\{/m);
  });

  it('get-or-creates metrics, so two components can share one', async () => {
    const m = createMetrics({ service: 's', nodeId: 1, defaultMetrics: false });
    const c1 = m.counter({ name: 'tributary_log_appends_total', help: 'appends', labelNames: ['topic'] });
    const c2 = m.counter({ name: 'tributary_log_appends_total', help: 'appends', labelNames: ['topic'] });
    expect(c2).toBe(c1);
    c1.inc({ topic: 't' }, 2);
    const h = m.histogram({ name: 'tributary_log_flush_seconds', help: 'flush time' });
    h.observe(0.003);
    const g = m.gauge({ name: 'tributary_log_segments', help: 'segments', collect() { this.set(7); } });
    expect(g).toBeDefined();
    const text = await m.registry.metrics();
    expect(text).toContain('tributary_log_appends_total{topic="t"} 2');
    expect(text).toContain('tributary_log_flush_seconds_bucket{le="0.005"} 1');
    expect(text).toContain('tributary_log_segments 7');
    expect(() => m.gauge({ name: 'tributary_log_appends_total', help: 'x' })).toThrow(/not a counter/);
    expect(() => m.histogram({ name: 'tributary_log_appends_seconds', help: 'x' }) && m.gauge({ name: 'tributary_log_appends_seconds', help: 'x' })).toThrow(/another type/);
  });

  it('has duration buckets from 100 µs to 10 s and size buckets from 64 B to 64 MiB', () => {
    expect(DURATION_BUCKETS_SECONDS[0]).toBe(0.0001);
    expect(DURATION_BUCKETS_SECONDS[DURATION_BUCKETS_SECONDS.length - 1]).toBe(10);
    expect(SIZE_BUCKETS_BYTES[0]).toBe(64);
    expect(SIZE_BUCKETS_BYTES[SIZE_BUCKETS_BYTES.length - 1]).toBe(64 * 1024 * 1024);
  });
});

describe('checkMetricName', () => {
  it('enforces the prefix, base units and suffixes', () => {
    expect(() => checkMetricName('tributary_fetch_requests_total', 'counter')).not.toThrow();
    expect(() => checkMetricName('fetch_requests_total', 'counter')).toThrow(/start with tributary_/);
    expect(() => checkMetricName('tributary_fetch_requests', 'counter')).toThrow(/must end with _total/);
    expect(() => checkMetricName('tributary_fetch_latency_ms', 'histogram')).toThrow(/base units/);
    expect(() => checkMetricName('tributary_fetch_latency', 'histogram')).toThrow(/must end with its unit/);
    expect(() => checkMetricName('tributary_queue_depth_total', 'gauge')).toThrow(/not a counter/);
    expect(() => checkMetricName('tributary_Bad', 'gauge')).toThrow(/snake_case/);
  });
});

describe('createLogger', () => {
  it('writes JSON lines with service, node id, ISO time and a level label', () => {
    const lines: string[] = [];
    const logger = createLogger({
      service: 'controller',
      nodeId: 'c-1',
      level: 'debug',
      destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }),
    });
    logger.child({ component: 'elector' }).debug({ term: 3 }, 'became leader');
    logger.trace('not written');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'debug', service: 'controller', nodeId: 'c-1', component: 'elector', term: 3, msg: 'became leader' });
    expect(line['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(line).not.toHaveProperty('pid');
  });
});
