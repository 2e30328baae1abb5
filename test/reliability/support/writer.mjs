// A writer process for backup and permission tests: enqueues batches of jobs, one
// transaction per batch (payload {batch, i}), until killed. Prints "ready" after the first.
// argv: <queueLibPath> <appDbLibPath> <dbPath> <batchSize>
const [lib, appLib, dbPath, sizeArg] = process.argv.slice(2);
const q = await import(lib);
const { APP_ROOMS } = await import(appLib);
const db = q.openDatabase(dbPath, { rooms: APP_ROOMS });
const size = Number(sizeArg ?? 50);
let batch = 0;
const pad = 'x'.repeat(300);
for (;;) {
  q.enqueueMany(db, Array.from({ length: size }, (_, i) => ({ name: 'writer.job', payload: { batch, i, pad } })));
  if (batch === 0) process.stdout.write('ready\n');
  batch++;
  await new Promise((r) => setTimeout(r, 2));
}
