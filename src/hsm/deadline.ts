/**
 * Deadlines for token calls that run on libuv's thread pool (the `*Async` PKCS#11 calls).
 *
 * A token that hangs (a network HSM whose link died, a wedged USB device) never returns from
 * C_Sign, and nothing can cancel a call a thread is blocked in. So a call is given a deadline: past
 * it the caller gets ERR_HSM_UNAVAILABLE and the call is *abandoned* — it keeps its thread until it
 * returns, and its session is quarantined by the owner (see SessionPool.quarantine).
 *
 * Every such call also holds a thread-pool slot until it really returns. The gate lends at most
 * `budget` slots (default: the pool size minus one), so hung calls can never take every libuv
 * thread: the audit log and the logger, which write through the same pool, keep working, and
 * requests keep getting answers. When all slots are held by abandoned calls, new calls fail at once
 * instead of queueing behind them.
 */
import { SignerdError } from '../errors.js';

/** A call that missed its deadline; `settled` resolves when the abandoned call finally returns. */
export class TokenCallTimeout extends SignerdError {
  readonly settled: Promise<void>;

  constructor(message: string, settled: Promise<void>) {
    super('ERR_HSM_UNAVAILABLE', message);
    this.settled = settled;
  }
}

export function isTokenCallTimeout(err: unknown): err is TokenCallTimeout {
  return err instanceof TokenCallTimeout;
}

export interface CallGateOptions {
  /** Deadline of one call, including the wait for a thread slot (ms). */
  timeoutMs: number;
  /** Calls that may occupy threads at once, hung ones included. */
  budget: number;
}

/** libuv's thread pool size as this process will use it (UV_THREADPOOL_SIZE, default 4). */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const size = Number(env['UV_THREADPOOL_SIZE'] ?? '');
  return Number.isInteger(size) && size > 0 ? Math.min(size, 1024) : 4;
}

/** The default budget: every libuv thread but one, which stays free for file and log writes. */
export function defaultCallBudget(env: NodeJS.ProcessEnv = process.env): number {
  return Math.max(1, threadPoolSize(env) - 1);
}

export class CallGate {
  private active = 0;
  private abandoned = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly options: CallGateOptions) {
    if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
      throw new SignerdError(
        'ERR_CONFIG',
        `token call timeout must be a positive number of ms, not ${options.timeoutMs}`,
      );
    }
  }

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /** Calls past their deadline that have not returned yet. */
  get hung(): number {
    return this.abandoned;
  }

  /** Calls holding a thread slot (hung ones included). */
  get inFlight(): number {
    return this.active;
  }

  /**
   * Runs `start()` (which begins one thread-pool call) under the deadline. `what` names the
   * operation for the error message. Throws TokenCallTimeout past the deadline.
   */
  async run<T>(what: string, start: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.options.timeoutMs;
    if (this.abandoned >= this.options.budget) {
      throw new SignerdError(
        'ERR_HSM_UNAVAILABLE',
        `${what}: ${this.abandoned} earlier token call(s) have not returned; not starting another`,
      );
    }
    await this.slot(what, deadline);
    let call: Promise<T>;
    try {
      call = start();
    } catch (err) {
      this.free();
      throw err;
    }
    const settled = call.then(
      () => undefined,
      () => undefined,
    );
    let timer: NodeJS.Timeout | undefined;
    let late = false;
    void settled.then(() => {
      if (late) this.abandoned--;
      this.free();
    });
    try {
      return await Promise.race([
        call,
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(
            () => {
              late = true;
              this.abandoned++;
              reject(
                new TokenCallTimeout(
                  `${what}: the token did not answer within ${this.options.timeoutMs} ms`,
                  settled,
                ),
              );
            },
            Math.max(0, deadline - Date.now()),
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits (until the deadline) for a thread slot. */
  private slot(what: string, deadline: number): Promise<void> {
    if (this.active < this.options.budget) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        this.active++;
        resolve();
      };
      const timer = setTimeout(
        () => {
          const index = this.waiters.indexOf(wake);
          if (index >= 0) this.waiters.splice(index, 1);
          reject(
            new SignerdError(
              'ERR_HSM_UNAVAILABLE',
              `${what}: no token call slot became free within ${this.options.timeoutMs} ms`,
            ),
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      this.waiters.push(wake);
    });
  }

  private free(): void {
    this.active--;
    const next = this.waiters.shift();
    if (next) next();
  }
}
