import { afterEach, describe, expect, it } from 'vitest';
import { render } from 'ink-testing-library';
import { Monitor, renderOnce } from '../../src/tui/App.js';
import type { SupervisorState } from '../../src/queue/index.js';
import type { Screen } from '../../src/tui/state.js';
import { NOW, clock, failed, fakeSource, job, type Fake, type FakeOptions } from './fake.js';

const tick = () => new Promise((r) => setTimeout(r, 0));
const ESC_WAIT = 50;
const instances: { unmount(): void }[] = [];

afterEach(() => {
  for (const i of instances.splice(0)) i.unmount();
});

async function mount(o: FakeOptions & { screen?: Screen; columns?: number; rows?: number; readonly?: boolean } = {}) {
  const source: Fake = fakeSource(o);
  const app = render(
    <Monitor source={source} clock={clock} refreshMs={0} theme="plain" readonly={o.readonly} screen={o.screen}
      size={{ columns: o.columns ?? 100, rows: o.rows ?? 30 }} />,
  );
  instances.push(app);
  await tick();
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      app.stdin.write(k);
      await tick();
      if (k === '\u001b') await new Promise((r) => setTimeout(r, ESC_WAIT));
      await tick();
    }
  };
  return { app, source, press, frame: () => app.lastFrame() ?? '' };
}

const KEY = { down: '\u001b[B', up: '\u001b[A', enter: '\r', esc: '\u001b', tab: '\t', ctrlR: '\u0012', ctrlC: '\u0003', space: ' ', pgdn: '\u001b[6~' };

describe('monitor screens (fake data source, fixed clock)', () => {
  it('draws the overview: status, rates, sparkline, queues (configured ones listed) and the live tail', async () => {
    const { frame } = await mount();
    const f = frame();
    expect(f).toContain('[1 Overview]');
    expect(f).toContain('ACTIVE · 1 daemon · 2/4 busy · 12:00:00 UTC');
    expect(f).toContain('Jobs/min 12');
    expect(f).toContain('Past hour 345');
    expect(f).toContain('Max wait default 1m 5s');
    expect(f).toContain('Max runtime write-review #77 4s');
    expect(f).toMatch(/Throughput 60m [▁▂▃▄▅▆▇█]{60} peak 9\/min/);
    expect(f).toMatch(/high\s+0/);
    expect(f).toMatch(/low\s+0\s+0\s+0\s+0\s+-\s+paused/);
    expect(f).toMatch(/completed\s+#7 default fetch-github/);
    expect(f).toContain('? help');
  });

  it('switches screens with number keys and shows each screen', async () => {
    const { press, frame } = await mount({
      failed: [failed()],
      workers: [{ id: 'w_abc', pid: 4242, hostname: 'box', version: '0.1.0', queues: ['default'], concurrency: 4, busy: 1, status: 'running', startedAt: NOW - 3_600_000, heartbeatAt: NOW - 2_000, supervisors: [] }],
      batches: [{ id: 'b-123456789', name: 'nightly', total: 10, pending: 3, processed: 5, failed: 2, cancelled: 0, allowFailures: true, createdAt: NOW - 60_000, finishedAt: null, cancelledAt: null, thenDispatched: false, catchDispatched: false, finallyDispatched: false }],
    });
    await press('2');
    expect(frame()).toContain('[2 Jobs]');
    expect(frame()).toContain('[pending]');
    await press('3');
    expect(frame()).toContain('1 failed job in 1 group');
    expect(frame()).toContain('GitHub answered 502 after 3000 ms');
    await press('4');
    expect(frame()).toMatch(/ERROR RATE/);
    expect(frame()).toContain('10.0%');
    await press('5');
    expect(frame()).toContain('[1h]');
    expect(frame()).toMatch(/queue\s+default\s+90\s+10\s+1\.7/);
    await press('6');
    expect(frame()).toMatch(/w_abc\s+4242\s+box\s+running\s+1\/4\s+1h 0m\s+2s ago/);
    await press('7');
    expect(frame()).toMatch(/nightly\s+█+▓+░+\s+7\/10\s+2/);
  });

  it('shows each live daemon\'s supervisors with balance and busy/slots per queue, paused supervisors and the throttles holding jobs back', async () => {
    const sup = (over: Partial<SupervisorState>): SupervisorState => ({
      name: 'web', queues: ['high', 'default'], balance: 'auto', autoScalingStrategy: 'size', maxProcesses: 8, minProcesses: 1, balanceMaxShift: 1,
      balanceCooldown: 3, paused: false, busy: 5, slots: { high: 1, default: 6 }, busyByQueue: { high: 0, default: 5 }, scaledAt: NOW - 1_000, ...over,
    });
    const { press, frame } = await mount({
      columns: 120,
      workers: [{
        id: 'w_abc', pid: 4242, hostname: 'box', version: '0.1.0', queues: ['high', 'default', 'low'], concurrency: 10, busy: 5, status: 'running',
        startedAt: NOW - 60_000, heartbeatAt: NOW - 1_000,
        supervisors: [sup({}), sup({ name: 'bg', queues: ['low'], balance: 'simple', maxProcesses: 2, paused: true, busy: 0, slots: { low: 2 }, busyByQueue: { low: 0 } })],
      }],
      pausedSupervisors: ['bg'],
      throttles: [
        { kind: 'queue', name: 'low', max: 3, perSeconds: 5, used: 3, windowEndsAt: NOW + 2_000, throttled: true, waiting: 6 },
        { kind: 'job', name: 'fetch-github', max: 10, perSeconds: 60, used: 2, windowEndsAt: NOW + 30_000, throttled: false, waiting: 0 },
      ],
    });
    await press('6');
    const f = frame();
    expect(f).toContain('Daemons claiming · paused supervisors: bg');
    expect(f).toMatch(/w_abc\s+web\s+auto size ±1\/3s\s+running\s+5\/8 busy\s+high 0\/1\s+default 5\/6/);
    expect(f).toMatch(/w_abc\s+bg\s+simple\s+PAUSED\s+0\/2 busy\s+low 0\/2/);
    expect(f).toMatch(/queue low\s+3\/3 per 5s\s+6 waiting\s+opens in 2s/);
    // An open throttle holds nothing back: not listed.
    expect(f).not.toContain('fetch-github');
  });

  it('shows held job names with their reason and the notes under the daemons (GitHub\'s budget)', async () => {
    const { press, frame } = await mount({
      columns: 160,
      holds: [{ name: 'fetch-github', until: NOW + 600_000, reason: 'GitHub rate limit of anon spent', setAt: NOW, waiting: 12 }],
      notes: ['GitHub anon: REST 0/60 left; resets 13:00 UTC; about 0 analyses affordable in this window'],
    });
    await press('6');
    const f = frame();
    expect(f).toContain('Held (jobs wait as pending until the hold ends)');
    expect(f).toMatch(/fetch-github\s+12 waiting\s+ends in 10m 0s\s+GitHub rate limit of anon spent/);
    expect(f).toContain('GitHub anon: REST 0/60 left; resets 13:00 UTC; about 0 analyses affordable');
  });

  it('lists jobs by state with columns that fit, and opens a job with payload, chain and attempts', async () => {
    const jobs = [
      job({ id: 11, state: 'pending', name: 'fetch-github' }),
      job({
        id: 12, state: 'failed', name: 'write-review', attempts: 2, finishedAt: NOW - 30_000, reservedAt: NOW - 31_000, batchId: 'batch-1',
        chain: { next: [{ name: 'notify' }], catch: { name: 'mark-failed' } },
        errors: [{ attempt: 1, at: NOW - 40_000, message: 'timeout', stack: 'Error: timeout\n    at run (w.ts:3:1)' }, { attempt: 2, at: NOW - 30_000, message: 'boom' }],
      }),
    ];
    const { press, frame, source } = await mount({ jobs, screen: 'jobs' });
    expect(frame()).toMatch(/11 default fetch-github/);
    expect(frame()).toContain('PAYLOAD');
    await press(KEY.tab, KEY.tab, KEY.tab, KEY.tab);
    expect(frame()).toContain('[failed]');
    expect(frame()).toMatch(/12 default write-review\s+30s ago\s+2\/3 boom/);
    await press(KEY.enter);
    const f = frame();
    expect(source.calls).toContain('job 12');
    expect(f).toContain('Job #12  write-review  on queue default  ·  failed');
    expect(f).toContain('batch     batch-1');
    expect(f).toContain('chain     next: notify; catch: mark-failed');
    expect(f).toContain('"username": "octocat"');
    expect(f).toContain('#1 at 2026-01-01 11:59:20Z: timeout');
    expect(f).toContain('at run (w.ts:3:1)');
    await press(KEY.esc);
    expect(frame()).toContain('[failed]');
  });

  it('filters jobs with /', async () => {
    const { press, frame, source } = await mount({ jobs: [job({ id: 1, queue: 'high' }), job({ id: 2, queue: 'low' })], screen: 'jobs' });
    await press('/', 'q', 'u', 'e', 'u', 'e', ':', 'l', 'o', 'w');
    expect(frame()).toContain('/ queue:low█');
    await press(KEY.enter);
    expect(source.calls.at(-1)).toBe('jobs pending {"queue":"low"}');
    expect(frame()).toContain('filter: queue:low');
    expect(frame()).not.toMatch(/^\s*› 1 high/m);
  });

  it('retries a failed group and forgets a marked row only after y', async () => {
    const rows = [
      failed({ uuid: 'a1', error: 'GitHub answered 502 for user 1 after 3000 ms', failedAt: NOW - 1_000 }),
      failed({ uuid: 'a2', error: 'GitHub answered 503 for user 2 after 2000 ms', failedAt: NOW - 2_000 }),
      failed({ uuid: 'b1', error: 'model refused', failedAt: NOW - 9_000 }),
    ];
    const { press, frame, source } = await mount({ failed: rows, screen: 'failed' });
    expect(frame()).toContain('3 failed jobs in 2 groups');
    expect(frame()).toMatch(/›\s+2\s+1s ago\s+2s ago/);
    await press('r');
    expect(source.acted).toEqual(['retry a1,a2']);
    expect(frame()).toContain('retried 2 failed jobs');
    expect(frame()).toContain('1 failed job in 1 group');
    await press(KEY.space);
    expect(frame()).toContain('1 marked');
    await press('d');
    expect(frame()).toContain('Forget 1 failed job? This cannot be undone. y/N');
    await press('n');
    expect(source.acted).toEqual(['retry a1,a2']);
    await press('d', 'y');
    expect(source.acted).toEqual(['retry a1,a2', 'forget b1']);
    expect(frame()).toContain('no failed jobs');
  });

  it('pauses and continues queues, pauses and stops daemons', async () => {
    const { press, source } = await mount({ screen: 'queues' });
    await press('p', KEY.down, KEY.down, 'p');
    expect(source.acted).toEqual(['pause high', 'continue low']);
    await press('6', 'p', 's', 'y');
    expect(source.acted).toEqual(['pause high', 'continue low', 'daemons pause', 'stop']);
  });

  it('disables every action when read-only', async () => {
    const { press, frame, source } = await mount({ failed: [failed()], screen: 'failed', readonly: true });
    expect(frame()).toContain('read-only');
    expect(frame()).not.toContain('r retry');
    await press('r', 'd', '4', 'p');
    expect(source.acted).toEqual([]);
    expect(frame()).toContain('read-only monitor: actions are disabled');
  });

  it('shows the help overlay from the keymap and closes it with Esc', async () => {
    const { press, frame } = await mount();
    await press('?');
    expect(frame()).toContain('Navigation');
    expect(frame()).toMatch(/Ctrl\+R\s+refresh now/);
    expect(frame()).toMatch(/z\s+freeze \/ resume updates/);
    await press(KEY.esc);
    expect(frame()).not.toContain('Navigation');
    expect(frame()).toContain('[1 Overview]');
  });

  it('refreshes on Ctrl+R, also while frozen', async () => {
    const { press, frame, source } = await mount();
    const before = source.calls.filter((c) => c === 'overview').length;
    await press('z');
    expect(frame()).toContain('FROZEN');
    await press(KEY.ctrlR);
    expect(source.calls.filter((c) => c === 'overview').length).toBe(before + 1);
  });

  it('quits on q at the root and on Ctrl+C', async () => {
    const a = await mount();
    await a.press('2', 'q');
    expect(a.frame()).toContain('[1 Overview]');
    await a.press('q');
    // Ink has unmounted: further keys change nothing and throw nothing.
    const b = await mount({ screen: 'metrics' });
    await b.press(KEY.ctrlC);
    await b.press('1');
    expect(b.frame()).toContain('[5 Metrics]');
  });

  it('drops columns on a narrow terminal instead of wrapping', async () => {
    const { frame } = await mount({ columns: 44, failed: [failed({ error: 'x'.repeat(200) })], screen: 'failed' });
    for (const line of frame().split('\n')) expect(line.length).toBeLessThanOrEqual(44);
    expect(frame()).toContain('COUNT');
    expect(frame()).not.toContain('QUEUES');
  });

  it('strips control sequences from payloads and errors', async () => {
    const evil = '\u001b]52;c;cHduZWQ=\u0007\u001b[31mred\u001b[0m\u009b2J';
    const { press, frame } = await mount({ screen: 'jobs', jobs: [job({ id: 5, payload: { bio: evil }, name: 'fetch-github', errors: [{ attempt: 1, at: NOW, message: evil }] })] });
    // eslint-disable-next-line no-control-regex -- the test asserts that no terminal control character got through
    expect(frame()).not.toMatch(/[\u001b\u009b\u0007]/);
    await press(KEY.enter);
    expect(frame()).toContain('red');
    // eslint-disable-next-line no-control-regex -- the test asserts that no terminal control character got through
    expect(frame()).not.toMatch(/[\u001b\u009b\u0007]/);
  });

  it('shows analyses when the source has them, and says so when it has none', async () => {
    const a = await mount({ screen: 'batches', analyses: [{ id: 'abcdef123456', username: 'octocat', status: 'completed', stage: 'done', overall: 73, createdAt: NOW - 5_000, updatedAt: NOW - 1_000, error: null }] });
    await a.press(KEY.tab);
    expect(a.frame()).toMatch(/abcdef12\s+octocat\s+completed\s+done\s+73/);
    const b = await mount({ screen: 'batches' });
    await b.press(KEY.tab);
    expect(b.frame()).toContain('no analyses in this database');
  });

  it('renders --once as plain text without escape codes', () => {
    const out = renderOnce(fakeSource(), clock, 80);
    expect(out).not.toContain('\u001b');
    expect(out).toContain('gitroast monitor · overview');
    expect(out).toContain('Latest job events');
    expect(out).not.toContain('? help');
  });
});

describe('Tags and metric charts (issue 15)', () => {
  it('shows max throughput on the overview next to max wait and max runtime', async () => {
    const { frame } = await mount();
    expect(frame()).toMatch(/Max throughput default 13\/min\s+Max wait default/);
  });

  it('opens a metric row\'s chart with Enter: throughput and runtime as block charts, Tab switches the window, Esc goes back', async () => {
    const { frame, press, source } = await mount({ screen: 'metrics' });
    await press(KEY.enter);
    const f = frame();
    expect(f).toContain('Queue default');
    expect(f).toMatch(/Throughput: \d+ jobs, peak 11(\.0)?\/min/);
    expect(f).toContain('Runtime (average): peak 600ms');
    expect(f).toMatch(/[▁▂▃▄▅▆▇█]{10,}/);
    expect(f).toContain('60 min ago');
    expect(source.calls).toContain('chart queue default 1h');
    await press(KEY.tab);
    expect(source.calls).toContain('chart queue default 24h');
    expect(frame()).toContain('[24h]');
    await press(KEY.esc);
    expect(frame()).toContain('RT P95');
  });

  it('lists monitored tags with their counts on screen 8, and Enter opens a tag\'s recent and failed jobs', async () => {
    const bad = job({ id: 31, name: 'charge', state: 'failed', finishedAt: NOW - 120_000, attempts: 3, errors: [{ attempt: 3, at: NOW - 120_000, message: 'card declined' }], tags: ['customer:42'] });
    const ok = job({ id: 30, name: 'invoice', state: 'completed', finishedAt: NOW - 60_000, reservedAt: NOW - 61_000, tags: ['customer:42'] });
    const { frame, press } = await mount({
      tags: [{ tag: 'customer:42', since: NOW - 3_600_000, total: 2, counts: { pending: 0, delayed: 0, reserved: 0, completed: 1, failed: 1, cancelled: 0 }, recent: [bad, ok], failed: [bad] }],
    });
    await press('8');
    const f = frame();
    expect(f).toContain('[8 Tags]');
    expect(f).toMatch(/customer:42\s+0\s+0\s+1\s+1/);
    await press(KEY.enter);
    const d = frame();
    expect(d).toContain('Tag customer:42');
    expect(d).toContain('completed 1   failed 1');
    expect(d).toContain('#30  invoice');
    expect(d).toContain('card declined');
  });
});
