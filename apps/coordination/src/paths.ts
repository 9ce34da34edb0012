/**
 * Validation of what clients send: paths and data sizes. A bad request is answered with
 * INVALID_ARGUMENT before it reaches a backend.
 *
 * A path is absolute and '/'-separated, without a trailing slash, empty, '.' or '..'
 * segments, NUL or control characters, at most MAX_PATH_BYTES bytes. '/' is the root.
 * `/.leases` and everything under it are reserved (the ZooKeeper backend keeps its lease
 * records there; see zookeeper-backend.ts).
 */
import { CoordinationError } from './backend';

export const MAX_PATH_BYTES = 1024;
/** Reserved for the backends' own records; never readable or writable through the API. */
export const RESERVED_PATH = '/.leases';
/** ZooKeeper's default jute.maxbuffer is 1 MiB for a whole packet; data stays below. */
export const MAX_DATA_BYTES = 1_000_000;

export function validatePath(path: unknown, what = 'path'): string {
  if (typeof path !== 'string' || path.length === 0) throw invalid(`${what} is empty`);
  if (path[0] !== '/') throw invalid(`${what} '${path}' must start with '/'`);
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) throw invalid(`${what} is longer than ${MAX_PATH_BYTES} bytes`);
  if (path === '/') return path;
  if (path.endsWith('/')) throw invalid(`${what} '${path}' must not end with '/'`);
  if (path === RESERVED_PATH || path.startsWith(`${RESERVED_PATH}/`)) throw invalid(`${what} '${path}' is reserved`);
  if (/[\u0000-\u001f\u007f]/.test(path)) throw invalid(`${what} contains control characters`);
  for (const segment of path.slice(1).split('/')) {
    if (segment === '' || segment === '.' || segment === '..') throw invalid(`${what} '${path}' has an empty, '.' or '..' segment`);
  }
  return path;
}

export function validateData(data: Buffer): Buffer {
  if (data.length > MAX_DATA_BYTES) throw invalid(`data of ${data.length} bytes exceeds the limit of ${MAX_DATA_BYTES} bytes`);
  return data;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** ZooKeeper's sequential suffix: 10 digits, zero padded. */
export function sequenceSuffix(n: number): string {
  return String(n).padStart(10, '0');
}

function invalid(message: string): CoordinationError {
  return new CoordinationError('INVALID_ARGUMENT', message);
}
