/**
 * helm/tributary and deploy/k8s, without helm or a cluster:
 * - values.yaml: every key documented (a comment right above it) and used by a template,
 *   every `.Values` reference of a template exists, values.schema.json accepts the defaults
 *   and refuses bad values;
 * - the chart renders (helm-lite.ts) with the defaults and with every option on, and every
 *   object validates against the Kubernetes schemas (kubernetes-models);
 * - what the issue asks of the objects: broker StatefulSet with volumes, headless Service,
 *   ordinal ids, PDB, anti-affinity, probes, non-root, shutdown time; controllers 2,
 *   coordination 2+ on ZooKeeper, ZooKeeper 3 with volumes, ServiceMonitor/PrometheusRule,
 *   dashboard ConfigMaps for the Grafana sidecar; every TRIBUTARY_* variable is a setting of
 *   the app it is given to (the app's own --help);
 * - deploy/k8s is the chart rendered with its defaults, `kubectl kustomize deploy/k8s`
 *   builds, its objects validate and agree with the chart on ports, probes and env names.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { dashboardFiles } from './dashboards';
import { mergeValues, parseObjects, renderChart } from './helm-lite';
import type { K8sObject, RenderChartOptions } from './helm-lite';
import { validateObject } from './k8s-validate';
import { CHART_DIR, DEPLOY_DIR, REPO_ROOT } from './paths';
import { SERVICE_PORTS } from './ports';
import { PLAIN_RELEASE, plainManifests } from './render-k8s';

const VALUES_FILE = path.join(CHART_DIR, 'values.yaml');
const TEMPLATES_DIR = path.join(CHART_DIR, 'templates');
const K8S_DIR = path.join(DEPLOY_DIR, 'k8s');
const KUBECTL_INSTALL =
  'kubectl is missing (needed for `kubectl kustomize deploy/k8s`); run: sudo apt-get update && sudo apt-get install -y --no-install-recommends kubernetes-client (or any other kubectl; tools/scripts/install-system-deps.sh does this as root)';

/** Every key path of values.yaml with the comment lines right above it (same indentation). */
function valueKeys(): { path: string; comment: string; leaf: boolean }[] {
  const lines = fs.readFileSync(VALUES_FILE, 'utf8').split('\n');
  const out: { path: string; comment: string; leaf: boolean }[] = [];
  const stack: string[] = [];
  lines.forEach((line, i) => {
    const m = /^( *)([A-Za-z_][\w-]*):(.*)$/.exec(line);
    if (!m) return;
    const depth = m[1]!.length / 2;
    stack.length = depth;
    stack[depth] = m[2]!;
    const comment: string[] = [];
    for (let j = i - 1; j >= 0 && lines[j]!.startsWith(`${m[1]}# `); j--) comment.unshift(lines[j]!.trim().slice(2));
    out.push({ path: stack.join('.'), comment: comment.join(' '), leaf: m[3]!.trim() !== '' });
  });
  return out;
}

const templateSources = (): string => fs.readdirSync(TEMPLATES_DIR).map((f) => fs.readFileSync(path.join(TEMPLATES_DIR, f), 'utf8')).join('\n');

/** All objects the chart renders with `options`. */
function chartObjects(options: RenderChartOptions = {}): K8sObject[] {
  return renderChart(CHART_DIR, options)
    .filter((t) => t.file.endsWith('.yaml'))
    .flatMap((t) => parseObjects(t.text, t.file));
}

const find = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name} among ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const podSpec = (o: K8sObject): Any => (o as Any).spec.template.spec;
const container = (o: K8sObject, name: string): Any => podSpec(o).containers.find((c: Any) => c.name === name);
const envOf = (c: Any): Map<string, Any> => new Map((c.env ?? []).map((e: Any) => [e.name, e]));

/** Tributary workloads: object name → container name = app. */
const WORKLOADS: Record<string, { kind: string; app: string; values: string }> = {
  'tributary-coordination': { kind: 'Deployment', app: 'coordination', values: 'coordination' },
  'tributary-controller': { kind: 'StatefulSet', app: 'controller', values: 'controller' },
  'tributary-broker': { kind: 'StatefulSet', app: 'broker', values: 'broker' },
  'tributary-group-coordinator': { kind: 'StatefulSet', app: 'group-coordinator', values: 'groupCoordinator' },
  'tributary-rest-proxy': { kind: 'Deployment', app: 'rest-proxy', values: 'restProxy' },
};

/** Every option of values.yaml switched on or away from its default. */
const EVERYTHING_ON: Record<string, unknown> = {
  imagePullSecrets: [{ name: 'registry' }],
  broker: { rack: { value: 'rack-a', topologyKey: 'topology.kubernetes.io/zone' }, antiAffinity: 'required', persistence: { storageClass: 'fast' } },
  zookeeper: { persistence: { storageClass: 'fast' } },
  restProxy: { ingress: { enabled: true, className: 'nginx', annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' }, tls: [{ hosts: ['tributary.example.com'], secretName: 'tls' }] }, service: { type: 'LoadBalancer' } },
  metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } }, prometheusRule: { enabled: true, labels: { release: 'prometheus' } }, grafanaDashboards: { labels: { team: 'streaming' } } },
};

/** Security on: TLS from a Secret, SCRAM, the authorizer, super users, initial users from a Secret, scraped. */
const SECURE: Record<string, unknown> = {
  security: {
    tls: { enabled: true, existingSecret: 'tributary-tls', clientAuth: 'requested' },
    sasl: { enabled: true, mechanisms: 'SCRAM-SHA-256,SCRAM-SHA-512' },
    authorizer: { enabled: true, allowEveryoneIfNoAclFound: false },
    superUsers: 'User:tributary,User:admin',
    users: { existingSecret: 'tributary-users' },
  },
  metrics: { serviceMonitor: { enabled: true } },
};

describe('values.yaml and values.schema.json', () => {
  it('documents every key with a comment right above it', () => {
    const undocumented = valueKeys().filter((k) => k.comment.length < 8).map((k) => k.path);
    expect(undocumented).toEqual([]);
  });

  it('uses every key in a template (the key itself, or a block it belongs to through toYaml)', () => {
    const sources = templateSources();
    const referenced = new Set([...sources.matchAll(/\.Values\.([\w.]+)/g)].map((m) => m[1]!));
    const unused = valueKeys()
      .filter((k) => k.leaf)
      .map((k) => k.path)
      .filter((p) => ![...referenced].some((r) => p === r || p.startsWith(`${r}.`)));
    expect(unused).toEqual([]);
  });

  it('has every key a template refers to, in every branch (rendered or not)', () => {
    const keys = new Set(valueKeys().map((k) => k.path));
    const missing = [...new Set([...templateSources().matchAll(/\.Values\.([\w.]+)/g)].map((m) => m[1]!))].filter((r) => !keys.has(r));
    expect(missing).toEqual([]);
  });

  it('is described exactly by values.schema.json, which refuses bad values', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(CHART_DIR, 'values.schema.json'), 'utf8')) as Any;
    const values = parse(fs.readFileSync(VALUES_FILE, 'utf8')) as Record<string, unknown>;
    expect(schemaErrors(schema, values)).toEqual([]);
    expect(schemaErrors(schema, mergeValues(values, EVERYTHING_ON))).toEqual([]);
    expect(schemaErrors(schema, mergeValues(values, SECURE))).toEqual([]);
    // Probes and Prometheus present no client certificate: "required" is refused.
    expect(schemaErrors(schema, mergeValues(values, { security: { tls: { clientAuth: 'required' } } }))).toEqual(['security.tls.clientAuth: not one of none, requested']);
    expect(schemaErrors(schema, mergeValues(values, { security: { sasl: { mechanisms: 'PLAIN' } } }))).toEqual(['security.sasl.mechanisms: does not match ^SCRAM-SHA-(256|512)(,SCRAM-SHA-(256|512))?$']);
    expect(schemaErrors(schema, mergeValues(values, { security: { superUsers: 'admin' } }))).toHaveLength(1);
    expect(schemaErrors(schema, mergeValues(values, { security: { superUsers: 'User:*' } }))).toHaveLength(1);
    // No password in values: users come from a Secret only.
    expect(schemaErrors(schema, mergeValues(values, { security: { users: { alice: 'secret' } } }))).toEqual(['security.users.alice: not an allowed key']);
    expect(schemaErrors(schema, mergeValues(values, { broker: { replicas: 0 } }))).toEqual(['broker.replicas: below 1']);
    expect(schemaErrors(schema, mergeValues(values, { broker: { antiAffinity: 'sometimes' } }))).toEqual(['broker.antiAffinity: not one of required, preferred, none']);
    expect(schemaErrors(schema, mergeValues(values, { brokers: { replicas: 3 } }))).toEqual(['brokers: not an allowed key']);
    expect(schemaErrors(schema, mergeValues(values, { broker: { ports: { grpc: '7200' } } }))).toEqual(['broker.ports.grpc: not integer']);
    // Helm's `global` (a parent chart's shared values) is allowed; nothing else beyond values.yaml.
    expect(schemaErrors(schema, mergeValues(values, { global: { imageRegistry: 'x' } }))).toEqual([]);
    expect(Object.keys(schema.properties).sort()).toEqual(['global', ...Object.keys(values)].sort());
  });
});

describe('the chart', () => {
  it('renders with the defaults and with every option on, and every object validates against the Kubernetes schemas', () => {
    for (const [label, options] of [
      ['defaults', {}],
      ['everything on', { values: EVERYTHING_ON }],
      ['security on', { values: SECURE }],
      ['external ZooKeeper, no REST proxy, no PDB, no anti-affinity', { releaseName: 'prod', namespace: 'streaming', values: { zookeeper: { enabled: false, externalConnect: 'zk-0.zk:2181,zk-1.zk:2181' }, restProxy: { enabled: false }, broker: { podDisruptionBudget: { enabled: false }, antiAffinity: 'none' } } }],
    ] as const) {
      const objects = chartObjects(options as RenderChartOptions);
      expect({ label, count: objects.length > 10 }).toEqual({ label, count: true });
      const errors = objects.map(validateObject).filter((e) => e !== undefined && e !== 'custom');
      expect({ label, errors }).toEqual({ label, errors: [] });
    }
    const external = chartObjects({ releaseName: 'prod', values: { zookeeper: { enabled: false, externalConnect: 'zk-0.zk:2181' }, restProxy: { enabled: false } } });
    expect(external.some((o) => o.metadata.name.includes('zookeeper') || o.metadata.name.includes('rest-proxy'))).toBe(false);
    expect(envOf(container(find(external, 'Deployment', 'prod-tributary-coordination'), 'coordination')).get('TRIBUTARY_ZOOKEEPER_CONNECT').value).toBe('zk-0.zk:2181');
  });

  it('runs brokers as the issue asks: StatefulSet with a volume each, headless Service, ordinal ids, PDB, anti-affinity, probes, non-root, time for a controlled shutdown', () => {
    const objects = chartObjects();
    const sts = find(objects, 'StatefulSet', 'tributary-broker') as Any;
    expect(sts.spec.replicas).toBe(3);
    const headless = find(objects, 'Service', sts.spec.serviceName) as Any;
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('20Gi');
    const broker = container(sts, 'broker');
    expect(broker.volumeMounts).toEqual(expect.arrayContaining([{ name: 'data', mountPath: '/var/lib/tributary/data' }]));
    const env = envOf(broker);
    expect(env.get('TRIBUTARY_LOG_DIR').value).toBe('/var/lib/tributary/data');
    // The id comes from the pod name's ordinal (entrypoint.sh), the advertised host is the pod's stable DNS name.
    expect(env.get('POD_NAME').valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(env.has('TRIBUTARY_NODE_ID')).toBe(false);
    expect(env.get('TRIBUTARY_ADVERTISED_HOST').value).toBe(`$(POD_NAME).${headless.metadata.name}.$(POD_NAMESPACE).svc.cluster.local`);
    const pdb = find(objects, 'PodDisruptionBudget', 'tributary-broker') as Any;
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(sts.spec.selector.matchLabels);
    expect(podSpec(sts).affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    const required = chartObjects({ values: { broker: { antiAffinity: 'required' } } });
    expect(podSpec(find(required, 'StatefulSet', 'tributary-broker')).affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    // Graceful termination outlasts the broker's own shutdown timeout.
    expect(podSpec(sts).terminationGracePeriodSeconds * 1000).toBeGreaterThan(Number(env.get('TRIBUTARY_SHUTDOWN_TIMEOUT_MS').value));
  });

  it('takes the rack from a value, or from a topology label through the init container and its RBAC', () => {
    const objects = chartObjects({ values: { broker: { rack: { value: '', topologyKey: 'topology.kubernetes.io/zone' } } } });
    const sts = find(objects, 'StatefulSet', 'tributary-broker') as Any;
    const init = podSpec(sts).initContainers[0];
    expect(init.command.join(' ')).toContain('> /etc/tributary/rack');
    expect(envOf(init).get('TOPOLOGY_KEY').value).toBe('topology.kubernetes.io/zone');
    expect(container(sts, 'broker').volumeMounts).toEqual(expect.arrayContaining([{ name: 'rack', mountPath: '/etc/tributary', readOnly: true }]));
    expect(podSpec(sts).serviceAccountName).toBe('tributary-broker');
    expect((find(objects, 'ClusterRole', 'tributary-broker-node-reader') as Any).rules).toEqual([{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]);
    expect((find(objects, 'ClusterRoleBinding', 'tributary-broker-node-reader') as Any).subjects[0]).toEqual({ kind: 'ServiceAccount', name: 'tributary-broker', namespace: 'tributary' });
    const fixed = chartObjects({ values: { broker: { rack: { value: 'rack-a' } } } });
    expect(envOf(container(find(fixed, 'StatefulSet', 'tributary-broker'), 'broker')).get('TRIBUTARY_RACK').value).toBe('rack-a');
    expect(fixed.some((o) => o.kind === 'ClusterRole')).toBe(false);
  });

  it('gives every Tributary container its default ports, /readyz and /healthz on the admin port, non-root settings and only settings its app knows', () => {
    const objects = chartObjects();
    for (const [name, w] of Object.entries(WORKLOADS)) {
      const o = find(objects, w.kind, name);
      const c = container(o, w.app);
      const ports = Object.fromEntries(c.ports.map((p: Any) => [p.name, p.containerPort]));
      expect({ name, ports: Object.values(ports).sort() }).toEqual({ name, ports: [SERVICE_PORTS[w.app]!.api, SERVICE_PORTS[w.app]!.admin].sort() });
      expect({ name, readiness: c.readinessProbe.httpGet, liveness: c.livenessProbe.httpGet }).toEqual({ name, readiness: { path: '/readyz', port: 'admin' }, liveness: { path: '/healthz', port: 'admin' } });
      expect({ name, nonRoot: podSpec(o).securityContext.runAsNonRoot, uid: podSpec(o).securityContext.runAsUser > 0 }).toEqual({ name, nonRoot: true, uid: true });
      expect({ name, escalation: c.securityContext.allowPrivilegeEscalation }).toEqual({ name, escalation: false });
      expect({ name, service: envOf(c).get('SERVICE').value }).toEqual({ name, service: w.app });
      // Every TRIBUTARY_* variable is one the app lists in its own --help.
      const help = spawnSync(process.execPath, [path.join(REPO_ROOT, 'apps', w.app, 'dist', 'main.js'), '--help'], { encoding: 'utf8' }).stdout;
      const known = new Set([...help.matchAll(/env (TRIBUTARY_[A-Z0-9_]+)/g)].map((m) => m[1]!));
      expect(known.size).toBeGreaterThan(3);
      const unknown = [...envOf(c).keys()].filter((k) => k.startsWith('TRIBUTARY_') && !known.has(k));
      expect({ name, unknown }).toEqual({ name, unknown: [] });
    }
  });

  it('runs 2 controllers, coordination 2+ on ZooKeeper, and a ZooKeeper ensemble of 3 with a volume each', () => {
    const objects = chartObjects();
    expect((find(objects, 'StatefulSet', 'tributary-controller') as Any).spec.replicas).toBe(2);
    const coordination = find(objects, 'Deployment', 'tributary-coordination') as Any;
    expect(coordination.spec.replicas).toBeGreaterThanOrEqual(2);
    const env = envOf(container(coordination, 'coordination'));
    expect(env.get('TRIBUTARY_BACKEND').value).toBe('zookeeper');
    expect(env.get('TRIBUTARY_ZOOKEEPER_CONNECT').value).toBe('tributary-zookeeper:2181');
    const zk = find(objects, 'StatefulSet', 'tributary-zookeeper') as Any;
    expect(zk.spec.replicas).toBe(3);
    expect(zk.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('8Gi');
    expect(find(objects, 'Service', zk.spec.serviceName).spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
  });

  it('offers ServiceMonitors on every service\'s admin port with the job names of the rules, the rules as a PrometheusRule, and the dashboards for the Grafana sidecar', () => {
    const objects = chartObjects({ values: EVERYTHING_ON });
    const monitor = find(objects, 'ServiceMonitor', 'tributary') as Any;
    expect(monitor.metadata.labels.release).toBe('prometheus');
    expect(monitor.spec.jobLabel).toBe('tributary.io/job');
    expect(monitor.spec.endpoints).toEqual([{ port: 'admin', path: '/metrics', interval: '30s' }]);
    const selected = objects.filter((o) => o.kind === 'Service' && Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => o.metadata.labels?.[k] === v));
    // One scraped Service per Tributary service, each with an admin port and its job name.
    expect(selected.map((s) => s.metadata.labels!['tributary.io/job']).sort()).toEqual(Object.keys(SERVICE_PORTS).map((a) => `tributary-${a}`).sort());
    for (const s of selected) expect((s as Any).spec.ports.some((p: Any) => p.name === 'admin')).toBe(true);
    const rule = find(objects, 'PrometheusRule', 'tributary') as Any;
    expect(rule.spec).toEqual(parse(fs.readFileSync(path.join(DEPLOY_DIR, 'prometheus', 'alerts.yml'), 'utf8')));
    const boards = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.['grafana_dashboard'] === '1');
    expect(boards).toHaveLength(dashboardFiles().length);
    for (const b of boards) expect(b.metadata.labels!['team']).toBe('streaming');
    const shipped = boards.flatMap((b) => Object.values((b as Any).data as Record<string, string>)).map((j) => (JSON.parse(j) as { uid: string }).uid).sort();
    expect(shipped).toEqual(dashboardFiles().map((f) => (JSON.parse(fs.readFileSync(f, 'utf8')) as { uid: string }).uid).sort());
    for (const b of boards) for (const json of Object.values((b as Any).data as Record<string, string>)) {
      const uid = (JSON.parse(json) as { uid: string }).uid;
      const file = dashboardFiles().find((f) => fs.readFileSync(f, 'utf8').includes(`"uid": "${uid}"`))!;
      expect(json).toBe(fs.readFileSync(file, 'utf8').replace(/\n$/, ''));
    }
    const defaults = chartObjects();
    expect(defaults.some((o) => o.kind === 'ServiceMonitor' || o.kind === 'PrometheusRule')).toBe(false);
  });

  it('keeps its copies of the alert rules and dashboards identical to deploy/', () => {
    expect(fs.readFileSync(path.join(CHART_DIR, 'files', 'alerts.yml'), 'utf8')).toBe(fs.readFileSync(path.join(DEPLOY_DIR, 'prometheus', 'alerts.yml'), 'utf8'));
    const copies = fs.readdirSync(path.join(CHART_DIR, 'dashboards')).sort();
    expect(copies).toEqual(dashboardFiles().map((f) => path.basename(f)));
    for (const f of dashboardFiles()) expect({ f, same: fs.readFileSync(path.join(CHART_DIR, 'dashboards', path.basename(f)), 'utf8') === fs.readFileSync(f, 'utf8') }).toEqual({ f, same: true });
  });

  it('prints NOTES with the bootstrap address and how to scale', () => {
    const notes = renderChart(CHART_DIR).find((t) => t.file === 'NOTES.txt')!.text;
    expect(notes).toContain('tributary-broker:7200');
    expect(notes).toContain('--set broker.replicas=5');
  });
});

describe('the chart with security on', () => {
  const TLS_DIR = '/etc/tributary/tls';

  it('mounts the TLS Secret read-only into every Tributary pod, sets the security settings, and probes over HTTPS', () => {
    const objects = chartObjects({ values: SECURE });
    for (const [name, w] of Object.entries(WORKLOADS)) {
      const o = find(objects, w.kind, name);
      const c = container(o, w.app);
      const env = envOf(c);
      const settings = Object.fromEntries([...env].filter(([k]) => /^TRIBUTARY_(TLS|SASL|AUTHORIZER|ALLOW_EVERYONE|SUPER)/.test(k)).map(([k, e]) => [k, e.value]));
      expect({ name, settings }).toEqual({
        name,
        settings: {
          TRIBUTARY_TLS_CERT_FILE: `${TLS_DIR}/tls.crt`,
          TRIBUTARY_TLS_KEY_FILE: `${TLS_DIR}/tls.key`,
          TRIBUTARY_TLS_CA_FILE: `${TLS_DIR}/ca.crt`,
          TRIBUTARY_TLS_CLIENT_AUTH: 'requested',
          TRIBUTARY_SASL_ENABLED_MECHANISMS: 'SCRAM-SHA-256,SCRAM-SHA-512',
          TRIBUTARY_AUTHORIZER_ENABLE: 'true',
          TRIBUTARY_ALLOW_EVERYONE_IF_NO_ACL_FOUND: 'false',
          TRIBUTARY_SUPER_USERS: 'User:tributary,User:admin',
        },
      });
      expect({ name, mount: c.volumeMounts.find((m: Any) => m.name === 'tls') }).toEqual({ name, mount: { name: 'tls', mountPath: TLS_DIR, readOnly: true } });
      expect({ name, volume: podSpec(o).volumes.find((v: Any) => v.name === 'tls') }).toEqual({ name, volume: { name: 'tls', secret: { secretName: 'tributary-tls', defaultMode: 0o440 } } });
      expect({ name, readiness: c.readinessProbe.httpGet, liveness: c.livenessProbe.httpGet }).toEqual({
        name,
        readiness: { path: '/readyz', port: 'admin', scheme: 'HTTPS' },
        liveness: { path: '/healthz', port: 'admin', scheme: 'HTTPS' },
      });
    }
    // The controller advertises a name its certificate can hold (its pod IP cannot be in a shared certificate).
    expect(envOf(container(find(objects, 'StatefulSet', 'tributary-controller'), 'controller')).get('TRIBUTARY_HOST').value).toBe(
      '$(POD_NAME).tributary-controller-headless.$(POD_NAMESPACE).svc.cluster.local',
    );
    // Each part switches on alone: TLS only sets no SCRAM, authorizer or super users.
    const tlsOnly = chartObjects({ values: { security: { tls: { enabled: true, existingSecret: 'tributary-tls' } } } });
    const brokerEnv = envOf(container(find(tlsOnly, 'StatefulSet', 'tributary-broker'), 'broker'));
    expect([...brokerEnv.keys()].filter((k) => /^TRIBUTARY_(TLS|SASL|AUTHORIZER|SUPER)/.test(k)).sort()).toEqual(['TRIBUTARY_TLS_CA_FILE', 'TRIBUTARY_TLS_CERT_FILE', 'TRIBUTARY_TLS_CLIENT_AUTH', 'TRIBUTARY_TLS_KEY_FILE']);
  });

  it('gives every Tributary container only security settings its app knows (the app\'s own --help)', () => {
    const objects = chartObjects({ values: SECURE });
    for (const [name, w] of Object.entries(WORKLOADS)) {
      const help = spawnSync(process.execPath, [path.join(REPO_ROOT, 'apps', w.app, 'dist', 'main.js'), '--help'], { encoding: 'utf8' }).stdout;
      const known = new Set([...help.matchAll(/env (TRIBUTARY_[A-Z0-9_]+)/g)].map((m) => m[1]!));
      const unknown = [...envOf(container(find(objects, w.kind, name), w.app)).keys()].filter((k) => k.startsWith('TRIBUTARY_') && !known.has(k));
      expect({ name, unknown }).toEqual({ name, unknown: [] });
    }
  });

  it('scrapes the admin ports over HTTPS, trusting the CA of the Secret', () => {
    const monitor = find(chartObjects({ values: SECURE }), 'ServiceMonitor', 'tributary') as Any;
    expect(monitor.spec.endpoints).toEqual([
      { port: 'admin', path: '/metrics', interval: '30s', scheme: 'https', tlsConfig: { ca: { secret: { name: 'tributary-tls', key: 'ca.crt' } }, serverName: 'tributary-broker' } },
    ]);
  });

  it('creates the users of a Secret with a post-install/post-upgrade Job: password files from the Secret, never in values, env or ConfigMaps', () => {
    const objects = chartObjects({ values: SECURE });
    const job = find(objects, 'Job', 'tributary-users') as Any;
    expect(job.metadata.annotations['helm.sh/hook']).toBe('post-install,post-upgrade');
    expect(job.metadata.annotations['helm.sh/hook-delete-policy']).toBe('before-hook-creation,hook-succeeded');
    const c = podSpec(job).containers[0];
    const script = c.command.join(' ');
    expect(script).toContain('for file in /secret/*');
    expect(script).toContain('tributary-entrypoint cli users create "$user" --password-file "$file" --mechanism "$mechanism"');
    expect(c.volumeMounts).toEqual(expect.arrayContaining([{ name: 'users', mountPath: '/secret', readOnly: true }, { name: 'tls', mountPath: TLS_DIR, readOnly: true }]));
    expect(podSpec(job).volumes.find((v: Any) => v.name === 'users')).toEqual({ name: 'users', secret: { secretName: 'tributary-users', defaultMode: 0o440 } });
    const env = envOf(c);
    expect(env.get('TRIBUTARY_BOOTSTRAP').value).toBe('tributary-broker:7200');
    expect(env.get('MECHANISMS').value).toBe('SCRAM-SHA-256,SCRAM-SHA-512');
    // The Job authenticates with the release's certificate (a super user by its CN).
    expect(env.get('TRIBUTARY_TLS_CERT_FILE').value).toBe(`${TLS_DIR}/tls.crt`);
    // Every variable the Job gives the CLI is one the CLI knows.
    const cliHelp = spawnSync(process.execPath, [path.join(REPO_ROOT, 'apps', 'cli', 'dist', 'main.js'), '--help'], { encoding: 'utf8' }).stdout;
    const cliKnown = new Set([...cliHelp.matchAll(/env:\s+(TRIBUTARY_[A-Z0-9_]+)/g)].map((m) => m[1]!));
    expect([...env.keys()].filter((k) => k.startsWith('TRIBUTARY_') && !cliKnown.has(k))).toEqual([]);
    expect(podSpec(job).restartPolicy).toBe('OnFailure');
    // No password anywhere in what the chart renders: no Secret objects, no password-like env.
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
    for (const o of objects) expect({ id: `${o.kind}/${o.metadata.name}`, password: /password\s*[:=]\s*\S/i.test(JSON.stringify((o as Any).data ?? {})) }).toEqual({ id: `${o.kind}/${o.metadata.name}`, password: false });
    expect(chartObjects().some((o) => o.kind === 'Job')).toBe(false);
  });
});

describe('deploy/k8s', () => {
  /** `kubectl kustomize deploy/k8s`; fails with the install command when kubectl is missing. */
  function kustomize(env: NodeJS.ProcessEnv = process.env): K8sObject[] {
    const r = spawnSync('kubectl', ['kustomize', K8S_DIR], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(KUBECTL_INSTALL);
    if (r.status !== 0) throw new Error(`kubectl kustomize deploy/k8s failed:\n${r.stderr}`);
    return parseObjects(r.stdout, 'kubectl kustomize');
  }

  it('fails with the install command, rather than passing, where kubectl is missing', () => {
    expect(() => kustomize({ PATH: '/nonexistent' })).toThrow('sudo apt-get update && sudo apt-get install -y --no-install-recommends kubernetes-client');
  });

  it('is the chart rendered with its default values (regenerate with render-k8s.js after changing the chart)', () => {
    const expected = plainManifests();
    const actual = new Map(fs.readdirSync(K8S_DIR).filter((f) => f.endsWith('.yaml')).map((f) => [f, fs.readFileSync(path.join(K8S_DIR, f), 'utf8')]));
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [file, text] of expected) expect({ file, same: actual.get(file) === text }).toEqual({ file, same: true });
  });

  it('builds with kubectl kustomize, every object validates, and chart and manifests agree on ports, probes and env names', () => {
    const built = kustomize();
    const errors = built.map(validateObject).filter((e) => e !== undefined && e !== 'custom');
    expect(errors).toEqual([]);
    expect(built.filter((o) => o.kind !== 'Namespace').every((o) => o.metadata.namespace === PLAIN_RELEASE.namespace)).toBe(true);
    const chart = chartObjects(PLAIN_RELEASE);
    const shape = (objects: K8sObject[]) =>
      objects
        .filter((o) => ['Deployment', 'StatefulSet', 'Service'].includes(o.kind))
        .map((o: Any) => ({
          id: `${o.kind}/${o.metadata.name}`,
          ports: o.kind === 'Service' ? o.spec.ports : undefined,
          containers: o.kind === 'Service' ? undefined : o.spec.template.spec.containers.map((c: Any) => ({ name: c.name, ports: c.ports, readiness: c.readinessProbe, liveness: c.livenessProbe, env: (c.env ?? []).map((e: Any) => e.name) })),
        }))
        .sort((a, b) => a.id.localeCompare(b.id));
    expect(shape(built)).toEqual(shape(chart));
    expect(built.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['Namespace/tributary', ...chart.map((o) => `${o.kind}/${o.metadata.name}`)].sort());
  });
});

/** A small JSON-schema check (type, enum, minimum, maximum, minLength, pattern, required, additionalProperties) of what values.schema.json uses. */
function schemaErrors(schema: Any, value: unknown, at = ''): string[] {
  const where = at || '(root)';
  const type = schema.type as string | undefined;
  const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : Number.isInteger(value) ? 'integer' : typeof value;
  if (type && !(type === actual || (type === 'number' && actual === 'integer'))) return [`${where}: not ${type}`];
  const errors: string[] = [];
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${where}: not one of ${schema.enum.join(', ')}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${where}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${where}: above ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${where}: shorter than ${schema.minLength}`);
    if (schema.pattern && !new RegExp(schema.pattern).test(value)) errors.push(`${where}: does not match ${schema.pattern}`);
  }
  if (actual === 'object' && schema.properties) {
    const obj = value as Record<string, unknown>;
    for (const k of schema.required ?? []) if (!(k in obj)) errors.push(`${at ? `${at}.` : ''}${k}: missing`);
    for (const [k, v] of Object.entries(obj)) {
      const p = at ? `${at}.${k}` : k;
      if (schema.properties[k]) errors.push(...schemaErrors(schema.properties[k], v, p));
      else if (schema.additionalProperties === false) errors.push(`${p}: not an allowed key`);
    }
  }
  if (actual === 'array' && schema.items) (value as unknown[]).forEach((v, i) => errors.push(...schemaErrors(schema.items, v, `${where}[${i}]`)));
  return errors;
}
