import { describe, expect, it } from 'vitest';
import { BINDINGS, footerHints, helpSections, keyName, resolveKey } from '../../src/tui/keymap.js';
import { initialState, type State } from '../../src/tui/state.js';
import { NOW, failed } from './fake.js';

const base = initialState({ now: NOW });
const at = (over: Partial<State>): State => ({ ...base, ...over });
const withFailed = at({ screen: 'failed', data: { failed: [failed()] } });

describe('keyName', () => {
  it.each([
    ['j', {}, 'j'],
    ['G', { shift: true }, 'G'],
    ['', { downArrow: true }, 'down'],
    ['', { upArrow: true }, 'up'],
    ['', { pageDown: true }, 'pagedown'],
    ['', { pageUp: true }, 'pageup'],
    ['', { return: true }, 'enter'],
    ['', { escape: true }, 'esc'],
    ['r', { ctrl: true }, 'ctrl+r'],
    ['c', { ctrl: true }, 'ctrl+c'],
    [' ', {}, 'space'],
    ['', { tab: true }, 'tab'],
    ['', { tab: true, shift: true }, 'shift+tab'],
    ['', { backspace: true }, 'backspace'],
  ])('names %j %j as %s', (input, key, want) => {
    expect(keyName(input, key)).toBe(want);
  });
});

describe('resolveKey', () => {
  const table: { name: string; state: State; key: string; want: unknown }[] = [
    { name: 'number keys switch screens', state: base, key: '3', want: { type: 'screen', screen: 'failed' } },
    { name: '7 opens batches', state: base, key: '7', want: { type: 'screen', screen: 'batches' } },
    { name: 'j moves down', state: at({ screen: 'jobs' }), key: 'j', want: { type: 'move', delta: 1 } },
    { name: 'down arrow moves down', state: at({ screen: 'jobs' }), key: 'down', want: { type: 'move', delta: 1 } },
    { name: 'k moves up', state: at({ screen: 'jobs' }), key: 'k', want: { type: 'move', delta: -1 } },
    { name: 'g goes to the top', state: at({ screen: 'jobs' }), key: 'g', want: { type: 'top' } },
    { name: 'G goes to the bottom', state: at({ screen: 'jobs' }), key: 'G', want: { type: 'bottom' } },
    { name: 'PgDn pages down', state: at({ screen: 'jobs' }), key: 'pagedown', want: { type: 'page', dir: 1 } },
    { name: 'PgUp pages up', state: at({ screen: 'jobs' }), key: 'pageup', want: { type: 'page', dir: -1 } },
    { name: 'Enter opens on Jobs', state: at({ screen: 'jobs' }), key: 'enter', want: { type: 'open' } },
    { name: 'Enter does nothing on the overview', state: base, key: 'enter', want: undefined },
    { name: 'q at the root quits (via back)', state: base, key: 'q', want: { type: 'back' } },
    { name: 'Esc on a screen goes back', state: at({ screen: 'queues' }), key: 'esc', want: { type: 'back' } },
    { name: 'Ctrl+C quits from anywhere', state: at({ mode: 'filter', screen: 'jobs' }), key: 'ctrl+c', want: { type: 'quit' } },
    { name: '/ starts a filter on Jobs', state: at({ screen: 'jobs' }), key: '/', want: { type: 'filterStart' } },
    { name: 'typing goes into the filter', state: at({ screen: 'jobs', mode: 'filter' }), key: 'q', want: { type: 'filterInput', text: 'q' } },
    { name: 'digits go into the filter, not to screens', state: at({ screen: 'jobs', mode: 'filter' }), key: '3', want: { type: 'filterInput', text: '3' } },
    { name: 'Enter applies the filter', state: at({ screen: 'jobs', mode: 'filter' }), key: 'enter', want: { type: 'filterApply' } },
    { name: 'Esc cancels the filter', state: at({ screen: 'jobs', mode: 'filter' }), key: 'esc', want: { type: 'filterCancel' } },
    { name: 'Backspace edits the filter', state: at({ screen: 'jobs', mode: 'filter' }), key: 'backspace', want: { type: 'filterBackspace' } },
    { name: 'Space marks on Failed', state: withFailed, key: 'space', want: { type: 'mark' } },
    { name: 'r retries on Failed', state: withFailed, key: 'r', want: { type: 'retry' } },
    { name: 'd forgets on Failed', state: withFailed, key: 'd', want: { type: 'forget' } },
    { name: 'p pauses on Queues', state: at({ screen: 'queues' }), key: 'p', want: { type: 'pause' } },
    { name: 's stops on Workers', state: at({ screen: 'workers' }), key: 's', want: { type: 'stop' } },
    { name: 's does nothing elsewhere', state: base, key: 's', want: undefined },
    { name: 'z freezes', state: base, key: 'z', want: { type: 'freeze' } },
    { name: 'Ctrl+R refreshes now', state: base, key: 'ctrl+r', want: { type: 'refresh' } },
    { name: '? opens help', state: base, key: '?', want: { type: 'help' } },
    { name: 'Esc closes help', state: at({ help: true }), key: 'esc', want: { type: 'help' } },
    { name: 'j does nothing under help', state: at({ help: true }), key: 'j', want: undefined },
    { name: 'y confirms', state: at({ mode: 'confirm' }), key: 'y', want: { type: 'confirmYes' } },
    { name: 'anything else declines', state: at({ mode: 'confirm' }), key: 'n', want: { type: 'confirmNo' } },
    { name: 'Enter declines too (N is the default)', state: at({ mode: 'confirm' }), key: 'enter', want: { type: 'confirmNo' } },
    { name: 'Tab switches the jobs tab', state: at({ screen: 'jobs' }), key: 'tab', want: { type: 'tab', dir: 1 } },
    { name: 'left switches the metrics window back', state: at({ screen: 'metrics' }), key: 'left', want: { type: 'tab', dir: -1 } },
    { name: 'Tab does nothing in a job detail', state: at({ screen: 'jobs', jobId: 3 }), key: 'tab', want: undefined },
    { name: 'unknown keys do nothing', state: base, key: 'x', want: undefined },
  ];
  it.each(table)('$name', ({ state, key, want }) => {
    expect(resolveKey(state, key)).toEqual(want);
  });
});

describe('footer and help come from the registry', () => {
  it('shows the actions that apply on the Failed screen', () => {
    const labels = footerHints(withFailed).map((h) => h.label);
    expect(labels).toEqual(expect.arrayContaining(['mark', 'retry', 'forget', 'back', 'help', 'freeze']));
    expect(labels).not.toContain('stop daemons');
  });
  it('hides actions when read-only', () => {
    const labels = footerHints({ ...withFailed, readonly: true }).map((h) => h.label);
    expect(labels).not.toContain('retry');
    expect(labels).not.toContain('mark');
  });
  it('shows y/N while confirming', () => {
    expect(footerHints(at({ mode: 'confirm' }))[0]).toEqual({ key: 'y', label: 'yes' });
  });
  it('lists every visible binding in help, grouped', () => {
    const sections = helpSections(false);
    expect(sections.map((s) => s.title)).toEqual(['Screens', 'Navigation', 'Actions', 'View']);
    const keys = sections.flatMap((s) => s.rows.map((r) => r.key));
    for (const b of BINDINGS.filter((x) => !x.hidden)) expect(keys).toContain(b.display);
    expect(keys).toEqual(expect.arrayContaining(['1', '7', 'j/↓', 'k/↑', 'g', 'G', 'PgDn', 'PgUp', 'Enter', 'Esc/q', 'Ctrl+C', '/', 'Space', 'r', 'd', 'p', 'z', 'Ctrl+R', '?']));
  });
  it('says actions are disabled in help when read-only', () => {
    expect(helpSections(true)[2]!.title).toMatch(/disabled/);
  });
});
