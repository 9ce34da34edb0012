/**
 * Service log lines for humans. Services write one JSON object per line (pino through
 * libs/runtime: `level` as a label, ISO `time`, `service`, `nodeId`, `msg`, fields); the
 * launcher keeps them verbatim in `<data>/logs/<name>.log` and shows a short form on the
 * console: `HH:MM:SS WARN  broker-1  message key=value ...`. Lines that are not JSON (a crash
 * trace on stderr) are shown as they are.
 */
import * as fs from 'node:fs';

const LEVEL_RANK: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const NUMERIC_LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const OMITTED = new Set(['level', 'time', 'msg', 'service', 'nodeId', 'pid', 'hostname']);

export interface ParsedLine {
  /** Level label; 'error' for lines that are not JSON (stderr output is what a crash leaves). */
  level: string;
  /** Rank for filtering: 30 info, 40 warn, 50 error... */
  rank: number;
  text: string;
}

/** Parses one output line of a service. */
export function parseLogLine(line: string): ParsedLine {
  let entry: Record<string, unknown> | undefined;
  if (line.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) entry = parsed as Record<string, unknown>;
    } catch {
      // not JSON: shown as it is
    }
  }
  if (entry === undefined) return { level: 'error', rank: 50, text: line };
  const rawLevel = entry['level'];
  const level = typeof rawLevel === 'number' ? (NUMERIC_LEVELS[rawLevel] ?? 'info') : typeof rawLevel === 'string' ? rawLevel : 'info';
  const time = typeof entry['time'] === 'string' ? (entry['time'] as string).slice(11, 19) : typeof entry['time'] === 'number' ? new Date(entry['time'] as number).toISOString().slice(11, 19) : '';
  const fields = Object.entries(entry)
    .filter(([k]) => !OMITTED.has(k))
    .map(([k, v]) => `${k}=${fieldText(v)}`);
  const msg = typeof entry['msg'] === 'string' ? entry['msg'] : '';
  const text = [time, level.toUpperCase().padEnd(5), msg, ...fields].filter((s) => s !== '').join(' ');
  return { level, rank: LEVEL_RANK[level] ?? 30, text };
}

function fieldText(v: unknown): string {
  if (v !== null && typeof v === 'object') {
    const err = v as { type?: unknown; message?: unknown };
    if (typeof err.message === 'string') return JSON.stringify(`${typeof err.type === 'string' ? `${err.type}: ` : ''}${err.message}`);
    return truncate(JSON.stringify(v), 200);
  }
  return typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v);
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * The last `lines` lines of a log file in the short form (reads at most the last 64 KiB), each
 * prefixed with `indent`. Empty string when the file is missing or empty.
 */
export function logTail(file: string, lines = 15, indent = '    '): string {
  let text: string;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, 64 * 1024);
      const buffer = Buffer.alloc(length);
      fs.readSync(fd, buffer, 0, length, size - length);
      text = buffer.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-lines)
    .map((l) => `${indent}${truncate(parseLogLine(l).text, 400)}`)
    .join('\n');
}
