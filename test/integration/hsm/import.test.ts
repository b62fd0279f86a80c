/**
 * Importing keys in every form the ceremonies accept: each signature verifies against the public
 * key node:crypto computes from the original secret, and the token reports the key as imported.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestToken, useTestToken } from '../../helpers/softhsm.js';
import type { TestToken } from '../../helpers/softhsm.js';
import { openToken } from '../../../src/hsm/token.js';
import type { Pkcs11Token } from '../../../src/hsm/token.js';
import {
  parseCdpKeyFile,
  parseEd25519Seed,
  parsePemPrivateKey,
  parseWalletSecret,
} from '../../../src/keys/import-formats.js';
import type { PrivateKeyMaterial } from '../../../src/keys/store.js';
import type { KeyInfo } from '../../../src/keys/types.js';

let testToken: TestToken;
let token: Pkcs11Token;

beforeAll(async () => {
  testToken = createTestToken('import-suite');
  useTestToken(testToken);
  token = await openToken({
    module: testToken.module,
    token: { label: testToken.label },
    pin: testToken.pin,
  });
});

afterAll(async () => {
  await token?.close();
  testToken?.remove();
});

/** Imports, signs a fresh message, and verifies with the public key derived from the original secret. */
async function importAndCheck(
  label: string,
  material: PrivateKeyMaterial,
  original: KeyObject,
): Promise<KeyInfo> {
  const secret = material.alg === 'ES256' ? material.d : material.seed;
  const info = await token.importKey({ label, key: material });
  expect(secret.every((b) => b === 0)).toBe(true); // zeroed after use
  expect(info).toMatchObject({
    label,
    alg: material.alg,
    origin: 'imported',
    sensitive: true,
    extractable: false,
    neverExtractable: false,
  });
  const expectedPublic = createPublicKey(original);
  expect(info.publicKey.pem).toBe(expectedPublic.export({ type: 'spki', format: 'pem' }));
  const message = randomBytes(48);
  const signature = await token.signer(info).sign(message);
  const ok =
    info.alg === 'ES256'
      ? verify('sha256', message, { key: expectedPublic, dsaEncoding: 'ieee-p1363' }, signature)
      : verify(null, message, expectedPublic, signature);
  expect(ok).toBe(true);
  // And found again by label, still imported.
  expect((await token.getKey({ label })).origin).toBe('imported');
  return info;
}

describe('P-256', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  it('from a SEC1 PEM', async () => {
    const pem = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
    expect(pem).toContain('BEGIN EC PRIVATE KEY');
    await importAndCheck('p256-sec1', parsePemPrivateKey(pem), privateKey);
  });

  it('from a PKCS#8 PEM (a different key)', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const pem = other.export({ type: 'pkcs8', format: 'pem' }).toString();
    await importAndCheck('p256-pkcs8', parsePemPrivateKey(pem), other);
  });

  it('from a CDP wallet secret (base64 DER PKCS#8)', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const secret = other.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    await importAndCheck('p256-wallet', parseWalletSecret(secret), other);
  });

  it('from a CDP key file with a SEC1 PEM (JSON escapes and all)', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const file = JSON.stringify({
      name: 'organizations/org-1/apiKeys/key-1',
      privateKey: other.export({ type: 'sec1', format: 'pem' }).toString(),
    });
    const { keyName, material } = parseCdpKeyFile(file);
    expect(keyName).toBe('organizations/org-1/apiKeys/key-1');
    await importAndCheck('p256-cdp', material, other);
  });
});

describe('Ed25519', () => {
  const seedOf = (key: KeyObject): Buffer => Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url');

  it('from a 64-hex-digit seed with surrounding whitespace', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    await importAndCheck(
      'ed-hex',
      parseEd25519Seed(`\n  ${seedOf(privateKey).toString('hex')}  \n`),
      privateKey,
    );
  });

  it('from a raw 32-byte seed', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    await importAndCheck('ed-raw', parseEd25519Seed(seedOf(privateKey)), privateKey);
  });

  it('from a CDP key file with base64(seed‖pub)', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pub = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url');
    const file = JSON.stringify({
      id: 'cdp-ed-key-id',
      privateKey: Buffer.concat([seedOf(privateKey), pub]).toString('base64'),
    });
    const { keyName, material } = parseCdpKeyFile(file);
    expect(keyName).toBe('cdp-ed-key-id');
    await importAndCheck('ed-cdp', material, privateKey);
  });

  it('from a PKCS#8 PEM', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await importAndCheck('ed-pem', parsePemPrivateKey(pem), privateKey);
  });
});

describe('refusals', () => {
  it('an existing label is refused, and the secret is zeroed anyway', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const material = parsePemPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    await expect(token.importKey({ label: 'ed-pem', key: material })).rejects.toMatchObject({
      code: 'ERR_KEY_EXISTS',
    });
    expect(material.alg === 'EdDSA' && material.seed.every((b) => b === 0)).toBe(true);
    // The existing key is untouched.
    const existing = await token.getKey({ label: 'ed-pem' });
    expect(existing.publicKey.hex).not.toBe(
      Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url').toString('hex'),
    );
  });

  it('a public key that does not belong to the private key is refused and leaves nothing behind', async () => {
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const b = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const material = parsePemPrivateKey(a.export({ type: 'pkcs8', format: 'pem' }).toString());
    const other = parsePemPrivateKey(b.export({ type: 'pkcs8', format: 'pem' }).toString());
    const mismatched: PrivateKeyMaterial = { ...material, publicRaw: other.publicRaw };
    await expect(token.importKey({ label: 'mismatch', key: mismatched })).rejects.toMatchObject({
      code: 'ERR_KEY_FORMAT',
    });
    await expect(token.getKey({ label: 'mismatch' })).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
    // The label is free again: a correct import under it works.
    await importAndCheck(
      'mismatch',
      parsePemPrivateKey(b.export({ type: 'pkcs8', format: 'pem' }).toString()),
      b,
    );
  });

  it('material of the wrong size is refused before it reaches the token', async () => {
    const err = token.importKey({
      label: 'short',
      key: { alg: 'EdDSA', seed: new Uint8Array(31), publicRaw: new Uint8Array(32) },
    });
    await expect(err).rejects.toMatchObject({ code: 'ERR_KEY_FORMAT' });
  });

  it('lists imported and generated keys with their origin', async () => {
    await token.generateKey({ label: 'gen-alongside', alg: 'EdDSA' });
    const keys = await token.listKeys();
    const origins = Object.fromEntries(keys.map((k) => [k.label, k.origin]));
    expect(origins).toMatchObject({
      'ed-hex': 'imported',
      'p256-sec1': 'imported',
      'gen-alongside': 'generated',
    });
    // The private key value is sensitive: this secret never comes back out.
    expect(keys.every((k) => !k.extractable && k.sensitive)).toBe(true);
  });
});
