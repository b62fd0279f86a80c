/**
 * The whole CDP path: a key file as the CDP portal downloads it → `keys import --shred` (the file is
 * gone) → a real daemon on that token issues JWTs that verify against the public key node:crypto
 * computes from the ORIGINAL file's private key.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { verifyJwt } from '../../helpers/verify.js';
import {
  cdpEd25519PrivateKey,
  cdpKeyFileText,
  ceremonyEnv,
  ed25519Key,
  p256Key,
  type CeremonyEnv,
} from './harness.js';

const URL = 'https://api.coinbase.com/api/v3/brokerage/accounts?limit=5';

interface CdpFile {
  label: string;
  alg: 'ES256' | 'EdDSA';
  keyName: string;
  text: string;
  path: string;
  /** Public JWK computed from the file's private key, before the import. */
  jwk: JWK;
}

/** The private key as a CDP key file carries it → its public JWK (node:crypto only). */
function publicJwkOfCdpFile(text: string): JWK {
  const { privateKey } = JSON.parse(text) as { privateKey: string };
  if (privateKey.includes('-----BEGIN'))
    return createPublicKey(createPrivateKey(privateKey)).export({ format: 'jwk' });
  const bytes = Buffer.from(privateKey, 'base64');
  const pkcs8 = Buffer.concat([
    Buffer.from('302e020100300506032b657004220420', 'hex'),
    bytes.subarray(0, 32),
  ]);
  return createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({
    format: 'jwk',
  });
}

let env: CeremonyEnv;
let daemon: TestDaemon | undefined;
const files: CdpFile[] = [];

beforeAll(() => {
  env = ceremonyEnv();
  const made = [
    {
      label: 'cdp-ec',
      alg: 'ES256' as const,
      keyName: 'organizations/11111111-2222/apiKeys/ec-key',
      privateKey: p256Key().export({ type: 'sec1', format: 'pem' }).toString(),
    },
    {
      label: 'cdp-ed',
      alg: 'EdDSA' as const,
      keyName: 'organizations/11111111-2222/apiKeys/ed-key',
      privateKey: cdpEd25519PrivateKey(ed25519Key()),
    },
  ];
  for (const m of made) {
    const text = cdpKeyFileText(m.keyName, m.privateKey);
    const path = env.path(`${m.label}.json`);
    writeFileSync(path, text, { mode: 0o600 });
    files.push({ label: m.label, alg: m.alg, keyName: m.keyName, text, path, jwk: publicJwkOfCdpFile(text) });
  }
});

afterAll(async () => {
  await daemon?.stop();
  env?.remove();
});

describe('CDP key file → token → daemon JWTs', () => {
  it('imports both CDP key forms with --shred: the files are gone, the key names printed', async () => {
    for (const f of files) {
      const res = await env.keys('import', ['--label', f.label, '--cdp-key-file', f.path, '--shred']);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toContain(`CDP key name: ${f.keyName}`);
      expect(existsSync(f.path)).toBe(false);
    }
  });

  it('a daemon serving the token issues cdp JWTs that verify against the original files’ public keys', async () => {
    daemon = await startDaemon({
      token: env.token,
      keys: files.map((f) => ({
        name: f.label,
        alg: f.alg,
        config: { profile: 'cdp', cdp: { keyName: f.keyName } },
      })),
    });
    for (const f of files) {
      const res = await daemon.request('POST', `/v1/keys/${f.label}/jwt`, { method: 'GET', url: URL });
      expect(res.status, res.text).toBe(200);
      const { header, claims } = await verifyJwt(res.json.jwt as string, f.jwk);
      expect(header).toMatchObject({ alg: f.alg, kid: f.keyName, typ: 'JWT' });
      expect(claims).toMatchObject({
        sub: f.keyName,
        iss: 'cdp',
        uri: 'GET api.coinbase.com/api/v3/brokerage/accounts',
      });

      // The daemon's own view of the key is the file's public key, too.
      const info = await daemon.request('GET', `/v1/keys/${f.label}`);
      expect(info.json.publicKey.jwk).toEqual(f.jwk);
      expect(info.json.origin).toBe('imported');
    }
  });

  it('a JWT does not verify against another key (the check above is not vacuous)', async () => {
    expect(daemon).toBeDefined();
    const [ec, ed] = files;
    const res = await daemon!.request('POST', `/v1/keys/${ec!.label}/jwt`, { method: 'GET', url: URL });
    await expect(
      verifyJwt(res.json.jwt as string, createPublicKey(p256Key()).export({ format: 'jwk' }) as JWK),
    ).rejects.toThrow();
    await expect(verifyJwt(res.json.jwt as string, ed!.jwk)).rejects.toThrow();
  });
});
