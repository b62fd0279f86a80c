/** `signerd keys list|generate|pubkey|destroy` against a real SoftHSM2 token, and their error paths. */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ceremonyEnv, listKeys, SIGNERD_BIN, type CeremonyEnv } from './harness.js';

/** util-linux `script` gives the command a pseudo-terminal, so the interactive path can run. */
const HAVE_SCRIPT = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

/** Runs `signerd ARGS` on a terminal; answers `answer` once the prompt appears. */
function onTerminal(
  env: CeremonyEnv,
  args: string[],
  answer: string,
): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, SIGNERD_BIN, ...args]
    .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    env: env.token.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  let answered = false;
  const onData = (c: Buffer) => {
    output += c.toString();
    if (!answered && output.includes('to confirm: ')) {
      answered = true;
      child.stdin.write(answer + '\n');
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

let env: CeremonyEnv;
beforeAll(() => {
  env = ceremonyEnv();
});
afterAll(() => env?.remove());

/** RFC 7638, computed here independently of src/keys. */
function thumbprint(jwk: Record<string, string>): string {
  const members =
    jwk.kty === 'OKP'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

describe('help and usage', () => {
  it('prints help for keys and every subcommand, exit 0', async () => {
    const top = await env.signerd(['keys', '--help']);
    expect(top.code).toBe(0);
    for (const sub of ['list', 'generate', 'import', 'pubkey', 'destroy', 'verify-transcript']) {
      expect(top.stdout).toContain(sub);
      const res = await env.signerd(['keys', sub, '--help']);
      expect(res.code, sub).toBe(0);
      expect(res.stdout, sub).toMatch(new RegExp(`^Usage: signerd keys ${sub}`));
    }
  });

  it('no subcommand and an unknown one are usage errors (exit 2)', async () => {
    expect((await env.signerd(['keys'])).code).toBe(2);
    const res = await env.signerd(['keys', 'rotate']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^signerd: unknown keys command "rotate"/);
  });

  it('an unknown flag is a usage error', async () => {
    const res = await env.keys('list', ['--verbose']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("'--verbose'");
  });

  it('takes --config before the subcommand too', async () => {
    for (const args of [
      ['keys', '--config', env.config, 'list'],
      ['keys', `--config=${env.config}`, 'list'],
    ]) {
      const res = await env.signerd(args);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toMatch(/^LABEL\s+ID/);
    }
  });

  it('a missing config file fails with exit 1 and names the file', async () => {
    const res = await env.signerd(['keys', 'list', '--config', env.path('nope.yaml')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^signerd: cannot read config file .*nope\.yaml/);
  });

  it('takes the config from $SIGNERD_CONFIG when --config is absent', async () => {
    const res = await env.signerd(['keys', 'list'], { env: { SIGNERD_CONFIG: env.config } });
    expect(res.code).toBe(0);
    expect(res.stdout.split('\n')[0]).toMatch(/^LABEL\s+ID\s+ALG\s+SENSITIVE\s+EXTRACTABLE\s+ORIGIN$/);
  });
});

describe('generate', () => {
  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`generates an ${alg} key and prints every public form, consistent with each other`, async () => {
      const label = `gen-${alg}`;
      const res = await env.keys('generate', ['--label', label, '--alg', alg, '--json']);
      expect(res.code, res.stderr).toBe(0);
      const out = JSON.parse(res.stdout) as Record<string, any>;
      expect(out).toMatchObject({
        action: 'generate',
        label,
        alg,
        origin: 'generated',
        sensitive: true,
        extractable: false,
      });
      expect(out.id).toMatch(/^[0-9a-f]{32}$/);
      const fromPem = createPublicKey(out.publicKey.pem as string).export({ format: 'jwk' });
      expect(fromPem).toEqual(out.publicKey.jwk);
      expect(out.thumbprint).toBe(thumbprint(out.publicKey.jwk as Record<string, string>));
      if (alg === 'EdDSA') {
        expect(out.publicKey.hex).toMatch(/^[0-9a-f]{64}$/);
        expect(Buffer.from(out.publicKey.jwk.x as string, 'base64url').toString('hex')).toBe(
          out.publicKey.hex,
        );
      } else {
        expect(out.publicKey.hex).toMatch(/^04[0-9a-f]{128}$/);
        const xy = Buffer.concat([
          Buffer.from(out.publicKey.jwk.x as string, 'base64url'),
          Buffer.from(out.publicKey.jwk.y as string, 'base64url'),
        ]);
        expect('04' + xy.toString('hex')).toBe(out.publicKey.hex);
      }

      // The human form carries the same values.
      const pub = await env.keys('pubkey', [label, '--format', 'hex']);
      expect(pub.stdout.trim()).toBe(out.publicKey.hex);
    });
  }

  it('prints the Cobo Portal hex, JWK, PEM, thumbprint and CKA_ID in the human form', async () => {
    const res = await env.keys('generate', ['--label', 'cobo-human', '--alg', 'EdDSA']);
    expect(res.code, res.stderr).toBe(0);
    const [key] = (await listKeys(env)).filter((k) => k.label === 'cobo-human');
    expect(res.stdout).toContain(`generated EdDSA (Ed25519) key "cobo-human"`);
    expect(res.stdout).toContain('Cobo Portal');
    expect(res.stdout).toContain(`\n${key!.publicKey.hex}\n`);
    expect(res.stdout).toContain(JSON.stringify(key!.publicKey.jwk));
    expect(res.stdout).toContain('-----BEGIN PUBLIC KEY-----');
    expect(res.stdout).toContain(`CKA_ID:      ${key!.id}`);
    expect(res.stdout).toContain(key!.thumbprint);
  });

  it('refuses an existing label with exit 1 and leaves the old key alone', async () => {
    const first = await env.keys('generate', ['--label', 'taken', '--alg', 'ES256', '--json']);
    expect(first.code).toBe(0);
    const res = await env.keys('generate', ['--label', 'taken', '--alg', 'EdDSA']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^signerd: token "ceremony" already has a key labelled "taken"/);
    const taken = (await listKeys(env)).filter((k) => k.label === 'taken');
    expect(taken).toHaveLength(1);
    expect(taken[0]!.publicKey.hex).toBe(JSON.parse(first.stdout).publicKey.hex);
  });

  it('takes a chosen CKA_ID, and refuses one already in use', async () => {
    const res = await env.keys('generate', ['--label', 'with-id', '--alg', 'ES256', '--id', '0A0B']);
    expect(res.code, res.stderr).toBe(0);
    expect((await listKeys(env)).find((k) => k.label === 'with-id')!.id).toBe('0a0b');
    const again = await env.keys('generate', ['--label', 'other-id', '--alg', 'ES256', '--id', '0a0b']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('id 0a0b');
    expect((await env.keys('generate', ['--label', 'bad-id', '--alg', 'ES256', '--id', 'xyz'])).code).toBe(2);
  });

  it('a bad or missing --alg, or a missing --label, is a usage error (exit 2) and creates nothing', async () => {
    for (const args of [
      ['--label', 'rsa', '--alg', 'RS256'],
      ['--label', 'lower', '--alg', 'es256'],
      ['--label', 'noalg'],
      ['--alg', 'ES256'],
    ]) {
      const res = await env.keys('generate', args);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr, args.join(' ')).toMatch(/^signerd: generate: --(alg|label)/);
    }
    const labels = (await listKeys(env)).map((k) => k.label);
    expect(labels).not.toContain('rsa');
    expect(labels).not.toContain('lower');
    expect(labels).not.toContain('noalg');
  });
});

describe('list', () => {
  it('shows label, id, alg, sensitive, extractable and origin for every key', async () => {
    await env.keys('generate', ['--label', 'listed', '--alg', 'EdDSA']);
    const res = await env.keys('list');
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^LABEL\s+ID\s+ALG\s+SENSITIVE\s+EXTRACTABLE\s+ORIGIN$/);
    const key = (await listKeys(env)).find((k) => k.label === 'listed')!;
    const row = lines.find((l) => l.startsWith('listed '));
    expect(row?.split(/\s+/)).toEqual(['listed', key.id, 'EdDSA', 'yes', 'no', 'generated']);
  });
});

describe('pubkey', () => {
  it('prints hex by default, and pem / jwk on request; names a key by pkcs11: URI too', async () => {
    const gen = JSON.parse(
      (await env.keys('generate', ['--label', 'pk', '--alg', 'ES256', '--json'])).stdout,
    );
    expect((await env.keys('pubkey', ['pk'])).stdout).toBe(gen.publicKey.hex + '\n');
    expect((await env.keys('pubkey', ['pk', '--format', 'pem'])).stdout).toBe(gen.publicKey.pem);
    expect(JSON.parse((await env.keys('pubkey', ['pk', '--format', 'jwk'])).stdout)).toEqual(
      gen.publicKey.jwk,
    );
    const byId = await env.keys('pubkey', [`pkcs11:id=${(gen.id as string).replace(/../g, '%$&')}`]);
    expect(byId.stdout).toBe(gen.publicKey.hex + '\n');
  });

  it('an unknown label is exit 1; a bad --format or no key is exit 2', async () => {
    const missing = await env.keys('pubkey', ['no-such-key']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^signerd: no private key "no-such-key"/);
    expect((await env.keys('pubkey', ['pk', '--format', 'der'])).code).toBe(2);
    expect((await env.keys('pubkey', [])).code).toBe(2);
    expect((await env.keys('pubkey', ['a', 'b'])).code).toBe(2);
  });
});

describe('destroy', () => {
  it('without --yes on a non-terminal stdin is a usage error (exit 2) and destroys nothing', async () => {
    await env.keys('generate', ['--label', 'keep-me', '--alg', 'EdDSA']);
    const res = await env.keys('destroy', ['keep-me'], { input: 'keep-me\n' });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--yes');
    expect((await listKeys(env)).map((k) => k.label)).toContain('keep-me');
  });

  it.skipIf(!HAVE_SCRIPT)(
    'on a terminal, asks for the label: a wrong answer keeps the key, the right one destroys it',
    async () => {
      await env.keys('generate', ['--label', 'asked', '--alg', 'EdDSA']);
      const args = ['keys', 'destroy', 'asked', '--config', env.config];
      const wrong = await onTerminal(env, args, 'not-it');
      expect(wrong.code, wrong.output).toBe(1);
      expect(wrong.output).toContain('not confirmed; nothing destroyed');
      expect((await listKeys(env)).map((k) => k.label)).toContain('asked');
      const right = await onTerminal(env, args, 'asked');
      expect(right.code, right.output).toBe(0);
      expect(right.output).toContain('destroyed key "asked"');
      expect((await listKeys(env)).map((k) => k.label)).not.toContain('asked');
    },
  );

  it('with --yes removes the private and public key', async () => {
    await env.keys('generate', ['--label', 'doomed', '--alg', 'ES256']);
    const res = await env.keys('destroy', ['doomed', '--yes']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^destroyed key "doomed"/);
    expect((await listKeys(env)).map((k) => k.label)).not.toContain('doomed');
    expect((await env.keys('pubkey', ['doomed'])).code).toBe(1);
    // The label is free again: the public half went too.
    expect((await env.keys('generate', ['--label', 'doomed', '--alg', 'EdDSA'])).code).toBe(0);
  });

  it('an unknown label is exit 1', async () => {
    const res = await env.keys('destroy', ['never-was', '--yes']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^signerd: no private key "never-was"/);
  });

  it('a broken config fails with exit 1 and names the field', async () => {
    const bad = env.path('bad.yaml');
    writeFileSync(bad, 'hsm:\n  module: relative/path.so\n  token: x\n  pin: { file: /nonexistent }\n');
    const res = await env.signerd(['keys', 'list', '--config', bad]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('hsm.module');
  });
});
