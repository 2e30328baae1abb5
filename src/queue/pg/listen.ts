import type pg from 'pg';
import type { PgDb } from './connect.js';

/** Options of PgListener. */
export interface PgListenerOptions {
  /** First reconnect delay, ms; it doubles up to maxBackoffMs. Default 100. */
  minBackoffMs?: number;
  /** Longest reconnect delay, ms. Default 5000. */
  maxBackoffMs?: number;
  /** Told when the connection drops and when it is back (a log line, /health). */
  onState?: (state: 'up' | 'down', error?: Error) => void;
}

/**
 * The PostgreSQL wake-up: one dedicated connection (outside the pool) that LISTENs on the
 * installation's channel and calls `wake` on every NOTIFY (sent by the transactions that
 * enqueue or make jobs ready, at their COMMIT). The daemon's safety poll stays the fallback.
 * When the connection drops (server restart, pg_terminate_backend, network), it is
 * re-established with exponential backoff, and `wake` is called once it is back: that
 * re-check catches every wake-up sent while nobody listened.
 */
export class PgListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private backoff: number;
  /** How many times the connection was re-established. */
  reconnects = 0;

  constructor(private readonly db: PgDb, private readonly wake: () => void, private readonly options: PgListenerOptions = {}) {
    this.backoff = options.minBackoffMs ?? 100;
  }

  /** Connect and LISTEN; resolves once listening (rejects when the first connection fails). */
  async start(): Promise<void> {
    await this.connect();
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** The server process id of the LISTEN connection (tests terminate it), or undefined while down. */
  get backendPid(): number | undefined {
    return (this.client as unknown as { processID?: number } | undefined)?.processID;
  }

  private async connect(): Promise<void> {
    const client = new this.db.driver.Client(this.db.config);
    let dropped = false;
    const drop = (err?: Error) => {
      if (dropped) return;
      dropped = true;
      if (this.client === client) this.client = undefined;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (this.stopped) return;
      this.options.onState?.('down', err);
      this.schedule();
    };
    client.on('error', (err) => drop(err));
    client.on('end', () => drop());
    client.on('notification', (msg) => {
      if (msg.channel === this.db.channel) this.wake();
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.db.channel}"`);
    } catch (err) {
      dropped = true;
      client.end().catch(() => {});
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.backoff = this.options.minBackoffMs ?? 100;
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.options.maxBackoffMs ?? 5000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect().then(
        () => {
          if (this.stopped) return;
          this.reconnects++;
          this.options.onState?.('up');
          // Wake-ups sent while the connection was down are lost: look once now.
          this.wake();
        },
        () => this.schedule(),
      );
    }, wait);
    this.timer.unref?.();
  }

  /** Stop listening and close the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const c = this.client;
    this.client = undefined;
    if (c) await c.end().catch(() => {});
  }
}
