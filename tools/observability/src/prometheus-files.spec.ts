/**
 * deploy/prometheus: the scrape config is the generator's output for the local cluster's
 * default ports, and both files pass `promtool check` (the real one, Debian package
 * prometheus).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEPLOY_DIR } from './paths';
import { requirePrometheusTool } from './prometheus';
import { DEFAULT_LOCAL_TARGETS, renderScrapeConfig, targetsFromState } from './scrape-config';

const PROM_DIR = path.join(DEPLOY_DIR, 'prometheus');

function promtool(...args: string[]): { status: number | null; output: string } {
  // Fails with the install command when the package is missing (install-system-deps.sh installs it as root).
  const bin = requirePrometheusTool('promtool');
  const r = spawnSync(bin, args, { cwd: PROM_DIR, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

it('ships the scrape config of the default local cluster (npm start ports) as the generator writes it', () => {
  expect(fs.readFileSync(path.join(PROM_DIR, 'prometheus.yml'), 'utf8')).toBe(renderScrapeConfig(DEFAULT_LOCAL_TARGETS));
});

it('derives the targets of a running local cluster from its local-cluster.json', () => {
  const targets = targetsFromState({ services: [{ name: 'broker-4', app: 'broker', adminPort: 9204 }, { name: 'rest-proxy', app: 'rest-proxy', adminPort: 10082 }] });
  expect(targets).toEqual([
    { app: 'broker', process: 'broker-4', address: '127.0.0.1:9204' },
    { app: 'rest-proxy', process: 'rest-proxy', address: '127.0.0.1:10082' },
  ]);
  const yaml = renderScrapeConfig(targets, { ruleFiles: ['/abs/alerts.yml'], intervalSeconds: 5 });
  expect(yaml).toContain('  - job_name: tributary-broker\n    metrics_path: /metrics\n    static_configs:\n      - targets: ["127.0.0.1:9204"]');
  expect(yaml).toContain('scrape_interval: 5s');
  expect(yaml).not.toContain('tributary-coordination');
});

it('scrapes a --secure local cluster over HTTPS with its CA and the admin certificate (plaintext where a service serves plaintext); promtool accepts it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promtool-tls-'));
  try {
    // One self-signed certificate stands for the CA and the admin's certificate: promtool reads the files.
    const r0 = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'admin.key', '-out', 'admin.crt', '-days', '1', '-subj', '/CN=admin'], { cwd: dir });
    expect(r0.status).toBe(0);
    fs.copyFileSync(path.join(dir, 'admin.crt'), path.join(dir, 'ca.crt'));
    const targets = targetsFromState({
      secure: true,
      caFile: path.join(dir, 'ca.crt'),
      tlsDir: dir,
      services: [
        { name: 'broker-0', app: 'broker', adminPort: 8200, adminTls: true },
        { name: 'rest-proxy', app: 'rest-proxy', adminPort: 9082, adminTls: false },
      ],
    });
    expect(targets[0]!.tls).toEqual({ caFile: path.join(dir, 'ca.crt'), certFile: `${dir}/admin.crt`, keyFile: `${dir}/admin.key` });
    expect(targets[1]!.tls).toBeUndefined();
    const yaml = renderScrapeConfig(targets, { ruleFiles: [path.join(PROM_DIR, 'alerts.yml')] });
    expect(yaml).toContain(
      `  - job_name: tributary-broker\n    metrics_path: /metrics\n    scheme: https\n    tls_config:\n      ca_file: "${dir}/ca.crt"\n      cert_file: "${dir}/admin.crt"\n      key_file: "${dir}/admin.key"\n    static_configs:`,
    );
    expect(yaml).toContain('  - job_name: tributary-rest-proxy\n    metrics_path: /metrics\n    static_configs:');
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), yaml);
    const r = spawnSync(requirePrometheusTool('promtool'), ['check', 'config', path.join(dir, 'prometheus.yml')], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
    expect(r.status).toBe(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('has alert rules that promtool accepts', () => {
  const r = promtool('check', 'rules', 'alerts.yml');
  expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
  expect(r.status).toBe(0);
});

it('fires each alert when it should and not on a healthy cluster (promtool test rules alerts.test.yml)', () => {
  const r = promtool('test', 'rules', 'alerts.test.yml');
  expect(r.output).toContain('SUCCESS');
  expect(r.status).toBe(0);
  // Every alert of the rule file has a case that makes it fire.
  const tested = new Set([...fs.readFileSync(path.join(PROM_DIR, 'alerts.test.yml'), 'utf8').matchAll(/alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels/g)].map((m) => m[1]));
  const alerts = [...fs.readFileSync(path.join(PROM_DIR, 'alerts.yml'), 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
  expect(alerts.length).toBeGreaterThanOrEqual(12);
  expect(alerts.filter((a) => !tested.has(a))).toEqual([]);
});

it('has a scrape config that promtool accepts (with its rule file)', () => {
  const r = promtool('check', 'config', 'prometheus.yml');
  expect(r.output).toContain('SUCCESS');
  expect(r.status).toBe(0);
});

it('rejects a broken rule through promtool (the check can fail)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promtool-'));
  try {
    fs.writeFileSync(path.join(dir, 'bad.yml'), 'groups:\n  - name: x\n    rules:\n      - alert: Bad\n        expr: sum(tributary_x{\n');
    const r = spawnSync(requirePrometheusTool('promtool'), ['check', 'rules', path.join(dir, 'bad.yml')], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
