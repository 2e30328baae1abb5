import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodeCron from 'node-cron';
import { z } from 'zod';
import { CONCURRENCY, HEARTBEAT_MS, JOB_TIMEOUT_MS, LEASE_MS, MONITORED_TRIM_MINUTES, POLL_MS, STALE_MS } from '../queue/defaults.js';
import type { JobSpec } from '../queue/index.js';
import { UsageError } from './context.js';

// ---------------------------------------------------------------------------------------
// The schema: every key, its type and its default. Documented in README.md, section "Configuration".
// ---------------------------------------------------------------------------------------

const QUEUE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const JOB = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
const LOGIN = /^[A-Za-z0-9-]{1,39}$/;
// eslint-disable-next-line no-control-regex -- a silenced tag may hold anything but control characters
const SILENCED = /^(?:tag:[^\u0000-\u001f\u007f]{1,200}|[A-Za-z0-9][A-Za-z0-9._:-]{0,99})$/;
const SCHEDULE = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;
/** A supervisor's name: also what `daemon pause --supervisor` takes. */
export const SUPERVISOR_NAME = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;
const YEAR_S = 31_536_000;

const queueName = z.string().regex(QUEUE, 'expected 1-32 of a-z, 0-9, - and _');
const seconds = (max = YEAR_S) => z.number().positive().max(max);
const cron = z.string().refine((s) => nodeCron.validate(s), 'expected a cron expression (5 fields, or 6 with seconds first)');
const httpUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'expected an http(s) URL');

/** Per-job-name options: applied to jobs of that name when they are enqueued (timeout also by the daemon). */
const jobOptions = z.strictObject({
  /** Attempts before the job fails for good. */
  tries: z.number().int().min(1).max(1000).optional(),
  /** Seconds before each retry; the last repeats. */
  backoff: z.array(z.number().min(0).max(604_800)).max(20).optional(),
  /** Seconds an attempt may run. */
  timeout: seconds(86_400).optional(),
  /** Seconds after enqueue after which a failed job is not retried (rate-limit waits push it back). */
  retryUntil: seconds().optional(),
});

/**
 * One supervisor (Horizon's): its queues and slots. Defaults: queues the top-level `queues`,
 * maxProcesses the top-level `concurrency`, timeout `timeoutSeconds` (see supervisorsOf).
 */
const supervisorOptions = z.strictObject({
  queues: z.array(queueName).min(1).max(32).optional(),
  /** false: queue order; simple: even split; auto: moved by load. */
  balance: z.union([z.literal(false), z.literal('simple'), z.literal('auto')]).default(false),
  autoScalingStrategy: z.enum(['time', 'size']).default('time'),
  maxProcesses: z.number().int().min(1).max(1000).optional(),
  minProcesses: z.number().int().min(1).max(1000).default(1),
  balanceMaxShift: z.number().int().min(1).max(1000).default(1),
  balanceCooldown: z.number().positive().max(3600).default(3),
  timeout: seconds(86_400).optional(),
});

/** A throttle: at most `max` jobs start per `perSeconds` window, across every daemon on the database. */
const throttle = z.strictObject({
  max: z.number().int().min(1).max(1_000_000),
  perSeconds: z.number().min(0.001).max(86_400),
});

const configSchema = z.strictObject({
  concurrency: z.number().int().min(1).max(1000).default(CONCURRENCY),
  queues: z.array(queueName).min(1).max(32).default(['high', 'default', 'low']),
  balance: z.enum(['strict', 'auto']).default('strict'),
  leaseSeconds: seconds(86_400).default(LEASE_MS / 1000),
  heartbeatSeconds: seconds(3600).default(HEARTBEAT_MS / 1000),
  staleSeconds: seconds(86_400).default(STALE_MS / 1000),
  pollSeconds: seconds(60).default(POLL_MS / 1000),
  timeoutSeconds: seconds(86_400).default(JOB_TIMEOUT_MS / 1000),
  graceSeconds: z.number().min(0).max(86_400).optional(),
  memoryLimitMb: z.number().int().min(16).max(1_048_576).optional(),
  durability: z.enum(['normal', 'full']).default('normal'),
  /** Hours a job may wait for rate-limit resets, counted from its enqueue, before it fails. */
  maxRateLimitWaitHours: z.number().positive().max(8760).default(24),
  jobs: z.record(z.string().regex(JOB, 'invalid job name'), jobOptions).prefault({}),
  schedules: z.record(z.string().regex(SCHEDULE, 'invalid schedule name'), z.union([cron, z.literal(false)])).prefault({}),
  supervisors: z.record(z.string().regex(SUPERVISOR_NAME, 'invalid supervisor name (1-64 of a-z, 0-9, _ . : -)'), supervisorOptions).prefault({}),
  throttles: z.strictObject({
    queues: z.record(z.string().regex(QUEUE, 'invalid queue name'), throttle).prefault({}),
    jobs: z.record(z.string().regex(JOB, 'invalid job name'), throttle).prefault({}),
  }).prefault({}),
  trim: z.strictObject({
    completedMinutes: z.number().int().min(1).default(60),
    failedRowsMinutes: z.number().int().min(1).default(10_080),
    failedJobsHours: z.number().int().min(1).default(168),
    snapshotsMinutes: z.number().int().min(1).default(10_080),
    batchesHours: z.number().int().min(1).default(48),
    /** Jobs carrying a monitored tag (`gitroast tags monitor`) are kept this long, whatever their state's age. */
    monitoredMinutes: z.number().int().min(1).default(MONITORED_TRIM_MINUTES),
  }).prefault({}),
  /** Job names, or `tag:TAG`, kept out of the completed lists and recent events (failures still show) and never notified. */
  silenced: z.array(z.string().regex(SILENCED, 'expected a job name or tag:TAG')).max(1000).default([]),
  notify: z.strictObject({
    /** Jobs that fail for good notify when their name or their queue is listed (opt-in). */
    failures: z.strictObject({
      jobs: z.array(z.string().regex(JOB, 'invalid job name')).max(1000).default([]),
      queues: z.array(queueName).max(32).default([]),
      /** Where to post; default the top-level webhookUrl. */
      webhookUrl: httpUrl.optional(),
      /** The queue the notification jobs run on. */
      queue: queueName.default('low'),
    }).prefault({}),
  }).prefault({}),
  longWait: z.strictObject({
    defaultSeconds: z.number().min(0).max(YEAR_S).default(60),
    queues: z.record(z.string().regex(QUEUE, 'invalid queue name'), z.number().min(0).max(YEAR_S)).prefault({}),
  }).prefault({}),
  webhookUrl: httpUrl.nullable().default(null),
  analysis: z.strictObject({
    /** Analyses older than this many days are pruned (unless kept). */
    pruneDays: z.number().int().min(1).max(36_500).default(90),
  }).prefault({}),
  denyList: z.array(z.string().regex(LOGIN, 'expected a GitHub login (1-39 of letters, digits, -)')).max(100_000).default([]),
  log: z.strictObject({
    format: z.enum(['json', 'pretty']).optional(),
    level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  }).prefault({}),
  http: z.strictObject({
    listen: z.string().optional(),
    token: z.string().min(16, 'expected at least 16 characters').max(512).optional(),
  }).prefault({}),
});

/** The validated configuration with defaults applied. */
export type GitroastConfig = z.output<typeof configSchema>;

/** Environment variables that override the file; flags override them. */
const CONFIG_ENV: Readonly<Record<string, { path: string; list?: boolean }>> = {
  GITROAST_CONCURRENCY: { path: 'concurrency' },
  GITROAST_QUEUES: { path: 'queues', list: true },
  GITROAST_BALANCE: { path: 'balance' },
  GITROAST_WEBHOOK_URL: { path: 'webhookUrl' },
  GITROAST_DENY_LIST: { path: 'denyList', list: true },
  GITROAST_LOG_FORMAT: { path: 'log.format' },
  GITROAST_LOG_LEVEL: { path: 'log.level' },
  GITROAST_HTTP: { path: 'http.listen' },
  GITROAST_HTTP_TOKEN: { path: 'http.token' },
  GITROAST_MEMORY_LIMIT_MB: { path: 'memoryLimitMb' },
};

/** The secrets: masked whenever the configuration is shown. */
const SECRET_PATHS = ['http.token', 'webhookUrl', 'notify.failures.webhookUrl'];

/** Where the config file is: --config, else GITROAST_CONFIG, else $XDG_CONFIG_HOME/gitroast/config.json (~/.config when unset). */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): { file: string; explicit: boolean } {
  if (flag) return { file: path.resolve(flag), explicit: true };
  if (env.GITROAST_CONFIG) return { file: path.resolve(env.GITROAST_CONFIG), explicit: true };
  const xdg = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return { file: path.join(xdg, 'gitroast', 'config.json'), explicit: false };
}

export interface LoadedConfig {
  config: GitroastConfig;
  /** The file read, or undefined when none exists (defaults, env and flags only). */
  file: string | undefined;
  /** Set when the file holds secrets and is readable by group or others (see exposedSecrets). */
  exposed?: ExposedSecrets;
  /** Which source set each key path that was not a default (`file`, `env GITROAST_…`, `--flag`). */
  sources: Record<string, string>;
}

export interface LoadOptions {
  /** --config. */
  configFlag?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, as dotted key path → value (e.g. `http.listen`), each with the flag's name. */
  flags?: Record<string, { value: unknown; flag: string }>;
}

/**
 * Load the configuration: the file (if any) ← environment ← flags, validated once with zod.
 * Unknown keys are rejected. Any problem throws a UsageError (exit 2) naming the key path
 * and where the bad value came from.
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const { file, explicit } = resolveConfigPath(options.configFlag, env);
  const sources: Record<string, string> = {};
  let raw: Record<string, unknown> = {};
  let used: string | undefined;
  let text: string | undefined;
  let exposed: ExposedSecrets | undefined;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || explicit) throw new UsageError(`cannot read config file ${file}: ${code === 'ENOENT' ? 'it does not exist' : (err as Error).message}`);
  }
  if (text !== undefined) {
    used = file;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`config file ${file} must hold a JSON object`);
    raw = parsed as Record<string, unknown>;
    for (const p of leafPaths(raw)) sources[p] = 'file';
    // Before the environment and flags are merged in: only secrets stored in the file count.
    exposed = exposedSecrets(file, raw);
  }
  for (const [name, spec] of Object.entries(CONFIG_ENV)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    setPath(raw, spec.path, spec.list ? v.split(',').map((s) => s.trim()).filter(Boolean) : coerceScalar(v));
    sources[spec.path] = `env ${name}`;
  }
  for (const [p, { value, flag }] of Object.entries(options.flags ?? {})) {
    if (value === undefined) continue;
    setPath(raw, p, value);
    sources[p] = flag;
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const base = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((k) => `${base ? `${base}.` : ''}${k}: unknown key${where(`${base ? `${base}.` : ''}${k}`, sources, used)}`).join('; ');
      }
      const key = base || '(top level)';
      const message = issue.code === 'invalid_key' ? `invalid key ${JSON.stringify(issue.path.at(-1))}` : issue.message;
      return `${key}: ${message}${where(base, sources, used)}`;
    });
    throw new UsageError(`invalid configuration: ${problems.join('; ')}`);
  }
  return { config: result.data, file: used, sources, ...(exposed ? { exposed } : {}) };
}

/** A config file that holds secrets and that group or others may read. */
export interface ExposedSecrets {
  file: string;
  /** The permission bits, as four octal digits (`0644`). */
  mode: string;
  /** Who besides the owner may read or change it: `group`, `others`, or `group and others`. */
  who: string;
  /** The secret key paths set in the file (`http.token`, `webhookUrl`). */
  keys: string[];
}

/**
 * Return how the config `file` exposes secrets, or undefined when it does not: it exists, its
 * mode lets group or others in (mode & 0o077, links followed), and it sets a secret key
 * (SECRET_PATHS: `http.token`, and `webhookUrl`, since a Slack or Discord webhook's secret is
 * in its path). `content` is the parsed file when the caller has it; otherwise the file is
 * read, and one that cannot be read or parsed counts as holding none (loading it reports that).
 */
export function exposedSecrets(file: string, content?: Record<string, unknown>): ExposedSecrets | undefined {
  const mode = fs.statSync(file, { throwIfNoEntry: false })?.mode;
  if (mode === undefined || (mode & 0o077) === 0) return undefined;
  let raw = content;
  if (raw === undefined) {
    try {
      const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
      raw = parsed as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
  const keys = SECRET_PATHS.filter((p) => {
    const v = p.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), raw);
    return typeof v === 'string' && v.trim() !== '';
  });
  if (keys.length === 0) return undefined;
  const who = [mode & 0o070 ? 'group' : '', mode & 0o007 ? 'others' : ''].filter(Boolean).join(' and ');
  return { file, mode: (mode & 0o777).toString(8).padStart(4, '0'), who, keys };
}

let warnedExposed = false;

/**
 * Warn once per process on stderr, as ssh does for a key file, when the loaded config file
 * exposes secrets: one line naming the file, its mode and the chmod to run.
 */
export function warnExposedSecrets(loaded: Pick<LoadedConfig, 'exposed'>): void {
  const e = loaded.exposed;
  if (!e || warnedExposed) return;
  warnedExposed = true;
  process.stderr.write(`gitroast: warning: config file ${e.file} holds secrets (${e.keys.join(', ')}) and is readable by ${e.who} (mode ${e.mode}): run chmod 600 ${e.file}\n`);
}

function where(keyPath: string, sources: Record<string, string>, file: string | undefined): string {
  let p = keyPath;
  for (;;) {
    const s = sources[p];
    if (s && s !== 'file') return ` (from ${s})`;
    if (s === 'file' || !p.includes('.')) break;
    p = p.slice(0, p.lastIndexOf('.'));
  }
  return file ? ` (in ${file})` : '';
}

function coerceScalar(v: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  if (v === 'true') return true;
  if (v === 'false') return false;
  return v;
}

function leafPaths(obj: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && ['trim', 'longWait', 'log', 'http', 'analysis', 'notify'].includes(prefix || k)) out.push(...leafPaths(v as Record<string, unknown>, p));
    else out.push(p);
  }
  return out;
}

function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let o = obj;
  for (const part of parts.slice(0, -1)) {
    const next = o[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) o[part] = {};
    o = o[part] as Record<string, unknown>;
  }
  o[parts.at(-1)!] = value;
}

/** A copy of the configuration with secrets masked: tokens as `********`, webhook URLs as their origin. */
export function maskConfig(config: GitroastConfig): GitroastConfig {
  const copy = structuredClone(config);
  if (copy.http.token) copy.http.token = '********';
  const mask = (url: string) => {
    try {
      const u = new URL(url);
      return `${u.protocol}//${u.host}${u.pathname !== '/' || u.search ? '/********' : ''}`;
    } catch {
      return '********';
    }
  };
  if (copy.webhookUrl) copy.webhookUrl = mask(copy.webhookUrl);
  if (copy.notify.failures.webhookUrl) copy.notify.failures.webhookUrl = mask(copy.notify.failures.webhookUrl);
  return copy;
}

/**
 * Fill a job spec's tries / backoff / timeout / retry-until from `config.jobs[spec.name]`
 * where the spec leaves them unset (a value the caller set wins). Chain links and catch
 * jobs get their own name's options. Use it wherever jobs are enqueued from the CLI.
 */
export function applyJobOptions(spec: JobSpec, config: Pick<GitroastConfig, 'jobs'>, now = Date.now()): JobSpec {
  const o = config.jobs[spec.name];
  const out: JobSpec = { ...spec };
  if (o) {
    if (out.tries === undefined && o.tries !== undefined) out.tries = o.tries;
    if (out.backoff === undefined && o.backoff !== undefined) out.backoff = o.backoff;
    if (out.timeoutMs === undefined && o.timeout !== undefined) out.timeoutMs = Math.round(o.timeout * 1000);
    // Counted from each job's own enqueue (a chain link's window starts when the link is enqueued).
    if (out.retryUntil === undefined && out.retryForMs === undefined && o.retryUntil !== undefined) out.retryForMs = Math.round(o.retryUntil * 1000);
  }
  if (spec.chain) out.chain = spec.chain.map((link) => applyJobOptions(link, config, now));
  if (spec.catch) out.catch = applyJobOptions(spec.catch, config, now);
  return out;
}

/** The grace period in seconds: graceSeconds, else the longest timeout configured. */
export function graceSecondsOf(config: GitroastConfig): number {
  if (config.graceSeconds !== undefined) return config.graceSeconds;
  return Math.max(config.timeoutSeconds, ...Object.values(config.jobs).map((j) => j.timeout ?? 0), ...Object.values(config.supervisors).map((s) => s.timeout ?? 0));
}

/** A supervisor as the daemon runs it (the fields of src/daemon's SupervisorSpec). */
export interface ResolvedSupervisor {
  name: string;
  queues: string[];
  balance: false | 'simple' | 'auto';
  autoScalingStrategy: 'time' | 'size';
  maxProcesses: number;
  minProcesses: number;
  balanceMaxShift: number;
  balanceCooldownMs: number;
  timeoutMs: number;
}

/**
 * The configured supervisors with their defaults filled in (queues: `queues`, maxProcesses:
 * `concurrency`, timeout: `timeoutSeconds`), or only the one named `only`; undefined when
 * the config has none (the daemon then runs one supervisor of `queues`, `concurrency` and
 * `balance`, as before supervisors). Throws a UsageError for an unknown `only`, or an auto
 * supervisor whose minimums do not fit in its maxProcesses.
 */
export function supervisorsOf(config: GitroastConfig, only?: string): ResolvedSupervisor[] | undefined {
  const names = Object.keys(config.supervisors);
  if (only !== undefined && !names.includes(only)) {
    throw new UsageError(`--supervisor ${JSON.stringify(only)}: no such supervisor in the config (${names.length > 0 ? `configured: ${names.join(', ')}` : 'it defines no `supervisors`'})`);
  }
  if (names.length === 0) return undefined;
  const out: ResolvedSupervisor[] = [];
  for (const [name, s] of Object.entries(config.supervisors)) {
    if (only !== undefined && name !== only) continue;
    const queues = s.queues ?? config.queues;
    const maxProcesses = s.maxProcesses ?? config.concurrency;
    if (s.balance === 'auto' && s.minProcesses * queues.length > maxProcesses) {
      throw new UsageError(`invalid configuration: supervisors.${name}: minProcesses ${s.minProcesses} × ${queues.length} queues is more than maxProcesses ${maxProcesses}`);
    }
    out.push({
      name, queues, balance: s.balance, autoScalingStrategy: s.autoScalingStrategy, maxProcesses, minProcesses: s.minProcesses,
      balanceMaxShift: s.balanceMaxShift, balanceCooldownMs: Math.round(s.balanceCooldown * 1000), timeoutMs: Math.round((s.timeout ?? config.timeoutSeconds) * 1000),
    });
  }
  return out;
}

/** The configured throttles in ms, as the queue's claim takes them. */
export function throttlesOf(config: Pick<GitroastConfig, 'throttles'>): { queues: Record<string, { max: number; perMs: number }>; jobs: Record<string, { max: number; perMs: number }> } {
  const ms = (r: Record<string, { max: number; perSeconds: number }>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { max: v.max, perMs: Math.round(v.perSeconds * 1000) }]));
  return { queues: ms(config.throttles.queues), jobs: ms(config.throttles.jobs) };
}

/** True when a login is on the deny list (case-insensitive, as GitHub logins are). */
export function isDenied(config: Pick<GitroastConfig, 'denyList'>, login: string): boolean {
  const l = login.toLowerCase();
  return config.denyList.some((d) => d.toLowerCase() === l);
}

/** Flatten nested keys to dotted paths (for text output). */
export function flattenConfig(obj: Record<string, unknown>, prefix = ''): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(obj)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) out.push(...flattenConfig(v as Record<string, unknown>, p));
    else out.push([p, v]);
  }
  return out;
}
