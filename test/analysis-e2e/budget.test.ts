import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newbie, strongDev } from '../fakes/github.js';
import { tempDir } from '../support/tmp.js';
import { TOKEN, world } from './helpers.js';

/** Issue 18: `analyze` and `batch` say what GitHub's budget means before they start; `status` shows it. */
describe('the GitHub budget through the built binary', () => {
  it('analyze without a token says the hourly rate and what a token makes it, on stderr', async () => {
    const w = await world([strongDev(Date.now())]);
    const r = await w.run(['analyze', 'adadev', '--detach']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('no GITHUB_TOKEN: about 15 reviews an hour; set GITHUB_TOKEN for about 2,500\n');
    expect(r.stdout).not.toContain('GITHUB_TOKEN');
  });

  it('batch gives the expected finish time', async () => {
    const now = Date.now();
    const w = await world([strongDev(now), newbie(now)]);
    const file = path.join(tempDir(), 'logins.txt');
    fs.writeFileSync(file, Array.from({ length: 30 }, (_, i) => `user-${i}`).join('\n'));
    const b = await w.run(['batch', file, '--detach']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toContain('no GITHUB_TOKEN: about 15 reviews an hour');
    // 30 analyses at 15 an hour, nothing known of the budget yet: about 2 hours.
    expect(b.stderr).toMatch(/30 analyses at about 15 an hour: expected to finish around \d{4}-\d\d-\d\d \d\d:\d\dZ \(in (1h ?59m|2h)/);
  });

  it('status shows the budget per token fingerprint once answers told it, never the token', async () => {
    const w = await world([strongDev(Date.now())]);
    const a = await w.run(['analyze', 'adadev'], { env: { GITHUB_TOKEN: TOKEN } });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).not.toContain('no GITHUB_TOKEN');
    const s = await w.run(['status', '--json']);
    const report = JSON.parse(s.stdout) as { github: { fingerprint: string; affordable: number; rest: { remaining: number } }[] };
    expect(report.github).toHaveLength(1);
    expect(report.github[0]!.fingerprint).toMatch(/^tok-[0-9a-f]{16}$/);
    expect(report.github[0]!.rest.remaining).toBe(4999);
    expect(report.github[0]!.affordable).toBe(2499);
    expect(s.stdout).not.toContain(TOKEN);
    const text = await w.run(['status']);
    expect(text.stdout).toMatch(/github +tok-[0-9a-f]{16}: REST 4,999\/5,000, GraphQL 4,998\/5,000 left; resets \d\d:\d\d UTC; about 2,499 analyses affordable in this window/);
  });
});
