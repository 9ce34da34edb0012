/**
 * `consume --format`: kcat's output format tokens, compiled once into a list of parts and
 * rendered per record into a ByteSink (keys and values are written as their raw bytes).
 *
 * Tokens: `%t` topic, `%p` partition, `%o` offset, `%T` timestamp (epoch ms), `%k` key,
 * `%K` key size, `%s` value, `%S` value size, `%h` headers as `k=v,k=v`, `%%` a percent sign.
 * Escapes: `\n`, `\t`, `\r`, `\0`, `\\`. A null key or value prints nothing, its size -1.
 */
import type { RecordHeader } from '@tributary/records';
import { UsageError } from './errors';
import type { ByteSink } from './sink';

/** What a format may print of a record. */
export interface FormattableRecord {
  topic: string;
  partition: number;
  offset: bigint | number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: readonly RecordHeader[];
}

type Field = 't' | 'p' | 'o' | 'T' | 'k' | 'K' | 's' | 'S' | 'h';
type Part = { kind: 'text'; text: string } | { kind: 'field'; field: Field };

/** Default format: the value and a newline (kafka-console-consumer's default). */
export const DEFAULT_FORMAT = '%s\\n';

const FIELDS = new Set<string>(['t', 'p', 'o', 'T', 'k', 'K', 's', 'S', 'h']);
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\' };

/** A compiled format. */
export class RecordFormat {
  private readonly parts: Part[];

  /** Compiles `format`; throws UsageError naming an unknown token or escape. */
  constructor(format: string) {
    const parts: Part[] = [];
    let text = '';
    for (let i = 0; i < format.length; i++) {
      const c = format[i]!;
      if (c === '%' || c === '\\') {
        const next = format[i + 1];
        i++;
        if (c === '%' && next === '%') text += '%';
        else if (c === '%' && next !== undefined && FIELDS.has(next)) {
          if (text !== '') parts.push({ kind: 'text', text });
          text = '';
          parts.push({ kind: 'field', field: next as Field });
        } else if (c === '\\' && next !== undefined && ESCAPES[next] !== undefined) text += ESCAPES[next];
        else {
          const token = next === undefined ? c : c + next;
          throw new UsageError(
            `unknown --format token '${token}': use %t %p %o %T %k %K %s %S %h %% and the escapes \\n \\t \\r \\0 \\\\ (e.g. --format '%p:%o:%k=%s\\n')`,
          );
        }
      } else text += c;
    }
    if (text !== '') parts.push({ kind: 'text', text });
    this.parts = parts;
  }

  /** Whether the format prints headers (decoding them costs; skipped when not). */
  get usesHeaders(): boolean {
    return this.parts.some((p) => p.kind === 'field' && p.field === 'h');
  }

  /** Renders one record into `out`. */
  render(r: FormattableRecord, out: ByteSink): void {
    for (const part of this.parts) {
      if (part.kind === 'text') {
        out.writeString(part.text);
        continue;
      }
      switch (part.field) {
        case 't':
          out.writeString(r.topic);
          break;
        case 'p':
          out.writeString(String(r.partition));
          break;
        case 'o':
          out.writeString(String(r.offset));
          break;
        case 'T':
          out.writeString(String(r.timestamp));
          break;
        case 'k':
          if (r.key !== null) out.writeBytes(r.key);
          break;
        case 'K':
          out.writeString(String(r.key === null ? -1 : r.key.length));
          break;
        case 's':
          if (r.value !== null) out.writeBytes(r.value);
          break;
        case 'S':
          out.writeString(String(r.value === null ? -1 : r.value.length));
          break;
        case 'h':
          for (let i = 0; i < r.headers.length; i++) {
            const h = r.headers[i]!;
            if (i > 0) out.writeString(',');
            out.writeString(h.key);
            out.writeString('=');
            if (h.value !== null) out.writeBytes(h.value);
          }
          break;
      }
    }
  }
}
