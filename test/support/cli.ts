import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, tempDir, waitFor } from './tmp.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the built gitroast binary with `args` and resolve with its exit code and output. */
export function gitroast(args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Start `gitroast dashboard` (or `command`) on `db` with --http on a port of its own, and
 * resolve once it listens; kill `child` (SIGTERM) and await `exited` after.
 */
export async function serveHttp(db: string, command: string[] = ['dashboard']): Promise<{ child: ChildProcess; base: string; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, [BIN, '--db', db, ...command, '--http', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GITROAST_CONFIG: '', XDG_CONFIG_HOME: tempDir(), GITROAST_LOG_FORMAT: 'json' },
  });
  const exited = new Promise((r) => child.once('close', r));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const port = await waitFor(() => /"event":"http\.listening"[^\n]*"port":(\d+)/.exec(out)?.[1], 20_000, `the dashboard to listen (output: ${out.slice(-300)})`);
  return { child, base: `http://127.0.0.1:${port}`, exited };
}
