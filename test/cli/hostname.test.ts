import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { gitroast } from '../support/cli.js';
import { BIN, tempDbPath, waitFor } from '../support/tmp.js';

describe('gitroast daemon --hostname', () => {
  it('refuses a bad host name from the flag or GITROAST_HOSTNAME with exit 2 and one line', async () => {
    const db = tempDbPath();
    const flag = await gitroast(['--db', db, 'daemon', '--hostname', 'two words', '--stop-when-empty']);
    expect(flag.code).toBe(2);
    expect(flag.stderr.trim()).toBe(`gitroast: invalid --hostname "two words": expected 1 to 253 letters, digits, '.', '_' or '-', starting with a letter or digit`);
    const env = await gitroast(['--db', db, 'daemon', '--stop-when-empty'], { env: { GITROAST_HOSTNAME: '-x' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/^gitroast: invalid GITROAST_HOSTNAME "-x"/);
  });

  it('keeps --hostname in the printed systemd unit, which does not restart on exit 3', async () => {
    const r = await gitroast(['--db', tempDbPath(), 'daemon', '--hostname', 'box-2.example', '--print-systemd-unit']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ExecStart=.* daemon .*--hostname box-2\.example/m);
    expect(r.stdout).toMatch(/^RestartPreventExitStatus=2 3$/m);
  });

  it('registers the daemon under --hostname (and GITROAST_HOSTNAME), as status --json shows', async () => {
    for (const [args, env] of [[['--hostname', 'box-7.example'], {}], [[], { GITROAST_HOSTNAME: 'box-8' }]] as const) {
      const db = tempDbPath();
      const child = spawn(process.execPath, [BIN, '--db', db, 'daemon', '--log-format', 'json', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise((r) => child.on('close', r));
      try {
        await waitFor(() => out.includes('"daemon.started"'), 20_000, 'the daemon to start');
        const s = await gitroast(['--db', db, 'status', '--json']);
        const names = (JSON.parse(s.stdout) as { daemons: { hostname: string }[] }).daemons.map((d) => d.hostname);
        expect(names).toEqual([args.length ? 'box-7.example' : 'box-8']);
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    }
  });
});
