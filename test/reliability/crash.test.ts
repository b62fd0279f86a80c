/**
 * kill -9 mid-load, then restart on the same token and audit log: the daemon serves at once, every
 * credential a client received is accounted for in the audit log (written before the answer), the
 * chain verifies up to its last complete line (`signerd audit verify`: exit 0, or 3 naming a torn
 * line — never silently accepted, never a crash), and the restarted daemon continues the chain.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNERD_BIN, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import type { TestToken } from '../helpers/softhsm.js';
import { PROFILE_KEYS, report, runLoad, sleep, Verifier, type Outcome } from './helpers.js';

let first: TestDaemon;
let token: TestToken;
const daemons: TestDaemon[] = [];

beforeAll(async () => {
  first = await startDaemon({ keys: PROFILE_KEYS });
  daemons.push(first);
  token = first.token;
}, 60_000);

afterAll(async () => {
  for (const d of daemons) if (d.proc.exitCode === null && d.proc.signalCode === null) await d.stop();
  token?.remove();
});

function auditVerify(path: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [SIGNERD_BIN, 'audit', 'verify', path], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function auditIds(path: string): Set<string> {
  const ids = new Set<string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const record = JSON.parse(line) as { event?: string; nonce?: string; jti?: string };
      if (record.event === 'sign') ids.add(record.nonce ?? record.jti ?? '');
    } catch {
      // a torn line
    }
  }
  return ids;
}

describe('kill -9 mid-load, then restart', () => {
  it('nothing issued goes unaccounted, the log verifies to its last complete line, the chain continues', async () => {
    const verifier = await Verifier.of(first);
    const received: string[] = [];
    const outcomes: Outcome[] = [];
    let killed = false;
    const load = runLoad({
      socket: first.socket,
      verifier,
      concurrency: 32,
      maxRequests: 100_000,
      stop: () => killed,
      keep: false,
      onOutcome: (o) => outcomes.push(o),
    });
    await sleep(1_500);
    first.proc.kill('SIGKILL');
    killed = true;
    const result = await load;
    await new Promise((r) =>
      first.proc.exitCode !== null || first.proc.signalCode !== null ? r(null) : first.proc.once('exit', r),
    );
    expect(first.proc.signalCode).toBe('SIGKILL');
    expect(result.ok).toBeGreaterThan(0);
    expect(result.invalid).toBe(0);
    expect(result.verified).toBe(result.ok);

    // Every credential a client got has its audit line (the line is written before the answer).
    const ids = auditIds(first.auditPath);
    received.push(...collectIds(outcomes));
    const unaccounted = received.filter((id) => !ids.has(id));
    const verdict = auditVerify(first.auditPath);
    report(
      `kill -9 after ${result.sent} requests (${result.ok} ok and verified, ${result.failed} cut off by the kill): ` +
        `audit log ${ids.size} sign lines, ${unaccounted.length} issued credentials missing from it; ` +
        `audit verify exit ${verdict.status}`,
    );
    expect(unaccounted).toEqual([]);
    expect([0, 3]).toContain(verdict.status);
    if (verdict.status === 3) expect(verdict.out).toMatch(/cut short/);

    // A power cut mid-write: a torn tail. `audit verify` names it (exit 3), it is not silently accepted.
    appendFileSync(first.auditPath, '{"time":"2030-01-01T00:00:00.000Z","event":"sign","key":"cd');
    const torn = auditVerify(first.auditPath);
    expect(torn.status).toBe(3);
    expect(torn.out).toMatch(/torn|cut short/);

    // Restart on the same token, config and audit log: it serves at once and continues the chain.
    const t0 = Date.now();
    const second = await startDaemon({ keys: PROFILE_KEYS, token });
    daemons.push(second);
    const startMs = Date.now() - t0;
    const after = await runLoad({ socket: second.socket, verifier, concurrency: 8, maxRequests: 200 });
    expect(after.ok).toBe(200);
    expect(after.invalid).toBe(0);
    expect(await second.stop()).toBe(0);
    const final = auditVerify(second.auditPath);
    report(
      `restart after kill -9 + torn tail: serving ${startMs} ms after launch (process start included); ` +
        `200/200 ok after restart; audit verify exit ${final.status}: ${final.out.trim()}`,
    );
    // The torn line stays visible (exit 3, named), and the chain over it — and every line the
    // restarted daemon wrote — verifies.
    expect(final.status).toBe(3);
    expect(final.out).toMatch(/chain intact/);
    expect(final.out).not.toMatch(/BROKEN/);
  }, 120_000);
});

/** The nonce/jti of every verified credential. */
function collectIds(outcomes: Outcome[]): string[] {
  return outcomes.flatMap((o) => (o.id ? [o.id] : []));
}
