/**
 * Every credential profile against keys in a real (throwaway) SoftHSM token, each result checked
 * by an independent verifier: jose for JWTs, node:crypto for Cobo.
 */
import { createHash, createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { compactVerify, importJWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareCredential } from '../../src/credentials/index.js';
import type { KeyContext } from '../../src/credentials/types.js';
import type { Profile } from '../../src/config/types.js';
import { openToken } from '../../src/hsm/token.js';
import type { KeyStore } from '../../src/keys/store.js';
import type { Alg, KeyInfo } from '../../src/keys/types.js';
import { createTestToken, useTestToken } from '../helpers/softhsm.js';
import type { TestToken } from '../helpers/softhsm.js';

const COBO_SEED = '0281d349927d3b4342129aa4d86bd0ed70163feb7b8d06fecc25c667974b6297';
const COBO_PUB = 'f06a7074b7892a39139b6317509f9d0e01ae234cf17fc7bfa9db3d5957f931be';
const COBO_VECTOR =
  '3f6b900e0b3d6d73baea6fb37ce564d47a51ffc3660facf1f421a5c05e3a9c15e281e197130647d5ad6a3192adf20ca9729ecd167181c07a74ae6ef958e0be09';
const KEY_NAME = 'organizations/org-1/apiKeys/key-1';
const CLOCK_MS = 1_700_000_000_123;
const clock = (): number => CLOCK_MS;
const sha256 = (data: Buffer | string): Buffer => createHash('sha256').update(data).digest();

let token: TestToken;
let store: KeyStore;
const keys: Record<string, KeyInfo> = {};

function ctx(profile: Profile, key: KeyInfo, extra: Partial<KeyContext> = {}): KeyContext {
  return { name: key.label, profile, signer: store.signer(key), publicKeyHex: key.publicKey.hex, ...extra };
}

async function verify(jwt: string, key: KeyInfo, withTime = true): Promise<Record<string, unknown>> {
  const publicKey = await importJWK(key.publicKey.jwk, key.alg);
  if (withTime)
    return (await jwtVerify(jwt, publicKey, { algorithms: [key.alg], currentDate: new Date(CLOCK_MS) }))
      .payload;
  return JSON.parse(new TextDecoder().decode((await compactVerify(jwt, publicKey)).payload)) as Record<
    string,
    unknown
  >;
}

function claimsText(jwt: string): string {
  return Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8');
}

beforeAll(async () => {
  token = createTestToken('signerd-cred');
  useTestToken(token);
  store = await openToken({
    module: token.module,
    token: { label: token.label },
    pin: token.pin,
    sessions: 2,
  });
  const gen = (label: string, alg: Alg) => store.generateKey({ label, alg });
  keys['cdp-es'] = await gen('cdp-es', 'ES256');
  keys['cdp-ed'] = await gen('cdp-ed', 'EdDSA');
  keys['jwt-es'] = await gen('jwt-es', 'ES256');
  keys['jwt-ed'] = await gen('jwt-ed', 'EdDSA');

  // A wallet secret: base64 DER PKCS#8 P-256, as CDP hands it out.
  const wallet = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const walletSecret = wallet.export({ format: 'der', type: 'pkcs8' }).toString('base64');
  const jwk = createPrivateKey({
    key: Buffer.from(walletSecret, 'base64'),
    format: 'der',
    type: 'pkcs8',
  }).export({
    format: 'jwk',
  });
  keys['wallet'] = await store.importKey({
    label: 'wallet',
    key: {
      alg: 'ES256',
      d: Buffer.from(jwk.d!, 'base64url'),
      publicRaw: Buffer.concat([
        Buffer.from([4]),
        Buffer.from(jwk.x!, 'base64url'),
        Buffer.from(jwk.y!, 'base64url'),
      ]),
    },
  });
  keys['cobo'] = await store.importKey({
    label: 'cobo',
    key: { alg: 'EdDSA', seed: Buffer.from(COBO_SEED, 'hex'), publicRaw: Buffer.from(COBO_PUB, 'hex') },
  });
}, 60_000);

afterAll(async () => {
  await store?.close();
  token?.remove();
});

describe('credentials over SoftHSM keys', () => {
  it.each(['cdp-es', 'cdp-ed'])('cdp JWT (%s) verifies, with the contract claims', async (label) => {
    const key = keys[label]!;
    const issued = await prepareCredential(
      ctx('cdp', key, { cdp: { keyName: KEY_NAME, uriClaim: 'uri' } }),
      'jwt',
      { method: 'get', url: 'https://API.coinbase.com:443/api/v3/brokerage/accounts?limit=1' },
      clock,
    ).issue();
    const payload = await verify(issued.jwt!, key);
    expect(payload).toEqual({
      sub: KEY_NAME,
      iss: 'cdp',
      nbf: 1_700_000_000,
      exp: 1_700_000_120,
      uri: 'GET api.coinbase.com/api/v3/brokerage/accounts',
    });
    expect(claimsText(issued.jwt!)).toBe(
      `{"sub":"${KEY_NAME}","iss":"cdp","nbf":1700000000,"exp":1700000120,"uri":"GET api.coinbase.com/api/v3/brokerage/accounts"}`,
    );
  });

  it('cdp websocket JWT and /headers', async () => {
    const key = keys['cdp-es']!;
    const c = ctx('cdp', key, { cdp: { keyName: KEY_NAME, uriClaim: 'uris' } });
    const ws = await prepareCredential(c, 'jwt', {}, clock).issue();
    expect(await verify(ws.jwt!, key)).toEqual({
      sub: KEY_NAME,
      iss: 'cdp',
      nbf: 1_700_000_000,
      exp: 1_700_000_120,
      iat: 1_700_000_000,
    });
    const h = await prepareCredential(
      c,
      'headers',
      { method: 'POST', url: 'https://api.coinbase.com/x' },
      clock,
    ).issue();
    const payload = await verify(h.headers!['Authorization']!.replace(/^Bearer /, ''), key);
    expect(payload['uris']).toEqual(['POST api.coinbase.com/x']);
  });

  it('cdp-wallet X-Wallet-Auth with reqHash', async () => {
    const key = keys['wallet']!;
    const body = '{"b":[1,{"y":2,"x":1}],"a":"é"}';
    const issued = await prepareCredential(
      ctx('cdp-wallet', key),
      'headers',
      { method: 'POST', url: 'https://api.cdp.coinbase.com/platform/v2/evm/accounts', body },
      clock,
    ).issue();
    const payload = await verify(issued.headers!['X-Wallet-Auth']!, key, false);
    expect(payload).toEqual({
      iat: 1_700_000_000,
      nbf: 1_700_000_000,
      jti: issued.jti,
      uris: ['POST api.cdp.coinbase.com/platform/v2/evm/accounts'],
      reqHash: sha256('{"a":"é","b":[1,{"x":1,"y":2}]}').toString('hex'),
    });
  });

  it.each(['jwt-es', 'jwt-ed'])('generic JWT (%s)', async (label) => {
    const key = keys[label]!;
    const issued = await prepareCredential(
      ctx('jwt', key, { jwt: { iss: 'signerd', sub: 'internal', audiences: ['billing'], maxTtl: 300 } }),
      'jwt',
      { claims: { aud: 'billing', scope: 'read' }, ttl: 60 },
      clock,
    ).issue();
    const payload = await verify(issued.jwt!, key);
    expect(Object.keys(payload)).toEqual(['aud', 'scope', 'iss', 'sub', 'iat', 'nbf', 'exp', 'jti']);
    expect((payload['exp'] as number) - (payload['iat'] as number)).toBe(60);
  });

  it('the token reproduces the official Cobo vector with the imported seed', async () => {
    const key = keys['cobo']!;
    expect(key.publicKey.hex).toBe(COBO_PUB);
    const signature = await store.signer(key).sign(sha256(sha256('000000')));
    expect(Buffer.from(signature).toString('hex')).toBe(COBO_VECTOR);
  });

  it('Cobo full request: byte for byte what node:crypto computes from the seed', async () => {
    const key = keys['cobo']!;
    const body = '{"request_id":"r-1","amount":"1.5","memo":"café ✓"}';
    const issued = await prepareCredential(
      ctx('cobo', key),
      'headers',
      { method: 'post', url: 'https://api.dev.cobo.com/v2/transactions/transfer?z=9&a=%2F1&b=', body },
      clock,
    ).issue();
    const stringToSign = `POST|/v2/transactions/transfer|${CLOCK_MS}|z=9&a=%2F1&b=|${body}`;
    const seedKey = createPrivateKey({
      key: Buffer.concat([
        Buffer.from('302e020100300506032b657004220420', 'hex'),
        Buffer.from(COBO_SEED, 'hex'),
      ]),
      format: 'der',
      type: 'pkcs8',
    });
    const expected = sign(null, sha256(sha256(Buffer.from(stringToSign, 'utf8'))), seedKey).toString('hex');
    expect(issued.headers).toEqual({
      'Biz-Api-Key': COBO_PUB,
      'Biz-Api-Nonce': String(CLOCK_MS),
      'Biz-Api-Signature': expected,
    });
  });
});
