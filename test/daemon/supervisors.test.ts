import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openAppDb } from '../../src/cli/db.js';
import { enqueueMany, listWorkers, type Db, type SupervisorState } from '../../src/queue/index.js';
import { tempDbPath, tempDir, waitFor } from '../support/tmp.js';
import { FAST, notes, runCli, spawnDaemon, writeConfig, writeHandlers } from './support.js';

const opened: Db[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

function setup(config: Record<string, unknown>) {
  const dbPath = tempDbPath();
  const db = openAppDb(dbPath);
  opened.push(db);
  const cfg = writeConfig({ ...FAST, ...config });
  const notesFile = path.join(tempDir('gitroast-notes-'), 'notes.txt');
  return { dbPath, db, cfg, notesFile, env: { GITROAST_HANDLERS: writeHandlers() } };
}

const count = (db: Db, where: string) => (db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE ${where}`).get() as { n: number }).n;

/** The supervisor `name` as the only daemon's workers row shows it now. */
function supervisorRow(db: Db, name: string): SupervisorState | undefined {
  return listWorkers(db)[0]?.supervisors.find((s) => s.name === name);
}

describe('gitroast daemon: supervisors', () => {
  it('moves an auto supervisor\'s slots to a burst within the shift and cooldown, and back when it ends; a simple one does not move', async () => {
    const { dbPath, db, cfg, notesFile, env } = setup({
      supervisors: {
        web: { queues: ['a', 'b'], balance: 'auto', autoScalingStrategy: 'size', maxProcesses: 6, minProcesses: 1, balanceMaxShift: 1, balanceCooldown: 0.4 },
        bg: { queues: ['c', 'd'], balance: 'simple', maxProcesses: 3 },
      },
    });
    const d = spawnDaemon(dbPath, ['--config', cfg], env);
    await d.waitLog('daemon.started');
    await waitFor(() => supervisorRow(db, 'web'), 5000, 'the workers row to list the supervisors');
    expect(supervisorRow(db, 'web')!.slots).toEqual({ a: 1, b: 1 });
    expect(supervisorRow(db, 'bg')!.slots).toEqual({ c: 2, d: 1 });

    enqueueMany(db, Array.from({ length: 80 }, () => ({ name: 'record', queue: 'a', payload: { file: notesFile, ms: 150 } })));
    // Sample the workers row through the burst and after it.
    const seen: { a: number; b: number }[] = [];
    let peak = 0;
    let statusDuringBurst: unknown;
    await waitFor(async () => {
      const s = supervisorRow(db, 'web')!;
      seen.push({ a: s.slots.a!, b: s.slots.b! });
      peak = Math.max(peak, s.slots.a!);
      if (s.slots.a! >= 4 && statusDuringBurst === undefined) {
        const st = await runCli(['--db', dbPath, 'daemon', 'status', '--json']);
        statusDuringBurst = JSON.parse(st.stdout);
      }
      return count(db, `state = 'completed'`) === 80 && s.slots.a === 1;
    }, 40_000, 'the burst to drain and the slots to come back');
    // The row is committed a moment before the daemon's buffered log line of that move is written.
    await d.waitLog('supervisor.scaled', (l) => l.supervisor === 'web' && (l.slots as { a: number }).a === 1);

    // daemon status --json showed the supervisors with the moved slots (existing fields kept).
    const daemon = (statusDuringBurst as { daemons: { pid: number; busy: number; supervisors: SupervisorState[] }[] }).daemons[0]!;
    expect(daemon.pid).toBe(d.child.pid);
    const web = daemon.supervisors.find((s) => s.name === 'web')!;
    expect(web).toMatchObject({ balance: 'auto', autoScalingStrategy: 'size', maxProcesses: 6, balanceMaxShift: 1, balanceCooldown: 0.4 });
    expect(web.slots.a).toBeGreaterThanOrEqual(4);
    expect(web.busyByQueue.a).toBeGreaterThanOrEqual(1);

    // Every move the daemon made, from its log: ±1 per queue, 400 ms apart at least,
    // within the minimum per queue and the total.
    const moves = d.logs.filter((l) => l.event === 'supervisor.scaled' && l.supervisor === 'web').map((l) => ({ at: l.at as number, ...(l.slots as { a: number; b: number }) }));
    expect(moves.length).toBeGreaterThanOrEqual(6); // at least 1 → 4 and back
    let prev = { at: -Infinity, a: 1, b: 1 };
    for (const m of moves) {
      expect(Math.abs(m.a - prev.a)).toBeLessThanOrEqual(1);
      expect(Math.abs(m.b - prev.b)).toBeLessThanOrEqual(1);
      expect(m.at - prev.at).toBeGreaterThanOrEqual(400);
      expect(m.a).toBeGreaterThanOrEqual(1);
      expect(m.b).toBeGreaterThanOrEqual(1);
      expect(m.a + m.b).toBeLessThanOrEqual(6);
      prev = m;
    }
    expect(Math.max(...moves.map((m) => m.a))).toBe(5); // 6 slots, b keeps its minimum
    expect(peak).toBe(5);
    expect(moves.at(-1)).toMatchObject({ a: 1, b: 1 });
    // The row never showed a jump either.
    for (let i = 1; i < seen.length; i++) expect(Math.abs(seen[i]!.a - seen[i - 1]!.a)).toBeLessThanOrEqual(1);
    // The simple supervisor never moved.
    expect(d.count('supervisor.scaled', (l) => l.supervisor === 'bg')).toBe(0);
    expect(supervisorRow(db, 'bg')!.slots).toEqual({ c: 2, d: 1 });
    // At most a's cap ran at once: never more than 5 a-jobs together.
    let running = 0;
    let most = 0;
    for (const n of notes(notesFile)) {
      running += n.what === 'start' ? 1 : n.what === 'done' ? -1 : 0;
      most = Math.max(most, running);
    }
    expect(most).toBeLessThanOrEqual(5);
    expect(most).toBeGreaterThanOrEqual(4);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });

  it('pauses one supervisor with `daemon pause --supervisor` while the other keeps draining, and continues it', async () => {
    const { dbPath, db, cfg, env } = setup({
      supervisors: { web: { queues: ['a'], maxProcesses: 2 }, bg: { queues: ['c'], maxProcesses: 2 } },
    });
    const d = spawnDaemon(dbPath, ['--config', cfg, '--http', '127.0.0.1:0'], env);
    const listening = await d.waitLog('http.listening');
    await d.waitLog('daemon.started');
    const paused = await runCli(['--db', dbPath, 'daemon', 'pause', '--supervisor', 'web']);
    expect(paused.code).toBe(0);
    expect(paused.stderr).toMatch(/supervisor web paused/);
    await d.waitLog('supervisor.paused', (l) => l.supervisor === 'web');
    enqueueMany(db, Array.from({ length: 5 }, () => ({ name: 'noop', queue: 'a' })));
    enqueueMany(db, Array.from({ length: 20 }, () => ({ name: 'noop', queue: 'c' })));
    await waitFor(() => count(db, `queue = 'c' AND state = 'completed'`) === 20, 10_000, 'bg to drain c');
    await new Promise((r) => setTimeout(r, 500)); // several polls and wake-ups
    expect(count(db, `queue = 'a' AND state = 'pending'`)).toBe(5);
    const st = JSON.parse((await runCli(['--db', dbPath, 'daemon', 'status', '--json'])).stdout) as {
      paused: boolean; pausedSupervisors: string[]; daemons: { status: string; supervisors: SupervisorState[] }[];
    };
    expect(st.paused).toBe(false);
    expect(st.pausedSupervisors).toEqual(['web']);
    expect(st.daemons[0]!.status).toBe('running');
    expect(st.daemons[0]!.supervisors.map((s) => [s.name, s.paused])).toEqual([['web', true], ['bg', false]]);
    const text = await runCli(['--db', dbPath, 'daemon', 'status']);
    expect(text.stdout).toMatch(/web\s+strict\s+paused\s+0\/2\s+a 0\/2/);
    expect(text.stdout).toMatch(/bg\s+strict\s+running/);
    // /health lists the supervisors with their pause flag and slots; /metrics their slots.
    const base = `http://127.0.0.1:${listening.port as number}`;
    const health = (await (await fetch(`${base}/health`)).json()) as { status: string; worker: { concurrency: number; supervisors: SupervisorState[] }; daemons: { supervisors: SupervisorState[] }[] };
    expect(health.status).toBe('ok');
    expect(health.worker.concurrency).toBe(4);
    expect(health.worker.supervisors.map((s) => ({ name: s.name, paused: s.paused, slots: s.slots }))).toEqual([
      { name: 'web', paused: true, slots: { a: 2 } }, { name: 'bg', paused: false, slots: { c: 2 } },
    ]);
    expect(health.daemons[0]!.supervisors.map((s) => s.name)).toEqual(['web', 'bg']);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('gitroast_supervisor_slots{supervisor="web",queue="a"} 2');
    expect((await runCli(['--db', dbPath, 'daemon', 'continue', '--supervisor', 'web'])).code).toBe(0);
    await waitFor(() => count(db, `queue = 'a' AND state = 'completed'`) === 5, 10_000, 'web to drain a after continue');
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });

  it('keeps a config without supervisors as one supervisor of concurrency slots; --supervisor runs only the named one', async () => {
    const plain = setup({});
    const d = spawnDaemon(plain.dbPath, ['--config', plain.cfg, '--concurrency', '3'], plain.env);
    await d.waitLog('daemon.started');
    await waitFor(() => listWorkers(plain.db).length === 1, 5000, 'registration');
    expect(listWorkers(plain.db)[0]!.supervisors).toEqual([expect.objectContaining({ name: 'supervisor-1', queues: ['high', 'default', 'low'], balance: false, maxProcesses: 3 })]);
    expect(listWorkers(plain.db)[0]!.concurrency).toBe(3);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);

    const two = setup({ supervisors: { web: { queues: ['a'], maxProcesses: 2 }, bg: { queues: ['c'], maxProcesses: 4 } } });
    const one = spawnDaemon(two.dbPath, ['--config', two.cfg, '--supervisor', 'bg'], two.env);
    await one.waitLog('daemon.started');
    await waitFor(() => listWorkers(two.db).length === 1, 5000, 'registration');
    const w = listWorkers(two.db)[0]!;
    expect(w.supervisors.map((s) => s.name)).toEqual(['bg']);
    expect(w.queues).toEqual(['c']);
    expect(w.concurrency).toBe(4);
    one.child.kill('SIGTERM');
    expect(await one.exited).toBe(0);

    const unknown = await runCli(['--db', two.dbPath, 'daemon', '--config', two.cfg, '--supervisor', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--supervisor "nope": no such supervisor in the config \(configured: web, bg\)/);
    const clash = await runCli(['--db', two.dbPath, 'daemon', '--config', two.cfg, '--concurrency', '4']);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/--concurrency cannot be used with the config's `supervisors`/);
    const bad = await runCli(['--db', two.dbPath, 'daemon', 'pause', '--supervisor', 'Bad Name']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--supervisor "Bad Name": expected a supervisor name/);
    expect(listWorkers(two.db)).toHaveLength(0);
  });
});

describe('gitroast daemon: throttles', () => {
  it('lets two daemons together start at most max jobs per window; throttled jobs wait as pending with no attempt spent, shown by status', async () => {
    const { dbPath, db, cfg, notesFile, env } = setup({
      throttles: { queues: { default: { max: 5, perSeconds: 1 } }, jobs: { noop: { max: 3, perSeconds: 1 } } },
    });
    const a = spawnDaemon(dbPath, ['--config', cfg, '--concurrency', '8'], env);
    const b = spawnDaemon(dbPath, ['--config', cfg, '--concurrency', '8'], env);
    await waitFor(() => listWorkers(db).length === 2, 10_000, 'both daemons to register');
    enqueueMany(db, Array.from({ length: 25 }, () => ({ name: 'record', queue: 'default', payload: { file: notesFile, ms: 20 } })));
    enqueueMany(db, Array.from({ length: 9 }, () => ({ name: 'noop', queue: 'low' })));
    // While throttled, `status` says why the jobs wait.
    const shown = await waitFor(async () => {
      const st = JSON.parse((await runCli(['--db', dbPath, 'status', '--json'])).stdout) as { throttles: { kind: string; name: string; throttled: boolean; waiting: number; max: number }[] };
      return st.throttles.find((t) => t.kind === 'queue' && t.name === 'default' && t.throttled && t.waiting > 0);
    }, 15_000, 'status to show the default queue throttled');
    expect(shown!.max).toBe(5);
    const text = await waitFor(async () => {
      const out = (await runCli(['--db', dbPath, 'daemon', 'status', '--config', cfg])).stdout;
      return /queue\s+default\s+5\/5\s+1s\s+throttled for .*pending wait \(no attempt spent\)/.test(out) ? out : undefined;
    }, 15_000, 'daemon status to show the throttle');
    expect(text).toMatch(/THROTTLE/);
    await waitFor(() => count(db, `state = 'completed'`) === 34, 30_000, 'every job to complete');
    // Claim times (reserved_at is the time the throttle counted) per one-second window.
    const rows = db.prepare(`SELECT queue, name, reserved_at AS at, attempts FROM jobs`).all() as { queue: string; name: string; at: number; attempts: number }[];
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
    const perWindow = (pick: (r: (typeof rows)[number]) => boolean) => {
      const m = new Map<number, number>();
      for (const r of rows.filter(pick)) m.set(Math.floor(r.at / 1000), (m.get(Math.floor(r.at / 1000)) ?? 0) + 1);
      return [...m.values()];
    };
    const def = perWindow((r) => r.queue === 'default');
    const noop = perWindow((r) => r.name === 'noop');
    expect(Math.max(...def)).toBe(5);
    expect(def.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...noop)).toBeLessThanOrEqual(3);
    expect(noop.length).toBeGreaterThanOrEqual(3);
    // Starts, as the handlers recorded them, by both daemons, each job once.
    const starts = notes(notesFile).filter((n) => n.what === 'start');
    expect(starts).toHaveLength(25);
    expect(new Set(starts.map((n) => n.id)).size).toBe(25);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
  });
});
