import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/tmp.js';

/** Every file whose comments or text may cite a document: the code, the benches, the docs. */
function citingFiles(): string[] {
  const walk = (dir: string): string[] =>
    fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) return walk(rel);
      return /\.(ts|tsx|mjs|js|md)$/.test(e.name) ? [rel] : [];
    });
  return [...walk('src'), ...walk('bench'), ...walk('docs'), 'README.md'];
}

/**
 * The Markdown files `text` cites: `docs/wake-up.md`, `src/analysis/FORMULA.md`, or a bare
 * `FORMULA.md`. URLs are left out (another site's pages are not this repository's files).
 */
function citations(text: string): string[] {
  const withoutUrls = text.replace(/\bhttps?:\/\/\S+/g, '');
  return [...withoutUrls.matchAll(/(?<![\w./-])((?:[\w.-]+\/)*[\w.-]+\.md)\b/g)].map((m) => m[1]!);
}

/** The comments of a source file (where code cites documents); a Markdown file is all text. */
function citingText(file: string, text: string): string {
  if (file.endsWith('.md')) return text;
  return [...text.matchAll(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g)].map((m) => m[0]).join('\n');
}

describe('documents cited by the code, the benches and the docs', () => {
  it('are found by the citing pass itself (it sees a cited path)', () => {
    expect(citations('see docs/wake-up.md: lost wake-ups; also FORMULA.md and https://x.org/a.md')).toEqual(['docs/wake-up.md', 'FORMULA.md']);
    // In code only comments cite: a file name in a string literal is data (README names GitHub looks for).
    expect(citations(citingText('x.ts', `// see docs/wake-up.md\nconst names = ['readme.md'];\n/* and FORMULA.md */`))).toEqual(['docs/wake-up.md', 'FORMULA.md']);
  });

  it('exist in the repository: a path from its root, a bare name beside the citing file or at the root', () => {
    const missing: string[] = [];
    let cited = 0;
    for (const file of citingFiles()) {
      for (const c of citations(citingText(file, fs.readFileSync(path.join(ROOT, file), 'utf8')))) {
        cited++;
        const candidates = c.includes('/') ? [c, path.join(path.dirname(file), c)] : [path.join(path.dirname(file), c), c];
        if (!candidates.some((p) => fs.existsSync(path.join(ROOT, p)))) missing.push(`${file} cites ${c}`);
      }
    }
    expect(cited).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });
});
