import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { COBO_PUBLIC_KEYS, verifyCoboSignature } from '../../../src/credentials/cobo-verify.js';

function rawPublicHex(key: KeyObject): string {
  return Buffer.from(key.export({ format: 'jwk' }).x!, 'base64url').toString('hex');
}

/** What Cobo does: Ed25519 over SHA256(SHA256(raw_body + "|" + timestamp)). */
function coboSign(privateKey: KeyObject, body: string, timestamp: string): string {
  const inner = createHash('sha256').update(`${body}|${timestamp}`, 'utf8').digest();
  return sign(null, createHash('sha256').update(inner).digest(), privateKey).toString('hex');
}

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const pub = rawPublicHex(publicKey);
const body = '{"type":"wallets.transaction.succeeded","data":{"amount":"1.5","memo":"caf\u00e9"}}';
const timestamp = '1712345678901';
const signature = coboSign(privateKey, body, timestamp);

describe('verifyCoboSignature', () => {
  it('publishes the three environment keys', () => {
    expect(COBO_PUBLIC_KEYS).toEqual({
      dev: 'a04ea1d5fa8da71f1dcfccf972b9c4eba0a2d8aba1f6da26f49977b08a0d2718',
      sandbox: '893d8a6112ae22429a7453599256391d7928e16870ecab888ee3ce65febada08',
      prod: '8d4a482641adb2a34b726f05827dba9a9653e5857469b8749052bf4458a86729',
    });
    expect(Object.isFrozen(COBO_PUBLIC_KEYS)).toBe(true);
  });

  it('accepts a genuine callback, as a string or as bytes, with upper-case hex too', () => {
    expect(verifyCoboSignature({ body, timestamp, signature, publicKey: pub })).toBe(true);
    expect(
      verifyCoboSignature({ body: Buffer.from(body, 'utf8'), timestamp, signature, publicKey: pub }),
    ).toBe(true);
    expect(
      verifyCoboSignature({
        body: new Uint8Array(Buffer.from(body)),
        timestamp,
        signature: signature.toUpperCase(),
        publicKey: pub.toUpperCase(),
      }),
    ).toBe(true);
    const empty = coboSign(privateKey, '', timestamp);
    expect(verifyCoboSignature({ body: '', timestamp, signature: empty, publicKey: pub })).toBe(true);
  });

  it('refuses a tampered body, timestamp or signature, and another key', () => {
    expect(
      verifyCoboSignature({ body: body.replace('1.5', '9.5'), timestamp, signature, publicKey: pub }),
    ).toBe(false);
    expect(verifyCoboSignature({ body: body + ' ', timestamp, signature, publicKey: pub })).toBe(false);
    expect(verifyCoboSignature({ body, timestamp: '1712345678902', signature, publicKey: pub })).toBe(false);
    const flipped = (signature.startsWith('0') ? '1' : '0') + signature.slice(1);
    expect(verifyCoboSignature({ body, timestamp, signature: flipped, publicKey: pub })).toBe(false);
    // Moving the separator: body "a|1" + ts "2" is not body "a" + ts "1|2".
    const s = coboSign(privateKey, 'a', '1|2');
    expect(verifyCoboSignature({ body: 'a', timestamp: '1|2', signature: s, publicKey: pub })).toBe(true);
    // env keys are not this test key: prod is the default, dev/sandbox must be asked for.
    expect(verifyCoboSignature({ body, timestamp, signature })).toBe(false);
    expect(verifyCoboSignature({ body, timestamp, signature, env: 'dev' })).toBe(false);
    expect(verifyCoboSignature({ body, timestamp, signature, env: 'sandbox' })).toBe(false);
  });

  it('answers false, never throws, on malformed input', () => {
    const cases: unknown[] = [
      { body, timestamp, signature: 'zz' + signature.slice(2), publicKey: pub },
      { body, timestamp, signature: signature.slice(2), publicKey: pub },
      { body, timestamp, signature: signature + '00', publicKey: pub },
      { body, timestamp, signature: '', publicKey: pub },
      { body, timestamp, signature: ` ${signature.slice(1)}`, publicKey: pub },
      { body, timestamp, signature, publicKey: pub.slice(2) },
      { body, timestamp, signature, publicKey: 'g' + pub.slice(1) },
      { body, timestamp, signature, publicKey: '' },
      { body, timestamp, signature, env: 'staging' },
      { body, timestamp, signature, env: '__proto__' },
      { body, timestamp, signature, env: 'toString' },
      { body, timestamp: 1712345678901, signature, publicKey: pub },
      { body: null, timestamp, signature, publicKey: pub },
      { body, timestamp, signature: null, publicKey: pub },
      { body, timestamp, signature, publicKey: 7 },
      // 32 bytes that are not a point on the curve
      { body, timestamp, signature, publicKey: 'ff'.repeat(32) },
    ];
    for (const c of cases) {
      expect(() => verifyCoboSignature(c as Parameters<typeof verifyCoboSignature>[0])).not.toThrow();
      expect(verifyCoboSignature(c as Parameters<typeof verifyCoboSignature>[0])).toBe(false);
    }
  });

  it('imports nothing but node:crypto', async () => {
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(
      new URL('../../../src/credentials/cobo-verify.ts', import.meta.url),
      'utf8',
    );
    const imports = [...source.matchAll(/^import\s.*?from\s+'([^']+)'/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    expect(new Set(imports)).toEqual(new Set(['node:crypto']));
  });
});
