import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  parseCdpKeyFile,
  parseEd25519Seed,
  parsePemPrivateKey,
  parseWalletSecret,
} from '../../../src/keys/import-formats.js';
import { isSignerdError } from '../../../src/errors.js';

/** The ERR_KEY_FORMAT error `fn` throws; fails the test on anything else. */
function formatError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    expect(isSignerdError(err) && err.code).toBe('ERR_KEY_FORMAT');
    return err as Error;
  }
  throw new Error('expected ERR_KEY_FORMAT');
}

const rawPublic = (key: KeyObject): Buffer => {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  return jwk.crv === 'Ed25519'
    ? Buffer.from(jwk.x!, 'base64url')
    : Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
};

const SEED_HEX = '0281d349927d3b4342129aa4d86bd0ed70163feb7b8d06fecc25c667974b6297';
const PUB_HEX = 'f06a7074b7892a39139b6317509f9d0e01ae234cf17fc7bfa9db3d5957f931be';

describe('parseEd25519Seed', () => {
  it('takes 64 hex digits with whitespace around, and raw 32 bytes', () => {
    for (const input of [
      SEED_HEX,
      `  ${SEED_HEX.toUpperCase()}\r\n`,
      Buffer.from(`${SEED_HEX}\n`),
      Buffer.from(SEED_HEX, 'hex'),
    ]) {
      const material = parseEd25519Seed(input);
      expect(material.alg).toBe('EdDSA');
      expect(Buffer.from(material.alg === 'EdDSA' ? material.seed : []).toString('hex')).toBe(SEED_HEX);
      expect(Buffer.from(material.publicRaw).toString('hex')).toBe(PUB_HEX);
    }
  });

  it('does not change the caller’s buffer', () => {
    const input = Buffer.from(SEED_HEX, 'hex');
    parseEd25519Seed(input);
    expect(input.toString('hex')).toBe(SEED_HEX);
  });

  it('refuses other lengths and 32 hex digits, without echoing the input', () => {
    for (const bad of [
      SEED_HEX.slice(2),
      `${SEED_HEX}00`,
      `${SEED_HEX.slice(0, 63)}g`,
      Buffer.alloc(33),
      Buffer.from(SEED_HEX.slice(0, 32)),
    ]) {
      const err = formatError(() => parseEd25519Seed(bad));
      expect(err.message).not.toContain(SEED_HEX.slice(0, 16));
    }
  });
});

describe('parsePemPrivateKey', () => {
  it('reads P-256 SEC1 and PKCS#8, and Ed25519 PKCS#8', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const ed = generateKeyPairSync('ed25519').privateKey;
    for (const [key, type] of [
      [p256, 'sec1'],
      [p256, 'pkcs8'],
      [ed, 'pkcs8'],
    ] as const) {
      const material = parsePemPrivateKey(key.export({ type, format: 'pem' }).toString());
      expect(Buffer.from(material.publicRaw)).toEqual(rawPublic(key));
      const secret = material.alg === 'ES256' ? material.d : material.seed;
      expect(secret).toHaveLength(32);
      expect(Buffer.from(secret).toString('base64url')).toBe(key.export({ format: 'jwk' }).d);
    }
  });

  it('refuses other curves by name', () => {
    for (const curve of ['secp384r1', 'secp256k1']) {
      const pem = generateKeyPairSync('ec', { namedCurve: curve })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString();
      expect(formatError(() => parsePemPrivateKey(pem)).message).toContain(`wrong curve: ${curve}`);
    }
    const sec1 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' })
      .privateKey.export({ type: 'sec1', format: 'pem' })
      .toString();
    expect(formatError(() => parsePemPrivateKey(sec1)).message).toContain('wrong curve: secp384r1');
  });

  it('refuses other key types, public keys, encrypted keys and damaged PEM', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(
      formatError(() =>
        parsePemPrivateKey(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      ).message,
    ).toContain('wrong key type: rsa');
    const spki = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(formatError(() => parsePemPrivateKey(spki)).message).toContain('PUBLIC KEY');
    const encrypted = generateKeyPairSync('ed25519')
      .privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' })
      .toString();
    expect(formatError(() => parsePemPrivateKey(encrypted)).message).toContain('encrypted');
    const damaged =
      '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI0000000000\n-----END PRIVATE KEY-----\n';
    const err = formatError(() => parsePemPrivateKey(damaged));
    expect(err.message).not.toContain('MC4CAQAw');
    expect(formatError(() => parsePemPrivateKey('just some text')).message).toContain(
      'not a PEM private key',
    );
  });
});

describe('parseCdpKeyFile', () => {
  const ed = generateKeyPairSync('ed25519').privateKey;
  const seed = Buffer.from(ed.export({ format: 'jwk' }).d!, 'base64url');
  const pub = rawPublic(ed);

  it('reads name + SEC1 PEM, and id + base64(seed‖pub)', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const a = parseCdpKeyFile(
      JSON.stringify({
        name: 'organizations/o/apiKeys/k',
        privateKey: p256.export({ type: 'sec1', format: 'pem' }),
      }),
    );
    expect(a.keyName).toBe('organizations/o/apiKeys/k');
    expect(a.material.alg).toBe('ES256');
    expect(Buffer.from(a.material.publicRaw)).toEqual(rawPublic(p256));

    const b = parseCdpKeyFile(
      JSON.stringify({ id: 'key-id', privateKey: Buffer.concat([seed, pub]).toString('base64') }),
    );
    expect(b.keyName).toBe('key-id');
    expect(b.material.alg).toBe('EdDSA');
    expect(Buffer.from(b.material.publicRaw)).toEqual(pub);
  });

  it('accepts a PEM whose line breaks stayed escaped', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const pem = p256.export({ type: 'sec1', format: 'pem' }).toString().replace(/\n/g, '\\n');
    expect(parseCdpKeyFile(JSON.stringify({ name: 'n', privateKey: pem })).material.alg).toBe('ES256');
  });

  it('refuses a seed‖pub whose halves do not match', () => {
    const otherPub = rawPublic(generateKeyPairSync('ed25519').privateKey);
    const file = JSON.stringify({
      name: 'n',
      privateKey: Buffer.concat([seed, otherPub]).toString('base64'),
    });
    const err = formatError(() => parseCdpKeyFile(file));
    expect(err.message).toContain('does not match');
    expect(err.message).not.toContain(seed.toString('base64').slice(0, 12));
  });

  it('refuses files that are not the CDP form, without echoing them', () => {
    const secretish = 'c2VjcmV0LXZhbHVlLWRvLW5vdC1lY2hv';
    for (const text of [
      `{"name": "n", "privateKey": "${secretish}"`, // not JSON
      '[]',
      JSON.stringify({ privateKey: secretish }),
      JSON.stringify({ name: 'n' }),
      JSON.stringify({ name: 'n', privateKey: secretish }), // base64 of the wrong length
      JSON.stringify({ name: 'n', privateKey: 'not base64 !!' }),
    ]) {
      expect(formatError(() => parseCdpKeyFile(text)).message).not.toContain(secretish);
    }
  });
});

describe('parseWalletSecret', () => {
  it('reads base64 DER PKCS#8 P-256', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const material = parseWalletSecret(
      `${key.export({ type: 'pkcs8', format: 'der' }).toString('base64')}\n`,
    );
    expect(material.alg).toBe('ES256');
    expect(Buffer.from(material.publicRaw)).toEqual(rawPublic(key));
  });

  it('refuses Ed25519, other curves, and non-keys', () => {
    const ed = generateKeyPairSync('ed25519')
      .privateKey.export({ type: 'pkcs8', format: 'der' })
      .toString('base64');
    expect(formatError(() => parseWalletSecret(ed)).message).toContain('P-256');
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
      .privateKey.export({ type: 'pkcs8', format: 'der' })
      .toString('base64');
    expect(formatError(() => parseWalletSecret(k1)).message).toContain('wrong curve: secp256k1');
    formatError(() => parseWalletSecret(Buffer.from('hello world').toString('base64')));
    formatError(() => parseWalletSecret('-----BEGIN PRIVATE KEY-----'));
  });
});
