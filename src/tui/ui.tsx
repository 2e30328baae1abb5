/** Drawing primitives: a theme (colour, mono for NO_COLOR, plain for --once), lines and windowed tables. */
import { createContext, useContext, type ReactNode } from 'react';
import { Box, Text } from 'ink';
import { layout, truncate, type Column } from './format.js';

/** `color`: colours and emphasis; `mono` (NO_COLOR): emphasis only; `plain` (--once): text only. */
export type Theme = 'color' | 'mono' | 'plain';

export const ThemeContext = createContext<Theme>('color');

export type Tone = 'good' | 'warn' | 'bad' | 'dim' | 'accent' | undefined;

const TONES: Record<Exclude<Tone, undefined>, string> = { good: 'green', warn: 'yellow', bad: 'red', dim: 'gray', accent: 'cyan' };

export interface LineProps {
  children: ReactNode;
  tone?: Tone;
  bold?: boolean;
  inverse?: boolean;
}

/** One line of text, never wrapped (cut at the terminal's edge). */
export function Line({ children, tone, bold, inverse }: LineProps) {
  const theme = useContext(ThemeContext);
  if (theme === 'plain') return <Text wrap="truncate-end">{children}</Text>;
  const color = theme === 'color' && tone && tone !== 'dim' ? TONES[tone] : undefined;
  const dim = tone === 'dim' && theme === 'color';
  return (
    <Text wrap="truncate-end" color={color} dimColor={dim} bold={bold} inverse={inverse}>
      {children}
    </Text>
  );
}

/** A span inside a Line. */
export function Span({ children, tone, bold, inverse }: LineProps) {
  const theme = useContext(ThemeContext);
  if (theme === 'plain') return <Text>{children}</Text>;
  const color = theme === 'color' && tone && tone !== 'dim' ? TONES[tone] : undefined;
  return (
    <Text color={color} dimColor={tone === 'dim' && theme === 'color'} bold={bold} inverse={inverse}>
      {children}
    </Text>
  );
}

/** The first row shown so that `cursor` stays visible in a window of `height` rows. */
function windowStart(cursor: number, height: number, length: number): number {
  if (length <= height) return 0;
  return Math.max(0, Math.min(cursor - height + 1 > 0 ? cursor - height + 1 : 0, length - height));
}

export interface TableProps {
  columns: readonly Column[];
  rows: readonly (readonly unknown[])[];
  width: number;
  height: number;
  /** Row under the cursor; omit for a table without one. */
  cursor?: number;
  /** Per-row tone. */
  tones?: readonly Tone[];
  empty?: string;
}

/**
 * A table fitted to `width` (columns dropped, never wrapped) showing a window of `height`
 * rows around the cursor, which is drawn with `›` (and inverse video where allowed).
 */
export function Table({ columns, rows, width, height, cursor, tones, empty }: TableProps) {
  const hasCursor = cursor !== undefined;
  const lay = layout(columns, rows, width - (hasCursor ? 2 : 0));
  const body = Math.max(1, height - 1);
  const start = hasCursor ? windowStart(cursor, body, rows.length) : 0;
  const shown = rows.slice(start, start + body);
  return (
    <Box flexDirection="column" flexShrink={0}>
      <Line bold tone="dim">{(hasCursor ? '  ' : '') + lay.header}</Line>
      {rows.length === 0 && empty ? <Line tone="dim">{(hasCursor ? '  ' : '') + empty}</Line> : null}
      {shown.map((r, i) => {
        const at = start + i;
        const selected = hasCursor && at === cursor;
        return (
          <Line key={at} tone={tones?.[at]} inverse={selected}>
            {truncate((hasCursor ? (selected ? '› ' : '  ') : '') + lay.line(r), width)}
          </Line>
        );
      })}
    </Box>
  );
}
