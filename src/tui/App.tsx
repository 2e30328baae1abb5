/**
 * The monitor's top-level component. It owns the only timer (the refresh interval), the
 * reducer, key input, terminal size, data fetching and running actions; everything it
 * draws is a pure function of the state (screens.tsx).
 */
import { useEffect, useLayoutEffect, useReducer, useState } from 'react';
import { renderToString, useApp, useInput, useStdout } from 'ink';
import { coerceError } from '../queue/errors.js';
import { safeLine } from '../util/terminal.js';
import { fetchView } from './fetch.js';
import { keyName, resolveKey } from './keymap.js';
import { Frame, Header, Overview } from './screens.js';
import { initialState, reduce, request, type Action, type Command, type Screen, type State } from './state.js';
import type { Actions, Clock, DataSource } from './types.js';
import { Box } from 'ink';
import { ThemeContext, type Theme } from './ui.js';

export interface MonitorProps {
  source: DataSource;
  clock: Clock;
  /** Refresh interval in ms; 0 refreshes only on Ctrl+R and view changes. */
  refreshMs: number;
  /** Disable every action. Default false. */
  readonly?: boolean;
  /** Default `color`. */
  theme?: Theme;
  /** Fixed terminal size (tests); default: the output stream's, following resizes. */
  size?: { columns: number; rows: number };
  /** Read keys. Default true; false when stdin is not a terminal. */
  interactive?: boolean;
  /** First screen. Default overview. */
  screen?: Screen;
  /**
   * Run a view's reads or an action over the source: by default directly; over an
   * asynchronous source (PostgreSQL), by replay (src/queue/store-model.ts), `source` being its stand-in.
   */
  run?: <T>(fn: (source: DataSource) => T) => Promise<T>;
}

type AppAction = Action | { type: 'key'; name: string };

/** The reducer plus key resolution: a key press becomes the keymap's action for this state. */
export function appReducer(state: State, action: AppAction): State {
  if (action.type === 'key') {
    const a = resolveKey(state, action.name);
    return a ? reduce(state, a) : state;
  }
  return reduce(state, action);
}

/** Run a command through the source's actions; returns the footer message. */
function runCommand(actions: Actions, c: Command): string {
  switch (c.kind) {
    case 'retryFailed':
      return actions.retryFailed(c.uuids);
    case 'forgetFailed':
      return actions.forgetFailed(c.uuids);
    case 'pauseQueue':
      return actions.pauseQueue(c.queue);
    case 'continueQueue':
      return actions.continueQueue(c.queue);
    case 'pauseDaemons':
      return actions.pauseDaemons(c.paused);
    case 'stopDaemons':
      return actions.stopDaemons();
    case 'retryBatch':
      return actions.retryBatch(c.id);
    case 'cancelBatch':
      return actions.cancelBatch(c.id);
    case 'clearQueue':
      return actions.clearQueue(c.queue);
    case 'cancelJob':
      return actions.cancelJob(c.id);
  }
}

export function Monitor({ source, clock, refreshMs, readonly = false, theme = 'color', size, interactive = true, screen, run }: MonitorProps) {
  const { stdout } = useStdout();
  const { exit } = useApp();
  const [width, setWidth] = useState(size?.columns ?? (stdout.columns || 100));
  const [state, dispatch] = useReducer(appReducer, undefined, () =>
    initialState({ now: clock.now(), readonly: readonly || !source.actions, rows: size?.rows ?? (stdout.rows || 24), screen }),
  );

  // Resizing redraws at the new size.
  useEffect(() => {
    if (size) return;
    const onResize = () => {
      setWidth(stdout.columns || 100);
      dispatch({ type: 'resize', rows: stdout.rows || 24 });
    };
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, size]);

  // The one timer: each tick advances the clock and (unless frozen) asks for fresh data.
  useEffect(() => {
    if (!refreshMs) return;
    const timer = setInterval(() => dispatch({ type: 'tick', now: clock.now() }), refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs, clock]);

  // Fetch whenever the view or the refresh sequence changes: one short read per view.
  const req = request(state);
  const key = JSON.stringify(req);
  // A layout effect: the data lands in the same commit, so a screen never flashes "loading…".
  useLayoutEffect(() => {
    const now = clock.now();
    if (run) {
      // Asynchronous: the data lands when it arrives, unless the view changed meanwhile.
      let current = true;
      run((s) => fetchView(s, req, now)).then(
        (data) => current && dispatch({ type: 'data', data, now: clock.now() }),
        (err: unknown) => current && dispatch({ type: 'fetchError', message: coerceError(err).message, now: clock.now() }),
      );
      return () => {
        current = false;
      };
    }
    try {
      dispatch({ type: 'data', data: fetchView(source, req, now), now });
    } catch (err) {
      dispatch({ type: 'fetchError', message: coerceError(err).message, now });
    }
    return undefined;
    // `req` is in the list through `key`, its JSON: a new object with the same request must not fetch again.
  }, [key, source, clock, run]);

  // Run a confirmed action through src/queue's operations (a short-lived writable connection).
  useLayoutEffect(() => {
    const c = state.command;
    if (!c) return;
    dispatch({ type: 'commandStarted' });
    const now = clock.now();
    if (!source.actions) {
      dispatch({ type: 'commandDone', message: 'read-only monitor: actions are disabled', error: true, now });
      return;
    }
    if (run) {
      run((s) => runCommand(s.actions!, c)).then(
        (message) => dispatch({ type: 'commandDone', message, now: clock.now() }),
        (err: unknown) => dispatch({ type: 'commandDone', message: `failed: ${safeLine(coerceError(err).message)}`, error: true, now: clock.now() }),
      );
      return;
    }
    try {
      dispatch({ type: 'commandDone', message: runCommand(source.actions, c), now });
    } catch (err) {
      dispatch({ type: 'commandDone', message: `failed: ${safeLine(coerceError(err).message)}`, error: true, now });
    }
  }, [state.command, source, clock, run]);

  useEffect(() => {
    if (state.quit) exit();
  }, [state.quit, exit]);

  useInput((input, k) => dispatch({ type: 'key', name: keyName(input, k) }), { isActive: interactive });

  return (
    <ThemeContext.Provider value={theme}>
      <Frame state={state} width={width} />
    </ThemeContext.Provider>
  );
}

/**
 * Render one plain-text frame of the overview (for `--once`): no raw mode, no colour, no
 * key hints, every event of the live tail.
 */
export function renderOnce(source: Pick<DataSource, 'overview'>, clock: Clock, columns = 100): string {
  const now = clock.now();
  const overview = source.overview(now);
  const state = { ...initialState({ now, readonly: true, rows: 1000 }), data: { overview, header: overview.header } };
  const out = renderToString(
    <ThemeContext.Provider value="plain">
      <Box flexDirection="column" width={columns}>
        <Header state={state} width={columns} once />
        <Overview data={overview} width={columns} height={1000} now={now} />
      </Box>
    </ThemeContext.Provider>,
    { columns },
  );
  return out.split('\n').map((l) => l.trimEnd()).join('\n').replace(/\n+$/, '') + '\n';
}
