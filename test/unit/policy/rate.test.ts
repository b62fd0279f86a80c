import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/policy/rate.js';

describe('TokenBucket', () => {
  it('starts full at max(1, rate) and refills continuously', () => {
    let now = 0;
    const bucket = new TokenBucket(100, () => now);
    expect(bucket.burst).toBe(100);
    let granted = 0;
    while (bucket.take()) granted++;
    expect(granted).toBe(100);
    now += 50; // 5 tokens
    granted = 0;
    while (bucket.take()) granted++;
    expect(granted).toBe(5);
  });

  it('sustains exactly the rate over time', () => {
    let now = 0;
    const bucket = new TokenBucket(10, () => now);
    let granted = 0;
    for (let ms = 0; ms <= 10_000; ms += 5) {
      now = ms;
      if (bucket.take()) granted++;
    }
    // the burst of 10, then 10/s for 10 s
    expect(granted).toBe(110);
  });

  it('refuses a rate that is not a positive number', () => {
    for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => new TokenBucket(rate, () => 0)).toThrow(RangeError);
  });
});
