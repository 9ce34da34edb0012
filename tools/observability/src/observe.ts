/**
 * `npm run observe`: a real Prometheus (the Debian package's `prometheus`) scraping the
 * running local cluster (`npm start`), with deploy/prometheus/alerts.yml loaded.
 *
 * Targets come from `<data-dir>/local-cluster.json` (written by the launcher while it runs, so
 * `--brokers`, `--controllers` and `--base-port` are followed, and `--secure`: HTTPS with the
 * cluster's CA and admin certificate); with no cluster running, the
 * default ports are scraped (targets show as down until `npm start`). The configuration is
 * written to `<data-dir>/prometheus/prometheus.yml` and the TSDB kept in
 * `<data-dir>/prometheus/data`. Ctrl-C (or SIGTERM) stops Prometheus, which exits cleanly.
 *
 * Flags: --data-dir DIR (default ./.tributary or TRIBUTARY_DATA_DIR), --port N (9090),
 * --host H (127.0.0.1), --scrape-interval-seconds N (15), --retention TIME (Prometheus'
 * --storage.tsdb.retention.time, default 7d).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEPLOY_DIR } from './paths';
import { requirePrometheusTool } from './prometheus';
import { DEFAULT_LOCAL_TARGETS, renderScrapeConfig, targetsFromState } from './scrape-config';
import type { LocalClusterState, ScrapeTarget } from './scrape-config';

interface ObserveOptions {
  dataDir: string;
  host: string;
  port: number;
  intervalSeconds: number;
  retention: string;
}

const USAGE = 'usage: npm run observe -- [--data-dir DIR] [--port N] [--host HOST] [--scrape-interval-seconds N] [--retention 7d]';

/** Parses the flags; throws an Error naming the bad one. */
export function parseObserveArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ObserveOptions | 'help' {
  const options: ObserveOptions = {
    dataDir: path.resolve(cwd, env['TRIBUTARY_DATA_DIR'] ?? '.tributary'),
    host: '127.0.0.1',
    port: 9090,
    intervalSeconds: 15,
    retention: '7d',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--help' || flag === '-h') return 'help';
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    i++;
    const int = (min: number, max: number): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} must be an integer from ${min} to ${max}, not ${value}`);
      return n;
    };
    if (flag === '--data-dir') options.dataDir = path.resolve(cwd, value);
    else if (flag === '--port') options.port = int(1, 65535);
    else if (flag === '--host') options.host = value;
    else if (flag === '--scrape-interval-seconds') options.intervalSeconds = int(1, 3600);
    else if (flag === '--retention') {
      if (!/^\d+(ms|s|m|h|d|w|y)$/.test(value)) throw new Error(`--retention must be a duration such as 7d or 12h, not ${value}`);
      options.retention = value;
    } else throw new Error(`unknown flag ${flag}\n${USAGE}`);
  }
  return options;
}

/** The targets of the cluster running on `dataDir`, or the defaults (and why). */
export function localTargets(dataDir: string): { targets: ScrapeTarget[]; source: string } {
  const file = path.join(dataDir, 'local-cluster.json');
  try {
    const state = JSON.parse(fs.readFileSync(file, 'utf8')) as LocalClusterState;
    return { targets: targetsFromState(state), source: file };
  } catch {
    return { targets: [...DEFAULT_LOCAL_TARGETS], source: `default ports (no ${file}: start the cluster with npm start)` };
  }
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseObserveArgs>;
  try {
    parsed = parseObserveArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  if (parsed === 'help') {
    console.log(`${USAGE}\nStarts Prometheus scraping the local cluster, with deploy/prometheus/alerts.yml loaded.`);
    return 0;
  }
  const options = parsed;
  let prometheus: string;
  try {
    prometheus = requirePrometheusTool('prometheus');
  } catch (e) {
    console.error((e as Error).message);
    return 1;
  }
  const dir = path.join(options.dataDir, 'prometheus');
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const { targets, source } = localTargets(options.dataDir);
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, renderScrapeConfig(targets, { ruleFiles: [path.join(DEPLOY_DIR, 'prometheus', 'alerts.yml')], intervalSeconds: options.intervalSeconds }));
  const url = `http://${options.host}:${options.port}`;
  const child = spawn(
    prometheus,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--storage.tsdb.retention.time=${options.retention}`,
      `--web.listen-address=${options.host}:${options.port}`,
      '--web.enable-lifecycle',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const logFile = fs.createWriteStream(path.join(dir, 'prometheus.log'), { flags: 'a' });
  let lastLines: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => {
    logFile.write(chunk);
    lastLines = [...lastLines, ...chunk.toString('utf8').split('\n').filter(Boolean)].slice(-10);
  });
  console.log(`Prometheus: ${url}  (alerts: ${url}/alerts, targets: ${url}/targets)`);
  console.log(`  scraping ${targets.length} processes from ${source}`);
  console.log(`  config ${configFile}, data ${path.join(dir, 'data')}, log ${path.join(dir, 'prometheus.log')}`);
  console.log('  Ctrl-C stops it.');
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    console.log(`stopping Prometheus (${signal})`);
    child.kill('SIGTERM');
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));
  return new Promise<number>((resolve) => {
    child.on('error', (e) => {
      console.error(`could not run ${prometheus}: ${e.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      logFile.end();
      // A terminal's Ctrl-C reaches Prometheus too (same process group): it stops cleanly, code 0.
      if (stopping || code === 0) return resolve(0);
      console.error(`Prometheus exited (${signal ?? `code ${code}`}); its last lines:\n${lastLines.join('\n')}`);
      resolve(1);
    });
  });
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
