/**
 * The real daemon process on a throwaway SoftHSM2 token, over its Unix socket: every route, every
 * profile, verified independently; errors, audit log, signals.
 */
import { execFileSync } from 'node:child_process';
import { createHash, sign as edSign, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAudit, SIGNERD_BIN, startDaemon, type TestDaemon, type TestKey } from '../helpers/daemon.js';
import { ed25519PublicKey, jwtParts, verifyCobo, verifyJwt } from '../helpers/verify.js';

const COBO_SEED = '0281d349927d3b4342129aa4d86bd0ed70163feb7b8d06fecc25c667974b6297';
const COBO_PUB = 'f06a7074b7892a39139b6317509f9d0e01ae234cf17fc7bfa9db3d5957f931be';

const KEYS: TestKey[] = [
  {
    name: 'cdp-es',
    alg: 'ES256',
    config: { profile: 'cdp', cdp: { keyName: 'organizations/org1/apiKeys/es' } },
  },
  {
    name: 'cdp-ed',
    alg: 'EdDSA',
    config: { profile: 'cdp', cdp: { keyName: 'organizations/org1/apiKeys/ed', uriClaim: 'uris' } },
  },
  {
    name: 'cobo',
    alg: 'EdDSA',
    material: { alg: 'EdDSA', seed: Buffer.from(COBO_SEED, 'hex'), publicRaw: Buffer.from(COBO_PUB, 'hex') },
    config: { profile: 'cobo' },
  },
  {
    name: 'internal',
    alg: 'ES256',
    config: { profile: 'jwt', jwt: { iss: 'signerd', sub: 'internal', audiences: ['billing'], maxTtl: 300 } },
  },
  { name: 'wallet', alg: 'ES256', config: { profile: 'cdp-wallet' } },
];

let daemon: TestDaemon;
const jwks = new Map<string, Record<string, unknown>>();

beforeAll(async () => {
  daemon = await startDaemon({ keys: KEYS });
  const keys = await daemon.request('GET', '/v1/keys');
  for (const key of keys.json.keys) jwks.set(key.name, key.publicKey.jwk);
});

afterAll(async () => {
  await daemon?.stop();
  daemon?.token.remove();
});

describe('read-only routes', () => {
  it('health says ok with the token and the number of keys', async () => {
    const res = await daemon.request('GET', '/v1/health');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      status: 'ok',
      token: { label: daemon.token.label, present: true },
      keys: { loaded: 5 },
    });
  });

  it('lists every key to the daemon’s own uid, in the contract’s shape', async () => {
    const res = await daemon.request('GET', '/v1/keys');
    expect(res.status).toBe(200);
    const byName = Object.fromEntries(res.json.keys.map((k: { name: string }) => [k.name, k]));
    expect(Object.keys(byName).sort()).toEqual(['cdp-ed', 'cdp-es', 'cobo', 'internal', 'wallet']);
    for (const key of res.json.keys) {
      expect(Object.keys(key).sort()).toEqual([
        'alg',
        'extractable',
        'kid',
        'name',
        'origin',
        'profile',
        'publicKey',
      ]);
      expect(key.extractable).toBe(false);
      expect(Object.keys(key.publicKey).sort()).toEqual(['hex', 'jwk', 'pem']);
      expect(key.publicKey.hex).toMatch(key.alg === 'EdDSA' ? /^[0-9a-f]{64}$/ : /^04[0-9a-f]{128}$/);
    }
    expect(byName['cobo'].publicKey.hex).toBe(COBO_PUB);
    expect(byName['cobo'].origin).toBe('imported');
    expect(byName['cdp-es'].origin).toBe('generated');
    expect(byName['cdp-es'].kid).toBe('organizations/org1/apiKeys/es');
  });

  it('GET /v1/keys/{name} answers one key; an unknown one is 404', async () => {
    const one = await daemon.request('GET', '/v1/keys/internal');
    expect(one.status).toBe(200);
    expect(one.json.name).toBe('internal');
    const missing = await daemon.request('GET', '/v1/keys/nope');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: { code: 'ERR_KEY_NOT_FOUND', message: expect.any(String) } });
  });

  it('JWKS has every key with kid and alg', async () => {
    const res = await daemon.request('GET', '/v1/jwks');
    expect(res.status).toBe(200);
    expect(res.json.keys).toHaveLength(5);
    for (const jwk of res.json.keys) {
      expect(typeof jwk.kid).toBe('string');
      expect(['ES256', 'EdDSA']).toContain(jwk.alg);
    }
  });
});

describe('credentials, verified independently', () => {
  it('CDP ES256 JWT: exact header and claims, verifies with jose', async () => {
    const url = 'https://API.coinbase.com/api/v3/brokerage/orders?limit=5#frag';
    const res = await daemon.request('POST', '/v1/keys/cdp-es/jwt', { method: 'post', url });
    expect(res.status).toBe(200);
    const { header, claims } = await verifyJwt(res.json.jwt, jwks.get('cdp-es')!);
    expect(Object.keys(header)).toEqual(['alg', 'kid', 'nonce', 'typ']);
    expect(header).toMatchObject({ alg: 'ES256', kid: 'organizations/org1/apiKeys/es', typ: 'JWT' });
    expect(header['nonce']).toMatch(/^[0-9a-f]{32}$/);
    expect(Object.keys(claims)).toEqual(['sub', 'iss', 'nbf', 'exp', 'uri']);
    expect(claims).toMatchObject({
      sub: 'organizations/org1/apiKeys/es',
      iss: 'cdp',
      uri: 'POST api.coinbase.com/api/v3/brokerage/orders',
    });
    expect((claims['exp'] as number) - (claims['nbf'] as number)).toBe(120);
    expect(res.json.expiresAt).toBe(
      new Date((claims['exp'] as number) * 1000).toISOString().replace('.000Z', 'Z'),
    );
  });

  it('CDP EdDSA JWT with uris verifies, and a websocket JWT has no uri', async () => {
    const res = await daemon.request('POST', '/v1/keys/cdp-ed/jwt', {
      method: 'GET',
      url: 'https://api.coinbase.com:8443/v2/x',
    });
    expect(res.status).toBe(200);
    const { header, claims } = await verifyJwt(res.json.jwt, jwks.get('cdp-ed')!);
    expect(header['alg']).toBe('EdDSA');
    expect(claims['uris']).toEqual(['GET api.coinbase.com:8443/v2/x']);
    expect(typeof claims['iat']).toBe('number');
    const ws = await daemon.request('POST', '/v1/keys/cdp-ed/jwt');
    expect(ws.status).toBe(200);
    const wsClaims = (await verifyJwt(ws.json.jwt, jwks.get('cdp-ed')!)).claims;
    expect(wsClaims).not.toHaveProperty('uri');
    expect(wsClaims).not.toHaveProperty('uris');
  });

  it('CDP /headers gives a Bearer token that verifies', async () => {
    const res = await daemon.request('POST', '/v1/keys/cdp-es/headers', {
      method: 'GET',
      url: 'https://api.coinbase.com/api/v3/brokerage/accounts',
    });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json.headers)).toEqual(['Authorization']);
    const jwt = (res.json.headers.Authorization as string).replace(/^Bearer /, '');
    const { claims } = await verifyJwt(jwt, jwks.get('cdp-es')!);
    expect(claims['uri']).toBe('GET api.coinbase.com/api/v3/brokerage/accounts');
  });

  it('Cobo headers: byte-for-byte what the seed gives, over the raw query and body', async () => {
    const body = '{"request_id":"r1","amount":"1.5"}';
    const url = 'https://api.dev.cobo.com/v2/transactions/transfer?z=1&a=%2Fx';
    const res = await daemon.request('POST', '/v1/keys/cobo/headers', { method: 'POST', url, body });
    expect(res.status).toBe(200);
    expect(res.json.expiresAt).toBeNull();
    const h = res.json.headers as Record<string, string>;
    expect(Object.keys(h)).toEqual(['Biz-Api-Key', 'Biz-Api-Nonce', 'Biz-Api-Signature']);
    expect(h['Biz-Api-Key']).toBe(COBO_PUB);
    expect(h['Biz-Api-Nonce']).toMatch(/^\d{13}$/);
    const stringToSign = `POST|/v2/transactions/transfer|${h['Biz-Api-Nonce']}|z=1&a=%2Fx|${body}`;
    expect(verifyCobo(stringToSign, h['Biz-Api-Signature']!, COBO_PUB)).toBe(true);
    // Ed25519 is deterministic: an independent signature from the seed is identical.
    const seedKey = createPrivateKey({
      key: Buffer.concat([
        Buffer.from('302e020100300506032b657004220420', 'hex'),
        Buffer.from(COBO_SEED, 'hex'),
      ]),
      format: 'der',
      type: 'pkcs8',
    });
    const digest = createHash('sha256').update(createHash('sha256').update(stringToSign).digest()).digest();
    expect(h['Biz-Api-Signature']).toBe(edSign(null, digest, seedKey).toString('hex'));
    expect(ed25519PublicKey(COBO_PUB).asymmetricKeyType).toBe('ed25519');
  });

  it('generic JWT: config iss/sub, caller claims, allowed aud', async () => {
    const res = await daemon.request('POST', '/v1/keys/internal/jwt', {
      claims: { aud: 'billing', scope: 'read' },
      ttl: 60,
    });
    expect(res.status).toBe(200);
    const { header, claims } = await verifyJwt(res.json.jwt, jwks.get('internal')!);
    expect(Object.keys(header)).toEqual(['alg', 'kid', 'typ']);
    expect(claims).toMatchObject({ iss: 'signerd', sub: 'internal', aud: 'billing', scope: 'read' });
    expect((claims['exp'] as number) - (claims['iat'] as number)).toBe(60);
    expect(typeof claims['jti']).toBe('string');
  });

  it('CDP Wallet Auth: X-Wallet-Auth with reqHash over the sorted compact body', async () => {
    const body = JSON.stringify({ b: [1, { y: 'ü', x: null }], a: 'z' });
    const res = await daemon.request('POST', '/v1/keys/wallet/headers', {
      method: 'POST',
      url: 'https://api.cdp.coinbase.com/platform/v2/evm/accounts',
      body,
    });
    expect(res.status).toBe(200);
    const jwt = res.json.headers['X-Wallet-Auth'] as string;
    const { header, claims } = await verifyJwt(jwt, jwks.get('wallet')!);
    expect(header).toEqual({ alg: 'ES256', typ: 'JWT' });
    expect(claims['uris']).toEqual(['POST api.cdp.coinbase.com/platform/v2/evm/accounts']);
    const canonical = '{"a":"z","b":[1,{"x":null,"y":"ü"}]}';
    expect(claims['reqHash']).toBe(createHash('sha256').update(canonical, 'utf8').digest('hex'));
    expect(jwtParts(jwt).header).toBe('{"alg":"ES256","typ":"JWT"}');
  });
});

describe('refusals', () => {
  it('a Cobo key cannot mint a JWT', async () => {
    const res = await daemon.request('POST', '/v1/keys/cobo/jwt', {});
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('ERR_BAD_REQUEST');
  });

  it('bad input is a 400 naming the field; huge bodies are 413; nothing leaks', async () => {
    const cases: Array<[unknown, number, RegExp]> = [
      [{ method: 'GET', url: 'http://api.coinbase.com/x' }, 400, /url/],
      [{ method: 'GET\r\nX: y', url: 'https://api.coinbase.com/x' }, 400, /method/],
      [{ method: 'GET', url: 'https://api.coinbase.com/x', extra: 1 }, 400, /extra/],
      [{ method: 'GET', url: 'https://api.coinbase.com/x', ttl: 121 }, 400, /ttl/],
      [{ method: 'GET', url: 'https://api.coinbase.com/x', ttl: '60' }, 400, /ttl/],
    ];
    for (const [body, status, field] of cases) {
      const res = await daemon.request('POST', '/v1/keys/cdp-es/jwt', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.json.error.code).toBe('ERR_BAD_REQUEST');
      expect(res.json.error.message).toMatch(field);
    }
    // Over the 64 KiB limit, small enough to sit in the socket buffer while the daemon answers early.
    const huge = await daemon.request('POST', '/v1/keys/cobo/headers', {
      method: 'POST',
      url: 'https://api.dev.cobo.com/v2/x',
      body: 'x'.repeat(100 * 1024),
    });
    expect(huge.status).toBe(413);
    expect(huge.json.error.code).toBe('ERR_PAYLOAD_TOO_LARGE');
  });

  it('the PIN appears nowhere: not in answers, logs or the audit log', async () => {
    await daemon.request('POST', '/v1/keys/nope/jwt', {});
    expect(daemon.output()).not.toContain(daemon.token.pin);
    expect(readFileSync(daemon.auditPath, 'utf8')).not.toContain(daemon.token.pin);
    expect(daemon.output()).not.toMatch(/CKR_/);
  });
});

describe('socket, audit log and signals', () => {
  it('the socket has the configured mode', () => {
    expect(statSync(daemon.socket).mode & 0o777).toBe(0o660);
  });

  it('every credential issued or refused is in the hash-chained audit log, without secrets', () => {
    const lines = readAudit(daemon.auditPath);
    expect(lines.length).toBeGreaterThan(8);
    expect(lines[0]!['prev']).toBe('0'.repeat(64));
    const sign = lines.find((l) => l['event'] === 'sign' && l['key'] === 'cdp-es')!;
    expect(Object.keys(sign).slice(0, 7)).toEqual([
      'time',
      'event',
      'key',
      'profile',
      'peer',
      'client',
      'request',
    ]);
    expect(sign['peer']).toEqual({ uid: process.getuid!(), gid: process.getgid!(), pid: expect.any(Number) });
    const deny = lines.find((l) => l['event'] === 'deny' && l['key'] === 'nope');
    expect(deny).toBeDefined();
    const text = readFileSync(daemon.auditPath, 'utf8');
    expect(text).not.toMatch(/eyJ/); // no JWT
    expect(text).not.toContain('request_id'); // no body
    const verified = execFileSync(process.execPath, [SIGNERD_BIN, 'audit', 'verify', daemon.auditPath], {
      encoding: 'utf8',
    });
    expect(verified).toMatch(/ok/);
  });

  it('SIGHUP reloads keys; an invalid config keeps the running one', async () => {
    const { wallet: _dropped, ...fewer } = daemon.baseConfig['keys'] as Record<string, unknown>;
    daemon.writeConfig({ ...daemon.baseConfig, keys: fewer });
    daemon.proc.kill('SIGHUP');
    await expect
      .poll(async () => (await daemon.request('GET', '/v1/keys')).json.keys.length, { timeout: 10_000 })
      .toBe(4);
    daemon.writeConfig({ ...daemon.baseConfig, keys: { broken: { profile: 'nope' } } });
    daemon.proc.kill('SIGHUP');
    await expect.poll(() => daemon.output(), { timeout: 10_000 }).toMatch(/reload failed/);
    expect((await daemon.request('GET', '/v1/keys')).json.keys).toHaveLength(4);
    daemon.writeConfig(daemon.baseConfig);
  });

  it('SIGTERM lets requests in flight finish, then exits 0', async () => {
    const signedBefore = readAudit(daemon.auditPath).filter((l) => l['event'] === 'sign').length;
    const inflight = Array.from({ length: 32 }, () =>
      daemon.request('POST', '/v1/keys/cdp-es/jwt', { method: 'GET', url: 'https://api.coinbase.com/x' }),
    );
    await new Promise((r) => setTimeout(r, 5));
    const stopped = daemon.stop('SIGTERM');
    const answers = await Promise.allSettled(inflight);
    const served = answers.filter((a) => a.status === 'fulfilled' && a.value.status === 200);
    for (const a of answers) {
      // Not yet accepted when the listener closed: refused, or reset out of the kernel's backlog.
      if (a.status === 'rejected') expect(String(a.reason)).toMatch(/ECONNREFUSED|ENOENT|ECONNRESET/);
      else expect([200, 503]).toContain(a.value.status);
    }
    expect(served.length).toBeGreaterThan(0);
    for (const a of served) {
      if (a.status === 'fulfilled') await verifyJwt(a.value.json.jwt, jwks.get('cdp-es')!);
    }
    expect(await stopped).toBe(0);
    // Nothing signed was lost: every credential the audit log says was issued reached its caller.
    const signedAfter = readAudit(daemon.auditPath).filter((l) => l['event'] === 'sign').length;
    expect(signedAfter - signedBefore).toBe(served.length);
    expect(await stopped).toBe(0);
    expect(daemon.output()).toMatch(/signerd stopped/);
  });
});
