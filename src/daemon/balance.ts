/** One queue's load, as auto balancing sees it. */
export interface QueueLoad {
  queue: string;
  /** Ready jobs waiting. */
  pending: number;
  /** Average runtime of its jobs in ms (unknown: 1). */
  avgRuntimeMs: number;
}

/**
 * Share `concurrency` slots between queues (Horizon's "auto" balancing by time): every
 * queue with pending jobs gets at least one slot, the rest go in proportion to pending ×
 * average runtime, and no queue's share moves by more than `maxShift` from `previous` in
 * one rebalance (so a burst does not thrash). Queues with nothing pending get 0. Returns
 * queue → slots; the values sum to at most `concurrency`.
 */
export function allocateSlots(loads: readonly QueueLoad[], concurrency: number, previous: ReadonlyMap<string, number> = new Map(), maxShift = 3): Map<string, number> {
  if (concurrency < 1) throw new Error('concurrency must be at least 1');
  const busy = loads.filter((l) => l.pending > 0);
  const target = new Map<string, number>(loads.map((l) => [l.queue, 0]));
  if (busy.length > 0) {
    // More busy queues than slots: the first ones (claim order) get one each.
    const served = busy.slice(0, concurrency);
    const weights = served.map((l) => l.pending * Math.max(1, l.avgRuntimeMs));
    const total = weights.reduce((s, w) => s + w, 0);
    const exact = served.map((l, i) => ({ q: l.queue, share: (concurrency * weights[i]!) / total }));
    for (const e of exact) target.set(e.q, Math.max(1, Math.floor(e.share)));
    let left = concurrency - [...target.values()].reduce((s, n) => s + n, 0);
    // Largest remainders first for what is left; take back from the largest when the
    // one-slot minimum overshot.
    for (const e of [...exact].sort((a, b) => (b.share % 1) - (a.share % 1))) {
      if (left <= 0) break;
      target.set(e.q, target.get(e.q)! + 1);
      left--;
    }
    while (left < 0) {
      const biggest = [...target.entries()].sort((a, b) => b[1] - a[1])[0]!;
      if (biggest[1] <= 1) break;
      target.set(biggest[0], biggest[1] - 1);
      left++;
    }
  }
  // Move at most maxShift slots per queue from the previous allocation.
  const out = new Map<string, number>();
  for (const l of loads) {
    const want = target.get(l.queue) ?? 0;
    const prev = previous.get(l.queue);
    if (prev === undefined) out.set(l.queue, want);
    else out.set(l.queue, want > prev ? Math.min(want, prev + maxShift) : Math.max(want, prev - maxShift));
    // A queue with pending work always gets its one slot at once.
    if (l.pending > 0 && out.get(l.queue)! < 1 && (target.get(l.queue) ?? 0) >= 1) out.set(l.queue, 1);
  }
  // Never hand out more than there is: trim the queues furthest above their target.
  let over = [...out.values()].reduce((s, n) => s + n, 0) - concurrency;
  while (over > 0) {
    let worst: string | undefined;
    let gap = -Infinity;
    for (const [q, n] of out) {
      const g = n - (target.get(q) ?? 0);
      if (n > (loadsPending(loads, q) > 0 ? 1 : 0) && g > gap) {
        gap = g;
        worst = q;
      }
    }
    if (worst === undefined) break;
    out.set(worst, out.get(worst)! - 1);
    over--;
  }
  return out;
}

function loadsPending(loads: readonly QueueLoad[], q: string): number {
  return loads.find((l) => l.queue === q)?.pending ?? 0;
}
