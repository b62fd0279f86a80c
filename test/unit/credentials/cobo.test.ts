import { createHash, createPublicKey, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prepareCredential } from '../../../src/credentials/index.js';
import { ed25519FromSeed, memorySigner } from '../../helpers/memory-signer.js';
import { FIXED_MS, context, expectRefused, fixedClock } from './fixtures.js';

const SEED = '0281d349927d3b4342129aa4d86bd0ed70163feb7b8d06fecc25c667974b6297';
const PUB = 'f06a7074b7892a39139b6317509f9d0e01ae234cf17fc7bfa9db3d5957f931be';
const VECTOR_SIG =
  '3f6b900e0b3d6d73baea6fb37ce564d47a51ffc3660facf1f421a5c05e3a9c15e281e197130647d5ad6a3192adf20ca9729ecd167181c07a74ae6ef958e0be09';

const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();
const seedKey = ed25519FromSeed(Buffer.from(SEED, 'hex'));

describe('Cobo official vector', () => {
  it('is Ed25519 over SHA256(SHA256("000000")) with the published seed', () => {
    const digest = sha256(sha256(Buffer.from('000000', 'utf8')));
    expect(sign(null, digest, seedKey).toString('hex')).toBe(VECTOR_SIG);
    const pub = createPublicKey(seedKey).export({ format: 'jwk' }).x!;
    expect(Buffer.from(pub, 'base64url').toString('hex')).toBe(PUB);
    // …and not over the message itself or a single hash.
    expect(sign(null, Buffer.from('000000'), seedKey).toString('hex')).not.toBe(VECTOR_SIG);
    expect(sign(null, sha256(Buffer.from('000000')), seedKey).toString('hex')).not.toBe(VECTOR_SIG);
  });

  it('the memory signer over the seed reproduces it', async () => {
    const signer = memorySigner('EdDSA', { privateKey: seedKey });
    expect(signer.publicKeyHex).toBe(PUB);
    const sig = await signer.sign(sha256(sha256(Buffer.from('000000'))));
    expect(Buffer.from(sig).toString('hex')).toBe(VECTOR_SIG);
  });
});

describe('cobo request signature', () => {
  it('signs METHOD|PATH|nonce|QUERY|BODY byte for byte like an independent computation', async () => {
    const signer = memorySigner('EdDSA', { privateKey: seedKey, keepMessages: true });
    const body = '{"request_id":"r-1","amount":"1.5","note":"caf\u00e9 \u2713","to":{"address":"0xabc"}}';
    const url =
      'https://API.dev.cobo.com/v2/wallets/w%2F1/transactions?wallet_type=Custodial&limit=10&cursor=a%2Bb%3D&after=Z#ignored';
    const prepared = prepareCredential(
      context('cobo', signer),
      'headers',
      { method: 'post', url, body },
      fixedClock,
    );
    expect(prepared.target).toEqual({
      method: 'POST',
      host: 'api.dev.cobo.com',
      path: '/v2/wallets/w%2F1/transactions',
      query: 'wallet_type=Custodial&limit=10&cursor=a%2Bb%3D&after=Z',
    });
    const issued = await prepared.issue();

    const nonce = String(FIXED_MS);
    const stringToSign = `POST|/v2/wallets/w%2F1/transactions|${nonce}|wallet_type=Custodial&limit=10&cursor=a%2Bb%3D&after=Z|${body}`;
    const expected = sign(null, sha256(sha256(Buffer.from(stringToSign, 'utf8'))), seedKey).toString('hex');

    expect(issued).toEqual({
      headers: { 'Biz-Api-Key': PUB, 'Biz-Api-Nonce': nonce, 'Biz-Api-Signature': expected },
      expiresAt: null,
      nonce,
    });
    expect(Object.keys(issued.headers!)).toEqual(['Biz-Api-Key', 'Biz-Api-Nonce', 'Biz-Api-Signature']);
    // The token was given the 32-byte double hash, nothing else.
    expect(signer.messages).toHaveLength(1);
    expect(Buffer.from(signer.messages[0]!).toString('hex')).toBe(
      sha256(sha256(Buffer.from(stringToSign, 'utf8'))).toString('hex'),
    );
    const ok = verify(
      null,
      sha256(sha256(Buffer.from(stringToSign))),
      createPublicKey(seedKey),
      Buffer.from(issued.headers!['Biz-Api-Signature']!, 'hex'),
    );
    expect(ok).toBe(true);
  });

  it('uses empty QUERY and BODY for a bare GET, and the clock at issue time as nonce', async () => {
    const signer = memorySigner('EdDSA', { privateKey: seedKey });
    let now = 1_712_345_678_901;
    const prepared = prepareCredential(
      context('cobo', signer),
      'headers',
      { method: 'GET', url: 'https://api.sandbox.cobo.com/v2/wallets' },
      () => now,
    );
    now += 5;
    const issued = await prepared.issue();
    expect(issued.headers!['Biz-Api-Nonce']).toBe('1712345678906');
    const expected = sign(null, sha256(sha256(Buffer.from('GET|/v2/wallets|1712345678906||'))), seedKey);
    expect(issued.headers!['Biz-Api-Signature']).toBe(expected.toString('hex'));
  });

  it('refuses /jwt, ttl, claims, and an ES256 key — before signing', async () => {
    const signer = memorySigner('EdDSA');
    const ctx = context('cobo', signer);
    const url = 'https://api.dev.cobo.com/v2/wallets';
    const err = await expectRefused(
      () => prepareCredential(ctx, 'jwt', { method: 'GET', url }),
      'ERR_BAD_REQUEST',
      undefined,
      signer,
    );
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain('/headers');
    await expectRefused(
      () => prepareCredential(ctx, 'headers', { method: 'GET', url, ttl: 5 }),
      'ERR_BAD_REQUEST',
      'ttl',
      signer,
    );
    await expectRefused(
      () => prepareCredential(ctx, 'headers', { method: 'GET', url, claims: {} }),
      'ERR_BAD_REQUEST',
      'claims',
      signer,
    );
    await expectRefused(
      () => prepareCredential(ctx, 'headers', { url }),
      'ERR_BAD_REQUEST',
      'method',
      signer,
    );
    const es = memorySigner('ES256');
    await expectRefused(
      () => prepareCredential(context('cobo', es), 'headers', { method: 'GET', url }),
      'ERR_CONFIG',
      undefined,
      es,
    );
  });
});
