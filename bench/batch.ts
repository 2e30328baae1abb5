/**
 * The batch benchmark: peak RSS and wall time of `gitroast batch FILE --detach` through
 * the built binary, on a fresh database, for a file of GITROAST_BENCH_BATCH_LINES distinct
 * logins (default 200,000; the target, peak RSS ≤ 250 MB, is for 200,000 lines). The peak
 * is the child's own process.resourceUsage().maxRSS, written on exit by a preloaded hook.
 *
 * - batch_lines: lines in the file.
 * - batch_rss_mb: peak RSS of the CLI process, MB.
 * - batch_s: wall time of the whole command, seconds.
 *
 * Run it alone with `node dist/bench/batch.js`, or through `npm run bench` (`batch`).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'gitroast.js');
/** Written by the child on exit: its peak RSS in KiB. */
const HOOK = "process.on('exit', () => process.stderr.write('\\nbench-maxrss-kib ' + process.resourceUsage().maxRSS + '\\n'));";

/** Measure one `batch --detach` of `lines` logins; figures keyed without the `batch_` prefix. */
export async function benchBatch(lines = Number(process.env.GITROAST_BENCH_BATCH_LINES ?? 200_000)): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitroast-bench-batch-'));
  try {
    const file = path.join(dir, 'users.txt');
    const out = fs.createWriteStream(file);
    for (let i = 0; i < lines; i++) out.write(`user-${i}\n`);
    await new Promise((resolve) => out.end(resolve));
    const hook = path.join(dir, 'maxrss.mjs');
    fs.writeFileSync(hook, HOOK);
    const t0 = performance.now();
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', pathToFileURL(hook).href, BIN, '--db', path.join(dir, 'gitroast.db'), 'batch', file, '--detach'], {
        env: { ...process.env, GITROAST_CONFIG: '', GITROAST_DENY_LIST: '', XDG_CONFIG_HOME: dir },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.on('error', reject);
      child.on('close', (c) => resolve({ code: c, stderr: err }));
    });
    const seconds = (performance.now() - t0) / 1000;
    const kib = Number(/bench-maxrss-kib (\d+)/.exec(stderr)?.[1]);
    if (code !== 0 || !Number.isFinite(kib)) throw new Error(`batch of ${lines} lines failed (exit ${code}): ${stderr.slice(0, 500)}`);
    return { lines, rss_mb: kib / 1024, s: seconds };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures = await benchBatch();
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`batch_${k}  ${Math.round(v * 10) / 10}\n`);
}
