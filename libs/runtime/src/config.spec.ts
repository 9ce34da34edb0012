import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, HelpRequested, envName, flagName, helpText, loadConfig, loadConfigOrExit } from './config';

const schema = z.object({
  dataDir: z.string().default('./data').describe('Directory of the node state'),
  grpcPort: z.number().int().min(1).max(65535).default(7000).describe('gRPC listen port'),
  nodeId: z.number().int().nonnegative().describe('Id of this node'),
  logLevel: z.enum(['debug', 'info', 'warn']).default('info').describe('Minimum log level'),
  fsync: z.boolean().default(true).describe('fsync every write'),
  peers: z.array(z.string()).default([]).describe('Other nodes, host:port'),
  ratio: z.number().positive().optional().describe('A ratio'),
});

function load(argv: string[], env: Record<string, string> = {}) {
  return loadConfig({ service: 'test', schema, argv, env });
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'runtime-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(content: unknown): string {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('names', () => {
  it('derives kebab flags and TRIBUTARY_ variables from camelCase keys', () => {
    expect(flagName('grpcPort')).toBe('grpc-port');
    expect(envName('dataDir')).toBe('TRIBUTARY_DATA_DIR');
    expect(envName('maxMessageBytes')).toBe('TRIBUTARY_MAX_MESSAGE_BYTES');
  });
});

describe('loadConfig', () => {
  it('applies defaults and coerces flags of every type', () => {
    const c = load(['--node-id', '3', '--data-dir=/var/x', '--no-fsync', '--log-level', 'debug', '--peers', 'a:1, b:2', '--ratio=0.5']);
    expect(c).toEqual({ dataDir: '/var/x', grpcPort: 7000, nodeId: 3, logLevel: 'debug', fsync: false, peers: ['a:1', 'b:2'], ratio: 0.5 });
  });

  it('takes flags > env > file > defaults', () => {
    const path = file({ grpcPort: 7001, dataDir: '/from-file', 'log-level': 'warn', nodeId: 1 });
    const env = { TRIBUTARY_CONFIG: path, TRIBUTARY_GRPC_PORT: '7002', TRIBUTARY_DATA_DIR: '/from-env' };
    expect(load([], env)).toMatchObject({ grpcPort: 7002, dataDir: '/from-env', logLevel: 'warn', nodeId: 1, fsync: true });
    expect(load(['--grpc-port', '7003'], env)).toMatchObject({ grpcPort: 7003, dataDir: '/from-env', logLevel: 'warn' });
    // --config wins over TRIBUTARY_CONFIG.
    const other = file({ nodeId: 9 });
    expect(load(['--config', other], env)).toMatchObject({ nodeId: 9, logLevel: 'info', grpcPort: 7002 });
  });

  it('coerces booleans and lists from the environment; an empty variable is unset', () => {
    const c = load([], { TRIBUTARY_NODE_ID: '0', TRIBUTARY_FSYNC: 'off', TRIBUTARY_PEERS: 'x:1,y:2,', TRIBUTARY_DATA_DIR: '' });
    expect(c).toMatchObject({ nodeId: 0, fsync: false, peers: ['x:1', 'y:2'], dataDir: './data' });
    expect(load(['--node-id=1', '--fsync=yes']).fsync).toBe(true);
  });

  it('appends repeated list flags', () => {
    expect(load(['--node-id=1', '--peers', 'a', '--peers', 'b,c']).peers).toEqual(['a', 'b', 'c']);
  });

  it('reports an out-of-range number in one line naming the setting and the allowed values', () => {
    const e = errorOf(() => load(['--node-id=1', '--grpc-port', '70000']));
    expect(e.message).toBe(
      'invalid setting grpc-port (TRIBUTARY_GRPC_PORT): 70000 is not an integer between 1 and 65535, set on the command line',
    );
    expect(e.setting).toBe('grpcPort');
    expect(e.message).not.toContain('\n');
  });

  it('reports bad values from env and file with their source', () => {
    expect(errorOf(() => load([], { TRIBUTARY_NODE_ID: 'abc' })).message).toBe(
      'invalid setting node-id (TRIBUTARY_NODE_ID): abc is not an integer at least 0, set in the environment',
    );
    const path = file({ nodeId: 1, logLevel: 'loud' });
    expect(errorOf(() => load(['--config', path])).message).toBe(
      `invalid setting log-level (TRIBUTARY_LOG_LEVEL): loud is not one of debug, info, warn, set in config file ${path}`,
    );
    expect(errorOf(() => load(['--node-id=1', '--fsync=maybe'])).message).toMatch(/^invalid setting fsync \(TRIBUTARY_FSYNC\): maybe is not true or false/);
    expect(errorOf(() => load(['--node-id=1', '--ratio=0'])).message).toMatch(/0 is not a number greater than 0/);
  });

  it('reports a missing required setting', () => {
    expect(errorOf(() => load([])).message).toBe('missing setting node-id (TRIBUTARY_NODE_ID): required, expected an integer at least 0');
  });

  it('rejects unknown flags, suggesting the closest one', () => {
    expect(errorOf(() => load(['--node-id=1', '--grpc-prot', '1'])).message).toBe('unknown flag --grpc-prot (did you mean --grpc-port?) (see --help)');
    expect(errorOf(() => load(['--node-id=1', '--zzz'])).message).toBe('unknown flag --zzz (see --help)');
    expect(errorOf(() => load(['--node-id=1', 'stray'])).message).toMatch(/^unexpected argument "stray"/);
    expect(errorOf(() => load(['--node-id'])).message).toBe('flag --node-id needs a value (see --help)');
  });

  it('rejects unknown keys and unreadable config files', () => {
    const path = file({ nodeId: 1, grpcProt: 1 });
    expect(errorOf(() => load(['--config', path])).message).toBe(`unknown setting "grpcProt" in config file ${path} (did you mean "grpcPort"?)`);
    expect(errorOf(() => load(['--config', file('{nope')])).message).toMatch(/^cannot read config file .*: /);
    expect(errorOf(() => load(['--config', join(dir, 'missing.json')])).message).toMatch(/^cannot read config file .*ENOENT/);
    expect(errorOf(() => load(['--config', file('[1]')])).message).toMatch(/must hold a JSON object/);
  });

  it('throws HelpRequested with every setting, its default, description and variable', () => {
    let help: HelpRequested | undefined;
    try {
      loadConfig({ service: 'test', schema, argv: ['--grpc-port=0', '--help'], env: {}, describe: 'A test service.' });
    } catch (e) {
      if (e instanceof HelpRequested) help = e;
    }
    expect(help).toBeDefined();
    const text = help?.text ?? '';
    expect(text).toContain('Usage: tributary-test');
    expect(text).toContain('A test service.');
    expect(text).toContain('--grpc-port <int>');
    expect(text).toContain('gRPC listen port');
    expect(text).toContain('an integer between 1 and 65535; default 7000; env TRIBUTARY_GRPC_PORT');
    expect(text).toContain('--[no-]fsync');
    expect(text).toContain('one of debug, info, warn; default info; env TRIBUTARY_LOG_LEVEL');
    expect(text).toContain('required; env TRIBUTARY_NODE_ID');
    expect(text).toContain('--config <file>');
    expect(text).toBe(helpText({ service: 'test', schema, describe: 'A test service.' }));
  });
});

describe('loadConfigOrExit', () => {
  class Exit extends Error {
    constructor(readonly code: number) {
      super(`exit ${code}`);
    }
  }
  function run(argv: string[]) {
    let out = '';
    let err = '';
    let code: number | undefined;
    try {
      loadConfigOrExit({
        service: 'test',
        schema,
        argv,
        env: {},
        stdout: { write: (s: string) => (out += s) },
        stderr: { write: (s: string) => (err += s) },
        exit: (c: number): never => {
          throw new Exit(c);
        },
      });
    } catch (e) {
      if (!(e instanceof Exit)) throw e;
      code = e.code;
    }
    return { out, err, code };
  }

  it('prints one line to stderr and exits 2 on a bad setting', () => {
    const r = run(['--node-id=1', '--grpc-port=70000']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe('invalid setting grpc-port (TRIBUTARY_GRPC_PORT): 70000 is not an integer between 1 and 65535, set on the command line\n');
  });

  it('prints the help to stdout and exits 0', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('TRIBUTARY_DATA_DIR');
    expect(r.err).toBe('');
  });

  it('returns the config when it is valid', () => {
    const r = run(['--node-id=4']);
    expect(r.code).toBeUndefined();
  });
});
