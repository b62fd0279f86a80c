/**
 * A token bucket: `rate` tokens a second, holding at most `burst` = max(1, rate), starting full.
 * So a client limited to 50/s may send 50 at once and then one every 20 ms; one limited to 0.5/s
 * may send one every two seconds. Time comes from an injected clock in milliseconds; a clock that
 * steps backwards refills nothing (it never grants extra tokens).
 */
export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  private tokens: number;
  private last: number;

  constructor(
    rate: number,
    private readonly now: () => number,
  ) {
    if (!(rate > 0) || !Number.isFinite(rate))
      throw new RangeError(`rate must be a positive number, not ${rate}`);
    this.rate = rate;
    this.burst = Math.max(1, rate);
    this.tokens = this.burst;
    this.last = now();
  }

  /** Takes one token if there is one; false means the caller is over its rate. */
  take(): boolean {
    const now = this.now();
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
    }
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}
