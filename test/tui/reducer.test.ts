import { describe, expect, it } from 'vitest';
import { appReducer } from '../../src/tui/App.js';
import { fingerprint } from '../../src/tui/format.js';
import { FLASH_MS, failedTargets, groupFailed, initialState, reduce, request, type Action, type State } from '../../src/tui/state.js';
import { NOW, failed, job } from './fake.js';

const base = initialState({ now: NOW, rows: 24 });
const at = (over: Partial<State>): State => ({ ...base, ...over });
const key = (name: string) => ({ type: 'key', name }) as const;

const F1 = failed({ uuid: 'u1', error: 'GitHub answered 502 for user 12 after 3000 ms', failedAt: NOW - 10_000 });
const F2 = failed({ uuid: 'u2', error: 'GitHub answered 503 for user 99 after 2990 ms', failedAt: NOW - 20_000 });
const F3 = failed({ uuid: 'u3', error: 'model refused', failedAt: NOW - 5_000 });
const failedState = at({ screen: 'failed', data: { failed: [F3, F1, F2] } });
const jobsState = at({ screen: 'jobs', data: { jobs: [job({ id: 1 }), job({ id: 2 }), job({ id: 3 })] } });
const queuesState = at({
  screen: 'queues',
  data: { queues: [{ queue: 'high', pending: 0, delayed: 0, reserved: 0, completed: 0, failed: 0, oldestWaitMs: 0, paused: false, perMinute: 0, processed: 0, failedHour: 0, errorRate: null }, { queue: 'low', pending: 0, delayed: 0, reserved: 0, completed: 0, failed: 0, oldestWaitMs: 0, paused: true, perMinute: 0, processed: 0, failedHour: 0, errorRate: null }] },
});

type Event = Action | ReturnType<typeof key>;
const run = (s: State, events: Event[]) => events.reduce((acc, e) => appReducer(acc, e), s);

describe('reducer', () => {
  const table: { name: string; state: State; events: Event[]; want: Partial<State> | ((s: State) => void) }[] = [
    { name: 'switches screens with number keys', state: base, events: [key('4')], want: { screen: 'queues' } },
    { name: 'q at the root quits', state: base, events: [key('q')], want: { quit: true } },
    { name: 'Esc on a screen goes back to the overview', state: at({ screen: 'metrics' }), events: [key('esc')], want: { screen: 'overview', quit: false } },
    { name: 'Ctrl+C quits from a detail', state: at({ screen: 'jobs', jobId: 1 }), events: [key('ctrl+c')], want: { quit: true } },
    { name: 'moves the cursor within bounds', state: jobsState, events: [key('j'), key('j'), key('j'), key('j')], want: (s) => expect(s.cursor['jobs:pending']).toBe(2) },
    { name: 'k at the top stays at 0', state: jobsState, events: [key('k')], want: (s) => expect(s.cursor['jobs:pending']).toBe(0) },
    { name: 'G jumps to the last row', state: jobsState, events: [key('G')], want: (s) => expect(s.cursor['jobs:pending']).toBe(2) },
    { name: 'g returns to the top', state: jobsState, events: [key('G'), key('g')], want: (s) => expect(s.cursor['jobs:pending']).toBe(0) },
    { name: 'PgDn clamps to the last row', state: jobsState, events: [key('pagedown')], want: (s) => expect(s.cursor['jobs:pending']).toBe(2) },
    { name: 'Enter opens the job under the cursor', state: jobsState, events: [key('j'), key('enter')], want: { jobId: 2 } },
    { name: 'Esc closes the job detail', state: jobsState, events: [key('enter'), key('esc')], want: { jobId: null, screen: 'jobs' } },
    { name: 'Tab cycles the jobs tabs', state: jobsState, events: [key('tab'), key('tab')], want: { jobsTab: 'reserved' } },
    { name: 'Shift+Tab wraps backwards', state: jobsState, events: [key('shift+tab')], want: { jobsTab: 'failed' } },
    { name: 'the metrics window cycles 1h → 24h → 7d', state: at({ screen: 'metrics' }), events: [key('tab'), key('tab')], want: { metricsWindow: '7d' } },
    { name: 'the filter collects text and applies on Enter', state: jobsState, events: [key('/'), key('q'), key('u'), key('e'), key('backspace'), key('enter')], want: { jobsFilter: 'qu', mode: 'normal' } },
    { name: 'Esc cancels the filter without applying', state: jobsState, events: [key('/'), key('x'), key('esc')], want: { jobsFilter: '', mode: 'normal' } },
    { name: 'Esc clears an applied filter', state: at({ ...jobsState, jobsFilter: 'queue:low' }), events: [key('esc')], want: { jobsFilter: '', screen: 'jobs' } },
    { name: 'Enter opens a failed group, then a failed job', state: failedState, events: [key('j'), key('enter'), key('enter')], want: { failedGroup: fingerprint(F1.error), failedUuid: 'u1' } },
    { name: 'Space marks a whole group and moves down', state: failedState, events: [key('j'), key('space')], want: (s) => {
      expect([...s.marks].sort()).toEqual(['u1', 'u2']);
    } },
    { name: 'Space again unmarks', state: failedState, events: [key('space'), key('k'), key('space')], want: { marks: [] } },
    { name: 'r retries the group under the cursor', state: failedState, events: [key('j'), key('r')], want: { command: { kind: 'retryFailed', uuids: ['u1', 'u2'] } } },
    { name: 'r retries the marked rows', state: failedState, events: [key('space'), key('r')], want: { command: { kind: 'retryFailed', uuids: ['u3'] } } },
    { name: 'r inside a group retries the one row', state: failedState, events: [key('j'), key('enter'), key('j'), key('r')], want: { command: { kind: 'retryFailed', uuids: ['u2'] } } },
    { name: 'd asks before forgetting', state: failedState, events: [key('d')], want: (s) => {
      expect(s.mode).toBe('confirm');
      expect(s.command).toBeNull();
      expect(s.confirm?.prompt).toMatch(/Forget 1 failed job\? .*y\/N/);
    } },
    { name: 'd then y forgets', state: failedState, events: [key('d'), key('y')], want: { command: { kind: 'forgetFailed', uuids: ['u3'] }, mode: 'normal' } },
    { name: 'd then n keeps them', state: failedState, events: [key('d'), key('n')], want: (s) => {
      expect(s.command).toBeNull();
      expect(s.flash?.text).toBe('cancelled');
    } },
    { name: 'read-only refuses actions with a message', state: { ...failedState, readonly: true }, events: [key('r')], want: (s) => {
      expect(s.command).toBeNull();
      expect(s.flash?.text).toMatch(/read-only/);
    } },
    { name: 'p pauses the queue under the cursor', state: queuesState, events: [key('p')], want: { command: { kind: 'pauseQueue', queue: 'high' } } },
    { name: 'p continues a paused queue', state: queuesState, events: [key('j'), key('p')], want: { command: { kind: 'continueQueue', queue: 'low' } } },
    { name: 'Enter on a queue lists its pending jobs', state: queuesState, events: [key('j'), key('enter')], want: { screen: 'jobs', jobsTab: 'pending', jobsFilter: 'queue:low' } },
    { name: 'p on Workers pauses every daemon', state: at({ screen: 'workers', data: { workers: { workers: [], control: { paused: false, stopRequestedAt: null, pausedSupervisors: [] } } } }), events: [key('p')], want: { command: { kind: 'pauseDaemons', paused: true } } },
    { name: 's on Workers asks, then stops', state: at({ screen: 'workers' }), events: [key('s'), key('y')], want: { command: { kind: 'stopDaemons' } } },
    { name: 'z freezes: ticks stop asking for data', state: base, events: [key('z'), { type: 'tick', now: NOW + 1000 }], want: { frozen: true, refreshSeq: 0, now: NOW + 1000 } },
    { name: 'Ctrl+R refreshes even when frozen', state: base, events: [key('z'), key('ctrl+r')], want: { frozen: true, refreshSeq: 1 } },
    { name: 'ticks ask for data when live', state: base, events: [{ type: 'tick', now: NOW + 1000 }, { type: 'tick', now: NOW + 2000 }], want: { refreshSeq: 2 } },
    { name: 'a flash expires after a while', state: base, events: [key('z'), key('z'), { type: 'tick', now: NOW + FLASH_MS }], want: { flash: null } },
    { name: 'a finished command clears marks and refreshes', state: { ...failedState, marks: ['u3'] }, events: [key('r'), { type: 'commandStarted' }, { type: 'commandDone', message: 'retried 1 failed job', now: NOW }], want: { marks: [], refreshSeq: 1, command: null } },
    { name: 'data clamps the cursor when rows vanish', state: { ...jobsState, cursor: { 'jobs:pending': 2 } }, events: [{ type: 'data', data: { jobs: [job()] }, now: NOW }], want: (s) => expect(s.cursor['jobs:pending']).toBe(0) },
    { name: 'an open failed job that disappears closes', state: { ...failedState, failedGroup: fingerprint(F3.error), failedUuid: 'u3' }, events: [{ type: 'data', data: { failed: [F1] }, now: NOW }], want: { failedUuid: null, failedGroup: null } },
    { name: 'a fetch error is kept until data arrives', state: base, events: [{ type: 'fetchError', message: 'database is locked', now: NOW }], want: { error: 'database is locked' } },
    { name: '? toggles help, number keys close it', state: base, events: [key('?'), key('2')], want: { help: false, screen: 'jobs' } },
    { name: 'resize changes the page size', state: jobsState, events: [{ type: 'resize', rows: 50 }], want: { rows: 50 } },
  ];
  it.each(table)('$name', ({ state, events, want }) => {
    const got = run(state, events);
    if (typeof want === 'function') want(got);
    else expect(got).toMatchObject(want);
  });

  it('asks for new data when the view changes, not otherwise', () => {
    const a = request(base);
    expect(request(reduce(base, { type: 'move', delta: 1 }))).toEqual(a);
    expect(request(reduce(base, { type: 'screen', screen: 'jobs' }))).not.toEqual(a);
  });

  it('groups failed jobs by fingerprint, numbers and ids folded', () => {
    const groups = groupFailed([F1, F2, F3, failed({ uuid: 'u4', error: 'job 0b2f6a1e-1111-4222-8333-444455556666 lost' })]);
    expect(groups.map((g) => g.count)).toEqual([1, 2, 1]);
    const gh = groups.find((g) => g.count === 2)!;
    expect(gh.fingerprint).toBe('GitHub answered # for user # after # ms');
    expect(gh.firstSeen).toBe(F2.failedAt);
    expect(gh.lastSeen).toBe(F1.failedAt);
    expect(groups.some((g) => g.fingerprint === 'job <uuid> lost')).toBe(true);
  });

  it('targets the open failed job before marks', () => {
    expect(failedTargets({ ...failedState, marks: ['u1'], failedUuid: 'u3' })).toEqual(['u3']);
  });
});
