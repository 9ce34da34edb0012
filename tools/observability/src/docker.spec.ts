/**
 * deploy/docker without a Docker engine: the Dockerfile's structure (multi-stage on
 * node:20-slim, npm ci + build + prune in the build stage, a non-root USER, every default port
 * exposed, the entrypoint), the .dockerignore, and the entrypoint script run for real with
 * `sh` against this checkout's built apps (every service's main answers --help; node ids come
 * from StatefulSet pod names).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanupAll, tempDir } from '@tributary/testing';
import { DEPLOY_DIR, REPO_ROOT } from './paths';
import { SERVICE_PORTS } from './ports';

afterAll(() => cleanupAll());

const DOCKERFILE = path.join(DEPLOY_DIR, 'docker', 'Dockerfile');
const ENTRYPOINT = path.join(DEPLOY_DIR, 'docker', 'entrypoint.sh');

interface Instruction {
  op: string;
  args: string;
}

/** Instructions of a Dockerfile: continuation lines joined, comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of each stage, by stage name. */
function stages(list: Instruction[]): Map<string, Instruction[]> {
  const out = new Map<string, Instruction[]>();
  let current: Instruction[] | undefined;
  for (const i of list) {
    if (i.op === 'FROM') {
      const m = /^(\S+)\s+AS\s+(\S+)$/i.exec(i.args);
      if (!m) throw new Error(`stage without a name: FROM ${i.args}`);
      current = [i];
      out.set(m[2]!, current);
    } else current?.push(i);
  }
  return out;
}

const runEntrypoint = (env: Record<string, string>, args: string[] = []) =>
  spawnSync('sh', [ENTRYPOINT, ...args], { env: { PATH: process.env['PATH'] ?? '', APP_ROOT: REPO_ROOT, ...env }, encoding: 'utf8', timeout: 30_000 });

/** Service names the entrypoint accepts. */
const entrypointServices = (): string[] => /^SERVICES="([^"]+)"$/m.exec(fs.readFileSync(ENTRYPOINT, 'utf8'))![1]!.split(' ');

it('builds in one stage and runs in another, both node:20-slim, with npm ci, the build and a prune of dev dependencies', () => {
  const byStage = stages(instructions(fs.readFileSync(DOCKERFILE, 'utf8')));
  expect([...byStage.keys()]).toEqual(['build', 'runtime']);
  for (const [, list] of byStage) expect(list[0]!.args).toMatch(/^node:20-slim\s/);
  const buildRuns = byStage.get('build')!.filter((i) => i.op === 'RUN').map((i) => i.args);
  const at = (re: RegExp): number => buildRuns.findIndex((r) => re.test(r));
  expect(at(/^npm ci\b/)).toBeGreaterThanOrEqual(0);
  expect(at(/^npm run build$/)).toBeGreaterThan(at(/^npm ci\b/));
  expect(at(/^npm prune --omit=dev\b/)).toBeGreaterThan(at(/^npm run build$/));
  // The runtime stage takes only built output from the build stage, never the sources' install.
  const runtime = byStage.get('runtime')!;
  expect(runtime.filter((i) => i.op === 'RUN').some((i) => /npm (ci|install)/.test(i.args))).toBe(false);
  expect(runtime.filter((i) => i.op === 'COPY' && i.args.startsWith('--from=build')).map((i) => i.args.split(' ')[1])).toEqual(
    expect.arrayContaining(['/app/node_modules', '/app/libs', '/app/apps']),
  );
});

it('runs as a non-root user, exposes every default port, and enters through the entrypoint', () => {
  const runtime = stages(instructions(fs.readFileSync(DOCKERFILE, 'utf8'))).get('runtime')!;
  const users = runtime.filter((i) => i.op === 'USER').map((i) => i.args);
  expect(users.length).toBeGreaterThan(0);
  const last = users[users.length - 1]!;
  // Numeric, so that Kubernetes' runAsNonRoot can check it; and not root.
  expect(last).toMatch(/^\d+(:\d+)?$/);
  expect(Number(last.split(':')[0])).toBeGreaterThan(0);
  expect(runtime.findIndex((i) => i.op === 'USER')).toBeGreaterThan(runtime.map((i) => i.op).lastIndexOf('RUN'));
  const exposed = runtime.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map(Number));
  const expected = Object.values(SERVICE_PORTS).flatMap((p) => [p.api, p.admin]);
  expect([...exposed].sort()).toEqual([...expected].sort());
  expect(runtime.find((i) => i.op === 'ENTRYPOINT')!.args).toBe('["/usr/local/bin/tributary-entrypoint"]');
  // Every file the build copies from the context exists and is not ignored.
  const ignored = fs.readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  const sources = instructions(fs.readFileSync(DOCKERFILE, 'utf8'))
    .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
    .flatMap((i) => i.args.split(' ').slice(0, -1));
  for (const src of sources) {
    expect({ src, exists: fs.existsSync(path.join(REPO_ROOT, src)) }).toEqual({ src, exists: true });
    expect({ src, ignored: ignored.some((p) => p.replace(/^\*\*\//, '') === src.replace(/\/$/, '')) }).toEqual({ src, ignored: false });
  }
  for (const p of ['.git', '**/node_modules', '**/dist', '.tributary']) expect(ignored).toContain(p);
});

it('knows every app, and each has a built main that runs (--help) through the entrypoint', () => {
  const apps = fs.readdirSync(path.join(REPO_ROOT, 'apps')).filter((a) => fs.existsSync(path.join(REPO_ROOT, 'apps', a, 'src', 'main.ts')));
  expect(entrypointServices().sort()).toEqual(apps.sort());
  for (const app of apps) {
    expect({ app, built: fs.existsSync(path.join(REPO_ROOT, 'apps', app, 'dist', 'main.js')) }).toEqual({ app, built: true });
    const r = runEntrypoint({ SERVICE: app }, ['--help']);
    expect({ app, status: r.status, usage: /usage/i.test(r.stdout) }).toEqual({ app, status: 0, usage: true });
  }
});

it('takes the node id from the StatefulSet pod ordinal, the rack from the init container\'s file, and refuses an unknown service', () => {
  const print = (env: Record<string, string>, args: string[] = []) => runEntrypoint({ TRIBUTARY_PRINT_COMMAND: '1', ...env }, args);
  expect(print({ SERVICE: 'broker', POD_NAME: 'tributary-broker-12' }, ['--log-level', 'debug']).stdout).toBe(
    `TRIBUTARY_NODE_ID=12 TRIBUTARY_RACK= node --initial-old-space-size=128 ${REPO_ROOT}/apps/broker/dist/main.js --log-level debug\n`,
  );
  expect(print({ POD_NAME: 'tributary-controller-1' }, ['controller']).stdout).toContain('TRIBUTARY_NODE_ID=1 ');
  expect(print({ SERVICE: 'group-coordinator', POD_NAME: 'gc-0', TRIBUTARY_NODE_ID_OFFSET: '100' }).stdout).toContain('TRIBUTARY_NODE_ID=100 ');
  expect(print({ SERVICE: 'broker', POD_NAME: 'tributary-broker-3', TRIBUTARY_NODE_ID: '7' }).stdout).toContain('TRIBUTARY_NODE_ID=7 ');
  // coordination's id is a name: the pod name, set by the manifest, is left alone.
  expect(print({ SERVICE: 'coordination', POD_NAME: 'tributary-coordination-5d9c-x2' }).stdout).toContain('TRIBUTARY_NODE_ID= ');
  const rackFile = path.join(tempDir('rack'), 'rack');
  fs.writeFileSync(rackFile, 'eu-west-1b');
  expect(print({ SERVICE: 'broker', POD_NAME: 'b-0', TRIBUTARY_RACK_FILE: rackFile }).stdout).toContain('TRIBUTARY_RACK=eu-west-1b ');
  expect(print({ SERVICE: 'broker', POD_NAME: 'b-0', TRIBUTARY_RACK_FILE: `${rackFile}.none` }).stdout).toContain('TRIBUTARY_RACK= ');
  const bad = runEntrypoint({ SERVICE: 'broker', POD_NAME: 'no-ordinal' });
  expect(bad.status).toBe(64);
  expect(bad.stderr).toContain('set TRIBUTARY_NODE_ID');
  const unknown = runEntrypoint({ SERVICE: 'zookeeper' });
  expect(unknown.status).toBe(64);
  expect(unknown.stderr).toContain('one of: coordination controller broker group-coordinator rest-proxy cli');
});
