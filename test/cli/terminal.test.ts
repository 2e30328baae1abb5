import { describe, expect, it } from 'vitest';
import { quoteUntrusted, safeLine, safeText } from '../../src/util/terminal.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe('terminal safety', () => {
  it.each([
    ['c\u001b[31mred\u001b[0m', 'cred'],
    ['a\u001b]0;title\u0007b', 'ab'],
    ['a\u001b]8;;https://e\u001b\\link\u001b]8;;\u001b\\b', 'alinkb'],
    ['p\u009b2Jq', 'pq'],
    ['v\u0090q\u009cw', 'vw'],
    ['keep\ttabs\nand lines\r\n', 'keep\ttabs\nand lines\n'],
    ['zero\u200bwidth \u202eright-to-left', 'zerowidth right-to-left'],
  ])('strips the control sequences of %j', (input, want) => {
    expect(safeText(input)).toBe(want);
  });

  it('keeps the text after a string sequence that is never terminated, without its introducer', () => {
    expect(safeText('x\u009dy summary')).toBe('xy summary');
    expect(safeText('u\u001b]0;no end here')).toBe('u0;no end here');
    expect(safeText('d\u001bPq data')).toBe('dq data');
  });

  it('leaves no C0 or C1 control in any mix of pieces', () => {
    const pieces = ['\u001b', '[', ']', 'P', '\u0007', '\u009b', '\u009d', '\u009c', '\\', '0', ';', 'm', 'x', '\u0000', '\u007f', '\u0085'];
    for (let seed = 1; seed < 2000; seed++) {
      let s = '';
      for (let i = 0, r = seed; i < 12; i++, r = (r * 1103515245 + 12345) % 2 ** 31) s += pieces[r % pieces.length];
      expect(safeText(s)).not.toMatch(CONTROL);
      expect(safeLine(s)).not.toMatch(/[\n\t]/);
    }
  });

  it('quotes a bad value with its controls visible as escapes', () => {
    expect(quoteUntrusted('ada\u001b[31m\u009b')).toBe('"ada\\u001b[31m\\u009b"');
  });
});
