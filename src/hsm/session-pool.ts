/**
 * A fixed-size pool of PKCS#11 sessions: one operation per session at a time, callers beyond the
 * pool size wait in FIFO order for a bounded time. Broken sessions are evicted (closed, not
 * returned) and reopened on demand. `reset()` starts a new epoch after a reconnect: sessions of
 * the old epoch are closed as they come back.
 */
import { SignerdError } from '../errors.js';
import type { Handle } from './pkcs11.js';

export interface SessionLease {
  readonly session: Handle;
  readonly epoch: number;
}

export interface SessionPoolOptions {
  size: number;
  /** How long acquire() waits for a free session before failing with ERR_HSM_UNAVAILABLE. */
  acquireTimeoutMs: number;
  /** Opens and logs in a session (synchronous: C_OpenSession has no async form). */
  open: () => Handle;
  /** Closes a session, ignoring errors. */
  close: (session: Handle) => void;
}

interface Waiter {
  /** A session handed over, or null: "a slot is free, open one yourself". */
  resolve: (lease: SessionLease | null) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class SessionPool {
  private readonly idle: SessionLease[] = [];
  private readonly busy = new Set<SessionLease>();
  private readonly waiters: Waiter[] = [];
  /** Sessions open or being opened (idle + busy + reserved for woken waiters). */
  private total = 0;
  private epoch = 0;
  /** Sessions of epochs below this died with a module re-initialization: never C_CloseSession them. */
  private forgetBelow = 0;
  private closed = false;
  /** Sessions whose call missed its deadline and has not returned (not counted in `total`). */
  private quarantined = 0;
  private drained: (() => void) | undefined;

  constructor(private readonly options: SessionPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new SignerdError(
        'ERR_CONFIG',
        `session pool size must be a positive integer, not ${options.size}`,
        {
          field: 'hsm.sessions',
        },
      );
    }
  }

  get size(): number {
    return this.options.size;
  }

  /** Operations holding a session right now. */
  get inFlight(): number {
    return this.busy.size;
  }

  /** Callers waiting for a session. */
  get waiting(): number {
    return this.waiters.length;
  }

  async acquire(): Promise<SessionLease> {
    if (this.closed) throw closedError();
    const idle = this.idle.pop();
    if (idle) return this.lend(idle);
    if (this.total < this.options.size && this.waiters.length === 0) {
      this.total++;
      return this.openLease();
    }
    const handed = await this.wait();
    // null: woken for a slot that was reserved (counted in `total`) for us
    return handed ?? this.openLease();
  }

  /** Gives a healthy session back (a stale-epoch one is closed instead). */
  release(lease: SessionLease): void {
    if (!this.busy.delete(lease)) return;
    if (lease.epoch !== this.epoch) {
      this.discard(lease);
      return;
    }
    this.handOver(lease);
    this.checkDrained();
  }

  /** Closes a broken session instead of returning it; a waiter may open a replacement. */
  evict(lease: SessionLease): void {
    if (!this.busy.delete(lease)) return;
    this.discard(lease);
  }

  /**
   * Sets aside a session whose call missed its deadline and is still running in the module: it is
   * uncounted at once (so the pool can open a replacement and is never exhausted by hung calls),
   * never lent again, and closed when the call finally returns (`settled`).
   */
  quarantine(lease: SessionLease, settled: Promise<void>): void {
    if (!this.busy.delete(lease)) return;
    this.total--;
    this.quarantined++;
    void settled.then(() => {
      this.quarantined--;
      if (lease.epoch >= this.forgetBelow) this.options.close(lease.session);
    });
    this.wakeForFreeSlots();
    this.checkDrained();
  }

  /** Sessions set aside with a call still running in the module. */
  get hung(): number {
    return this.quarantined;
  }

  /**
   * New epoch (after the token went away): idle sessions close now, busy ones when they come back.
   * With `forget` (the module was re-initialized, so every old session died with it) old sessions
   * are dropped without C_CloseSession: their handle numbers may already belong to new sessions.
   */
  reset(forget = false): void {
    this.epoch++;
    if (forget) this.forgetBelow = this.epoch;
    for (const lease of this.idle.splice(0)) this.drop(lease);
    this.wakeForFreeSlots();
  }

  /**
   * Stops lending: waiters fail, and the promise settles when in-flight operations have released
   * their sessions or `timeoutMs` passed. Returns whether all finished. Idle sessions stay open
   * until closeIdle(), so the owner can still log out on one.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(closedError());
    }
    if (this.busy.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      new Promise<boolean>((resolve) => {
        this.drained = () => resolve(true);
      }),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    this.drained = undefined;
    // Whatever is still busy is abandoned: its session goes with the module's finalize.
    return finished;
  }

  /** Closes idle sessions that `isAlive` says are dead (after one session turned out broken). */
  sweep(isAlive: (session: Handle) => boolean): number {
    let swept = 0;
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const lease = this.idle[i];
      if (lease && !isAlive(lease.session)) {
        this.idle.splice(i, 1);
        this.drop(lease);
        swept++;
      }
    }
    if (swept > 0) this.wakeForFreeSlots();
    return swept;
  }

  /** An idle session, if any (for the last calls before closing, e.g. C_Logout). */
  anyIdle(): Handle | undefined {
    return this.idle[this.idle.length - 1]?.session;
  }

  /** Closes every idle session (after drain()). */
  closeIdle(): void {
    for (const lease of this.idle.splice(0)) this.drop(lease);
  }

  /**
   * Takes a session opened outside acquire() (the reconnect probe): handed to the first waiter or
   * kept idle when there is room, closed otherwise.
   */
  offer(session: Handle): void {
    if (this.closed || this.total >= this.options.size) {
      this.options.close(session);
      return;
    }
    this.total++;
    this.handOver({ session, epoch: this.epoch });
  }

  /** A free lease goes to the longest waiter, or waits in the idle list. */
  private handOver(lease: SessionLease): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      this.busy.add(lease);
      waiter.resolve(lease);
      return;
    }
    this.idle.push(lease);
  }

  private lend(lease: SessionLease): SessionLease {
    this.busy.add(lease);
    return lease;
  }

  /** Opens a session for a slot already counted in `total`. */
  private openLease(): SessionLease {
    if (this.closed) {
      this.total--;
      throw closedError();
    }
    let session: Handle;
    try {
      session = this.options.open();
    } catch (err) {
      this.total--;
      // Whoever waits next should find out too, rather than sit out the timeout.
      this.wakeForFreeSlots();
      throw err;
    }
    return this.lend({ session, epoch: this.epoch });
  }

  private discard(lease: SessionLease): void {
    this.drop(lease);
    this.wakeForFreeSlots();
    this.checkDrained();
  }

  /** Uncounts a session and closes it, unless it belongs to a forgotten epoch. */
  private drop(lease: SessionLease): void {
    this.total--;
    if (lease.epoch >= this.forgetBelow) this.options.close(lease.session);
  }

  /** Wakes waiters that can open a session of their own now that slots are free. */
  private wakeForFreeSlots(): void {
    let free = this.options.size - this.total;
    while (free > 0 && !this.closed) {
      const waiter = this.waiters.shift();
      if (!waiter) return;
      clearTimeout(waiter.timer);
      free--;
      this.total++;
      waiter.resolve(null);
    }
  }

  private wait(): Promise<SessionLease | null> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          reject(
            new SignerdError(
              'ERR_HSM_UNAVAILABLE',
              `all ${this.options.size} token sessions stayed busy for ${this.options.acquireTimeoutMs} ms`,
            ),
          );
        }, this.options.acquireTimeoutMs),
      };
      waiter.timer.unref();
      this.waiters.push(waiter);
    });
  }

  private checkDrained(): void {
    if (this.closed && this.busy.size === 0) this.drained?.();
  }
}

function closedError(): SignerdError {
  return new SignerdError('ERR_HSM_UNAVAILABLE', 'the token connection is closed');
}
