import { describe, expect, it } from 'vitest';
import { SessionPool } from '../../../src/hsm/session-pool.js';

/** A pool over fake sessions (4-byte buffers holding a counter), recording opens and closes. */
function fakePool(size: number, acquireTimeoutMs = 1_000) {
  let next = 0;
  const open = new Set<number>();
  const events: string[] = [];
  let failOpen = false;
  const pool = new SessionPool({
    size,
    acquireTimeoutMs,
    open: () => {
      if (failOpen) throw new Error('open failed');
      const id = ++next;
      open.add(id);
      events.push(`open ${id}`);
      const b = Buffer.alloc(4);
      b.writeUInt32LE(id);
      return b;
    },
    close: (session) => {
      const id = session.readUInt32LE();
      open.delete(id);
      events.push(`close ${id}`);
    },
  });
  return {
    pool,
    open,
    events,
    setFailOpen: (v: boolean) => {
      failOpen = v;
    },
  };
}

const idOf = (lease: { session: Buffer }): number => lease.session.readUInt32LE();

describe('SessionPool', () => {
  it('opens sessions lazily up to its size and reuses released ones', async () => {
    const { pool, open } = fakePool(2);
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(open.size).toBe(2);
    pool.release(a);
    const c = await pool.acquire();
    expect(idOf(c)).toBe(idOf(a));
    pool.release(b);
    pool.release(c);
    expect(open.size).toBe(2);
  });

  it('serves waiters in FIFO order, one operation per session', async () => {
    const { pool } = fakePool(1);
    const first = await pool.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      pool.acquire().then((lease) => {
        order.push(n);
        return lease;
      }),
    );
    expect(pool.waiting).toBe(3);
    pool.release(first);
    for (const w of waiters) pool.release(await w);
    expect(order).toEqual([1, 2, 3]);
  });

  it('never has more sessions than its size under churn', async () => {
    const { pool, open } = fakePool(3);
    let maxOpen = 0;
    let maxBusy = 0;
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const lease = await pool.acquire();
        maxOpen = Math.max(maxOpen, open.size);
        maxBusy = Math.max(maxBusy, pool.inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        if (i % 7 === 0) pool.evict(lease);
        else pool.release(lease);
      }),
    );
    expect(maxOpen).toBeLessThanOrEqual(3);
    expect(maxBusy).toBeLessThanOrEqual(3);
    expect(pool.inFlight).toBe(0);
  });

  it('bounds the wait with ERR_HSM_UNAVAILABLE', async () => {
    const { pool } = fakePool(1, 30);
    await pool.acquire();
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'ERR_HSM_UNAVAILABLE' });
    expect(pool.waiting).toBe(0);
  });

  it('evict closes the session and lets a waiter open a fresh one', async () => {
    const { pool, events } = fakePool(1);
    const a = await pool.acquire();
    const waiting = pool.acquire();
    pool.evict(a);
    const b = await waiting;
    expect(idOf(b)).not.toBe(idOf(a));
    expect(events).toEqual(['open 1', 'close 1', 'open 2']);
  });

  it('an open failure reaches the caller and frees the slot', async () => {
    const { pool, setFailOpen } = fakePool(1);
    setFailOpen(true);
    await expect(pool.acquire()).rejects.toThrow('open failed');
    setFailOpen(false);
    pool.release(await pool.acquire());
  });

  it('reset closes idle sessions now and busy ones when they come back', async () => {
    const { pool, open } = fakePool(2);
    const a = await pool.acquire();
    const b = await pool.acquire();
    pool.release(a);
    pool.reset();
    expect(open.has(idOf(a))).toBe(false);
    expect(open.has(idOf(b))).toBe(true);
    pool.release(b);
    expect(open.size).toBe(0);
  });

  it('sweep drops dead idle sessions', async () => {
    const { pool, open } = fakePool(2);
    const a = await pool.acquire();
    const b = await pool.acquire();
    pool.release(a);
    pool.release(b);
    expect(pool.sweep((s) => s.readUInt32LE() !== idOf(a))).toBe(1);
    expect([...open]).toEqual([idOf(b)]);
  });

  it('drain refuses waiters, waits for operations in flight, and times out', async () => {
    const { pool, open } = fakePool(1);
    const a = await pool.acquire();
    const waiter = pool.acquire();
    const drained = pool.drain(1_000);
    await expect(waiter).rejects.toMatchObject({ code: 'ERR_HSM_UNAVAILABLE' });
    setTimeout(() => pool.release(a), 20);
    expect(await drained).toBe(true);
    pool.closeIdle();
    expect(open.size).toBe(0);
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'ERR_HSM_UNAVAILABLE' });

    const other = fakePool(1);
    await other.pool.acquire();
    expect(await other.pool.drain(20)).toBe(false);
  });

  it('rejects a size that is not a positive integer', () => {
    expect(() => fakePool(0)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
  });
});

describe('SessionPool after a module re-initialization', () => {
  it('reset(forget) never closes old sessions (their handle numbers may be reused)', async () => {
    const { pool, events } = fakePool(2);
    const a = await pool.acquire();
    const b = await pool.acquire();
    pool.release(a);
    pool.reset(true);
    pool.evict(b);
    expect(events).toEqual(['open 1', 'open 2']);
    const c = await pool.acquire();
    pool.evict(c);
    expect(events).toEqual(['open 1', 'open 2', 'open 3', 'close 3']);
  });
});
