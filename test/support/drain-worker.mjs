// A minimal worker process for multi-process tests: claims one job at a time from the
// queue library (built JS) and completes it, until no job is ready for `idleMs`.
// argv: <queueLibPath> <dbPath> <workerId> [idleMs]
// Prints one JSON line: { claimed: [ids…], rejected: n }.
const [lib, dbPath, workerId, idleArg] = process.argv.slice(2);
const q = await import(lib);
const db = q.openDatabase(dbPath);
const idleMs = Number(idleArg ?? 300);
const claimed = [];
let rejected = 0;
let idleSince = Date.now();
// Start together: say we are ready (loaded and open), then wait for the go file the test
// writes once every worker is ready. A loaded machine can take long to start one process,
// and the other would otherwise drain the queue alone.
const fs = await import('node:fs');
fs.writeFileSync(`${dbPath}.ready.${workerId}`, '');
while (!fs.existsSync(`${dbPath}.go`)) await new Promise((r) => setTimeout(r, 2));
for (;;) {
  const jobs = q.claim(db, { workerId, limit: 1 });
  if (jobs.length === 0) {
    if (Date.now() - idleSince > idleMs) break;
    await new Promise((r) => setTimeout(r, 1));
    continue;
  }
  idleSince = Date.now();
  for (const job of jobs) {
    claimed.push(job.id);
    if (!q.complete(db, job)) rejected++;
  }
  // Leave the write lock free for a moment, as a worker running real jobs does: a tight loop
  // re-takes it before the other process's busy handler (which sleeps 1 ms, 2, 5…) looks again,
  // and would claim every job alone.
  await new Promise((r) => setTimeout(r, 1));
}
process.stdout.write(JSON.stringify({ claimed, rejected }) + '\n');
db.close();
