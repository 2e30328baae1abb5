import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cleanTwin, escapeBio, injected, strongDev } from '../fakes/github.js';
import { API_KEY, CONTROL, jsonLines, TOKEN, world } from './helpers.js';

describe('untrusted text and secrets, end to end', () => {
  it('scores a profile whose bio and README try prompt injection exactly like its clean twin', async () => {
    const now = Date.now();
    const w = await world([injected(now), cleanTwin(now)], { apiKey: API_KEY });
    const r = await w.run(['analyze', 'mallory-dev', 'mallory-twin', '--json'], { env: { OPENAI_API_KEY: API_KEY } });
    expect(r.code).toBe(0);
    const [evil, twin] = jsonLines(r.stdout);
    expect(evil).toMatchObject({ username: 'mallory-dev', status: 'completed' });
    expect(twin).toMatchObject({ username: 'mallory-twin', status: 'completed' });
    expect(evil!.overallScore).toBe(twin!.overallScore);
    expect(evil!.scores).toEqual(twin!.scores);
    const explain = async (login: string) => {
      const s = JSON.parse((await w.run(['show', login, '--json', '--explain'])).stdout) as { signals: { id: string; points: number }[]; dealBreakers: { id: string }[] };
      return { points: s.signals.map((x) => [x.id, x.points]), breakers: s.dealBreakers.map((d) => d.id) };
    };
    expect(await explain('mallory-dev')).toEqual(await explain('mallory-twin'));
    // The model saw the injection only as fenced data.
    const prompt = w.ai!.requests.find((q) => JSON.stringify(q.body).includes('Ignore previous instructions'))!;
    expect(prompt.body.messages[0]!.role).toBe('system');
  });

  it('never lets escape sequences from a bio reach stdout (analyze, show, list)', async () => {
    const w = await world([escapeBio(Date.now())]);
    const outputs = [
      await w.run(['analyze', 'esc-eve']),
      await w.run(['analyze', 'esc-eve', '--json']),
      await w.run(['show', 'esc-eve']),
      await w.run(['show', 'esc-eve', '--explain']),
      await w.run(['show', 'esc-eve', '--markdown', '--explain']),
      await w.run(['show', 'esc-eve', '--json', '--explain']),
      await w.run(['list']),
      await w.run(['list', '--json']),
    ];
    for (const o of outputs) {
      expect(o.code).toBe(0);
      expect(o.stdout).not.toMatch(CONTROL);
      expect(o.stdout).not.toContain('\\u001b');
      expect(o.stdout).not.toContain('\\u009b');
      expect(o.stderr).not.toMatch(CONTROL);
    }
    expect(outputs[0]!.stdout).toContain('esc-eve (Eve)');
    expect(outputs[0]!.stdout).toContain('Red dev');
  });

  it('keeps the GitHub token and the API key out of the database file and its WAL', async () => {
    const w = await world([strongDev(Date.now())], { apiKey: API_KEY });
    const env = { GITHUB_TOKEN: TOKEN, OPENAI_API_KEY: API_KEY };
    expect((await w.run(['analyze', 'adadev'], { env })).code).toBe(0);
    // A failing model call stores an error: it must not carry the key either.
    w.ai!.setBehaviours([{ custom: () => ({ status: 401, body: { error: { message: `Incorrect API key provided: ${API_KEY}`, type: 'invalid_request_error', code: 'invalid_api_key' } } }) }]);
    const failed = await w.run(['analyze', 'adadev', '--force'], { env });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('rejected OPENAI_API_KEY');
    expect(failed.stderr).not.toContain(API_KEY);
    expect(failed.stdout + failed.stderr).not.toContain(TOKEN);
    const files = [w.db, `${w.db}-wal`, `${w.db}-shm`].filter((f) => fs.existsSync(f));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const bytes = fs.readFileSync(f);
      for (const secret of [TOKEN, API_KEY]) {
        expect(bytes.includes(Buffer.from(secret))).toBe(false);
        expect(bytes.includes(Buffer.from(secret.slice(4, 24)))).toBe(false);
      }
    }
    expect((fs.statSync(w.db).mode & 0o777).toString(8)).toBe('600');
  });

  it('serves a second analysis of a user within a day (--force) from 304s that cost no primary rate limit', async () => {
    const w = await world([strongDev(Date.now())]);
    const env = { GITHUB_TOKEN: TOKEN };
    const first = await w.run(['analyze', 'adadev', '--json'], { env });
    expect(first.code).toBe(0);
    const cold = w.gh.requests.length;
    // Two GraphQL queries and the events over REST (issue 18).
    expect(cold).toBeLessThanOrEqual(4);
    w.gh.clearLog();
    const before = w.gh.remaining(TOKEN);
    const second = await w.run(['analyze', 'adadev', '--force', '--json'], { env });
    expect(second.code).toBe(0);
    const gets = w.gh.requests.filter((q) => q.method === 'GET');
    expect(gets.length).toBeGreaterThanOrEqual(1);
    expect(gets.map((q) => q.status)).toEqual(gets.map(() => 304));
    expect(w.gh.remaining(TOKEN)).toBe(before);
    expect(jsonLines(second.stdout)[0]!.scores).toEqual(jsonLines(first.stdout)[0]!.scores);
  });
});
