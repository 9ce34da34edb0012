/**
 * Quota entities and filters on the wire (proto/tributary/v1/quotas.proto) ↔ the model.
 * Bad input throws INVALID_REQUEST (a TributaryError) with a message saying what to fix.
 */
import type { ClientQuotaEntityComponent, ClientQuotaFilterComponent as WireFilterComponent } from '@tributary/proto';
import { ClientQuotaMatchType } from '@tributary/proto';
import { ErrorCode, TributaryError } from '@tributary/records';
import type { QuotaEntity } from './model';
import { validateEntity } from './model';
import type { QuotaFilterComponent } from './store';

const TYPES = ['user', 'client-id'] as const;
const invalid = (message: string): TributaryError => new TributaryError(ErrorCode.INVALID_REQUEST, message);

/** The entity of wire components; throws INVALID_REQUEST. */
export function entityFromWire(components: readonly ClientQuotaEntityComponent[]): QuotaEntity {
  const entity: QuotaEntity = {};
  for (const c of components) {
    if (!(TYPES as readonly string[]).includes(c.entityType)) throw invalid(`unknown quota entity type '${c.entityType}': use user or client-id`);
    const name = c.isDefault ? null : c.entityName;
    if (c.entityType === 'user') {
      if (entity.user !== undefined) throw invalid('the entity names the user type twice');
      entity.user = name;
    } else {
      if (entity.clientId !== undefined) throw invalid('the entity names the client-id type twice');
      entity.clientId = name;
    }
  }
  validateEntity(entity);
  return entity;
}

/** The wire components of an entity (user first). */
export function entityToWire(entity: QuotaEntity): ClientQuotaEntityComponent[] {
  const out: ClientQuotaEntityComponent[] = [];
  if (entity.user !== undefined) out.push({ entityType: 'user', entityName: entity.user ?? '', isDefault: entity.user === null });
  if (entity.clientId !== undefined) out.push({ entityType: 'client-id', entityName: entity.clientId ?? '', isDefault: entity.clientId === null });
  return out;
}

/** A DescribeClientQuotas filter from the wire; throws INVALID_REQUEST. */
export function filterFromWire(components: readonly WireFilterComponent[]): QuotaFilterComponent[] {
  const seen = new Set<string>();
  return components.map((c) => {
    if (!(TYPES as readonly string[]).includes(c.entityType)) throw invalid(`unknown quota entity type '${c.entityType}' in the filter: use user or client-id`);
    if (seen.has(c.entityType)) throw invalid(`the filter names the ${c.entityType} type twice`);
    seen.add(c.entityType);
    const entityType = c.entityType as QuotaFilterComponent['entityType'];
    switch (c.matchType) {
      case ClientQuotaMatchType.CLIENT_QUOTA_MATCH_TYPE_DEFAULT:
        return { entityType, match: { kind: 'default' } };
      case ClientQuotaMatchType.CLIENT_QUOTA_MATCH_TYPE_ANY:
        return { entityType, match: { kind: 'any' } };
      case ClientQuotaMatchType.CLIENT_QUOTA_MATCH_TYPE_EXACT:
        if (c.match === '') throw invalid(`an exact ${c.entityType} filter needs a name (use the default match for the default entity)`);
        return { entityType, match: { kind: 'exact', name: c.match } };
      default:
        throw invalid(`unknown match type ${String(c.matchType)}: use exact, default or any`);
    }
  });
}

/** The wire form of a filter. */
export function filterToWire(filter: readonly QuotaFilterComponent[]): WireFilterComponent[] {
  return filter.map((c) => ({
    entityType: c.entityType,
    matchType:
      c.match.kind === 'exact'
        ? ClientQuotaMatchType.CLIENT_QUOTA_MATCH_TYPE_EXACT
        : c.match.kind === 'default'
          ? ClientQuotaMatchType.CLIENT_QUOTA_MATCH_TYPE_DEFAULT
          : ClientQuotaMatchType.CLIENT_QUOTA_MATCH_TYPE_ANY,
    match: c.match.kind === 'exact' ? c.match.name : '',
  }));
}
