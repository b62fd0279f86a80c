/**
 * `signerd keys import`: every source form, the public key it yields compared with what node:crypto
 * derives from the secret, the error paths, --shred, and that no secret ever travels in argv.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cdpEd25519PrivateKey,
  cdpKeyFileText,
  ceremonyEnv,
  ed25519Key,
  ed25519Seed,
  expectedPublic,
  listKeys,
  p256Key,
  type CeremonyEnv,
} from './harness.js';

let env: CeremonyEnv;
beforeAll(() => {
  env = ceremonyEnv();
});
afterAll(() => env?.remove());

let fileCount = 0;
function secretFile(content: string | Buffer): string {
  const path = env.path(`secret-${++fileCount}`);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

/** pubkey in all three formats equals node:crypto's derivation from the private key. */
async function expectPublicMatches(label: string, privateKey: KeyObject): Promise<void> {
  const want = expectedPublic(privateKey);
  const hex = await env.keys('pubkey', [label]);
  expect(hex.code, hex.stderr).toBe(0);
  expect(hex.stdout).toBe(want.hex + '\n');
  expect((await env.keys('pubkey', [label, '--format', 'hex'])).stdout).toBe(want.hex + '\n');
  expect((await env.keys('pubkey', [label, '--format', 'pem'])).stdout).toBe(want.pem);
  expect(JSON.parse((await env.keys('pubkey', [label, '--format', 'jwk'])).stdout)).toEqual(want.jwk);
}

describe('import sources', () => {
  const cases: Array<{ name: string; key: () => KeyObject; args: (key: KeyObject) => string[] }> = [
    {
      name: 'P-256 SEC1 PEM (--pem-file)',
      key: p256Key,
      args: (k) => ['--pem-file', secretFile(k.export({ type: 'sec1', format: 'pem' }))],
    },
    {
      name: 'P-256 PKCS#8 PEM (--pem-file)',
      key: p256Key,
      args: (k) => ['--pem-file', secretFile(k.export({ type: 'pkcs8', format: 'pem' }))],
    },
    {
      name: 'Ed25519 PKCS#8 PEM (--pem-file)',
      key: ed25519Key,
      args: (k) => ['--pem-file', secretFile(k.export({ type: 'pkcs8', format: 'pem' }))],
    },
    {
      name: 'Ed25519 seed as hex with surrounding whitespace (--ed25519-seed-file)',
      key: ed25519Key,
      args: (k) => ['--ed25519-seed-file', secretFile(`  ${ed25519Seed(k).toString('hex')}\n\n`)],
    },
    {
      name: 'Ed25519 seed as 32 raw bytes (--ed25519-seed-file)',
      key: ed25519Key,
      args: (k) => ['--ed25519-seed-file', secretFile(Buffer.from(ed25519Seed(k)))],
    },
    {
      name: 'CDP wallet secret, base64 DER PKCS#8 (--wallet-secret-file)',
      key: p256Key,
      args: (k) => [
        '--wallet-secret-file',
        secretFile(k.export({ type: 'pkcs8', format: 'der' }).toString('base64')),
      ],
    },
    {
      name: 'CDP key file with a P-256 SEC1 PEM (--cdp-key-file)',
      key: p256Key,
      args: (k) => [
        '--cdp-key-file',
        secretFile(
          cdpKeyFileText('organizations/o/apiKeys/a', k.export({ type: 'sec1', format: 'pem' }).toString()),
        ),
      ],
    },
    {
      name: 'CDP key file with an Ed25519 base64(seed‖pub) and "id" (--cdp-key-file)',
      key: ed25519Key,
      args: (k) => ['--cdp-key-file', secretFile(cdpKeyFileText('a1b2c3-id', cdpEd25519PrivateKey(k), 'id'))],
    },
  ];

  cases.forEach((c, i) => {
    it(`imports ${c.name}; pubkey hex/pem/jwk equal node:crypto's`, async () => {
      const key = c.key();
      const label = `imp-${i}`;
      const res = await env.keys('import', ['--label', label, ...c.args(key)]);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toContain(`imported ${key.asymmetricKeyType === 'ed25519' ? 'EdDSA' : 'ES256'}`);
      expect(res.stdout).toContain(expectedPublic(key).hex);
      await expectPublicMatches(label, key);
      const info = (await listKeys(env)).find((k) => k.label === label)!;
      expect(info).toMatchObject({ origin: 'imported', sensitive: true, extractable: false });
    });
  });

  it('prints the key name a CDP key file holds (the config cdp.keyName)', async () => {
    const key = p256Key();
    const file = secretFile(
      cdpKeyFileText(
        'organizations/acme/apiKeys/7f3e',
        key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      ),
    );
    const res = await env.keys('import', ['--label', 'cdp-name', '--cdp-key-file', file]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('CDP key name: organizations/acme/apiKeys/7f3e');
    expect(res.stdout).toContain('cdp: { keyName: "organizations/acme/apiKeys/7f3e" }');
    const json = await env.keys('import', [
      '--label',
      'cdp-name-json',
      '--json',
      '--cdp-key-file',
      secretFile(cdpKeyFileText('k2', cdpEd25519PrivateKey(ed25519Key()))),
    ]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      action: 'import',
      label: 'cdp-name-json',
      alg: 'EdDSA',
      cdpKeyName: 'k2',
    });
    expect(existsSync(file)).toBe(true); // no --shred: the file stays
  });
});

describe('import errors', () => {
  it('a missing file is exit 1 and names the file', async () => {
    const res = await env.keys('import', [
      '--label',
      'e-missing',
      '--pem-file',
      env.path('does-not-exist.pem'),
    ]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^signerd: cannot read --pem-file .*does-not-exist\.pem: no such file/);
  });

  it('a damaged PEM is exit 1 and the message does not repeat the file', async () => {
    const body = 'MHcCAQEEI-not-really-base64-SECRETSECRET';
    const res = await env.keys('import', [
      '--label',
      'e-bad-pem',
      '--pem-file',
      secretFile(`-----BEGIN EC PRIVATE KEY-----\n${body}\n-----END EC PRIVATE KEY-----\n`),
    ]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^signerd: /);
    expect(res.stderr).not.toContain('SECRETSECRET');
    const notPem = await env.keys('import', ['--label', 'e-not-pem', '--pem-file', secretFile('hello\n')]);
    expect(notPem.code).toBe(1);
    expect((await listKeys(env)).map((k) => k.label)).not.toContain('e-bad-pem');
  });

  for (const curve of ['secp384r1', 'secp256k1']) {
    it(`refuses a ${curve} key (wrong curve), exit 1, nothing stored`, async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
      for (const type of ['sec1', 'pkcs8'] as const) {
        const label = `e-${curve}-${type}`;
        const res = await env.keys('import', [
          '--label',
          label,
          '--pem-file',
          secretFile(privateKey.export({ type, format: 'pem' })),
        ]);
        expect(res.code, type).toBe(1);
        expect(res.stderr, type).toMatch(/wrong curve/);
        expect(res.stderr, type).toContain(curve);
      }
      // Also inside a CDP key file.
      const cdp = await env.keys('import', [
        '--label',
        `e-${curve}-cdp`,
        '--cdp-key-file',
        secretFile(cdpKeyFileText('k', privateKey.export({ type: 'sec1', format: 'pem' }).toString())),
      ]);
      expect(cdp.code).toBe(1);
      expect((await listKeys(env)).map((k) => k.label).filter((l) => l.includes(curve))).toEqual([]);
    });
  }

  it('refuses an existing label (exit 1) before reading the secret; a --shred file is kept', async () => {
    expect((await env.keys('generate', ['--label', 'occupied', '--alg', 'EdDSA'])).code).toBe(0);
    const file = secretFile(ed25519Seed(ed25519Key()).toString('hex'));
    const res = await env.keys('import', ['--label', 'occupied', '--ed25519-seed-file', file, '--shred']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/already has a key labelled "occupied"/);
    expect(existsSync(file)).toBe(true);
  });

  it('two sources at once, or none, is a usage error (exit 2)', async () => {
    const a = secretFile(ed25519Seed(ed25519Key()).toString('hex'));
    const b = secretFile(p256Key().export({ type: 'pkcs8', format: 'pem' }));
    const two = await env.keys('import', ['--label', 'e-two', '--ed25519-seed-file', a, '--pem-file', b]);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('exactly one key source');
    const none = await env.keys('import', ['--label', 'e-none']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(
      'exactly one of --cdp-key-file | --ed25519-seed-file | --pem-file | --wallet-secret-file',
    );
    const noLabel = await env.keys('import', ['--pem-file', b]);
    expect(noLabel.code).toBe(2);
    expect((await listKeys(env)).map((k) => k.label)).not.toContain('e-two');
  });

  it('a failed import does not shred the file', async () => {
    const file = secretFile('not a key at all\n');
    const res = await env.keys('import', ['--label', 'e-shred-bad', '--pem-file', file, '--shred']);
    expect(res.code).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe('not a key at all\n');
  });

  it('--shred with stdin is a usage error', async () => {
    const res = await env.keys(
      'import',
      ['--label', 'e-shred-stdin', '--ed25519-seed-file', '-', '--shred'],
      { input: 'x' },
    );
    expect(res.code).toBe(2);
  });
});

describe('--shred', () => {
  it('deletes the key file after a successful import (and not its directory)', async () => {
    const key = ed25519Key();
    const file = secretFile(ed25519Seed(key).toString('hex') + '\n');
    const res = await env.keys('import', ['--label', 'shredded', '--ed25519-seed-file', file, '--shred']);
    expect(res.code, res.stderr).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(env.token.dir)).toBe(true);
    expect(res.stdout).toContain(`shredded:    ${file}`);
    await expectPublicMatches('shredded', key);
  });
});

describe('no secret in argv', () => {
  it('reads the seed from stdin while /proc/<pid>/cmdline and environ of the running import do not hold it', async () => {
    const key = ed25519Key();
    const seedHex = ed25519Seed(key).toString('hex');
    let cmdline = '';
    let environ = '';
    const res = await env.keys('import', ['--label', 'from-stdin', '--ed25519-seed-file', '-'], {
      input: seedHex + '\n',
      onSpawn: (child) => {
        // The import is running (waiting for stdin, which is written only after this returns).
        cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
        environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8');
      },
    });
    expect(res.code, res.stderr).toBe(0);
    expect(cmdline).toContain('from-stdin'); // we did read the import's own argv
    expect(cmdline).toContain('--ed25519-seed-file');
    expect(cmdline.toLowerCase()).not.toContain(seedHex);
    expect(environ.toLowerCase()).not.toContain(seedHex);
    await expectPublicMatches('from-stdin', key);
  });

  it('reads a CDP key file from stdin too', async () => {
    const key = p256Key();
    const res = await env.keys('import', ['--label', 'cdp-stdin', '--cdp-key-file', '-'], {
      input: cdpKeyFileText(
        'organizations/o/apiKeys/stdin',
        key.export({ type: 'sec1', format: 'pem' }).toString(),
      ),
    });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('organizations/o/apiKeys/stdin');
    await expectPublicMatches('cdp-stdin', key);
  });

  it('empty stdin is a failure, not a key', async () => {
    const res = await env.keys('import', ['--label', 'empty-stdin', '--ed25519-seed-file', '-'], {
      input: '',
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('nothing on stdin');
  });

  it('refuses a flag carrying a secret, and a secret as a positional argument, with exit 2, without echoing it', async () => {
    const seedHex = ed25519Seed(ed25519Key()).toString('hex');
    for (const args of [
      ['--seed', seedHex],
      [`--seed=${seedHex}`],
      ['--private-key', seedHex],
      ['--pin', '1234'],
      [seedHex],
    ]) {
      const res = await env.keys('import', ['--label', 'argv-secret', ...args]);
      expect(res.code, args[0]).toBe(2);
      expect(res.stderr, args[0]).not.toContain(seedHex);
    }
    expect((await listKeys(env)).map((k) => k.label)).not.toContain('argv-secret');
  });
});
