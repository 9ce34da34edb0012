/**
 * Kafka's client quotas (KIP-13 byte rates, KIP-55 user quotas, KIP-124 request percentage,
 * KIP-546 admin API): the entities a quota is set on, where each lives in the coordination
 * store, and how a (user, client-id) pair finds its quota.
 *
 * Layout (Kafka's ZooKeeper layout; names sanitized as Kafka's `Sanitizer`, `<default>` as is):
 *
 *   /config/users/<user>                        {"version":1,"config":{"producer_byte_rate":"1048576",…}}
 *   /config/users/<user>/clients/<client-id>    (same node as the user's SCRAM credentials: writes keep
 *   /config/users/<default>                      the keys they do not own)
 *   /config/users/<default>/clients/<client-id>
 *   /config/users/<default>/clients/<default>
 *   /config/clients/<client-id>
 *   /config/clients/<default>
 *   /config/changes/config_change_<epoch ms>_<seq>   {"version":2,"entity_path":"users/alice/clients/c1"}
 *
 * Precedence (Kafka's DefaultQuotaCallback, per quota type independently: the first entity
 * that has a value for that key wins):
 *   1. /config/users/<user>/clients/<client-id>
 *   2. /config/users/<user>/clients/<default>
 *   3. /config/users/<user>
 *   4. /config/users/<default>/clients/<client-id>
 *   5. /config/users/<default>/clients/<default>
 *   6. /config/users/<default>
 *   7. /config/clients/<client-id>
 *   8. /config/clients/<default>
 * The entity found also says who shares the quota (Kafka's metric tags): a quota on a user
 * alone is shared by all the client ids of that user; a `<default>` user quota gives each user
 * their own; a client-id quota is shared by every user with that client id.
 */
import { ErrorCode, TributaryError } from '@tributary/records';

/** Kafka's quota config keys (QuotaConfigs). */
export const QUOTA_KEYS = ['producer_byte_rate', 'consumer_byte_rate', 'request_percentage'] as const;
export type QuotaKey = (typeof QUOTA_KEYS)[number];

/** The name Kafka stores and shows for a default entity. */
export const DEFAULT_ENTITY = '<default>';
/** The parent of the quota change notifications. */
export const CONFIG_CHANGES_PATH = '/config/changes';
/** Prefix of a change notification's name (Kafka's `config_change_`; the epoch ms and sequence follow). */
export const CONFIG_CHANGE_PREFIX = 'config_change_';
/** Parent of the user config nodes (shared with the SCRAM credentials). */
export const QUOTA_USERS_PATH = '/config/users';
/** Parent of the client-id config nodes. */
export const QUOTA_CLIENTS_PATH = '/config/clients';

/**
 * A quota entity (KIP-546's ClientQuotaEntity): a user, a client id, or both; `null` is the
 * default entity of that type (`<default>`). At least one part is present.
 */
export interface QuotaEntity {
  user?: string | null;
  clientId?: string | null;
}

export function isQuotaKey(key: string): key is QuotaKey {
  return (QUOTA_KEYS as readonly string[]).includes(key);
}

/** Kafka's `Sanitizer.sanitize`: URL-encoding (with `*` as `%2A`); `<default>` stays as is. */
export function sanitizeEntityName(name: string | null): string {
  if (name === null) return DEFAULT_ENTITY;
  return encodeURIComponent(name).replace(/\*/g, '%2A');
}

/** Inverse of {@link sanitizeEntityName} (`<default>` → null). */
export function desanitizeEntityName(segment: string): string | null {
  if (segment === DEFAULT_ENTITY) return null;
  return decodeURIComponent(segment);
}

/** Throws INVALID_REQUEST unless `entity` names a user and/or a client id (non-empty names). */
export function validateEntity(entity: QuotaEntity): void {
  if (entity.user === undefined && entity.clientId === undefined) {
    throw new TributaryError(ErrorCode.INVALID_REQUEST, 'a quota entity needs a user, a client id, or both (each may be the default entity)');
  }
  if (entity.user === '') throw new TributaryError(ErrorCode.INVALID_REQUEST, 'the user name is empty: give a user name or the default user');
  if (entity.clientId === '') throw new TributaryError(ErrorCode.INVALID_REQUEST, 'the client id is empty: give a client id or the default client id');
}

/** The entity path relative to /config (`users/alice/clients/c1`), as in Kafka's change notifications. */
export function entityPath(entity: QuotaEntity): string {
  validateEntity(entity);
  if (entity.user !== undefined) {
    const user = `users/${sanitizeEntityName(entity.user)}`;
    return entity.clientId === undefined ? user : `${user}/clients/${sanitizeEntityName(entity.clientId)}`;
  }
  return `clients/${sanitizeEntityName(entity.clientId!)}`;
}

/** The coordination-store node of `entity`. */
export function entityNodePath(entity: QuotaEntity): string {
  return `/config/${entityPath(entity)}`;
}

/** The entity of a path relative to /config, or undefined when it is not one. */
export function entityOfPath(path: string): QuotaEntity | undefined {
  const s = path.replace(/^\/?config\//, '').split('/');
  if (s.length === 2 && s[0] === 'users') return { user: desanitizeEntityName(s[1]!) };
  if (s.length === 2 && s[0] === 'clients') return { clientId: desanitizeEntityName(s[1]!) };
  if (s.length === 4 && s[0] === 'users' && s[2] === 'clients') return { user: desanitizeEntityName(s[1]!), clientId: desanitizeEntityName(s[3]!) };
  return undefined;
}

/** A stable key of an entity (for maps and sorting): its path. */
export const entityKey = (entity: QuotaEntity): string => entityPath(entity);

/** `user=alice, client-id=<default>` (for people, logs and metric labels). */
export function describeEntity(entity: QuotaEntity): string {
  const parts: string[] = [];
  if (entity.user !== undefined) parts.push(`user=${entity.user ?? DEFAULT_ENTITY}`);
  if (entity.clientId !== undefined) parts.push(`client-id=${entity.clientId ?? DEFAULT_ENTITY}`);
  return parts.join(', ');
}

/**
 * Checks a quota value as Kafka's ClientQuotaControlManager does: byte rates are positive
 * whole numbers (bytes/s), request_percentage a positive number (percent of one thread;
 * above 100 means more than one thread's time). Throws INVALID_REQUEST.
 */
export function validateQuotaValue(key: string, value: number): void {
  if (!isQuotaKey(key)) {
    throw new TributaryError(ErrorCode.INVALID_REQUEST, `unknown quota '${key}': use ${QUOTA_KEYS.join(', ')}`);
  }
  if (!Number.isFinite(value) || value <= 0) {
    throw new TributaryError(ErrorCode.INVALID_REQUEST, `${key} must be a positive number, got ${value}`);
  }
  if (key !== 'request_percentage' && !Number.isInteger(value)) {
    throw new TributaryError(ErrorCode.INVALID_REQUEST, `${key} is a whole number of bytes per second, got ${value}`);
  }
}

/** The quota values of a config node's `config` map (Kafka stores them as strings; other keys are ignored). */
export function quotaValuesOf(config: Record<string, unknown>): Partial<Record<QuotaKey, number>> {
  const out: Partial<Record<QuotaKey, number>> = {};
  for (const key of QUOTA_KEYS) {
    const raw = config[key];
    if (raw === undefined || raw === null) continue;
    const value = typeof raw === 'number' ? raw : Number(String(raw));
    if (Number.isFinite(value) && value > 0) out[key] = value;
  }
  return out;
}

/** The entities to look at for (user, clientId), most specific first (the precedence above). */
export function precedence(user: string, clientId: string): QuotaEntity[] {
  return [
    { user, clientId },
    { user, clientId: null },
    { user },
    { user: null, clientId },
    { user: null, clientId: null },
    { user: null },
    { clientId },
    { clientId: null },
  ];
}

/** A resolved quota: its bound, the entity it was set on, and the key of the sensor that counts against it. */
export interface ResolvedQuota {
  /** Bytes/s for the byte rates; percent of one thread for request_percentage. */
  bound: number;
  /** The entity the value was found on. */
  entity: QuotaEntity;
  /** Who shares this quota: `user` / `clientId` tags as Kafka's quota metric tags ('' when shared by all). */
  userTag: string;
  clientTag: string;
}

/**
 * The quota of `key` for (`user`, `clientId`) from `lookup` (the values stored on an entity), or
 * undefined when no entity in the precedence order has one. `user` is the principal's name
 * (`ANONYMOUS` for unauthenticated callers).
 */
export function resolveQuota(
  lookup: (entity: QuotaEntity) => Partial<Record<QuotaKey, number>> | undefined,
  key: QuotaKey,
  user: string,
  clientId: string,
): ResolvedQuota | undefined {
  for (const entity of precedence(user, clientId)) {
    const bound = lookup(entity)?.[key];
    if (bound === undefined) continue;
    return { bound, entity, userTag: entity.user !== undefined ? user : '', clientTag: entity.clientId !== undefined ? clientId : '' };
  }
  return undefined;
}
