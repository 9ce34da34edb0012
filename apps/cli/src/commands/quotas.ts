/**
 * `tributary quotas set|describe`: client quotas as `kafka-configs.sh --alter|--describe
 * --entity-type users|clients` (KIP-546), over the controller's ClientQuotaService (SDK
 * Admin.alterClientQuotas / describeClientQuotas).
 *
 * The entity: `--user <name>` or `--user-default`, and/or `--client-id <id>` or
 * `--client-default` (Kafka's `--entity-default`). `set` takes `--producer-byte-rate`,
 * `--consumer-byte-rate` (bytes per second, per broker), `--request-percentage` (percent of one
 * request thread, per broker) and `--delete <key>` (repeatable; `producer_byte_rate` or
 * `producer-byte-rate`). `describe` without an entity lists every entity with a quota; with
 * one it shows exactly that entity (Kafka's strict match: `--user alice` is not alice's
 * client-id entities).
 */
import { InvalidArgumentError } from 'commander';
import type { ClientQuotaAlteration, ClientQuotaEntity, ClientQuotaEntry, ClientQuotaFilterComponent, ClientQuotaOp } from '@tributary/client';
import type { GlobalOptions, Io } from '../context';
import { withAdmin, writeOut } from '../context';
import { UsageError } from '../errors';

const KEYS = ['producer_byte_rate', 'consumer_byte_rate', 'request_percentage'] as const;
type Key = (typeof KEYS)[number];

export interface QuotaEntityOptions {
  user?: string;
  userDefault?: boolean;
  clientId?: string;
  clientDefault?: boolean;
}

export interface SetQuotaOptions extends QuotaEntityOptions {
  producerByteRate?: number;
  consumerByteRate?: number;
  requestPercentage?: number;
  delete?: string[];
}

/** The entity of the flags (undefined when none is given); a UsageError for contradictions. */
export function entityOf(o: QuotaEntityOptions): ClientQuotaEntity | undefined {
  if (o.user !== undefined && o.userDefault === true) throw new UsageError('give --user <name> or --user-default, not both');
  if (o.clientId !== undefined && o.clientDefault === true) throw new UsageError('give --client-id <id> or --client-default, not both');
  if (o.user === '') throw new UsageError('--user is empty: give a user name, or --user-default');
  if (o.clientId === '') throw new UsageError('--client-id is empty: give a client id, or --client-default');
  const entity: ClientQuotaEntity = {};
  if (o.user !== undefined) entity.user = o.user;
  if (o.userDefault === true) entity.user = null;
  if (o.clientId !== undefined) entity.clientId = o.clientId;
  if (o.clientDefault === true) entity.clientId = null;
  return entity.user === undefined && entity.clientId === undefined ? undefined : entity;
}

/** `producer_byte_rate`, `producer-byte-rate` → the key; else a UsageError. */
export function parseQuotaKey(value: string): Key {
  const key = KEYS.find((k) => k === value.toLowerCase().replace(/-/g, '_'));
  if (!key) throw new UsageError(`unknown quota '${value}': ${KEYS.join(', ')}`);
  return key;
}

/** A positive number (`--request-percentage`), for commander's argParser (a usage error otherwise). */
export function positiveNumber(value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number, e.g. 50 or 200');
  return n;
}

/** The ops of `set`'s flags; a UsageError when there is none or a key is both set and deleted. */
export function opsOf(o: SetQuotaOptions): ClientQuotaOp[] {
  const ops: ClientQuotaOp[] = [];
  if (o.producerByteRate !== undefined) ops.push({ key: 'producer_byte_rate', value: o.producerByteRate });
  if (o.consumerByteRate !== undefined) ops.push({ key: 'consumer_byte_rate', value: o.consumerByteRate });
  if (o.requestPercentage !== undefined) ops.push({ key: 'request_percentage', value: o.requestPercentage });
  for (const raw of o.delete ?? []) {
    const key = parseQuotaKey(raw);
    if (ops.some((op) => op.key === key)) throw new UsageError(`${key} is both set and deleted: give one`);
    ops.push({ key, value: null });
  }
  if (ops.length === 0) throw new UsageError('nothing to change: give --producer-byte-rate, --consumer-byte-rate, --request-percentage or --delete <key>');
  return ops;
}

const show = (name: string | null | undefined): string => (name === undefined ? '' : name === null ? '<default>' : name);

/** `user=alice, client-id=<default>` */
export function entityLabel(entity: ClientQuotaEntity): string {
  const parts: string[] = [];
  if (entity.user !== undefined) parts.push(`user=${show(entity.user)}`);
  if (entity.clientId !== undefined) parts.push(`client-id=${show(entity.clientId)}`);
  return parts.join(', ');
}

export async function setQuotas(io: Io, global: GlobalOptions, o: SetQuotaOptions): Promise<void> {
  const entity = entityOf(o);
  if (!entity) throw new UsageError('name the entity: --user <name> or --user-default, and/or --client-id <id> or --client-default');
  const ops = opsOf(o);
  const alteration: ClientQuotaAlteration = { entity, ops };
  await withAdmin(global, (admin) => admin.alterClientQuotas([alteration]));
  const set = ops.filter((op) => op.value !== null).map((op) => `${op.key}=${op.value}`);
  const removed = ops.filter((op) => op.value === null).map((op) => op.key);
  const what = [...(set.length > 0 ? [`set ${set.join(', ')}`] : []), ...(removed.length > 0 ? [`deleted ${removed.join(', ')}`] : [])].join('; ');
  await writeOut(io.stdout, `Completed updating quotas for ${entityLabel(entity)}: ${what}.\n`);
}

/** A table: USER, CLIENT-ID and one column per quota ('-' when not set on the entity). */
export function formatQuotas(entries: readonly ClientQuotaEntry[]): string {
  if (entries.length === 0) return 'No quotas.\n';
  const rows = [['USER', 'CLIENT-ID', ...KEYS.map((k) => k.toUpperCase())]];
  for (const e of entries) rows.push([show(e.entity.user) || '-', show(e.entity.clientId) || '-', ...KEYS.map((k) => (e.values[k] === undefined ? '-' : String(e.values[k])))]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}

export async function describeQuotas(io: Io, global: GlobalOptions, o: QuotaEntityOptions & { json?: boolean }): Promise<void> {
  const entity = entityOf(o);
  const components: ClientQuotaFilterComponent[] = [];
  if (entity?.user !== undefined) components.push({ entityType: 'user', match: entity.user === null ? { kind: 'default' } : { kind: 'exact', name: entity.user } });
  if (entity?.clientId !== undefined) components.push({ entityType: 'client-id', match: entity.clientId === null ? { kind: 'default' } : { kind: 'exact', name: entity.clientId } });
  const entries = await withAdmin(global, (admin) => admin.describeClientQuotas({ components, strict: entity !== undefined }));
  if (o.json === true) {
    // A default entity is null (as in the SDK); an absent type is left out.
    await writeOut(io.stdout, `${JSON.stringify(entries.map((e) => ({ ...(e.entity.user !== undefined ? { user: e.entity.user } : {}), ...(e.entity.clientId !== undefined ? { clientId: e.entity.clientId } : {}), quotas: e.values })))}\n`);
    return;
  }
  await writeOut(io.stdout, formatQuotas(entries));
}
