/**
 * Supervisors: Horizon's process model, with async slots for processes. A daemon runs one
 * or more supervisors; each is a named pool of `maxProcesses` slots over its own queues with
 * a balance mode:
 *
 * - `false`: one pool, claimed in queue order (Laravel's default worker).
 * - `simple`: the slots split evenly over the queues, each queue capped at its share.
 * - `auto`: each queue capped, the caps moved by load (pending × runtime for `time`,
 *   pending for `size`) within `minProcesses` per queue and `maxProcesses` in all, by at
 *   most `balanceMaxShift` per queue every `balanceCooldown`. With no work anywhere the caps
 *   fall back to the minimums.
 *
 * A queue's cap is what the slot loop may fill for it; a slot a throttle blocks goes to the
 * supervisor's other queues. The implicit supervisor of a config without `supervisors`
 * keeps the pre-supervisor behaviour (strict, or the work-conserving `auto` share of
 * balance.ts moving 3 slots per poll).
 */
import type { ClaimedJob, SupervisorState, ThrottledClaim } from '../queue/index.js';
import { allocateSlots, type QueueLoad } from './balance.js';
import type { Logger } from './types.js';

export type Balance = false | 'simple' | 'auto';
export type AutoScalingStrategy = 'time' | 'size';

/** One supervisor's settings. */
export interface SupervisorSpec {
  name: string;
  /** Queues in claim order. */
  queues: readonly string[];
  /** Default false (queue order). */
  balance?: Balance;
  /** Default `time`. */
  autoScalingStrategy?: AutoScalingStrategy;
  /** Total slots, never exceeded. */
  maxProcesses: number;
  /** Minimum cap per queue (auto). Default 1. */
  minProcesses?: number;
  /** Most a queue's cap moves per rebalance (auto). Default 1. */
  balanceMaxShift?: number;
  /** Time between rebalances (auto), ms. Default 3,000. */
  balanceCooldownMs?: number;
  /** Timeout of its jobs that set none (nor their config nor their handler), ms. Default the worker's. */
  timeoutMs?: number;
  /**
   * The implicit supervisor of a config without supervisors: `auto` means the work-
   * conserving share of allocateSlots (shift 3 every poll), as before supervisors existed.
   */
  legacy?: boolean;
}

/** The implicit supervisor's name (Horizon's first supervisor). */
export const DEFAULT_SUPERVISOR = 'supervisor-1';

/** What an auto rebalance reads per queue. */
export type Load = QueueLoad;

/**
 * Split `maxProcesses` evenly over `queues` (Horizon's `simple`): the remainder goes to the
 * first queues in claim order; with fewer slots than queues, the first queues get one each.
 */
export function simpleSlots(queues: readonly string[], maxProcesses: number): Map<string, number> {
  const base = Math.floor(maxProcesses / queues.length);
  const rest = maxProcesses - base * queues.length;
  return new Map(queues.map((q, i) => [q, base + (i < rest ? 1 : 0)]));
}

/** The settings autoScale needs. */
export interface AutoScaleOptions {
  strategy: AutoScalingStrategy;
  maxProcesses: number;
  minProcesses: number;
  maxShift: number;
}

/**
 * One auto rebalance (Horizon's AutoScaler): each queue's desired cap is its share of
 * `maxProcesses` by pending × average runtime (`time`) or pending (`size`), rounded up, or
 * the minimum when nothing is pending anywhere. Queues are visited from the smallest desire
 * up (so shrinking ones free slots first); each cap moves toward its desire by at most
 * `maxShift`, never below `minProcesses`, and grows only into slots the total leaves free.
 * Returns queue → cap; the caps sum to at most max(maxProcesses, queues × minProcesses).
 */
export function autoScale(loads: readonly Load[], current: ReadonlyMap<string, number>, o: AutoScaleOptions): Map<string, number> {
  const weight = (l: Load) => (o.strategy === 'size' ? l.pending : l.pending * Math.max(1, l.avgRuntimeMs));
  const all = loads.reduce((s, l) => s + weight(l), 0);
  const desired = loads.map((l, i) => ({ queue: l.queue, i, want: all > 0 ? (weight(l) / all) * o.maxProcesses : o.minProcesses }));
  const out = new Map<string, number>(loads.map((l) => [l.queue, current.get(l.queue) ?? o.minProcesses]));
  let total = [...out.values()].reduce((s, n) => s + n, 0);
  // Stable: equal desires keep claim order.
  for (const d of [...desired].sort((a, b) => a.want - b.want || a.i - b.i)) {
    const pool = out.get(d.queue)!;
    const want = Math.ceil(d.want - 1e-9);
    let next = pool;
    if (want > pool) next = Math.min(pool + Math.min(Math.max(0, o.maxProcesses - total), o.maxShift), o.maxProcesses, want);
    else if (want < pool) next = Math.max(pool - o.maxShift, o.minProcesses, want);
    total += next - pool;
    out.set(d.queue, next);
  }
  return out;
}

/** One supervisor's slots at run time: caps, running counts, pause flag. */
export class SupervisorPool {
  readonly name: string;
  readonly queues: readonly string[];
  readonly balance: Balance;
  readonly strategy: AutoScalingStrategy;
  readonly maxProcesses: number;
  readonly minProcesses: number;
  readonly maxShift: number;
  readonly cooldownMs: number;
  readonly timeoutMs: number | undefined;
  readonly legacy: boolean;
  paused = false;
  running = 0;
  /** When the caps last changed (ms epoch). */
  scaledAt: number;
  private lastRebalance = -Infinity;
  private readonly runningByQueue = new Map<string, number>();
  private caps = new Map<string, number>();
  /** Queues a throttle held back at the last claim: no load for auto, their room lent out. */
  private throttled = new Set<string>();

  constructor(spec: SupervisorSpec, now = Date.now()) {
    this.name = spec.name;
    this.queues = spec.queues;
    this.balance = spec.balance ?? false;
    this.strategy = spec.autoScalingStrategy ?? 'time';
    this.maxProcesses = spec.maxProcesses;
    this.minProcesses = spec.minProcesses ?? 1;
    this.maxShift = spec.balanceMaxShift ?? 1;
    this.cooldownMs = spec.balanceCooldownMs ?? 3000;
    this.timeoutMs = spec.timeoutMs;
    this.legacy = spec.legacy ?? false;
    this.scaledAt = now;
    if (!Number.isInteger(this.maxProcesses) || this.maxProcesses < 1) throw new Error(`supervisor ${this.name}: maxProcesses must be a whole number of at least 1`);
    if (this.queues.length === 0) throw new Error(`supervisor ${this.name}: at least one queue is needed`);
    if (this.balance === 'simple') this.caps = simpleSlots(this.queues, this.maxProcesses);
    else if (this.balance === 'auto' && !this.legacy) this.caps = new Map(this.queues.map((q) => [q, this.minProcesses]));
  }

  /** True when caps limit each queue (simple and Horizon's auto). */
  private get capped(): boolean {
    return this.balance === 'simple' || (this.balance === 'auto' && !this.legacy);
  }

  /** Slots a claim may fill now. */
  free(): number {
    if (this.paused) return 0;
    const free = this.maxProcesses - this.running;
    if (!this.capped) return free > 0 ? free : 0;
    let room = 0;
    for (const q of this.queues) room += Math.max(0, (this.caps.get(q) ?? 0) - (this.runningByQueue.get(q) ?? 0));
    return Math.max(0, Math.min(free, room));
  }

  /**
   * Claim up to `free` jobs (and this pool's room) through `take`, which claims from the
   * given queues in order. Strict: all queues in order. Capped: each queue up to its cap,
   * then the room of throttled queues goes to the others. Legacy auto: shares first, then
   * whoever has work. Runs inside the caller's claim transaction.
   */
  claim(free: number, take: (queues: readonly string[], limit: number) => ThrottledClaim): { jobs: ClaimedJob[]; retryAt: number | undefined } {
    const room = Math.min(free, this.free());
    let retryAt: number | undefined;
    const out: ClaimedJob[] = [];
    const run = (queues: readonly string[], limit: number): ThrottledClaim => {
      const got = take(queues, limit);
      for (const j of got.jobs) out.push(j);
      if (got.retryAt !== undefined) retryAt = Math.min(retryAt ?? Infinity, got.retryAt);
      return got;
    };
    if (room <= 0) return { jobs: out, retryAt };
    if (this.balance === false || this.queues.length === 1) {
      this.throttled = run(this.queues, room).throttledQueues;
      return { jobs: out, retryAt };
    }
    const throttled = new Set<string>();
    let lend = 0;
    for (const q of this.queues) {
      const r = Math.min((this.caps.get(q) ?? 0) - (this.runningByQueue.get(q) ?? 0), room - out.length);
      if (r <= 0) continue;
      const got = run([q], r);
      if (got.throttledQueues.has(q)) {
        throttled.add(q);
        lend += r - got.jobs.length;
      }
    }
    // Legacy auto is work-conserving: what the shares leave goes to whoever has work.
    if (this.legacy && out.length < room) run(this.queues, room - out.length);
    else if (lend > 0 && out.length < room) {
      const others = this.queues.filter((q) => !throttled.has(q));
      if (others.length > 0) run(others, Math.min(lend, room - out.length));
    }
    this.throttled = throttled;
    return { jobs: out, retryAt };
  }

  /** A job of `queue` started in one of this pool's slots. */
  started(queue: string): void {
    this.running++;
    this.runningByQueue.set(queue, (this.runningByQueue.get(queue) ?? 0) + 1);
  }

  /** A job of `queue` gave its slot back. */
  released(queue: string): void {
    this.running--;
    this.runningByQueue.set(queue, (this.runningByQueue.get(queue) ?? 1) - 1);
  }

  /** True when this pool moves its caps by load. */
  get balancing(): boolean {
    return this.balance === 'auto' && this.queues.length > 1;
  }

  /**
   * Rebalance from `pending` (ready jobs per queue) and average runtimes, if the cooldown
   * has passed (legacy auto: every call). Returns true when a cap changed.
   */
  rebalance(pending: ReadonlyMap<string, number>, avgRuntimeMs: (queue: string) => number | undefined, now = Date.now()): boolean {
    if (!this.balancing) return false;
    if (!this.legacy && now - this.lastRebalance < this.cooldownMs) return false;
    this.lastRebalance = now;
    const loads = this.queues.map((q) => ({ queue: q, pending: this.throttled.has(q) ? 0 : pending.get(q) ?? 0, avgRuntimeMs: avgRuntimeMs(q) ?? 1 }));
    const next = this.legacy
      ? allocateSlots(loads, this.maxProcesses, this.caps)
      : autoScale(loads, this.caps, { strategy: this.strategy, maxProcesses: this.maxProcesses, minProcesses: this.minProcesses, maxShift: this.maxShift });
    const changed = this.queues.some((q) => (next.get(q) ?? 0) !== (this.caps.get(q) ?? 0));
    this.caps = next;
    if (changed) this.scaledAt = now;
    return changed;
  }

  /** Per queue: the cap the slot loop may fill (strict: every queue may take all the slots). */
  slots(): Record<string, number> {
    return Object.fromEntries(this.queues.map((q) => [q, this.balance === false ? this.maxProcesses : this.caps.get(q) ?? 0]));
  }

  /** What the workers row, `daemon status`, the monitor and /health show. */
  state(): SupervisorState {
    return {
      name: this.name, queues: [...this.queues], balance: this.balance, autoScalingStrategy: this.strategy,
      maxProcesses: this.maxProcesses, minProcesses: this.minProcesses, balanceMaxShift: this.legacy ? 3 : this.maxShift,
      balanceCooldown: this.legacy ? 0 : this.cooldownMs / 1000, paused: this.paused, busy: this.running,
      slots: this.slots(), busyByQueue: Object.fromEntries(this.queues.map((q) => [q, this.runningByQueue.get(q) ?? 0])), scaledAt: this.scaledAt,
    };
  }
}

/** The one supervisor of a worker without `supervisors`: its queues, concurrency and balance, as before supervisors. */
export function legacySupervisor(queues: readonly string[], concurrency: number, balance: 'strict' | 'auto' | undefined): SupervisorSpec {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('concurrency must be a whole number of at least 1');
  return { name: DEFAULT_SUPERVISOR, queues, balance: balance === 'auto' ? 'auto' : false, maxProcesses: concurrency, legacy: true };
}

/** Rebalance every pool whose cooldown has passed and log the moves; true when any slot moved. */
export function rebalancePools(pools: readonly SupervisorPool[], pending: ReadonlyMap<string, number>, avgRuntimeMs: (queue: string) => number | undefined, logger: Logger, now = Date.now()): boolean {
  let moved = false;
  for (const pool of pools) {
    if (!pool.rebalance(pending, avgRuntimeMs, now)) continue;
    moved = true;
    // Legacy auto moves every poll: its chatter stays at debug, as before supervisors.
    if (pool.legacy) logger.log('debug', 'worker.rebalanced', { slots: pool.slots() });
    else logger.log('info', 'supervisor.scaled', { supervisor: pool.name, slots: pool.slots(), at: pool.scaledAt });
  }
  return moved;
}
