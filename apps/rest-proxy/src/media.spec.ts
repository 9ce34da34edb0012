/** Content types and Accept negotiation (Confluent's rules), without a server. */
import { errorCodeOf as code } from './spec-helpers';
import { JSON_TYPE, KAFKA_JSON, V2_JSON, mediaType, negotiateV2, v2EmbeddedFormat } from './media';

describe('media types', () => {
  it('reads the media type without parameters, case-insensitively', () => {
    expect(mediaType('Application/JSON; charset=utf-8')).toBe('application/json');
    expect(mediaType(undefined)).toBe('');
  });

  it('maps v2 produce content types to embedded formats, 415 otherwise', () => {
    expect(v2EmbeddedFormat('application/vnd.kafka.json.v2+json')).toBe('json');
    expect(v2EmbeddedFormat('application/vnd.kafka.binary.v2+json; charset=utf-8')).toBe('binary');
    expect(v2EmbeddedFormat('application/json')).toBe('binary');
    for (const t of [undefined, 'text/plain', 'application/vnd.kafka.avro.v2+json', 'application/vnd.kafka.json.v1+json']) expect(code(() => v2EmbeddedFormat(t))).toBe(415);
  });

  it('negotiates v2 answers: client q times server weight, v2 by default, 406 when nothing fits', () => {
    expect(negotiateV2(undefined)).toBe(V2_JSON);
    expect(negotiateV2('*/*')).toBe(V2_JSON);
    expect(negotiateV2('application/*')).toBe(V2_JSON);
    expect(negotiateV2('application/json')).toBe(JSON_TYPE);
    expect(negotiateV2('application/vnd.kafka+json, application/json')).toBe(KAFKA_JSON);
    expect(negotiateV2('application/vnd.kafka.v2+json;q=0.2, application/json;q=1')).toBe(JSON_TYPE);
    expect(negotiateV2('text/html, */*;q=0.1')).toBe(V2_JSON);
    // A specific range with q=0 excludes that type even under */*.
    expect(negotiateV2('application/vnd.kafka.v2+json;q=0, */*')).toBe(KAFKA_JSON);
    for (const a of ['text/html', 'application/xml', 'application/json;q=0', 'bogus', ';;;,,,']) expect(code(() => negotiateV2(a))).toBe(406);
  });
});
