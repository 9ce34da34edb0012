/** The launcher's flags and the plan of processes and ports (no processes started). */
import * as path from 'node:path';
import { UsageError, helpText, parseOptions } from './options';
import { planCluster, planPorts } from './services';
import { restartDelayMs } from './launcher';

const ROOT = '/repo';
const parse = (...argv: string[]) => parseOptions(argv, {}, '/here', ROOT);
const usage = (...argv: string[]): string => {
  try {
    parse(...argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
};

it('defaults: 3 brokers, 2 controllers, ./.tributary under the repository, ports from 7000, build', () => {
  expect(parse()).toEqual({
    brokers: 3,
    controllers: 2,
    dataDir: path.join(ROOT, '.tributary'),
    basePort: 7000,
    build: true,
    logLevel: 'info',
    verbose: false,
    readyTimeoutMs: 30_000,
    stopTimeoutMs: 15_000,
    secure: false,
    resetAdminPassword: false,
    help: false,
  });
});

it('--secure, and --reset-admin-password only with it', () => {
  expect(parse('--secure')).toMatchObject({ secure: true, resetAdminPassword: false });
  expect(parse('--secure', '--reset-admin-password')).toMatchObject({ secure: true, resetAdminPassword: true });
  expect(usage('--reset-admin-password')).toBe('--reset-admin-password needs --secure (the admin user exists only in secure mode)');
});

it('reads every flag, as --flag value or --flag=value; relative paths from the caller\'s directory', () => {
  const o = parse('--brokers', '5', '--controllers=1', '--data-dir', 'data', '--base-port=17000', '--no-build', '--log-level', 'debug', '--verbose', '--ready-timeout-ms', '5000', '--stop-timeout-ms=2000');
  expect(o).toMatchObject({ brokers: 5, controllers: 1, dataDir: '/here/data', basePort: 17000, build: false, logLevel: 'debug', verbose: true, readyTimeoutMs: 5000, stopTimeoutMs: 2000 });
  expect(parse('--help').help).toBe(true);
});

it('TRIBUTARY_DATA_DIR sets the data directory; --data-dir wins', () => {
  expect(parseOptions([], { TRIBUTARY_DATA_DIR: 'd' }, '/here', ROOT).dataDir).toBe('/here/d');
  expect(parseOptions(['--data-dir', '/x'], { TRIBUTARY_DATA_DIR: 'd' }, '/here', ROOT).dataDir).toBe('/x');
});

it('rejects bad flags with one line naming the flag and what it accepts', () => {
  expect(usage('--brokers', '0')).toBe("invalid --brokers '0': expected an integer from 1 to 100");
  expect(usage('--brokers', 'three')).toBe("invalid --brokers 'three': expected an integer from 1 to 100");
  expect(usage('--controllers=2.5')).toBe("invalid --controllers '2.5': expected an integer from 1 to 10");
  expect(usage('--base-port', '80')).toBe("invalid --base-port '80': expected an integer from 1024 to 63000");
  expect(usage('--log-level', 'loud')).toBe("invalid --log-level 'loud': expected one of trace, debug, info, warn, error, fatal, silent");
  expect(usage('--brokerz', '3')).toBe('unknown flag --brokerz (see --help)');
  expect(usage('--brokers')).toBe('--brokers needs a value (N)');
  expect(usage('--brokers', '--no-build')).toBe('--brokers needs a value (N)');
  expect(usage('--no-build=yes')).toBe('--no-build takes no value');
  expect(usage('brokers')).toBe("unexpected argument 'brokers' (flags start with --; see --help)");
  for (const m of [usage('--brokers', '0'), usage('--x')]) expect(m).not.toContain('\n');
});

it('--help lists every flag', () => {
  const text = helpText();
  for (const flag of ['--brokers N', '--controllers N', '--data-dir DIR', '--base-port N', '--no-build', '--log-level LEVEL', '--verbose', '--secure', '--reset-admin-password', '--help']) {
    expect(text).toContain(flag);
  }
});

describe('planCluster', () => {
  const all = () => true;

  it('starts coordination, controllers, brokers, group coordinator and REST proxy in that order, on the §7 ports', () => {
    const plan = planCluster(parse(), ROOT, all);
    expect(plan.services.map((s) => [s.name, s.stage, s.apiPort, s.adminPort])).toEqual([
      ['coordination', 0, 7000, 8000],
      ['controller-0', 1, 7100, 8100],
      ['controller-1', 1, 7101, 8101],
      ['broker-0', 2, 7200, 8200],
      ['broker-1', 2, 7201, 8201],
      ['broker-2', 2, 7202, 8202],
      ['group-coordinator', 3, 7300, 8300],
      ['rest-proxy', 4, 8082, 9082],
    ]);
    expect(plan.bootstrap).toBe('127.0.0.1:7200,127.0.0.1:7201,127.0.0.1:7202');
    expect(plan.skipped).toEqual([]);
    const broker1 = plan.services.find((s) => s.name === 'broker-1')!;
    expect(broker1.main).toBe('/repo/apps/broker/dist/main.js');
    expect(broker1.args).toEqual([
      '--node-id', '1', '--coordination', '127.0.0.1:7000', '--log-dir', '/repo/.tributary/broker-1',
      '--grpc-port', '7201', '--admin-port', '8201', '--log-level', 'info',
    ]);
    const coordination = plan.services[0]!;
    expect(coordination.args).toEqual(expect.arrayContaining(['--backend', 'embedded', '--data-dir', '/repo/.tributary/coordination']));
  });

  it('--base-port shifts every port, --brokers / --controllers set the counts', () => {
    const plan = planCluster(parse('--base-port', '17000', '--brokers', '5', '--controllers', '1'), ROOT, all);
    const ports = planPorts(plan).map((p) => p.port);
    expect(new Set(ports).size).toBe(ports.length);
    expect(Math.min(...ports)).toBe(17000);
    expect(plan.services.filter((s) => s.app === 'broker').map((s) => s.apiPort)).toEqual([17200, 17201, 17202, 17203, 17204]);
    expect(plan.services.filter((s) => s.app === 'controller').map((s) => s.name)).toEqual(['controller-0']);
    expect(plan.services.find((s) => s.name === 'controller-0')!.args).toEqual(expect.arrayContaining(['--coordination', '127.0.0.1:17000']));
  });

  it('--secure: every service gets TLS with its own certificate (CN = its principal), client certificates requested, SCRAM, the authorizer and the super users', () => {
    const plain = planCluster(parse(), ROOT, all);
    expect(plain.security).toBeUndefined();
    expect(plain.services.every((s) => !s.args.includes('--tls-cert-file'))).toBe(true);
    const plan = planCluster(parse('--secure'), ROOT, all);
    const tls = '/repo/.tributary/tls';
    const superUsers = 'User:coordination,User:controller,User:broker,User:group-coordinator,User:rest-proxy,User:admin';
    expect(plan.security).toEqual({
      tlsDir: tls,
      caFile: `${tls}/ca.crt`,
      principals: ['coordination', 'controller', 'broker', 'group-coordinator', 'rest-proxy', 'admin'],
      superUsers: superUsers.split(','),
    });
    for (const s of plan.services) {
      const own = s.app;
      expect(s.principal).toBe(own);
      expect(s.args.slice(-15)).toEqual([
        '--tls-cert-file', `${tls}/${own}.crt`, '--tls-key-file', `${tls}/${own}.key`, '--tls-ca-file', `${tls}/ca.crt`,
        '--tls-client-auth', 'requested', '--sasl-enabled-mechanisms', 'SCRAM-SHA-256,SCRAM-SHA-512', '--authorizer-enable',
        '--super-users', superUsers, '--log-level', 'info',
      ]);
    }
  });

  it('skips services that are not built, and says which file is missing', () => {
    const written = (f: string) => !f.includes('rest-proxy');
    const plan = planCluster(parse(), ROOT, (f) => written(f) && !(f.includes('group-coordinator') && f.endsWith('main.js')));
    expect(plan.services.map((s) => s.app)).not.toContain('rest-proxy');
    expect(plan.skipped).toEqual([
      { app: 'group-coordinator', main: 'apps/group-coordinator/dist/main.js', written: true },
      { app: 'rest-proxy', main: 'apps/rest-proxy/dist/main.js', written: false },
    ]);
  });
});

it('restart backoff doubles from 1 s up to 30 s', () => {
  expect([1, 2, 3, 4, 5, 6, 7, 20].map(restartDelayMs)).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});
