import { describe, expect, it } from 'vitest';
import { appReducer } from '../../src/tui/App.js';
import { footerHints } from '../../src/tui/keymap.js';
import { initialState, type State } from '../../src/tui/state.js';
import { NOW, job } from '../tui/fake.js';

const key = (name: string) => ({ type: 'key', name }) as const;
const run = (s: State, keys: string[]) => keys.reduce((acc, k) => appReducer(acc, key(k)), s);
const queueRow = (queue: string, pending: number) => ({ queue, pending, delayed: 1, reserved: 0, completed: 0, failed: 0, oldestWaitMs: 0, paused: false, perMinute: 0, processed: 0, failedHour: 0, errorRate: null });

describe('monitor: clear a queue and cancel a job', () => {
  const queues = { ...initialState({ now: NOW }), screen: 'queues' as const, data: { queues: [queueRow('high', 0), queueRow('default', 4)] } };
  const jobs = { ...initialState({ now: NOW }), screen: 'jobs' as const, data: { jobs: [job({ id: 7, state: 'pending' }), job({ id: 8, state: 'pending' })] } };

  it('c on Queues asks before clearing, y runs clearQueue, any other key cancels', () => {
    const asked = run(queues, ['j', 'c']);
    expect(asked.mode).toBe('confirm');
    expect(asked.confirm?.prompt).toMatch(/Clear queue default: cancel its 5 pending or delayed jobs\? y\/N/);
    expect(run(asked, ['y']).command).toEqual({ kind: 'clearQueue', queue: 'default' });
    expect(run(asked, ['n']).command).toBeNull();
  });

  it('c on a pending job asks, then cancels that job', () => {
    const asked = run(jobs, ['j', 'c']);
    expect(asked.confirm?.prompt).toMatch(/Cancel job #8/);
    expect(run(asked, ['y']).command).toEqual({ kind: 'cancelJob', id: 8 });
    expect(footerHints(jobs).map((h) => h.label)).toContain('cancel');
  });

  it('--readonly refuses both, saying why', () => {
    for (const s of [{ ...queues, readonly: true }, { ...jobs, readonly: true }]) {
      const after = run(s, ['j', 'c']);
      expect(after.command).toBeNull();
      expect(after.mode).toBe('normal');
      expect(after.flash?.text).toMatch(/read-only/);
      expect(footerHints(s).map((h) => h.label)).not.toContain('cancel');
    }
  });
});

describe('monitor: batch detail', () => {
  it('Enter on a batch opens its detail (jobs by state, callbacks, failures), Esc closes it, and the fetch asks for that batch', async () => {
    const { detailLines, request } = await import('../../src/tui/state.js');
    const { fetchView } = await import('../../src/tui/fetch.js');
    const batch = { id: 'b-1', name: 'nightly', total: 3, pending: 1, processed: 1, failed: 1, cancelled: 0, allowFailures: true, createdAt: NOW - 60_000, finishedAt: null, cancelledAt: null, thenDispatched: false, catchDispatched: true, finallyDispatched: false };
    const s0 = { ...initialState({ now: NOW }), screen: 'batches' as const, data: { batches: [batch] } };
    const open = run(s0, ['enter']);
    expect(open.batchId).toBe('b-1');
    expect(request(open).batchId).toBe('b-1');
    const detail = {
      batch, states: { pending: 1, delayed: 0, reserved: 0, completed: 1, failed: 1, cancelled: 0 },
      jobs: [{ id: 3, name: 'x', queue: 'default', state: 'failed' as const, attempts: 1, finishedAt: NOW - 1000 }],
      failures: [{ jobId: 3, name: 'x', queue: 'default', attempts: 1, error: 'GitHub answered 500', failedAt: NOW - 1000 }],
      callbacks: [{ kind: 'then' as const, name: null, state: 'none' as const }, { kind: 'catch' as const, name: 'cb', state: 'dispatched' as const }, { kind: 'finally' as const, name: 'fin', state: 'waiting' as const }],
    };
    const asked: string[] = [];
    const data = fetchView({ header: () => ({ status: 'active', daemons: 1, busy: 0, slots: 1 }), batch: (id: string) => (asked.push(id), detail) } as never, request(open), NOW);
    expect(asked).toEqual(['b-1']);
    const lines = detailLines({ ...open, data: { ...open.data, ...data } }).join('\n');
    expect(lines).toMatch(/by state {2}1 pending, 1 completed, 1 failed/);
    expect(lines).toMatch(/catch +cb +dispatched/);
    expect(lines).toMatch(/#3 x on default · attempt 1[\s\S]*GitHub answered 500/);
    expect(run(open, ['esc']).batchId).toBeNull();
  });
});
