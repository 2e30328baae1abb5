/**
 * Every key binding in one registry (k9s style): the footer hints and the `?` help overlay
 * are generated from it, and `resolveKey` maps a key press to an action. Pure: tested as a
 * table of {state, key, action}.
 */
import type { Key } from 'ink';
import { SCREENS, inDetail, type Action, type Screen, type State } from './state.js';

/** A binding: the key names it answers to, how it is shown, and the action it makes. */
export interface Binding {
  /** Normalised key names (see keyName). */
  keys: readonly string[];
  /** How the key is shown in the footer and help (`j/↓`). */
  display: string;
  /** Short label for the footer and help. */
  label: string;
  group: 'screens' | 'navigation' | 'actions' | 'view';
  action: Action;
  /** Only on these screens (all when absent). */
  screens?: readonly Screen[];
  /** Only when this holds. */
  when?: (state: State) => boolean;
  /** Shown in the footer (help lists everything). */
  footer?: boolean;
  /** Writes to the database: hidden from the footer when read-only. */
  writes?: boolean;
  /** Longer text for the help overlay (default: label). */
  help?: string;
  /** Not listed in help (a fallback of a listed binding). */
  hidden?: boolean;
}

const screenKeys: Binding[] = SCREENS.map((screen, i) => ({
  keys: [String(i + 1)], display: String(i + 1), label: screen, group: 'screens', action: { type: 'screen', screen },
}));

const listOrDetail = (s: State) => !s.help;
const tabbed = (s: State) => (s.screen === 'jobs' && s.jobId === null) || s.screen === 'metrics' || (s.screen === 'batches' && s.batchId === null);
const failedList = (s: State) => s.screen === 'failed' && s.failedUuid === null;
const failedAny = (s: State) => s.screen === 'failed' && (s.data.failed?.length ?? 0) > 0;
const onBatches = (s: State) => s.screen === 'batches' && s.batchesTab === 'batches';

/** The registry. Order matters: the first binding whose key and condition match wins. */
export const BINDINGS: readonly Binding[] = [
  { keys: ['ctrl+c'], display: 'Ctrl+C', label: 'quit', group: 'view', action: { type: 'quit' } },
  { keys: ['?'], display: '?', label: 'help', group: 'view', action: { type: 'help' }, footer: true },
  ...screenKeys,
  { keys: ['j', 'down'], display: 'j/↓', label: 'down', group: 'navigation', action: { type: 'move', delta: 1 }, when: listOrDetail },
  { keys: ['k', 'up'], display: 'k/↑', label: 'up', group: 'navigation', action: { type: 'move', delta: -1 }, when: listOrDetail },
  { keys: ['g', 'home'], display: 'g', label: 'top', group: 'navigation', action: { type: 'top' }, when: listOrDetail },
  { keys: ['G', 'end'], display: 'G', label: 'bottom', group: 'navigation', action: { type: 'bottom' }, when: listOrDetail },
  { keys: ['pagedown', 'ctrl+f'], display: 'PgDn', label: 'page down', group: 'navigation', action: { type: 'page', dir: 1 }, when: listOrDetail },
  { keys: ['pageup', 'ctrl+b'], display: 'PgUp', label: 'page up', group: 'navigation', action: { type: 'page', dir: -1 }, when: listOrDetail },
  { keys: ['tab', 'right', 'l'], display: 'Tab/→', label: 'next tab', help: 'next tab (job state, metrics window, batches/analyses)', group: 'navigation', action: { type: 'tab', dir: 1 }, when: tabbed, footer: true },
  { keys: ['shift+tab', 'left', 'h'], display: 'S-Tab/←', label: 'previous tab', group: 'navigation', action: { type: 'tab', dir: -1 }, when: tabbed },
  {
    keys: ['enter'], display: 'Enter', label: 'open', help: 'open a job, a failed group or job, a queue\'s jobs, a batch, a metric\'s chart, a monitored tag', group: 'navigation', action: { type: 'open' }, footer: true,
    when: (s) => !inDetail(s) && ((s.screen === 'jobs') || (s.screen === 'failed') || s.screen === 'queues' || s.screen === 'metrics' || s.screen === 'tags' || onBatches(s)),
  },
  { keys: ['esc', 'q'], display: 'Esc/q', label: 'back', help: 'back (quit on the overview)', group: 'navigation', action: { type: 'back' }, footer: true, when: (s) => s.help || s.screen !== 'overview' },
  { keys: ['esc', 'q'], display: 'q', label: 'quit', group: 'navigation', action: { type: 'back' }, footer: true, hidden: true, when: (s) => !s.help && s.screen === 'overview' },
  { keys: ['/'], display: '/', label: 'filter', help: 'filter jobs: queue:NAME name:NAME tag:TAG or text (Jobs)', group: 'view', action: { type: 'filterStart' }, screens: ['jobs'], footer: true },
  { keys: ['space'], display: 'Space', label: 'mark', help: 'mark a failed job or group (Failed)', group: 'actions', action: { type: 'mark' }, when: (s) => failedList(s) && failedAny(s), footer: true, writes: true },
  { keys: ['r'], display: 'r', label: 'retry', help: 'retry the marked / selected failed jobs or group (Failed), a batch\'s failed jobs (Batches)', group: 'actions', action: { type: 'retry' }, when: (s) => failedAny(s) || onBatches(s), footer: true, writes: true },
  { keys: ['d'], display: 'd', label: 'forget', help: 'forget the marked / selected failed jobs, after y/N (Failed)', group: 'actions', action: { type: 'forget' }, when: failedAny, footer: true, writes: true },
  { keys: ['d'], display: 'd', label: 'cancel batch', help: 'cancel the selected batch, after y/N (Batches)', group: 'actions', action: { type: 'forget' }, when: onBatches, footer: true, writes: true },
  { keys: ['p'], display: 'p', label: 'pause/continue', help: 'pause / continue the selected queue (Queues) or every daemon (Workers)', group: 'actions', action: { type: 'pause' }, screens: ['queues', 'workers'], footer: true, writes: true },
  {
    keys: ['c'], display: 'c', label: 'cancel', help: 'clear a queue: cancel its pending and delayed jobs (Queues); cancel a pending or delayed job (Jobs); after y/N',
    group: 'actions', action: { type: 'cancel' }, footer: true, writes: true,
    when: (s) => s.screen === 'queues' || (s.screen === 'jobs' && (s.jobId !== null ? s.data.job?.state === 'pending' || s.data.job?.state === 'delayed' : s.jobsTab === 'pending' || s.jobsTab === 'delayed')),
  },
  { keys: ['s'], display: 's', label: 'stop daemons', help: 'stop every daemon gracefully, after y/N (Workers)', group: 'actions', action: { type: 'stop' }, screens: ['workers'], footer: true, writes: true },
  { keys: ['z'], display: 'z', label: 'freeze', help: 'freeze / resume updates', group: 'view', action: { type: 'freeze' }, footer: true },
  { keys: ['ctrl+r'], display: 'Ctrl+R', label: 'refresh now', group: 'view', action: { type: 'refresh' } },
  // Keys that exist everywhere but only do something on some screens; listed in help.
  { keys: ['r'], display: 'r', label: 'retry', group: 'actions', action: { type: 'retry' }, writes: true, hidden: true },
  { keys: ['d'], display: 'd', label: 'forget', group: 'actions', action: { type: 'forget' }, writes: true, hidden: true },
  { keys: ['p'], display: 'p', label: 'pause/continue', group: 'actions', action: { type: 'pause' }, writes: true, hidden: true },
  { keys: ['/'], display: '/', label: 'filter', group: 'view', action: { type: 'filterStart' }, hidden: true },
];

/** Turn Ink's (input, key) into one key name: `j`, `G`, `down`, `enter`, `esc`, `ctrl+r`, `space`, `shift+tab`. */
export function keyName(input: string, key: Partial<Key>): string {
  if (key.ctrl && input) return `ctrl+${input.toLowerCase()}`;
  if (key.upArrow) return 'up';
  if (key.downArrow) return 'down';
  if (key.leftArrow) return 'left';
  if (key.rightArrow) return 'right';
  if (key.pageUp) return 'pageup';
  if (key.pageDown) return 'pagedown';
  if (key.home) return 'home';
  if (key.end) return 'end';
  if (key.return) return 'enter';
  if (key.escape) return 'esc';
  if (key.tab) return key.shift ? 'shift+tab' : 'tab';
  if (key.backspace || key.delete) return 'backspace';
  if (input === ' ') return 'space';
  return input;
}

function applies(b: Binding, state: State): boolean {
  if (b.screens && !b.screens.includes(state.screen)) return false;
  return b.when ? b.when(state) : true;
}

/**
 * Map a key to an action in this state, or undefined when the key does nothing. The filter
 * prompt takes printable keys as text; a confirmation takes `y` as yes and anything else as no;
 * the help overlay closes on ?, Esc or q.
 */
export function resolveKey(state: State, name: string): Action | undefined {
  if (name === 'ctrl+c') return { type: 'quit' };
  if (state.mode === 'confirm') return name === 'y' || name === 'Y' ? { type: 'confirmYes' } : { type: 'confirmNo' };
  if (state.mode === 'filter') {
    if (name === 'enter') return { type: 'filterApply' };
    if (name === 'esc') return { type: 'filterCancel' };
    if (name === 'backspace') return { type: 'filterBackspace' };
    if (name === 'space') return { type: 'filterInput', text: ' ' };
    // eslint-disable-next-line no-control-regex
    if (name.length >= 1 && !name.includes('+') && !/[\u0000-\u001f\u007f]/.test(name) && ![
      'up', 'down', 'left', 'right', 'pageup', 'pagedown', 'home', 'end', 'tab', 'backspace',
    ].includes(name)) return { type: 'filterInput', text: name };
    return undefined;
  }
  if (state.help) {
    if (name === '?' || name === 'esc' || name === 'q') return { type: 'help' };
    if (new RegExp(`^[1-${SCREENS.length}]$`).test(name)) return { type: 'screen', screen: SCREENS[Number(name) - 1]! };
    return undefined;
  }
  for (const b of BINDINGS) if (b.keys.includes(name) && applies(b, state)) return b.action;
  return undefined;
}

/** The footer hints for this state: the bindings that apply, de-duplicated by label. */
export function footerHints(state: State): { key: string; label: string }[] {
  if (state.mode === 'confirm') return [{ key: 'y', label: 'yes' }, { key: 'any other key', label: 'no' }];
  if (state.mode === 'filter') return [{ key: 'Enter', label: 'apply' }, { key: 'Esc', label: 'cancel' }, { key: 'queue: name: tag:', label: 'fields' }];
  if (state.help) return [{ key: '?/Esc', label: 'close help' }];
  const out: { key: string; label: string }[] = [{ key: `1-${SCREENS.length}`, label: 'screens' }];
  const seen = new Set<string>();
  for (const b of BINDINGS) {
    if (!b.footer || !applies(b, state) || (b.writes && state.readonly)) continue;
    if (seen.has(b.label)) continue;
    seen.add(b.label);
    out.push({ key: b.display, label: b.label });
  }
  return out;
}

/** The help overlay's sections: every distinct binding, grouped. */
export function helpSections(readonly: boolean): { title: string; rows: { key: string; label: string }[] }[] {
  const titles: Record<Binding['group'], string> = { screens: 'Screens', navigation: 'Navigation', actions: readonly ? 'Actions (disabled: --readonly)' : 'Actions', view: 'View' };
  const sections: { title: string; rows: { key: string; label: string }[] }[] = [];
  for (const group of ['screens', 'navigation', 'actions', 'view'] as const) {
    const rows: { key: string; label: string }[] = [];
    const seen = new Set<string>();
    for (const b of BINDINGS) {
      if (b.group !== group || b.hidden) continue;
      const label = b.help ?? b.label;
      if (seen.has(`${b.display} ${label}`)) continue;
      seen.add(`${b.display} ${label}`);
      rows.push({ key: b.display, label });
    }
    sections.push({ title: titles[group], rows });
  }
  return sections;
}
