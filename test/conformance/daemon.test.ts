/**
 * The daemon on every provider: keys generated in this process, served by a `signerd serve`
 * process (a new process finds them), JWTs (and Cobo signatures where the token does Ed25519)
 * issued over the socket and verified independently; `signerd config check` reports what the token
 * cannot do by the mechanism it lacks. Needs the build (`npm test` builds first).
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openToken } from '../../src/hsm/token.js';
import { SIGNERD_BIN, startDaemon, type TestDaemon, type TestKey } from '../helpers/daemon.js';
import { jwtParts, verifyCobo, verifyJwt } from '../helpers/verify.js';
import { describeEachProvider, SETUP_TIMEOUT_MS, type ConformanceToken } from './providers.js';

function signerd(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SIGNERD_BIN, ...args],
      { env, timeout: 60_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

describeEachProvider('daemon end to end', (provider) => {
  let testToken: ConformanceToken;
  let daemon: TestDaemon<ConformanceToken>;
  const keys: TestKey[] = [
    {
      name: 'cdp-es',
      alg: 'ES256',
      config: { profile: 'cdp', cdp: { keyName: 'organizations/org1/apiKeys/es' } },
    },
    {
      name: 'internal',
      alg: 'ES256',
      config: {
        profile: 'jwt',
        jwt: { iss: 'signerd', sub: 'internal', audiences: ['billing'], maxTtl: 300 },
      },
    },
  ];
  if (provider.known.eddsa) keys.push({ name: 'cobo', alg: 'EdDSA', config: { profile: 'cobo' } });
  const jwks = new Map<string, Record<string, unknown>>();

  beforeAll(async () => {
    testToken = await provider.create(`daemon-${provider.name}`);
    testToken.use();
    const store = await openToken({
      module: testToken.module,
      token: { label: testToken.label },
      pin: testToken.pin,
      sessions: 1,
    });
    try {
      for (const key of keys) await store.generateKey({ label: key.name, alg: key.alg });
    } finally {
      await store.close();
    }
    daemon = await startDaemon({ keys, token: testToken });
    const listed = await daemon.request('GET', '/v1/keys');
    for (const key of listed.json.keys) jwks.set(key.name, key.publicKey.jwk);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await daemon?.stop();
    await testToken?.remove();
  }, SETUP_TIMEOUT_MS);

  it('is healthy with every key loaded', async () => {
    const res = await daemon.request('GET', '/v1/health');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'ok', token: { label: testToken.label, present: true } });
    expect(res.json.keys.loaded).toBe(keys.length);
    expect(jwks.size).toBe(keys.length);
  });

  it('issues a CDP ES256 JWT that verifies', async () => {
    const res = await daemon.request('POST', '/v1/keys/cdp-es/jwt', {
      method: 'GET',
      url: 'https://api.coinbase.com/api/v3/brokerage/accounts',
    });
    expect(res.status).toBe(200);
    const { header, claims } = await verifyJwt(res.json.jwt, jwks.get('cdp-es')!);
    expect(header).toMatchObject({ alg: 'ES256', kid: 'organizations/org1/apiKeys/es', typ: 'JWT' });
    expect(claims['uri']).toBe('GET api.coinbase.com/api/v3/brokerage/accounts');
  });

  it('issues generic JWTs concurrently, all verifying', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        daemon.request('POST', '/v1/keys/internal/jwt', { claims: { aud: 'billing' }, ttl: 60 }),
      ),
    );
    for (const res of answers) {
      expect(res.status).toBe(200);
      const { claims } = await verifyJwt(res.json.jwt, jwks.get('internal')!);
      expect(claims).toMatchObject({ iss: 'signerd', sub: 'internal', aud: 'billing' });
      expect(jwtParts(res.json.jwt).header).toContain('"alg":"ES256"');
    }
  });

  it.skipIf(!provider.known.eddsa)('signs Cobo requests (Ed25519) that verify', async () => {
    const url = 'https://api.dev.cobo.com/v2/wallets?limit=1';
    const res = await daemon.request('POST', '/v1/keys/cobo/headers', { method: 'GET', url });
    expect(res.status).toBe(200);
    const h = res.json.headers as Record<string, string>;
    const stringToSign = `GET|/v2/wallets|${h['Biz-Api-Nonce']}|limit=1|`;
    expect(verifyCobo(stringToSign, h['Biz-Api-Signature']!, h['Biz-Api-Key']!)).toBe(true);
  });

  it('signerd config check: ok for the served keys; a profile the token cannot sign names the mechanism', async () => {
    const ok = await signerd(['config', 'check', '--config', daemon.configPath], testToken.env);
    expect(ok.out).toContain('config check: ok');
    expect(ok.out).toMatch(/token can: ES256 sign yes, generate yes; EdDSA sign (yes|no)/);
    expect(ok.code).toBe(0);

    const config = structuredClone(daemon.baseConfig);
    (config['keys'] as Record<string, unknown>)['needs-ed'] = { label: 'needs-ed', profile: 'cobo' };
    const path = join(testToken.dir, 'check-eddsa.yaml');
    writeFileSync(path, stringify(config), { mode: 0o600 });
    const check = await signerd(['config', 'check', '--config', path], testToken.env);
    expect(check.code).toBe(1);
    if (provider.known.eddsa) {
      // The token signs Ed25519: the key is simply not there.
      expect(check.out).toMatch(/key needs-ed: FAILED — keys\.needs-ed: no private key/);
    } else {
      expect(check.out).toContain('key needs-ed: FAILED — keys.needs-ed: profile cobo needs EdDSA');
      expect(check.out).toContain('does not support CKM_EDDSA (Ed25519 signing)');
    }
    expect(check.out).not.toMatch(/CKR_/);
  });
});
