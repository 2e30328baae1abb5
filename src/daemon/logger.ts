import { safeLine } from '../util/terminal.js';
import type { LogLevel, Logger } from './types.js';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface LoggerOptions {
  /** `json` (one object a line) or `pretty` (for a terminal). Default json. */
  format?: 'json' | 'pretty';
  /** Lowest level written. Default info. */
  level?: LogLevel;
  /** Where lines go. Default process.stdout. */
  write?: (text: string) => void;
  /** Fields on every line (e.g. the worker id). */
  base?: Record<string, unknown>;
}

/**
 * Make a structured logger. Lines written in one tick are joined and written once (a busy
 * worker logs a few lines per job; one write per batch keeps that cheap); `flush()` writes
 * at once. JSON lines carry `time`, `level`, `event`, then the fields.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = RANK[options.level ?? 'info'];
  const format = options.format ?? 'json';
  const write = options.write ?? ((t: string) => process.stdout.write(t));
  const base = options.base ?? {};
  let buffer: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (buffer.length === 0) return;
    const text = buffer.join('');
    buffer = [];
    try {
      write(text);
    } catch {
      // stdout closed (EPIPE): logging must never take the daemon down.
    }
  };
  return {
    enabled: (level) => RANK[level] >= min,
    log(level, event, fields) {
      if (RANK[level] < min) return;
      const now = new Date();
      buffer.push(format === 'json' ? jsonLine(now, level, event, base, fields) : prettyLine(now, level, event, fields));
      if (buffer.length >= 512) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}

/** A logger that writes nothing. */
export const silentLogger: Logger = { enabled: () => false, log: () => {}, flush: () => {} };

function jsonLine(now: Date, level: string, event: string, base: Record<string, unknown>, fields?: Record<string, unknown>): string {
  return `${JSON.stringify({ time: now.toISOString(), level, event, ...base, ...fields }, replacer)}\n`;
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return Number(value);
  return value;
}

function prettyLine(now: Date, level: string, event: string, fields?: Record<string, unknown>): string {
  const time = now.toISOString().slice(11, 23);
  const parts = [time, level.toUpperCase().padEnd(5), event];
  if (fields) {
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      const text = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v);
      parts.push(`${k}=${safeLine(text)}`);
    }
  }
  return `${parts.join(' ')}\n`;
}
