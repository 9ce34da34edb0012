/** Metric names out of PromQL, and what counts as exported in a scrape. */
import { isExported, metricNamesIn, parseScrape } from './promql';

it('finds the metric names of an expression and nothing inside strings, label lists or variables', () => {
  expect(metricNamesIn('sum by (le, method) (rate(tributary_grpc_server_handling_seconds_bucket{job="tributary_not_a_metric"}[$__rate_interval]))')).toEqual([
    'tributary_grpc_server_handling_seconds_bucket',
  ]);
  expect(metricNamesIn('tributary_log_dir_free_bytes / tributary_log_dir_size_bytes < 0.15')).toEqual(['tributary_log_dir_free_bytes', 'tributary_log_dir_size_bytes']);
  expect(metricNamesIn('(sum(tributary_controller_active) or vector(0)) < 1')).toEqual(['tributary_controller_active']);
  expect(metricNamesIn('up{job=~"tributary-.+"} == 0')).toEqual(['up']);
  expect(metricNamesIn('label_values(tributary_consumer_group_lag, group)')).toEqual(['tributary_consumer_group_lag']);
  expect(metricNamesIn('rate(process_cpu_seconds_total[5m]) + nodejs_eventloop_lag_p99_seconds')).toEqual(['process_cpu_seconds_total', 'nodejs_eventloop_lag_p99_seconds']);
  expect(metricNamesIn('vector(1)')).toEqual([]);
});

const SCRAPE = `# HELP tributary_x_seconds x
# TYPE tributary_x_seconds histogram
tributary_x_seconds_bucket{le="0.1"} 1
tributary_x_seconds_sum 0.05
tributary_x_seconds_count 1
# HELP tributary_g g
# TYPE tributary_g gauge
tributary_g 3
# HELP tributary_labelled_total declared, no label set yet
# TYPE tributary_labelled_total counter
untyped_sample 1
`;

it('counts a name as exported when its family is declared or has samples (histogram series through their family)', () => {
  const scraped = parseScrape(SCRAPE);
  expect(isExported('tributary_x_seconds_bucket', scraped)).toBe(true);
  expect(isExported('tributary_x_seconds_count', scraped)).toBe(true);
  expect(isExported('tributary_g', scraped)).toBe(true);
  expect(isExported('up', scraped)).toBe(true);
  expect(isExported('tributary_labelled_total', scraped)).toBe(true);
  expect(isExported('tributary_x_seconds', scraped)).toBe(true);
  expect(isExported('tributary_x_seconds_total', scraped)).toBe(false);
  expect(isExported('tributary_g_count', scraped)).toBe(false);
  expect(isExported('tributary_nobody_exports_this', scraped)).toBe(false);
  expect(isExported('untyped_sample', scraped)).toBe(true);
});
