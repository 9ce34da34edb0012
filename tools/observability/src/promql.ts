/**
 * Metric names in PromQL expressions and in Prometheus text scrapes: what the spec uses to
 * prove that no dashboard panel or alert rule points at a metric nobody exports.
 *
 * A name in an expression is an identifier with one of {@link METRIC_PREFIXES} followed by a
 * character that cannot continue it (`{`, `[`, `)`, `,`, whitespace, an operator, the end);
 * string literals are removed first, so label values (`job=~"tributary-.+"`) never count.
 * Label names (`by (le, method)`) and functions (`rate(`) do not carry the prefixes.
 */

/** Prefixes of the metric names we export: ours, and prom-client's standard process metrics. */
export const METRIC_PREFIXES = ['tributary_', 'process_', 'nodejs_'] as const;

/** Series Prometheus itself makes for every target: used in rules, never in a scrape. */
export const SYNTHETIC_METRICS: ReadonlySet<string> = new Set(['up']);

const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/g;

/** Metric names used in one PromQL expression (or Grafana query such as `label_values(m, l)`). */
export function metricNamesIn(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  const names = new Set<string>();
  for (const m of code.matchAll(IDENT)) {
    const name = m[0];
    const before = m.index === 0 ? '' : code[m.index - 1]!;
    if (before === '$' || before === '.') continue; // Grafana variables ($__rate_interval), fields
    if (METRIC_PREFIXES.some((p) => name.startsWith(p)) || SYNTHETIC_METRICS.has(name)) names.add(name);
  }
  return [...names];
}

/** What a scrape exports: names with samples, and the declared type of each family. */
export interface ScrapedNames {
  /** Names of sample lines (with `_bucket`, `_sum`, `_count` for histograms). */
  samples: Set<string>;
  /** `# TYPE` declarations: family name → type. */
  types: Map<string, string>;
}

/** Parses Prometheus text exposition format (names only). */
export function parseScrape(text: string, into: ScrapedNames = { samples: new Set(), types: new Map() }): ScrapedNames {
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (name && type) into.types.set(name, type);
    } else if (line !== '' && !line.startsWith('#')) {
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
      if (name) into.samples.add(name);
    }
  }
  return into;
}

/**
 * Whether `name` (as written in an expression) is exported in `scraped`: it has samples, or
 * its family is declared (`# TYPE`; a labelled family whose label sets appear with traffic,
 * such as per-topic duplicates, is declared before its first sample), or it is one of
 * {@link SYNTHETIC_METRICS}. `_bucket`/`_sum`/`_count` map to their family, which must be a
 * histogram (or a summary, for `_sum`/`_count`): `x_count` of a gauge `x` does not pass.
 */
export function isExported(name: string, scraped: ScrapedNames): boolean {
  if (SYNTHETIC_METRICS.has(name)) return true;
  if (scraped.types.has(name)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (m) {
    const type = scraped.types.get(m[1]!);
    return type === 'histogram' || (type === 'summary' && m[2] !== 'bucket');
  }
  return scraped.samples.has(name);
}
