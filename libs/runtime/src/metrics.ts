/**
 * Process metrics: one prom-client `Registry` per process (never the global one, so tests and
 * several servers in one process do not collide), the standard process/nodejs metrics, and
 * get-or-create helpers that enforce Tributary's naming (prometheus.io conventions):
 * `tributary_` prefix, snake_case, base units (`_seconds`, `_bytes`), `_total` on counters
 * and only on counters, no `_ms`/`_milliseconds`/`_kb`-style units.
 *
 * Identity labels: the service and node id are NOT added as default labels on every series.
 * Prometheus attaches target labels at scrape time (`job`, `instance`, and in Kubernetes the
 * pod/namespace/service through the ServiceMonitor's relabelling); stamping them in the
 * process duplicates those labels and clashes with `honor_labels`. Instead the process exports
 * one info metric, `tributary_build_info{service, node_id, version} 1`, which dashboards join
 * on `instance` when they need the node id (`* on(instance) group_left(node_id) ...`).
 * Pass `defaultLabels` when a deployment really wants them stamped (e.g. a push gateway).
 *
 * The standard metrics (`process_*`, `nodejs_*`) keep their usual names, without the
 * `tributary_` prefix, so stock dashboards work.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CounterConfiguration, GaugeConfiguration, HistogramConfiguration } from 'prom-client';

/**
 * Latency buckets in seconds, 100 µs to 10 s (roughly 1-2.5-5 per decade): fine enough at
 * the bottom for page-cache reads and fsyncs, wide enough at the top for long polls.
 */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Size buckets in bytes, 64 B to 64 MiB by powers of 4. */
export const SIZE_BUCKETS_BYTES: readonly number[] = Array.from({ length: 11 }, (_, i) => 64 * 4 ** i);

/** What {@link createMetrics} needs. */
export interface MetricsOptions {
  /** Service name, exported as a label of `tributary_build_info`. */
  service: string;
  /** Node id, exported as the `node_id` label of `tributary_build_info`. */
  nodeId: string | number;
  /** Version exported in `tributary_build_info` (default: TRIBUTARY_VERSION or `dev`). */
  version?: string;
  /** Register the standard process/nodejs metrics (default true). */
  defaultMetrics?: boolean;
  /** Labels stamped on every series. Normally unset: see the file header. */
  defaultLabels?: Record<string, string>;
}

/** Label names of a metric, as a union of string literals. */
type Labels<L extends string> = { labelNames?: readonly L[] };

/** Options of {@link Metrics.counter}. */
export type CounterOptions<L extends string> = Omit<CounterConfiguration<L>, 'registers' | 'labelNames'> & Labels<L>;
/** Options of {@link Metrics.gauge}. */
export type GaugeOptions<L extends string> = Omit<GaugeConfiguration<L>, 'registers' | 'labelNames'> & Labels<L>;
/** Options of {@link Metrics.histogram}; buckets default to {@link DURATION_BUCKETS_SECONDS}. */
export type HistogramOptions<L extends string> = Omit<HistogramConfiguration<L>, 'registers' | 'labelNames' | 'buckets'> &
  Labels<L> & { buckets?: readonly number[] };

/** A process's registry plus helpers that create (or return existing) metrics on it. */
export interface Metrics {
  /** The process registry: what `/metrics` serves. */
  readonly registry: Registry;
  /** Get-or-create a counter; the name must end with `_total`. */
  counter<L extends string = never>(options: CounterOptions<L>): Counter<L>;
  /** Get-or-create a gauge (use `collect` to compute it at scrape time). */
  gauge<L extends string = never>(options: GaugeOptions<L>): Gauge<L>;
  /** Get-or-create a histogram; the name must end with a base unit (`_seconds`, `_bytes`...). */
  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L>;
}

/** Creates the process registry with the standard metrics and `tributary_build_info`. */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const info = getOrCreateGauge(registry, {
    name: 'tributary_build_info',
    help: 'Always 1; labels identify the service, node and version of this process',
    labelNames: ['service', 'node_id', 'version'],
  });
  info.set(
    { service: options.service, node_id: String(options.nodeId), version: options.version ?? process.env['TRIBUTARY_VERSION'] ?? 'dev' },
    1,
  );
  return {
    registry,
    counter: (o) => getOrCreateCounter(registry, o),
    gauge: (o) => getOrCreateGauge(registry, o),
    histogram: (o) => getOrCreateHistogram(registry, o),
  };
}

/** Get-or-create a counter on `registry` (see {@link Metrics.counter}). */
export function getOrCreateCounter<L extends string = never>(registry: Registry, options: CounterOptions<L>): Counter<L> {
  checkMetricName(options.name, 'counter');
  return existing(registry, options.name, Counter) ??
    new Counter<L>({ ...options, labelNames: options.labelNames ?? [], registers: [registry] });
}

/** Get-or-create a gauge on `registry` (see {@link Metrics.gauge}). */
export function getOrCreateGauge<L extends string = never>(registry: Registry, options: GaugeOptions<L>): Gauge<L> {
  checkMetricName(options.name, 'gauge');
  return existing(registry, options.name, Gauge) ??
    new Gauge<L>({ ...options, labelNames: options.labelNames ?? [], registers: [registry] });
}

/** Get-or-create a histogram on `registry` (see {@link Metrics.histogram}). */
export function getOrCreateHistogram<L extends string = never>(registry: Registry, options: HistogramOptions<L>): Histogram<L> {
  checkMetricName(options.name, 'histogram');
  return existing(registry, options.name, Histogram) ??
    new Histogram<L>({
      ...options,
      labelNames: options.labelNames ?? [],
      buckets: [...(options.buckets ?? DURATION_BUCKETS_SECONDS)],
      registers: [registry],
    });
}

const NON_BASE_UNITS = /_(ms|millis|milliseconds|us|micros|microseconds|ns|nanoseconds|minutes|hours|kb|mb|gb|kib|mib|gib|percent)(_total)?$/;

/**
 * Throws unless `name` follows Tributary's metric naming for a metric of `type`.
 * Names are static, so a violation is a programming error caught by the first test run.
 */
export function checkMetricName(name: string, type: 'counter' | 'gauge' | 'histogram'): void {
  const fail = (why: string): never => {
    throw new Error(`metric name ${name} ${why}`);
  };
  if (!/^tributary_[a-z][a-z0-9_]*[a-z0-9]$/.test(name)) fail('must be snake_case and start with tributary_');
  if (NON_BASE_UNITS.test(name)) fail('must use base units (_seconds, _bytes)');
  if (type === 'counter' && !name.endsWith('_total')) fail('is a counter and must end with _total');
  if (type !== 'counter' && name.endsWith('_total')) fail('ends with _total but is not a counter');
  if (type === 'histogram' && !/_(seconds|bytes|records|messages|batches|ratio)$/.test(name)) {
    fail('is a histogram and must end with its unit (_seconds, _bytes, _records, ...)');
  }
}

function existing<T>(registry: Registry, name: string, type: abstract new (...args: never[]) => T): T | undefined {
  const found = registry.getSingleMetric(name);
  if (found === undefined) return undefined;
  if (!(found instanceof type)) throw new Error(`metric ${name} already exists with another type`);
  return found;
}
