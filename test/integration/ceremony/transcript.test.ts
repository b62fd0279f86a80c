/**
 * Ceremony transcripts: written by `keys generate|import --transcript`, checked offline by
 * `keys verify-transcript`; any altered byte fails. And the two ceremony scripts, end to end.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyTranscript } from '../../../src/keys/transcript.js';
import {
  cdpKeyFileText,
  ceremonyEnv,
  ed25519Key,
  ed25519Seed,
  expectedPublic,
  listKeys,
  p256Key,
  ROOT,
  run,
  type CeremonyEnv,
} from './harness.js';

let env: CeremonyEnv;
beforeAll(() => {
  env = ceremonyEnv();
});
afterAll(() => env?.remove());

/** Sorted-key compact JSON, written here independently of src/. */
function sortedJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${sortedJson(record[k])}`)
    .join(',')}}`;
}

/** Checks the proof with node:crypto only: the key in the transcript signed its body. */
function proofVerifies(text: string): boolean {
  const { proof, ...body } = JSON.parse(text) as {
    proof: { alg: string; signature: string };
    key: { publicKey: { jwk: Record<string, string> } };
  };
  const key = createPublicKey({ key: body.key.publicKey.jwk, format: 'jwk' });
  const data = Buffer.from(sortedJson(body), 'utf8');
  const sig = Buffer.from(proof.signature, 'base64url');
  return proof.alg === 'ES256'
    ? verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig)
    : verify(null, data, key, sig);
}

function alter(text: string, index: number, to: string): string {
  return text.slice(0, index) + to + text.slice(index + 1);
}

const transcripts: Record<string, string> = {};

describe('transcripts of generate and import', () => {
  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`generate ${alg} --transcript writes a transcript that verifies offline`, async () => {
      const path = env.path(`gen-${alg}.transcript.json`);
      const res = await env.keys('generate', ['--label', `t-gen-${alg}`, '--alg', alg, '--transcript', path]);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toContain(`transcript:  ${path}`);
      const text = readFileSync(path, 'utf8');
      transcripts[alg] = text;
      const t = JSON.parse(text);
      const key = (await listKeys(env)).find((k) => k.label === `t-gen-${alg}`)!;
      expect(t).toMatchObject({
        format: 'signerd-key-ceremony/1',
        action: 'generate',
        operator: { uid: process.getuid!() },
        host: hostname(),
        token: { label: 'ceremony' },
        key: {
          label: `t-gen-${alg}`,
          id: key.id,
          alg,
          origin: 'generated',
          sensitive: true,
          extractable: false,
          thumbprint: key.thumbprint,
        },
        signerd: {
          version: (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
            .version,
        },
        proof: { alg },
      });
      expect(t.token.serial).toMatch(/\S/);
      expect(t.key.publicKey).toEqual({ hex: key.publicKey.hex, jwk: key.publicKey.jwk });
      expect(t.source).toBeUndefined();
      expect(Date.parse(t.time as string)).toBeGreaterThan(Date.now() - 120_000);
      expect(proofVerifies(text)).toBe(true);

      const check = await env.signerd(['keys', 'verify-transcript', path]);
      expect(check.code, check.stderr).toBe(0);
      expect(check.stdout).toBe('ok\n');
    });
  }

  it('import --transcript records the source kind and the CDP key name, never the secret or its path', async () => {
    const key = p256Key();
    const pem = key.export({ type: 'sec1', format: 'pem' }).toString();
    const file = env.path('cdp-for-transcript.json');
    writeFileSync(file, cdpKeyFileText('organizations/t/apiKeys/tr', pem), { mode: 0o600 });
    const path = env.path('import.transcript.json');
    const res = await env.keys('import', ['--label', 't-imp', '--cdp-key-file', file, '--transcript', path]);
    expect(res.code, res.stderr).toBe(0);
    const text = readFileSync(path, 'utf8');
    const t = JSON.parse(text);
    expect(t).toMatchObject({
      action: 'import',
      source: 'cdp-key-file',
      cdpKeyName: 'organizations/t/apiKeys/tr',
      key: { origin: 'imported' },
    });
    expect(t.key.publicKey.hex).toBe(expectedPublic(key).hex);
    const d = Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url');
    expect(text).not.toContain(d.toString('hex'));
    expect(text).not.toContain(d.toString('base64'));
    expect(text).not.toContain(d.toString('base64url'));
    expect(text).not.toContain('cdp-for-transcript');
    expect(proofVerifies(text)).toBe(true);
    expect((await env.signerd(['keys', 'verify-transcript', path])).code).toBe(0);
  });

  it('a seed import from stdin records ed25519-seed-file and not the seed', async () => {
    const seed = ed25519Seed(ed25519Key());
    const path = env.path('seed.transcript.json');
    const res = await env.keys(
      'import',
      ['--label', 't-seed', '--ed25519-seed-file', '-', '--transcript', path],
      { input: seed.toString('hex') },
    );
    expect(res.code, res.stderr).toBe(0);
    const text = readFileSync(path, 'utf8');
    expect(JSON.parse(text)).toMatchObject({
      action: 'import',
      source: 'ed25519-seed-file',
      key: { alg: 'EdDSA' },
    });
    expect(text).not.toContain(seed.toString('hex'));
    expect(text).not.toContain(seed.toString('base64url'));
  });

  it('refuses an existing transcript file (exit 2) before touching the token', async () => {
    const path = env.path('exists.transcript.json');
    writeFileSync(path, 'previous ceremony\n');
    const res = await env.keys('generate', ['--label', 't-exists', '--alg', 'EdDSA', '--transcript', path]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('already exists');
    expect(readFileSync(path, 'utf8')).toBe('previous ceremony\n');
    expect((await listKeys(env)).map((k) => k.label)).not.toContain('t-exists');
  });

  it('a failed ceremony leaves no transcript behind', async () => {
    const path = env.path('failed.transcript.json');
    const res = await env.keys('generate', [
      '--label',
      't-gen-EdDSA',
      '--alg',
      'EdDSA',
      '--transcript',
      path,
    ]);
    expect(res.code).toBe(1);
    expect(existsSync(path)).toBe(false);
  });
});

describe('verify-transcript refuses altered transcripts', () => {
  it('one altered byte in the body fails (exit 1, with the reason)', async () => {
    const text = transcripts.EdDSA!;
    const at = text.indexOf('"label": "t-gen-EdDSA"') + '"label": "t-gen-'.length;
    const path = env.path('altered-body.json');
    writeFileSync(path, alter(text, at, 'e'));
    const res = await env.signerd(['keys', 'verify-transcript', path]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^signerd: transcript: the proof of possession does not verify/);
  });

  it('one altered byte in the signature fails', async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const text = transcripts[alg]!;
      const at = text.indexOf('"signature": "') + '"signature": "'.length + 10;
      const path = env.path(`altered-sig-${alg}.json`);
      writeFileSync(path, alter(text, at, text[at] === 'A' ? 'B' : 'A'));
      const res = await env.signerd(['keys', 'verify-transcript', path]);
      expect(res.code, alg).toBe(1);
      expect(res.stderr, alg).toMatch(/^signerd: transcript: /);
    }
  });

  it('a swapped public key (with a consistent thumbprint) fails the proof', async () => {
    const t = JSON.parse(transcripts.EdDSA!);
    const other = expectedPublic(ed25519Key());
    t.key.publicKey = { hex: other.hex, jwk: other.jwk };
    const path = env.path('swapped.json');
    writeFileSync(path, JSON.stringify(JSON.parse(sortedJson(t)), null, 2) + '\n');
    const stale = await env.signerd(['keys', 'verify-transcript', path]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('key.thumbprint does not match');

    t.key.thumbprint = createHash('sha256')
      .update(sortedJson({ crv: other.jwk.crv, kty: other.jwk.kty, x: other.jwk.x }))
      .digest('base64url');
    writeFileSync(path, JSON.stringify(JSON.parse(sortedJson(t)), null, 2) + '\n');
    const res = await env.signerd(['keys', 'verify-transcript', path]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('the proof of possession does not verify');
  });

  it('a missing or non-JSON file fails with exit 1; no FILE is exit 2', async () => {
    expect((await env.signerd(['keys', 'verify-transcript', env.path('nope.json')])).code).toBe(1);
    writeFileSync(env.path('garbage.json'), 'not json');
    const garbage = await env.signerd(['keys', 'verify-transcript', env.path('garbage.json')]);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toContain('not valid JSON');
    expect((await env.signerd(['keys', 'verify-transcript'])).code).toBe(2);
  });

  it('every single altered byte of a transcript fails verification (in-process, exhaustive)', () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const text = transcripts[alg]!;
      expect(verifyTranscript(text).key.alg).toBe(alg);
      for (let i = 0; i < text.length; i++) {
        const code = text.charCodeAt(i);
        // A printable neighbour, or a space for a newline: the smallest plausible tamper.
        const to = code === 0x0a ? ' ' : String.fromCharCode(code === 0x7e ? 0x7d : code + 1);
        expect(
          () => verifyTranscript(alter(text, i, to)),
          `${alg} byte ${i} (${JSON.stringify(text[i])})`,
        ).toThrow(/transcript/);
      }
    }
  });
});

describe('ceremony scripts, end to end', () => {
  it('ceremony-new-cobo-key.sh generates an EdDSA key and prints the 64-hex key for Cobo Portal', async () => {
    const out = env.path('cobo.transcript.json');
    const res = await run(
      'bash',
      [
        join(ROOT, 'scripts/ceremony-new-cobo-key.sh'),
        '--config',
        env.config,
        '--label',
        's-cobo',
        '--transcript',
        out,
      ],
      env.token.env,
    );
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const key = (await listKeys(env)).find((k) => k.label === 's-cobo')!;
    expect(key).toMatchObject({ alg: 'EdDSA', origin: 'generated', extractable: false });
    expect(res.stdout).toContain(`Paste this public key (64 hex digits) into Cobo Portal`);
    expect(res.stdout).toMatch(new RegExp(`^    ${key.publicKey.hex}$`, 'm'));
    expect(res.stdout).toContain('profile: cobo');
    expect(JSON.parse(readFileSync(out, 'utf8')).key.publicKey.hex).toBe(key.publicKey.hex);
    expect((await env.signerd(['keys', 'verify-transcript', out])).code).toBe(0);
  });

  it('ceremony-import-cdp-key.sh imports, shreds the key file, and leaves a verified transcript', async () => {
    const key = ed25519Key();
    const pub = expectedPublic(key);
    const file = env.path('script-cdp.json');
    writeFileSync(
      file,
      cdpKeyFileText(
        'organizations/s/apiKeys/script',
        Buffer.concat([ed25519Seed(key), Buffer.from(pub.hex, 'hex')]).toString('base64'),
      ),
      {
        mode: 0o600,
      },
    );
    const out = env.path('cdp.transcript.json');
    const script = join(ROOT, 'scripts/ceremony-import-cdp-key.sh');
    const res = await run(
      'bash',
      [script, '--config', env.config, '--label', 's-cdp', '--key-file', file, '--transcript', out],
      env.token.env,
    );
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(res.stdout).toContain('cdp: { keyName: "organizations/s/apiKeys/script" }');
    const t = JSON.parse(readFileSync(out, 'utf8'));
    expect(t).toMatchObject({
      action: 'import',
      source: 'cdp-key-file',
      cdpKeyName: 'organizations/s/apiKeys/script',
      key: { label: 's-cdp' },
    });
    expect(t.key.publicKey.hex).toBe(pub.hex);
    expect(proofVerifies(readFileSync(out, 'utf8'))).toBe(true);
  });

  it('the scripts refuse missing arguments with exit 2', async () => {
    for (const script of ['ceremony-new-cobo-key.sh', 'ceremony-import-cdp-key.sh']) {
      const res = await run('bash', [join(ROOT, 'scripts', script), '--config', env.config], env.token.env);
      expect(res.code, script).toBe(2);
      expect(res.stderr, script).toContain('usage:');
    }
  });
});
