/**
 * Secrets stay where they belong: the PIN, private key bytes (keys imported from known material, so
 * the test knows what to look for), JWTs, signatures and request bodies never appear in the daemon's
 * log, the audit log or an error answer; the PIN is not in the daemon's argv or environment (it
 * reads it from a file). A denied client learning nothing about other keys (the same 404 as a
 * missing key) is covered by test/e2e/policy.test.ts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon, type TestKey } from '../helpers/daemon.js';
import { COBO_BODY, PROFILE_KEYS, report, runLoad, Verifier } from './helpers.js';

function p256(): { material: TestKey['material']; d: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const pub = publicKey.export({ format: 'jwk' });
  const d = Buffer.from(jwk.d!, 'base64url');
  const publicRaw = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(pub.x!, 'base64url'),
    Buffer.from(pub.y!, 'base64url'),
  ]);
  return { material: { alg: 'ES256', d: Buffer.from(d), publicRaw }, d };
}

function ed25519(): { material: TestKey['material']; seed: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const publicRaw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  return { material: { alg: 'EdDSA', seed: Buffer.from(seed), publicRaw }, seed };
}

const es = p256();
const ed = ed25519();
const cobo = ed25519();
const secretsOfKeys = [es.d, ed.seed, cobo.seed];

let daemon: TestDaemon;

beforeAll(async () => {
  const keys: TestKey[] = PROFILE_KEYS.map((k) => {
    if (k.name === 'cdp-es') return { ...k, material: es.material! };
    if (k.name === 'cdp-ed') return { ...k, material: ed.material! };
    if (k.name === 'cobo') return { ...k, material: cobo.material! };
    return k;
  });
  daemon = await startDaemon({ keys, env: { SIGNERD_PIN: undefined } });
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  daemon?.token.remove();
});

/** Every form a secret could take in text. */
function forms(secret: Buffer): string[] {
  return [
    secret.toString('hex'),
    secret.toString('hex').toUpperCase(),
    secret.toString('base64'),
    secret.toString('base64url'),
  ];
}

describe('secrets never leak', () => {
  it('not in argv or the environment of the daemon process', () => {
    const pid = daemon.proc.pid!;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    expect(cmdline).not.toContain(daemon.token.pin);
    expect(environ).not.toContain(daemon.token.pin);
    expect(environ).not.toMatch(/SIGNERD_PIN=/);
  });

  it('not in the log, the audit log or any answer, after credentials, refusals and errors', async () => {
    const verifier = await Verifier.of(daemon);
    const issued: string[] = [];
    const load = await runLoad({
      socket: daemon.socket,
      verifier,
      concurrency: 8,
      maxRequests: 400,
      keep: true,
    });
    expect(load.ok).toBe(400);
    expect(load.invalid).toBe(0);
    // Collect what was issued: JWTs and Cobo signatures (answers themselves are not logged anywhere).
    for (const name of ['cdp-es', 'cdp-ed', 'gen'] as const) {
      const body =
        name === 'gen'
          ? { claims: { aud: 'billing', secret: 'claim-secret-xyzzy' } }
          : { method: 'GET', url: 'https://api.coinbase.com/a' };
      const r = await daemon.request('POST', `/v1/keys/${name}/jwt`, body);
      expect(r.status).toBe(200);
      issued.push(r.json.jwt as string, (r.json.jwt as string).split('.')[2]!);
    }
    const c = await daemon.request('POST', '/v1/keys/cobo/headers', {
      method: 'POST',
      url: 'https://api.dev.cobo.com/v2/x',
      body: COBO_BODY,
    });
    issued.push(c.json.headers['Biz-Api-Signature'] as string);

    // Refusals and errors, with secrets planted in what the client sends.
    const errors: string[] = [];
    const hostile: Array<[string, string, unknown]> = [
      [
        'POST',
        '/v1/keys/cdp-es/jwt',
        {
          method: 'GET',
          url: `https://api.coinbase.com/a?pin=${daemon.token.pin}`,
          claims: { x: daemon.token.pin },
        },
      ],
      ['POST', '/v1/keys/cobo/jwt', { method: 'GET', url: 'https://api.dev.cobo.com/v2/x' }],
      ['POST', '/v1/keys/gen/jwt', { claims: { aud: 'nope', iss: issued[0] } }],
      ['POST', '/v1/keys/nope/headers', { method: 'GET', url: 'https://x/', body: 'body-secret-plugh' }],
      [
        'POST',
        '/v1/keys/cdp-es/headers',
        {
          method: 'GET',
          url: 'https://api.coinbase.com/a',
          body: 'body-secret-plugh',
          extra: daemon.token.pin,
        },
      ],
      ['GET', `/v1/keys/${encodeURIComponent(daemon.token.pin)}`, undefined],
    ];
    for (const [m, p, b] of hostile) {
      const r = await daemon.request(m, p, b);
      expect(r.status).toBeGreaterThanOrEqual(400);
      errors.push(r.text);
    }

    const log = daemon.output();
    const audit = readFileSync(daemon.auditPath, 'utf8');
    const places: Array<[string, string]> = [
      ['daemon log', log],
      ['audit log', audit],
      ['error answers', errors.join('\n')],
    ];
    const needles: Array<[string, string]> = [
      ['PIN', daemon.token.pin],
      ...secretsOfKeys.flatMap((s, i) =>
        forms(s).map((f) => [`private key ${i} bytes`, f] as [string, string]),
      ),
      ...issued.map((j, i) => [`credential ${i}`, j] as [string, string]),
      ['request body', COBO_BODY],
      ['request body', 'body-secret-plugh'],
      ['claim', 'claim-secret-xyzzy'],
    ];
    const leaks: string[] = [];
    for (const [where, text] of places) {
      for (const [what, needle] of needles) {
        if (text.includes(needle)) leaks.push(`${what} in ${where}`);
      }
    }
    report(
      `secrets: ${needles.length} secrets (PIN, ${secretsOfKeys.length} private keys in 4 encodings, ${issued.length} credentials/signatures, bodies, claims) ` +
        `searched in the daemon log (${log.length} B), audit log (${audit.length} B) and ${errors.length} error answers: ${leaks.length} found`,
    );
    expect(leaks).toEqual([]);
  }, 60_000);
});
