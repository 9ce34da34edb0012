/**
 * Splits a stream of concatenated JSON objects (`{...}{...}` or one per line) into the text
 * of each object, as the bytes arrive — the body of a streaming v3 produce request.
 *
 * It only tracks nesting depth, strings and escapes to find where each top-level object
 * ends; `JSON.parse` of the returned text does the real validation. State is kept between
 * `push` calls, so a chunk may end anywhere (inside a string, an escape, a multi-byte
 * character: chunks are decoded with a StringDecoder).
 */
import { StringDecoder } from 'node:string_decoder';

export class ConcatenatedJsonSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private text = '';
  /** Where scanning resumes in `text`. */
  private pos = 0;
  /** Start of the current object in `text` (-1 between objects). */
  private start = -1;
  private depth = 0;
  private inString = false;
  private escaped = false;

  /** @param maxObjectChars longest object accepted (an `Error` is thrown past it) */
  constructor(private readonly maxObjectChars: number) {}

  /**
   * Adds bytes; returns the objects completed by them. Throws an Error (message fit for the
   * client) on text between objects that is not whitespace, or an object over the limit.
   */
  push(chunk: Buffer): string[] {
    this.text += this.decoder.write(chunk);
    const out: string[] = [];
    const text = this.text;
    let i = this.pos;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.start < 0) {
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
        if (c !== 0x7b /* { */) throw new Error(`expected a JSON object ('{') at character ${i}, found '${text[i]}'`);
        this.start = i;
        this.depth = 1;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c /* \ */) this.escaped = true;
        else if (c === 0x22 /* " */) this.inString = false;
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if (c === 0x7d || c === 0x5d) {
        this.depth--;
        if (this.depth === 0) {
          out.push(text.slice(this.start, i + 1));
          this.start = -1;
        }
      }
    }
    // Keep only the unfinished object.
    if (this.start < 0) {
      this.text = '';
      this.pos = 0;
    } else {
      this.text = text.slice(this.start);
      this.pos = i - this.start;
      this.start = 0;
      if (this.text.length > this.maxObjectChars) throw new Error(`a record is over ${this.maxObjectChars} characters`);
    }
    return out;
  }

  /** True when the input ended inside an object (truncated body). */
  get unfinished(): boolean {
    return this.start >= 0 || this.decoder.end() !== '';
  }
}
