import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitroast } from '../support/cli.js';
import { tempDbPath, tempDir } from '../support/tmp.js';

/** An environment with no config file and no tokens. */
function cleanEnv(): NodeJS.ProcessEnv {
  return { XDG_CONFIG_HOME: tempDir(), GITHUB_TOKEN: '', OPENAI_API_KEY: '', GITROAST_CONFIG: '' };
}

describe('plurals in CLI messages', () => {
  it('batch --detach says "2 analyses queued", and "1 analysis queued"', async () => {
    const dir = tempDir();
    const file = tempDbPath();
    fs.writeFileSync(path.join(dir, 'two.txt'), 'octocat\nhubot\n');
    fs.writeFileSync(path.join(dir, 'one.txt'), 'defunkt\n');
    const two = await gitroast(['--db', file, 'batch', path.join(dir, 'two.txt'), '--detach'], { env: cleanEnv() });
    expect(two.code).toBe(0);
    expect(two.stderr).toMatch(/: 2 analyses queued/);
    const one = await gitroast(['--db', file, 'batch', path.join(dir, 'one.txt'), '--detach'], { env: cleanEnv() });
    expect(one.stderr).toMatch(/: 1 analysis queued/);
  });
});
