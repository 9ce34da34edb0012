/**
 * Loads the optional native addon libs/records/native/records.c (built by
 * tools/scripts/build-native.js on x86-64 Linux). Everything it offers has a JavaScript (or
 * @node-rs) equivalent; `TRIBUTARY_NATIVE=off` disables it, to compare or to debug.
 */
export interface NativeRecords {
  /** False when the CPU lacks SSE4.2: crc32c is then absent. */
  available: boolean;
  crc32c?: (buf: Uint8Array, initial: number) => number;
  /** See validateUncompressedFast in decode.ts: same contract, same answers. */
  validateRecords: (buf: Uint8Array, start: number, end: number, count: number, baseTimestamp: number, out: Float64Array) => boolean;
}

function load(): NativeRecords | undefined {
  if (process.env.TRIBUTARY_NATIVE === 'off') return undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('../native/build/records.node') as NativeRecords;
  } catch {
    return undefined;
  }
}

export const nativeRecords: NativeRecords | undefined = load();
