/**
 * Recovery: sessions closed behind the pool's back, the module finalized behind its back, a
 * simulated unplugged device, and the open → close → open lifecycle in one process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestToken, useTestToken } from '../../helpers/softhsm.js';
import type { TestToken } from '../../helpers/softhsm.js';
import { openToken } from '../../../src/hsm/token.js';
import type { Pkcs11Token, TokenLogger, TokenOptions } from '../../../src/hsm/token.js';
import type { PKCS11 } from '../../../src/hsm/pkcs11.js';
import type { KeyInfo } from '../../../src/keys/types.js';
import { isSignerdError } from '../../../src/errors.js';
import { slotOf, unpluggable, verifies } from './helpers.js';

let testToken: TestToken;
let options: TokenOptions;

interface LogLine {
  level: string;
  obj: object;
  msg: string | undefined;
}

function recordingLogger(lines: LogLine[]): TokenLogger {
  const at = (level: string) => (obj: object, msg?: string) => {
    lines.push({ level, obj, msg });
  };
  return { info: at('info'), warn: at('warn'), error: at('error') };
}

beforeAll(() => {
  testToken = createTestToken('recovery-suite');
  useTestToken(testToken);
  options = { module: testToken.module, token: { label: testToken.label }, pin: testToken.pin, sessions: 3 };
});

afterAll(() => {
  testToken?.remove();
});

async function signAndVerify(token: Pkcs11Token, keys: KeyInfo[], count: number): Promise<number> {
  const results = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const key = keys[i % keys.length]!;
      const message = Buffer.from(`message ${i}`);
      return verifies(key, message, await token.signer(key).sign(message));
    }),
  );
  return results.filter(Boolean).length;
}

describe('lost sessions', () => {
  let token: Pkcs11Token;
  let raw: PKCS11;
  let keys: KeyInfo[];
  const logs: LogLine[] = [];

  beforeAll(async () => {
    token = await openToken(
      { ...options, logger: recordingLogger(logs) },
      {
        wrapModule: (m) => {
          raw = m;
          return m;
        },
      },
    );
    keys = [
      await token.generateKey({ label: 'r-es256', alg: 'ES256' }),
      await token.generateKey({ label: 'r-eddsa', alg: 'EdDSA' }),
    ];
    // Fill the pool and the handle cache.
    expect(await signAndVerify(token, keys, 12)).toBe(12);
  });

  afterAll(async () => {
    await token?.close();
  });

  it('C_CloseAllSessions behind the pool (which also logs the token out): next signs succeed', async () => {
    raw.C_CloseAllSessions(slotOf(raw, testToken.label));
    expect(await signAndVerify(token, keys, 24)).toBe(24);
    expect(logs.some((l) => l.level === 'warn' && l.msg?.includes('recovering'))).toBe(true);
    expect(token.status().present).toBe(true);
  });

  it('it survives that while signatures are in flight', async () => {
    const inFlight = signAndVerify(token, keys, 200);
    raw.C_CloseAllSessions(slotOf(raw, testToken.label));
    expect(await inFlight).toBe(200);
  });

  it('C_Finalize behind its back: the next sign reconnects and succeeds', async () => {
    raw.C_Finalize();
    const message = Buffer.from('after finalize');
    const signature = await token.signer(keys[1]!).sign(message);
    expect(verifies(keys[1]!, message, signature)).toBe(true);
    expect(token.status().present).toBe(true);
    expect(logs.some((l) => l.msg === 'token available again')).toBe(true);
    expect(await signAndVerify(token, keys, 20)).toBe(20);
  });

  it('never logs the PIN', () => {
    expect(JSON.stringify(logs)).not.toContain(testToken.pin);
  });
});

describe('an unplugged device (simulated: every PKCS#11 call fails with CKR_DEVICE_REMOVED)', () => {
  let token: Pkcs11Token;
  let keys: KeyInfo[];
  const device = unpluggable();

  beforeAll(async () => {
    token = await openToken(
      { ...options, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } },
      { wrapModule: device.wrap },
    );
    keys = [await token.getKey({ label: 'r-es256' }), await token.getKey({ label: 'r-eddsa' })];
    expect(await signAndVerify(token, keys, 6)).toBe(6);
  });

  afterAll(async () => {
    device.plugIn();
    await token?.close();
  });

  it('fails requests with ERR_HSM_UNAVAILABLE (cause kept, no CKR text) and reports present=false', async () => {
    device.unplug();
    const results = await Promise.allSettled(
      keys.map((k) => token.signer(k).sign(Buffer.from('while unplugged'))),
    );
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const err: unknown = result.status === 'rejected' ? result.reason : undefined;
      expect(isSignerdError(err) && err.code).toBe('ERR_HSM_UNAVAILABLE');
      expect((err as Error).message).not.toMatch(/CKR_/);
      expect((err as Error).cause).toBeDefined();
    }
    expect(token.status().present).toBe(false);
    await expect(token.listKeys()).rejects.toMatchObject({ code: 'ERR_HSM_UNAVAILABLE' });
  });

  it('the first request after the device is back succeeds (it reconnects itself)', async () => {
    device.plugIn();
    const message = Buffer.from('back again');
    expect(verifies(keys[0]!, message, await token.signer(keys[0]!).sign(message))).toBe(true);
    expect(token.status().present).toBe(true);
  });

  it('the background reconnect brings the token back without any request', async () => {
    device.unplug();
    await expect(token.signer(keys[1]!).sign(Buffer.from('x'))).rejects.toMatchObject({
      code: 'ERR_HSM_UNAVAILABLE',
    });
    expect(token.status().present).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(token.status().present).toBe(false); // still unplugged: the timer keeps failing
    device.plugIn();
    const deadline = Date.now() + 3_000;
    while (!token.status().present && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(token.status().present).toBe(true);
    expect(await signAndVerify(token, keys, 10)).toBe(10);
  });
});

describe('module lifecycle', () => {
  it('open → close → open again in one process, keys still there', async () => {
    for (let round = 0; round < 3; round++) {
      const token = await openToken(options);
      const key = await token.getKey({ label: 'r-eddsa' });
      expect(await signAndVerify(token, [key], 4)).toBe(4);
      await token.close();
      expect(token.status().present).toBe(false);
    }
  });

  it('two tokens on the same module at once; closing one leaves the other working', async () => {
    const a = await openToken(options);
    const b = await openToken(options);
    const key = await a.getKey({ label: 'r-es256' });
    await a.close();
    expect(await signAndVerify(b, [key], 4)).toBe(4);
    await b.close();
  });

  it('close() waits for signatures in flight', async () => {
    const token = await openToken({ ...options, sessions: 2 });
    const key = await token.getKey({ label: 'r-es256' });
    const inFlight = Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => token.signer(key).sign(Buffer.from(`m${i}`))),
    );
    // Let the first ones take sessions, then close: those in progress finish, waiters are refused.
    await new Promise((resolve) => setImmediate(resolve));
    await token.close();
    const settled = await inFlight;
    const done = settled.filter((s) => s.status === 'fulfilled');
    expect(done.length).toBeGreaterThan(0);
    for (const s of settled) {
      if (s.status === 'rejected') expect(s.reason).toMatchObject({ code: 'ERR_HSM_UNAVAILABLE' });
    }
  });
});
