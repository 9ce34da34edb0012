/**
 * Service configuration: one flat zod object schema per service, filled from four sources in
 * this order of precedence — command-line flags > environment (`TRIBUTARY_*`) > an optional
 * JSON file > the schema's defaults — then validated once at start.
 *
 * Naming: a schema key `grpcPort` is the flag `--grpc-port` (also `--grpc-port=7000`), the
 * environment variable `TRIBUTARY_GRPC_PORT`, and `grpcPort` (or `grpc-port`) in the file.
 * Booleans are `--flag` / `--no-flag` (or `--flag=false`). The file comes from `--config <file>`
 * or `TRIBUTARY_CONFIG`. Strings from flags and the environment are coerced to the key's type:
 * numbers, booleans (true/false/1/0/yes/no/on/off), enum members, and comma-separated lists.
 * An empty environment variable counts as unset.
 *
 * Errors are ONE line naming the setting, its variable, the value, the allowed values and where
 * the value came from, e.g.
 * `invalid setting grpc-port (TRIBUTARY_GRPC_PORT): 70000 is not an integer between 1 and 65535, set on the command line`.
 * Unknown flags and unknown keys in the file are errors too (typos must not pass silently);
 * unknown `TRIBUTARY_*` variables are ignored because one environment may serve several services.
 *
 * A small hand parser is used rather than commander: the schema already knows every setting,
 * its type and its default, so the parser only maps tokens to keys, and errors stay one line
 * without commander's exit and output overrides.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** A bad, missing or unknown setting. `message` is one line, fit to print as is. */
export class ConfigError extends Error {
  /** The schema key at fault (camelCase), when the error concerns one setting. */
  readonly setting: string | undefined;

  constructor(message: string, setting?: string) {
    super(message);
    this.name = 'ConfigError';
    this.setting = setting;
  }
}

/** Thrown by {@link loadConfig} when the arguments ask for `--help`; `text` is the help. */
export class HelpRequested extends Error {
  /** The help text, ending with a newline. */
  readonly text: string;

  constructor(text: string) {
    super('help requested');
    this.name = 'HelpRequested';
    this.text = text;
  }
}

/** What {@link loadConfig} needs. */
export interface LoadConfigOptions<S extends z.ZodObject> {
  /** Service name (`coordination`, `broker`, ...): names the program in `--help`. */
  service: string;
  /** Flat object schema with camelCase keys; `.describe()` and `.default()` feed `--help`. */
  schema: S;
  /** Arguments without node and script (default `process.argv.slice(2)`). */
  argv?: readonly string[];
  /** Environment (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** One paragraph about the service, printed at the top of `--help`. */
  describe?: string;
}

/** Prefix of every environment variable. */
export const ENV_PREFIX = 'TRIBUTARY_';
/** Environment variable naming the JSON config file (same as `--config`). */
export const CONFIG_FILE_ENV = `${ENV_PREFIX}CONFIG`;

/** `grpcPort` → `grpc-port`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** `grpcPort` → `TRIBUTARY_GRPC_PORT`. */
export function envName(key: string): string {
  return ENV_PREFIX + flagName(key).replace(/-/g, '_').toUpperCase();
}

type Kind =
  | { type: 'string' }
  | { type: 'number'; integer: boolean; min?: Bound; max?: Bound }
  | { type: 'bigint' }
  | { type: 'boolean' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'array'; element: Kind }
  | { type: 'other' };

interface Bound {
  value: number;
  inclusive: boolean;
}

interface Setting {
  key: string;
  flag: string;
  env: string;
  kind: Kind;
  description: string | undefined;
  hasDefault: boolean;
  defaultValue: unknown;
  optional: boolean;
}

type Source = { kind: 'flag'; flag: string } | { kind: 'env'; name: string } | { kind: 'file'; path: string };

interface RawValue {
  value: unknown;
  source: Source;
}

/**
 * Reads, merges, coerces and validates the configuration. Pure apart from reading the config
 * file: it never prints or exits.
 *
 * @returns the parsed config (the schema's output type, defaults applied)
 * @throws ConfigError for a bad, missing or unknown setting (one-line message)
 * @throws HelpRequested for `--help` / `-h`
 */
export function loadConfig<S extends z.ZodObject>(options: LoadConfigOptions<S>): z.output<S> {
  const settings = describeSchema(options.schema);
  const byFlag = new Map(settings.map((s) => [s.flag, s]));
  const env = options.env ?? process.env;

  const { flags, configPath: flagConfigPath } = parseArgv(options.argv ?? process.argv.slice(2), byFlag, () =>
    helpText(options),
  );

  const raw = new Map<string, RawValue>();
  const envConfigPath = nonEmpty(env[CONFIG_FILE_ENV]);
  const configPath = flagConfigPath ?? envConfigPath;
  if (configPath !== undefined) {
    for (const [key, value] of readConfigFile(configPath, settings)) {
      raw.set(key, { value, source: { kind: 'file', path: configPath } });
    }
  }
  for (const s of settings) {
    const v = nonEmpty(env[s.env]);
    if (v !== undefined) raw.set(s.key, { value: v, source: { kind: 'env', name: s.env } });
  }
  for (const [key, v] of flags) raw.set(key, v);

  const input: Record<string, unknown> = {};
  for (const s of settings) {
    const r = raw.get(s.key);
    if (r !== undefined) input[s.key] = coerce(r.value, s.kind);
  }

  const result = options.schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const key = issue !== undefined && typeof issue.path[0] === 'string' ? issue.path[0] : undefined;
  const setting = key === undefined ? undefined : settings.find((s) => s.key === key);
  if (issue === undefined || setting === undefined) {
    throw new ConfigError(`invalid configuration: ${issue?.message ?? result.error.message}`);
  }
  const more = result.error.issues.length - 1;
  const tail = more > 0 ? ` (and ${more} more problem${more > 1 ? 's' : ''})` : '';
  throw new ConfigError(formatIssue(setting, issue, raw.get(setting.key)) + tail, setting.key);
}

/** Where {@link loadConfigOrExit} prints and how it exits (injectable for tests). */
export interface ConfigExitIo {
  stdout?: { write(text: string): unknown };
  stderr?: { write(text: string): unknown };
  exit?: (code: number) => never;
}

/**
 * {@link loadConfig} for a service's `main.ts`: `--help` prints the help to stdout and exits 0;
 * a {@link ConfigError} prints its one line to stderr and exits 2. Other errors propagate.
 */
export function loadConfigOrExit<S extends z.ZodObject>(options: LoadConfigOptions<S> & ConfigExitIo): z.output<S> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const exit = options.exit ?? ((code: number): never => process.exit(code));
  try {
    return loadConfig(options);
  } catch (e) {
    if (e instanceof HelpRequested) {
      stdout.write(e.text);
      return exit(0);
    }
    if (e instanceof ConfigError) {
      stderr.write(`${e.message}\n`);
      return exit(2);
    }
    throw e;
  }
}

/** The `--help` text: every setting with its flag, variable, type, default and description. */
export function helpText<S extends z.ZodObject>(options: Pick<LoadConfigOptions<S>, 'service' | 'schema' | 'describe'>): string {
  const lines: string[] = [`Usage: tributary-${options.service} [--setting value ...]`, ''];
  if (options.describe) lines.push(options.describe, '');
  lines.push('Settings (precedence: flags > environment > config file > defaults):', '');
  for (const s of describeSchema(options.schema)) {
    const flag = s.kind.type === 'boolean' ? `--[no-]${s.flag}` : `--${s.flag} ${placeholder(s.kind)}`;
    const dflt = s.hasDefault ? `default ${showValue(s.defaultValue)}` : s.optional ? 'optional' : 'required';
    lines.push(`  ${flag}`);
    lines.push(`      ${s.description ?? '(no description)'}`);
    lines.push(`      ${allowedText(s.kind)}; ${dflt}; env ${s.env}`);
  }
  lines.push('  --config <file>');
  lines.push('      JSON file of settings (keys as in the schema: camelCase or kebab-case)');
  lines.push(`      env ${CONFIG_FILE_ENV}`);
  lines.push('  --help', '      print this help and exit', '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Schema introspection

function describeSchema(schema: z.ZodObject): Setting[] {
  return Object.entries(schema.shape).map(([key, field]) => {
    let t = field as z.ZodType;
    let description = t.description;
    let hasDefault = false;
    let defaultValue: unknown;
    let optional = false;
    for (;;) {
      if (t instanceof z.ZodDefault || t instanceof z.ZodPrefault) {
        hasDefault = true;
        defaultValue = t.def.defaultValue;
        t = t.def.innerType as z.ZodType;
      } else if (t instanceof z.ZodOptional || t instanceof z.ZodNullable) {
        optional = true;
        t = t.def.innerType as z.ZodType;
      } else break;
      description ??= t.description;
    }
    return { key, flag: flagName(key), env: envName(key), kind: kindOf(t), description, hasDefault, defaultValue, optional };
  });
}

function kindOf(t: z.ZodType): Kind {
  if (t instanceof z.ZodString) return { type: 'string' };
  if (t instanceof z.ZodBoolean) return { type: 'boolean' };
  if (t instanceof z.ZodBigInt) return { type: 'bigint' };
  if (t instanceof z.ZodEnum) return { type: 'enum', values: t.options.map(String) };
  if (t instanceof z.ZodArray) return { type: 'array', element: kindOf(t.element as z.ZodType) };
  if (t instanceof z.ZodNumber) {
    const kind: Kind = { type: 'number', integer: t.isInt };
    for (const check of t.def.checks ?? []) {
      const def = check._zod.def as { check?: string; value?: unknown; inclusive?: boolean };
      if (typeof def.value !== 'number') continue;
      if (def.check === 'greater_than') kind.min = { value: def.value, inclusive: def.inclusive ?? true };
      if (def.check === 'less_than') kind.max = { value: def.value, inclusive: def.inclusive ?? true };
    }
    return kind;
  }
  return { type: 'other' };
}

function placeholder(kind: Kind): string {
  switch (kind.type) {
    case 'number':
      return kind.integer ? '<int>' : '<number>';
    case 'bigint':
      return '<int>';
    case 'enum':
      return `<${kind.values.join('|')}>`;
    case 'array':
      return `<${placeholder(kind.element).slice(1, -1)},...>`;
    default:
      return '<value>';
  }
}

/** "an integer between 1 and 65535", "one of debug, info", "true or false", ... */
function allowedText(kind: Kind): string {
  switch (kind.type) {
    case 'string':
      return 'a string';
    case 'bigint':
      return 'an integer';
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${kind.values.join(', ')}`;
    case 'array':
      return kind.element.type === 'enum'
        ? `a comma-separated list, each one of ${kind.element.values.join(', ')}`
        : `a comma-separated list of ${plural(kind.element)}`;
    case 'other':
      return 'a value';
    case 'number': {
      const noun = kind.integer ? 'an integer' : 'a number';
      const min = kind.min !== undefined && Math.abs(kind.min.value) < Number.MAX_SAFE_INTEGER ? kind.min : undefined;
      const max = kind.max !== undefined && Math.abs(kind.max.value) < Number.MAX_SAFE_INTEGER ? kind.max : undefined;
      if (min && max && min.inclusive && max.inclusive) return `${noun} between ${min.value} and ${max.value}`;
      const parts: string[] = [];
      if (min) parts.push(`${min.inclusive ? 'at least' : 'greater than'} ${min.value}`);
      if (max) parts.push(`${max.inclusive ? 'at most' : 'less than'} ${max.value}`);
      return parts.length ? `${noun} ${parts.join(' and ')}` : noun;
    }
  }
}

function plural(kind: Kind): string {
  switch (kind.type) {
    case 'string':
      return 'strings';
    case 'number':
    case 'bigint':
      return kind.type === 'number' && !kind.integer ? 'numbers' : 'integers';
    case 'boolean':
      return 'booleans';
    default:
      return 'values';
  }
}

// ---------------------------------------------------------------------------------------------
// Sources

function parseArgv(
  argv: readonly string[],
  byFlag: ReadonlyMap<string, Setting>,
  help: () => string,
): { flags: Map<string, RawValue>; configPath: string | undefined } {
  const flags = new Map<string, RawValue>();
  let configPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === '--help' || token === '-h') throw new HelpRequested(help());
    if (!token.startsWith('--') || token === '--') {
      throw new ConfigError(`unexpected argument ${JSON.stringify(token)} (settings are flags: --name value; see --help)`);
    }
    const eq = token.indexOf('=');
    const name = token.slice(2, eq === -1 ? undefined : eq);
    const inline = eq === -1 ? undefined : token.slice(eq + 1);
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new ConfigError(`flag --${name} needs a value (see --help)`, byFlag.get(name)?.key);
      }
      i++;
      return next;
    };
    if (name === 'config') {
      configPath = takeValue();
      continue;
    }
    let setting = byFlag.get(name);
    let value: string;
    if (setting === undefined && name.startsWith('no-') && byFlag.get(name.slice(3))?.kind.type === 'boolean') {
      setting = byFlag.get(name.slice(3)) as Setting;
      if (inline !== undefined) throw new ConfigError(`flag --${name} takes no value`, setting.key);
      value = 'false';
    } else if (setting === undefined) {
      const hint = closest(name, [...byFlag.keys(), 'config', 'help']);
      throw new ConfigError(`unknown flag --${name}${hint ? ` (did you mean --${hint}?)` : ''} (see --help)`);
    } else if (setting.kind.type === 'boolean') {
      value = inline ?? 'true';
    } else {
      value = takeValue();
    }
    const source: Source = { kind: 'flag', flag: `--${name}` };
    const previous = flags.get(setting.key);
    if (setting.kind.type === 'array' && previous !== undefined) {
      // Repeating a list flag appends: --peers a --peers b equals --peers a,b.
      flags.set(setting.key, { value: `${String(previous.value)},${value}`, source });
    } else {
      flags.set(setting.key, { value, source });
    }
  }
  return { flags, configPath };
}

function readConfigFile(path: string, settings: readonly Setting[]): Map<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new ConfigError(`cannot read config file ${path}: ${why}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object of settings`);
  }
  const out = new Map<string, unknown>();
  for (const [name, value] of Object.entries(parsed)) {
    const setting = settings.find((s) => s.key === name || s.flag === name);
    if (setting === undefined) {
      const hint = closest(name, settings.map((s) => s.key));
      throw new ConfigError(`unknown setting "${name}" in config file ${path}${hint ? ` (did you mean "${hint}"?)` : ''}`);
    }
    out.set(setting.key, value);
  }
  return out;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

// ---------------------------------------------------------------------------------------------
// Coercion and error text

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** Turns strings into the kind's type where they parse; anything else is left for zod to reject. */
function coerce(value: unknown, kind: Kind): unknown {
  if (kind.type === 'array') {
    const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter((s) => s !== '') : value;
    return Array.isArray(items) ? items.map((item) => coerce(item, kind.element)) : items;
  }
  if (typeof value !== 'string') return value;
  const s = value.trim();
  switch (kind.type) {
    case 'number': {
      if (s === '') return value;
      const n = Number(s);
      return Number.isNaN(n) ? value : n;
    }
    case 'bigint':
      return /^[-+]?\d+$/.test(s) ? BigInt(s) : value;
    case 'boolean': {
      const lower = s.toLowerCase();
      return TRUE.has(lower) ? true : FALSE.has(lower) ? false : value;
    }
    case 'enum':
      return s;
    default:
      return value;
  }
}

function formatIssue(setting: Setting, issue: z.core.$ZodIssue, raw: RawValue | undefined): string {
  const name = `${setting.flag} (${setting.env})`;
  if (raw === undefined) {
    return `missing setting ${name}: required, expected ${allowedText(setting.kind)}`;
  }
  const where =
    raw.source.kind === 'flag'
      ? 'set on the command line'
      : raw.source.kind === 'env'
        ? 'set in the environment'
        : `set in config file ${raw.source.path}`;
  const shown = showValue(raw.value);
  const typed = ['invalid_type', 'too_big', 'too_small', 'invalid_value', 'not_multiple_of'].includes(issue.code);
  const generic = setting.kind.type === 'string' || setting.kind.type === 'other';
  if (typed && !generic && issue.path.length === 1) {
    return `invalid setting ${name}: ${shown} is not ${allowedText(setting.kind)}, ${where}`;
  }
  const what = issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
  return `invalid setting ${name}: ${shown} is invalid (${what}), ${where}`;
}

function showValue(value: unknown): string {
  if (typeof value === 'string') return /^[\w.:/@+,-]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.length === 0 ? '[]' : value.map(showValue).join(',');
  return JSON.stringify(value) ?? String(value);
}

/** The candidate within edit distance 2 of `name`, if any (for "did you mean"). */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = row;
  }
  return prev[b.length] as number;
}
