/**
 * Content types and Accept negotiation as the Confluent REST Proxy does them.
 *
 * v2 types are `application/vnd.kafka[.<embedded>].v2+json` (embedded: json, binary; avro,
 * protobuf and jsonschema need a schema registry: not supported). v2 responses are
 * `application/vnd.kafka.v2+json` unless the client's Accept prefers `application/vnd.kafka+json`
 * or `application/json` (the server's own weights break ties: v2 first). v3 speaks
 * `application/json` only.
 */
import { RestError, RestErrorCode } from './errors';

export const V2_JSON = 'application/vnd.kafka.v2+json';
export const V2_JSON_EMBEDDED = 'application/vnd.kafka.json.v2+json';
export const V2_BINARY_EMBEDDED = 'application/vnd.kafka.binary.v2+json';
export const KAFKA_JSON = 'application/vnd.kafka+json';
export const JSON_TYPE = 'application/json';

/** The embedded format of a v2 produce request. */
export type EmbeddedFormat = 'json' | 'binary';

/** `Application/JSON; charset=utf-8` → `application/json`; '' when absent. */
export function mediaType(header: string | undefined): string {
  if (header === undefined) return '';
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}

/** The embedded format named by a v2 produce request's Content-Type, or a 415 RestError. */
export function v2EmbeddedFormat(contentType: string | undefined): EmbeddedFormat {
  const type = mediaType(contentType);
  switch (type) {
    case V2_JSON_EMBEDDED:
      return 'json';
    case V2_BINARY_EMBEDDED:
    // Confluent's produce takes the generic types as binary (its lowest-weighted match).
    case V2_JSON:
    case KAFKA_JSON:
    case JSON_TYPE:
      return 'binary';
    case 'application/vnd.kafka.avro.v2+json':
    case 'application/vnd.kafka.protobuf.v2+json':
    case 'application/vnd.kafka.jsonschema.v2+json':
      throw new RestError(
        RestErrorCode.UNSUPPORTED_MEDIA_TYPE,
        `HTTP 415 Unsupported Media Type: ${type} needs a schema registry, which Tributary does not have; send ${V2_JSON_EMBEDDED} or ${V2_BINARY_EMBEDDED}`,
      );
    default:
      throw new RestError(
        RestErrorCode.UNSUPPORTED_MEDIA_TYPE,
        `HTTP 415 Unsupported Media Type: ${type === '' ? 'no Content-Type' : `Content-Type ${type}`}; send ${V2_JSON_EMBEDDED} (JSON values) or ${V2_BINARY_EMBEDDED} (base64 values)`,
      );
  }
}

/** v3 bodies are application/json (or no Content-Type with no body). */
export function checkV3ContentType(contentType: string | undefined): void {
  const type = mediaType(contentType);
  if (type !== JSON_TYPE) {
    throw new RestError(
      RestErrorCode.UNSUPPORTED_MEDIA_TYPE,
      `HTTP 415 Unsupported Media Type: ${type === '' ? 'no Content-Type' : `Content-Type ${type}`}; the v3 API takes ${JSON_TYPE}`,
    );
  }
}

/** Response types v2 can produce, with the server's preference weight. */
const V2_OFFERS: ReadonlyArray<readonly [string, number]> = [
  [V2_JSON, 1],
  [KAFKA_JSON, 0.9],
  [JSON_TYPE, 0.5],
];

/** Cache: Accept headers repeat (one client library sends the same one every time). */
const negotiated = new Map<string, string | null>();

/**
 * The v2 response type for an Accept header: the offer with the best client q × server
 * weight; `V2_JSON` without Accept; a 406 RestError when nothing offered is acceptable.
 */
export function negotiateV2(accept: string | undefined): string {
  if (accept === undefined || accept === '' || accept === '*/*') return V2_JSON;
  let chosen = negotiated.get(accept);
  if (chosen === undefined) {
    chosen = bestOffer(accept);
    if (negotiated.size < 1000) negotiated.set(accept, chosen);
  }
  if (chosen === null) {
    throw new RestError(RestErrorCode.NOT_ACCEPTABLE, `HTTP 406 Not Acceptable: the v2 API answers ${V2_JSON}, ${KAFKA_JSON} or ${JSON_TYPE}, none of which the Accept header allows`);
  }
  return chosen;
}

function bestOffer(accept: string): string | null {
  const ranges: Array<{ type: string; subtype: string; q: number }> = [];
  for (const part of accept.split(',')) {
    const [range, ...params] = part.split(';');
    const [type, subtype] = (range ?? '').trim().toLowerCase().split('/');
    if (!type || !subtype) continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k?.trim() === 'q') q = Number(v);
    }
    // q=0 ranges are kept: a specific one excludes its type even under */*.
    if (Number.isFinite(q) && q >= 0) ranges.push({ type, subtype, q: Math.min(q, 1) });
  }
  let best: string | null = null;
  let bestScore = 0;
  for (const [offer, weight] of V2_OFFERS) {
    const [ot, os] = offer.split('/') as [string, string];
    // The most specific matching range decides the client's q for this offer.
    let q = -1;
    let specificity = -1;
    for (const r of ranges) {
      const s = r.type === ot && r.subtype === os ? 2 : r.type === ot && r.subtype === '*' ? 1 : r.type === '*' && r.subtype === '*' ? 0 : -1;
      if (s > specificity) {
        specificity = s;
        q = r.q;
      }
    }
    if (q > 0 && q * weight > bestScore) {
      bestScore = q * weight;
      best = offer;
    }
  }
  return best;
}
