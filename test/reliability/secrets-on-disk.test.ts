/**
 * A config file that holds a secret (http.token, a webhook URL) and is readable by group or
 * others: `doctor` reports it, `config` and the daemon warn once on stderr, as ssh does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitroast } from '../support/cli.js';
import { tempDbPath, tempDir } from '../support/tmp.js';
import { seedDb } from './helpers.js';

const TOKEN = 'secret-http-token-0123456789';
const DISCORD = 'https://discord.com/api/webhooks/123456789/abcdefSECRETpart';

/** A clean environment: no config or secrets from the machine running the tests. */
function env(): NodeJS.ProcessEnv {
  const home = tempDir('gitroast-home-');
  return {
    HOME: home, XDG_CONFIG_HOME: path.join(home, 'config'), GITROAST_CONFIG: '', GITROAST_HTTP_TOKEN: '', GITROAST_WEBHOOK_URL: '',
    GITROAST_HANDLERS: '', GITHUB_TOKEN: '', OPENAI_API_KEY: '',
  };
}

function configFile(content: Record<string, unknown>, mode: number): string {
  const file = path.join(tempDir(), 'config.json');
  fs.writeFileSync(file, JSON.stringify(content));
  fs.chmodSync(file, mode);
  return file;
}

/** The one ssh-like warning line, for `file` at `mode`. */
function warning(file: string, mode: string): RegExp {
  const esc = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^gitroast: warning: config file ${esc} holds secrets \\(.+\\) and is readable by (group|others|group and others) \\(mode ${mode}\\): run chmod 600 ${esc}$`);
}

describe('a config file holding secrets, readable by others', () => {
  it('config warns once on stderr, naming the file, its mode and the chmod, and still prints masked', async () => {
    for (const [content, mode, label] of [
      [{ http: { token: TOKEN } }, 0o644, '0644'],
      [{ webhookUrl: DISCORD }, 0o640, '0640'],
      [{ webhookUrl: DISCORD, http: { token: TOKEN } }, 0o604, '0604'],
    ] as const) {
      const file = configFile(content, mode);
      for (const args of [['config', '--config', file], ['config', '--json', '--config', file]]) {
        const r = await gitroast(args, { env: env() });
        expect(r.code, r.stderr).toBe(0);
        const lines = r.stderr.trim().split('\n');
        expect(lines, label).toHaveLength(1);
        expect(lines[0]).toMatch(warning(file, label));
        for (const secret of [TOKEN, DISCORD, 'abcdefSECRETpart']) {
          expect(r.stderr).not.toContain(secret);
          expect(r.stdout).not.toContain(secret);
        }
      }
      // Through GITROAST_CONFIG as well.
      const viaEnv = await gitroast(['config'], { env: { ...env(), GITROAST_CONFIG: file } });
      expect(viaEnv.stderr.trim()).toMatch(warning(file, label));
    }
  });

  it('says nothing for a 0600 file, a loose file without secrets, or secrets that come from the environment', async () => {
    const cases: [Record<string, unknown>, number, NodeJS.ProcessEnv][] = [
      [{ http: { token: TOKEN }, webhookUrl: DISCORD }, 0o600, {}],
      [{ http: { token: TOKEN } }, 0o400, {}],
      [{ concurrency: 3, webhookUrl: null }, 0o644, {}],
      [{ concurrency: 3 }, 0o644, { GITROAST_HTTP_TOKEN: TOKEN, GITROAST_WEBHOOK_URL: DISCORD }],
    ];
    for (const [content, mode, extra] of cases) {
      const file = configFile(content, mode);
      const r = await gitroast(['config', '--config', file], { env: { ...env(), ...extra } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr, `${JSON.stringify(content)} ${mode.toString(8)}`).toBe('');
    }
  });

  it('the daemon warns once on stderr at start', async () => {
    const file = configFile({ http: { token: TOKEN } }, 0o644);
    const r = await gitroast(['--db', tempDbPath(), 'daemon', '--config', file, '--stop-when-empty', '--log-format', 'json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim().split('\n').filter((l) => l.includes('chmod 600'))).toEqual([expect.stringMatching(warning(file, '0644'))]);
    expect(r.stderr + r.stdout).not.toContain(TOKEN);
  });

  it('doctor reports it under permissions with the chmod to run, and exits 1', async () => {
    const db = tempDbPath();
    seedDb(db);
    const file = configFile({ webhookUrl: DISCORD }, 0o644);
    for (const [args, extra] of [[['--config', file], {}], [[], { GITROAST_CONFIG: file }]] as const) {
      const r = await gitroast(['--db', db, 'doctor', '--json', ...args], { env: { ...env(), ...extra } });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim()).toBe('gitroast: 1 check needs attention: permissions');
      const perms = (JSON.parse(r.stdout) as { checks: { check: string; ok: boolean; detail: string; action?: string }[] }).checks.find((c) => c.check === 'permissions')!;
      expect(perms.ok).toBe(false);
      expect(perms.detail).toContain(file);
      expect(perms.detail).toContain('0644');
      expect(perms.detail).toContain('webhookUrl');
      expect(perms.action).toBe(`chmod 600 ${file}`);
      expect(r.stdout).not.toContain('abcdefSECRETpart');
    }
    fs.chmodSync(file, 0o600);
    const fixed = await gitroast(['--db', db, 'doctor', '--config', file], { env: env() });
    expect(fixed.code, fixed.stdout).toBe(0);
    // An unreadable or invalid config is not doctor's business: it still checks the database.
    fs.writeFileSync(file, '{not json');
    fs.chmodSync(file, 0o644);
    expect((await gitroast(['--db', db, 'doctor', '--config', file], { env: env() })).code).toBe(0);
  });
});
