import { generateKeyPairSync } from 'node:crypto';
import { importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { prepareCredential } from '../../../src/credentials/index.js';
import { ed25519FromSeed, memorySigner } from '../../helpers/memory-signer.js';
import { FIXED_MS, FIXED_S, KEY_NAME, context, fixedClock, splitJwt, verifyJwt } from './fixtures.js';

const es256 = memorySigner('ES256');

describe('cdp JWT', () => {
  it('has exactly the contract header and claims, in order, and verifies', async () => {
    const prepared = prepareCredential(
      context('cdp', es256),
      'jwt',
      { method: 'get', url: 'https://API.coinbase.com/api/v3/brokerage/accounts?limit=2#x' },
      fixedClock,
    );
    expect(prepared.target).toEqual({
      method: 'GET',
      host: 'api.coinbase.com',
      path: '/api/v3/brokerage/accounts',
      query: 'limit=2',
    });
    const issued = await prepared.issue();
    expect(issued.headers).toBeUndefined();
    const { header, claims } = splitJwt(issued.jwt!);
    expect(issued.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(header).toBe(`{"alg":"ES256","kid":"${KEY_NAME}","nonce":"${issued.nonce}","typ":"JWT"}`);
    expect(claims).toBe(
      `{"sub":"${KEY_NAME}","iss":"cdp","nbf":${FIXED_S},"exp":${FIXED_S + 120},"uri":"GET api.coinbase.com/api/v3/brokerage/accounts"}`,
    );
    expect(issued.expiresAt).toBe('2023-11-14T22:15:20Z');

    const { payload, header: h } = await verifyJwt(issued.jwt!, es256);
    expect(Object.keys(h)).toEqual(['alg', 'kid', 'nonce', 'typ']);
    expect(Object.keys(payload)).toEqual(['sub', 'iss', 'nbf', 'exp', 'uri']);
    expect(payload.exp! - payload.nbf!).toBe(120);
  });

  it('formats the uri: method upper-cased, host lower-cased, 8443 kept, 443 dropped, encoding kept', async () => {
    const cases: [string, string, string][] = [
      ['post', 'https://Api.Example.COM:8443/v1/a%2Fb?q=1', 'POST api.example.com:8443/v1/a%2Fb'],
      ['delete', 'https://api.example.com:443/orders/7', 'DELETE api.example.com/orders/7'],
      ['GET', 'https://api.example.com', 'GET api.example.com/'],
    ];
    for (const [method, url, uri] of cases) {
      const issued = await prepareCredential(
        context('cdp', es256),
        'jwt',
        { method, url },
        fixedClock,
      ).issue();
      const { payload } = await verifyJwt(issued.jwt!, es256);
      expect(payload['uri']).toBe(uri);
    }
  });

  it('honours a shorter ttl', async () => {
    const issued = await prepareCredential(
      context('cdp', es256),
      'jwt',
      { method: 'GET', url: 'https://h.example/', ttl: 30 },
      fixedClock,
    ).issue();
    const { payload } = await verifyJwt(issued.jwt!, es256);
    expect(payload.exp! - payload.nbf!).toBe(30);
    expect(issued.expiresAt).toBe(new Date((FIXED_S + 30) * 1000).toISOString().replace('.000Z', 'Z'));
  });

  it('with uriClaim: uris puts iat before a one-element uris array', async () => {
    const ctx = context('cdp', es256, { cdp: { keyName: KEY_NAME, uriClaim: 'uris' } });
    const issued = await prepareCredential(
      ctx,
      'jwt',
      { method: 'PUT', url: 'https://h.example/x' },
      fixedClock,
    ).issue();
    const { claims } = splitJwt(issued.jwt!);
    expect(claims).toBe(
      `{"sub":"${KEY_NAME}","iss":"cdp","nbf":${FIXED_S},"exp":${FIXED_S + 120},"iat":${FIXED_S},"uris":["PUT h.example/x"]}`,
    );
    await verifyJwt(issued.jwt!, es256);
  });

  it('without method and url is a websocket JWT: no uri, target null', async () => {
    const prepared = prepareCredential(context('cdp', es256), 'jwt', {}, fixedClock);
    expect(prepared.target).toBeNull();
    const issued = await prepared.issue();
    const { claims } = splitJwt(issued.jwt!);
    expect(claims).toBe(`{"sub":"${KEY_NAME}","iss":"cdp","nbf":${FIXED_S},"exp":${FIXED_S + 120}}`);
    const { payload } = await verifyJwt(issued.jwt!, es256);
    expect(payload['uri']).toBeUndefined();

    const uris = context('cdp', es256, { cdp: { keyName: KEY_NAME, uriClaim: 'uris' } });
    const ws = splitJwt((await prepareCredential(uris, 'jwt', {}, fixedClock).issue()).jwt!);
    expect(ws.claims).toBe(
      `{"sub":"${KEY_NAME}","iss":"cdp","nbf":${FIXED_S},"exp":${FIXED_S + 120},"iat":${FIXED_S}}`,
    );
  });

  it('/headers answers a Bearer Authorization header', async () => {
    const issued = await prepareCredential(
      context('cdp', es256),
      'headers',
      { method: 'GET', url: 'https://h.example/x' },
      fixedClock,
    ).issue();
    expect(issued.jwt).toBeUndefined();
    expect(Object.keys(issued.headers!)).toEqual(['Authorization']);
    const auth = issued.headers!['Authorization']!;
    expect(auth).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    await verifyJwt(auth.slice('Bearer '.length), es256);
  });

  it('draws a fresh nonce for every JWT (10,000 unique), also from one prepared request', async () => {
    const ed = memorySigner('EdDSA');
    const ctx = context('cdp', ed);
    const req = { method: 'GET', url: 'https://h.example/' };
    const nonces = new Set<string>();
    const prepared = prepareCredential(ctx, 'jwt', req, fixedClock);
    let mismatched = 0;
    for (let i = 0; i < 10_000; i++) {
      const issued = await (i % 2 === 0 ? prepared : prepareCredential(ctx, 'jwt', req, fixedClock)).issue();
      const header = Buffer.from(issued.jwt!.slice(0, issued.jwt!.indexOf('.')), 'base64url').toString();
      const nonce = (JSON.parse(header) as { nonce: string }).nonce;
      if (nonce !== issued.nonce || !/^[0-9a-f]{32}$/.test(nonce)) mismatched++;
      nonces.add(nonce);
    }
    expect(mismatched).toBe(0);
    expect(nonces.size).toBe(10_000);
    expect(ed.calls).toBe(10_000);
  });

  it('reads the clock when issuing, not when preparing', async () => {
    let now = FIXED_MS;
    const prepared = prepareCredential(context('cdp', es256), 'jwt', {}, () => now);
    now += 60_000;
    const { payload } = await verifyJwt((await prepared.issue()).jwt!, es256, now);
    expect(payload.nbf).toBe(FIXED_S + 60);
  });

  it('signs with an EdDSA key imported from the CDP base64(seed‖pub) form', async () => {
    // What the CDP portal hands out for an Ed25519 key: base64 of the 32-byte seed and the 32-byte public key.
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
    const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const cdpSecret = Buffer.concat([seed, pub]).toString('base64');

    const decoded = Buffer.from(cdpSecret, 'base64');
    expect(decoded).toHaveLength(64);
    const signer = memorySigner('EdDSA', { privateKey: ed25519FromSeed(decoded.subarray(0, 32)) });
    expect(signer.publicKeyHex).toBe(decoded.subarray(32).toString('hex'));

    const issued = await prepareCredential(
      context('cdp', signer),
      'jwt',
      { method: 'GET', url: 'https://api.cdp.coinbase.com/platform/v2/evm/accounts' },
      fixedClock,
    ).issue();
    const { header } = splitJwt(issued.jwt!);
    expect(header).toBe(`{"alg":"EdDSA","kid":"${KEY_NAME}","nonce":"${issued.nonce}","typ":"JWT"}`);
    // Verified against the public half taken from the CDP secret, not from the signer.
    const key = await importJWK(
      { kty: 'OKP', crv: 'Ed25519', x: decoded.subarray(32).toString('base64url') },
      'EdDSA',
    );
    const { payload } = await jwtVerify(issued.jwt!, key, { currentDate: new Date(FIXED_MS) });
    expect(payload['uri']).toBe('GET api.cdp.coinbase.com/platform/v2/evm/accounts');
  });
});
