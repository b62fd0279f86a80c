import { describe, expect, it } from 'vitest';
import {
  CallGate,
  defaultCallBudget,
  isTokenCallTimeout,
  threadPoolSize,
} from '../../../src/hsm/deadline.js';
import { SessionPool } from '../../../src/hsm/session-pool.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('CallGate', () => {
  it('passes results through, and times out a call that does not return', async () => {
    const gate = new CallGate({ timeoutMs: 30, budget: 2 });
    expect(await gate.run('x', () => Promise.resolve(7))).toBe(7);
    const stuck = deferred<number>();
    const err = await gate.run('signing', () => stuck.promise).catch((e: unknown) => e);
    expect(isTokenCallTimeout(err)).toBe(true);
    expect((err as Error).message).toMatch(/did not answer within 30 ms/);
    expect(gate.hung).toBe(1);
    stuck.resolve(1);
    await (err as { settled: Promise<void> }).settled;
    await Promise.resolve();
    expect(gate.hung).toBe(0);
    expect(gate.inFlight).toBe(0);
  });

  it('never lends more than the budget, and fails fast once hung calls hold all of it', async () => {
    const gate = new CallGate({ timeoutMs: 30, budget: 1 });
    const stuck = deferred<number>();
    const first = gate.run('a', () => stuck.promise).catch((e: unknown) => e);
    const second = await gate.run('b', () => Promise.resolve(2)).catch((e: unknown) => e);
    expect((second as Error).message).toMatch(/no token call slot/);
    expect(isTokenCallTimeout(await first)).toBe(true);
    const t0 = Date.now();
    const third = await gate.run('c', () => Promise.resolve(3)).catch((e: unknown) => e);
    expect((third as Error).message).toMatch(/have not returned/);
    expect(Date.now() - t0).toBeLessThan(25);
    stuck.resolve(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(await gate.run('d', () => Promise.resolve(4))).toBe(4);
  });

  it('budget follows UV_THREADPOOL_SIZE, keeping one thread free', () => {
    expect(threadPoolSize({})).toBe(4);
    expect(defaultCallBudget({})).toBe(3);
    expect(defaultCallBudget({ UV_THREADPOOL_SIZE: '16' })).toBe(15);
    expect(defaultCallBudget({ UV_THREADPOOL_SIZE: '1' })).toBe(1);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: 'x' })).toBe(4);
  });
});

describe('SessionPool.quarantine', () => {
  it('a quarantined session frees its slot at once, is never lent again, and is closed when its call returns', async () => {
    let next = 1;
    const closed: number[] = [];
    const pool = new SessionPool({
      size: 1,
      acquireTimeoutMs: 50,
      open: () => {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(next++);
        return b;
      },
      close: (s) => closed.push(s.readUInt32LE()),
    });
    const lease = await pool.acquire();
    const done = deferred<void>();
    pool.quarantine(lease, done.promise);
    expect(pool.hung).toBe(1);
    const replacement = await pool.acquire();
    expect(replacement.session).not.toBe(lease.session);
    pool.release(replacement);
    expect(closed).toEqual([]);
    done.resolve();
    await done.promise;
    await Promise.resolve();
    expect(closed).toEqual([lease.session.readUInt32LE()]);
    expect(pool.hung).toBe(0);
    expect(await pool.drain(10)).toBe(true);
  });
});
