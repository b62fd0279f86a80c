/**
 * The socket's lifecycle: a second daemon on the same path refuses to start, a stale socket left
 * by a killed daemon is replaced, any other file is left alone; and `signerd audit verify` on a
 * good, a tampered and a torn log.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync, existsSync, lstatSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNERD_BIN, startDaemon, type TestDaemon } from '../helpers/daemon.js';

const KEYS = [
  {
    name: 'cdp',
    alg: 'ES256' as const,
    config: { profile: 'cdp', cdp: { keyName: 'organizations/o/apiKeys/k' } },
  },
];

function serve(daemon: TestDaemon) {
  return spawnSync(process.execPath, [SIGNERD_BIN, 'serve', '--config', daemon.configPath], {
    env: daemon.token.env,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

let daemon: TestDaemon;

beforeAll(async () => {
  daemon = await startDaemon({ keys: KEYS });
});

afterAll(async () => {
  await daemon?.stop();
  daemon?.token.remove();
});

describe('one daemon per socket', () => {
  it('a second signerd serve on the same path refuses to start, and the first keeps serving', async () => {
    const second = serve(daemon);
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/another signerd is already serving on .*signerd\.sock/);
    expect((await daemon.request('GET', '/v1/health')).status).toBe(200);
  });

  it('a stale socket left by a killed daemon is replaced', async () => {
    const victim = await startDaemon({ keys: KEYS });
    try {
      await victim.stop('SIGKILL');
      expect(lstatSync(victim.socket).isSocket()).toBe(true); // left behind
      const again = await startDaemon({ keys: KEYS, token: victim.token });
      try {
        expect((await again.request('GET', '/v1/health')).status).toBe(200);
      } finally {
        await again.stop();
      }
    } finally {
      victim.token.remove();
    }
  });

  it('a file that is not a socket is never replaced', async () => {
    const victim = await startDaemon({ keys: KEYS });
    try {
      await victim.stop();
      writeFileSync(victim.socket, 'precious');
      const res = serve(victim);
      expect(res.status).toBe(1);
      expect(res.stderr).toMatch(/exists and is not a socket/);
      expect(readFileSync(victim.socket, 'utf8')).toBe('precious');
    } finally {
      victim.token.remove();
    }
  });
});

describe('PIN sources', () => {
  it('serves with the PIN from an environment variable (pin: { env })', async () => {
    const probe = await startDaemon({ keys: KEYS });
    await probe.stop();
    const pin = probe.token.pin;
    const envDaemon = await startDaemon({
      keys: KEYS,
      token: probe.token,
      hsm: { pin: { env: 'SIGNERD_TEST_PIN' } },
      env: { SIGNERD_TEST_PIN: pin },
    });
    try {
      const res = await envDaemon.request('POST', '/v1/keys/cdp/jwt', {});
      expect(res.status).toBe(200);
      expect(envDaemon.output()).not.toContain(pin);
    } finally {
      await envDaemon.stop();
      probe.token.remove();
    }
  });
});

describe('signerd audit verify', () => {
  function verify(file: string) {
    return spawnSync(process.execPath, [SIGNERD_BIN, 'audit', 'verify', file], { encoding: 'utf8' });
  }

  it('accepts the daemon’s log, and names the line of a tampered one', async () => {
    for (let i = 0; i < 3; i++)
      await daemon.request('POST', '/v1/keys/cdp/jwt', {
        method: 'GET',
        url: `https://api.coinbase.com/a/${i}`,
      });
    const good = verify(daemon.auditPath);
    expect(good.status).toBe(0);
    const lines = readFileSync(daemon.auditPath, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes('"/a/1"'));
    expect(at).toBeGreaterThanOrEqual(0);
    const copy = `${daemon.dir}/tampered.jsonl`;
    lines[at] = lines[at]!.replace('"/a/1"', '"/a/X"');
    writeFileSync(copy, lines.join('\n'));
    const bad = verify(copy);
    expect(bad.status).toBe(1);
    // The edited line's hash no longer matches the next line's `prev`.
    expect(bad.stdout).toMatch(new RegExp(`BROKEN at line ${at + 2}: .*line ${at + 1}`));
  });

  it('reports a torn last line distinctly (exit 3), not as a broken chain', () => {
    const text = readFileSync(daemon.auditPath, 'utf8');
    const copy = `${daemon.dir}/torn.jsonl`;
    writeFileSync(copy, text + '{"time":"2026-');
    const torn = verify(copy);
    expect(torn.status).toBe(3);
    expect(torn.stdout).toMatch(/cut short by a crash/);
    rmSync(copy);
    expect(existsSync(copy)).toBe(false);
    expect(
      execFileSync(process.execPath, [SIGNERD_BIN, 'audit', 'verify', daemon.auditPath], {
        encoding: 'utf8',
      }),
    ).toMatch(/ok/);
  });
});
