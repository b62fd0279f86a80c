/**
 * Verifies Cobo's response and callback signatures (`Biz-Timestamp`, `Biz-Resp-Signature`):
 * Ed25519 by Cobo's environment key over SHA256(SHA256(raw_body + "|" + timestamp)).
 *
 * Re-exported by the client library: imports node:crypto only, and never throws on what an
 * attacker controls — anything malformed is simply `false`.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export type CoboEnv = 'dev' | 'sandbox' | 'prod';

/** Cobo's published response-signing keys (raw Ed25519, hex). */
export const COBO_PUBLIC_KEYS: Readonly<Record<CoboEnv, string>> = Object.freeze({
  dev: 'a04ea1d5fa8da71f1dcfccf972b9c4eba0a2d8aba1f6da26f49977b08a0d2718',
  sandbox: '893d8a6112ae22429a7453599256391d7928e16870ecab888ee3ce65febada08',
  prod: '8d4a482641adb2a34b726f05827dba9a9653e5857469b8749052bf4458a86729',
});

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const HEX = /^[0-9a-fA-F]*$/;
const keyCache = new Map<string, KeyObject>();

function fromHex(hex: unknown, bytes: number): Buffer | undefined {
  if (typeof hex !== 'string' || hex.length !== bytes * 2 || !HEX.test(hex)) return undefined;
  return Buffer.from(hex, 'hex');
}

function publicKey(hex: string): KeyObject | undefined {
  const normalized = hex.toLowerCase();
  const cached = keyCache.get(normalized);
  if (cached !== undefined) return cached;
  const raw = fromHex(normalized, 32);
  if (raw === undefined) return undefined;
  const key = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
    format: 'der',
    type: 'spki',
  });
  if (keyCache.size < 64) keyCache.set(normalized, key);
  return key;
}

export function verifyCoboSignature(options: {
  body: string | Uint8Array;
  timestamp: string;
  signature: string /* hex */;
  env?: CoboEnv;
  publicKey?: string /* hex, overrides env */;
}): boolean {
  try {
    const { body, timestamp } = options;
    if (typeof timestamp !== 'string') return false;
    if (typeof body !== 'string' && !(body instanceof Uint8Array)) return false;
    const signature = fromHex(options.signature, 64);
    if (signature === undefined) return false;
    const keyHex = options.publicKey ?? COBO_PUBLIC_KEYS[options.env ?? 'prod'];
    if (typeof keyHex !== 'string') return false;
    const key = publicKey(keyHex);
    if (key === undefined) return false;
    const inner = createHash('sha256')
      .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
      .update('|' + timestamp, 'utf8')
      .digest();
    const digest = createHash('sha256').update(inner).digest();
    return verify(null, digest, key, signature);
  } catch {
    // A point that is not on the curve, say: not a valid signature, never an exception.
    return false;
  }
}
