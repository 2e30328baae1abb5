/**
 * The monitors' read model over the Store (either engine; the web dashboard and the Ink
 * monitor use it on PostgreSQL, whose reads are asynchronous), and `replayModel`, which lets
 * their synchronous screens (a page, a fetchView) run over it unchanged.
 *
 * Replay, as the PostgreSQL store replays a claim plan: the screen runs against a stand-in
 * whose every call is answered from memory; at the first unanswered call the stand-in
 * records it and throws a private sentinel, the call is awaited on the real model and
 * remembered, and the screen runs again from the start. A screen is deterministic given its
 * answers (it only reads what it is given), so the runs end with the same calls; each
 * distinct call reaches the model once, so an action is never done twice.
 */
import { actionMessages, type ReadModel, type ReadModelOptions } from './read-model.js';
import type { Store } from './store.js';
import { DEFAULT_QUEUES } from './types.js';
import { STALE_MS } from './defaults.js';
import { silencedOf } from './queues.js';

type Async<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never;

/** The read model's views and actions, each returning a promise. */
export type AsyncReadModel = { [K in Exclude<keyof ReadModel, 'read' | 'close' | 'actions'>]: Async<ReadModel[K]> } & {
  actions?: { [K in keyof NonNullable<ReadModel['actions']>]: Async<NonNullable<ReadModel['actions']>[K]> };
};

/** Options of createStoreReadModel: those of createReadModel but the connection, plus notes read asynchronously. */
export type StoreReadModelOptions = Omit<ReadModelOptions, 'open' | 'notes'> & { notes?: () => Promise<string[]> };

/** The read model over a Store: every view on the store's clock (the `now` a screen passes is only its own). */
export function createStoreReadModel(store: Omit<Store, 'commit' | 'writeUnderLease'>, options: StoreReadModelOptions = {}): AsyncReadModel {
  const configured = options.configured ?? DEFAULT_QUEUES;
  const aliveMs = options.aliveMs ?? STALE_MS;
  const silenced = silencedOf(options.silenced ?? []);
  const say = actionMessages;
  return {
    header: async () => store.header(aliveMs),
    overview: async () => store.overview({ configured, aliveMs, silenced: options.silenced }),
    // Silenced jobs stay out of the completed list (Horizon's silenced); their failures still show.
    jobs: async (tab, query, limit) => store.listJobs({ state: tab, ...query, limit, ...(tab === 'completed' ? { exclude: silenced } : {}) }),
    job: async (id) => store.getJob(id),
    failed: async (limit) => store.listFailed({ limit }),
    queues: async () => store.queueRows(configured),
    metrics: async (window) => store.metricRows(window),
    workers: async () => {
      const [workers, control, throttles, holds, notes] = await Promise.all([store.workers(), store.control(), store.throttles(), store.holds(), options.notes?.() ?? []]);
      return { workers, control, aliveMs, throttles, holds, notes };
    },
    batches: async (limit) => store.listBatches(limit),
    batch: async (id) => store.batchDetail(id),
    tags: async (limit) => store.tagSummaries(limit),
    chart: async (kind, key, window) => store.chart(kind, key, window),
    ...(options.readonly ? {} : {
      actions: {
        retryFailed: async (uuids) => say.retried((await store.retryFailed({ uuids })).length),
        forgetFailed: async (uuids) => say.forgot(await store.forgetFailed({ uuids })),
        pauseQueue: async (queue) => (await store.pauseQueue(queue), say.paused(queue)),
        continueQueue: async (queue) => (await store.continueQueue(queue), say.continued(queue)),
        pauseDaemons: async (paused) => (await store.setDaemonsPaused(paused), say.daemons(paused)),
        stopDaemons: async () => (await store.requestDaemonStop(), say.stop()),
        retryBatch: async (id) => say.retriedBatch((await store.retryFailed({ batchId: id })).length, id),
        cancelBatch: async (id) => say.cancelledBatch(await store.cancelBatch(id), id),
        clearQueue: async (queue) => say.cleared(queue, (await store.clearQueue(queue)).ids.length),
        cancelJob: async (id) => say.cancelledJob(id, (await store.cancelJobs([id])).ids.length > 0),
      },
    }),
  };
}

/** Distinct calls one replayed run may make. */
const REPLAY_LIMIT = 1000;

/** Thrown by the stand-in at its first unanswered call. */
const UNANSWERED = Symbol('not answered yet');

/**
 * A stand-in for a synchronous model over `model` (see the module comment): `model` is the
 * stand-in to hand to code that checks what the model offers (`actions` present or not);
 * `run(fn)` runs a synchronous screen over it and resolves with what it returns. Calling
 * the stand-in outside `run` throws; a view `model` lacks is absent from the stand-in too.
 */
export function replayModel<M extends object>(model: object): { model: M; run: <T>(fn: (m: M) => T) => Promise<T> } {
  let memo: Map<string, { ok: true; value: unknown } | { ok: false; error: unknown }> | undefined;
  // The call the last run stopped at (a holder: it is set inside the stand-in's closures).
  const pending: { asked?: { path: string[]; args: unknown[] } } = {};
  const stub = (path: string[]): object => new Proxy(Object.create(null) as object, {
    get: (_, name) => {
      if (typeof name !== 'string' || name === 'then') return undefined;
      const target = path.reduce<Record<string, unknown> | undefined>((o, k) => o?.[k] as Record<string, unknown> | undefined, model as Record<string, unknown>);
      const value = target?.[name];
      if (value !== null && typeof value === 'object') return stub([...path, name]);
      if (value === undefined) return undefined;
      return (...args: unknown[]) => {
        if (!memo) throw new Error(`the model's ${[...path, name].join('.')} was called outside run()`);
        const key = `${[...path, name].join('.')}:${JSON.stringify(args)}`;
        const answer = memo.get(key);
        if (answer) {
          if (answer.ok) return answer.value;
          throw answer.error;
        }
        // The first unanswered call of a run is the one to answer (later ones may depend on it).
        pending.asked ??= { path: [...path, name], args };
        throw UNANSWERED;
      };
    },
  });
  const standIn = stub([]) as M;
  return {
    model: standIn,
    run: async <T>(fn: (m: M) => T): Promise<T> => {
      const answers: NonNullable<typeof memo> = new Map();
      for (let round = 0; ; round++) {
        // A screen asks each distinct thing once; one that asks anew on every run (a clock read inside it) would never end.
        if (round > REPLAY_LIMIT) throw new Error(`a screen made more than ${REPLAY_LIMIT} distinct reads: pass it a fixed time`);
        memo = answers;
        pending.asked = undefined;
        let out: { value: T } | { error: unknown };
        try {
          out = { value: fn(standIn) };
        } catch (error) {
          out = { error };
        } finally {
          memo = undefined;
        }
        // A run that met an unanswered call is void, whatever it returned: a screen may have caught the sentinel.
        if (pending.asked === undefined) {
          if ('error' in out) throw out.error;
          return out.value;
        }
        const { path, args } = pending.asked as unknown as { path: string[]; args: unknown[] };
        const key = `${path.join('.')}:${JSON.stringify(args)}`;
        const owner = path.slice(0, -1).reduce<Record<string, unknown> | undefined>((o, k) => o?.[k] as Record<string, unknown> | undefined, model as Record<string, unknown>);
        const call = owner![path.at(-1)!] as (...a: unknown[]) => Promise<unknown>;
        try {
          answers.set(key, { ok: true, value: await call.apply(owner, args) });
        } catch (error) {
          answers.set(key, { ok: false, error });
        }
      }
    },
  };
}
