// Enqueue <n> jobs with one enqueueMany (one transaction), then print "done".
// Prints "start" just before the call, so a test can kill it at a moment inside it.
// argv: <queueLibPath> <appDbLibPath> <dbPath> <n>
const [lib, appLib, dbPath, nArg] = process.argv.slice(2);
const q = await import(lib);
const { APP_ROOMS } = await import(appLib);
const db = q.openDatabase(dbPath, { rooms: APP_ROOMS });
const n = Number(nArg);
const specs = Array.from({ length: n }, (_, i) => ({ name: 'bulk.job', queue: 'low', payload: { i }, tags: ['bulk'] }));
process.stdout.write('start\n');
const t0 = performance.now();
q.enqueueMany(db, specs);
process.stdout.write(`done ${Math.round(performance.now() - t0)}\n`);
db.close();
