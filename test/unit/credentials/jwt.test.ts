import { describe, expect, it } from 'vitest';
import { prepareCredential } from '../../../src/credentials/index.js';
import { memorySigner } from '../../helpers/memory-signer.js';
import { FIXED_S, context, expectRefused, fixedClock, splitJwt, verifyJwt } from './fixtures.js';

const es256 = memorySigner('ES256', { kid: 'internal-2024' });
const ed = memorySigner('EdDSA');

describe('generic JWT', () => {
  it('puts the caller claims first, then iss, sub, iat, nbf, exp, jti; header alg, kid, typ', async () => {
    const issued = await prepareCredential(
      context('jwt', es256),
      'jwt',
      {
        claims: {
          aud: 'billing',
          scope: ['read', 'write'],
          n: 1.5,
          ok: true,
          none: null,
          obj: { b: 1, a: [{}] },
        },
      },
      fixedClock,
    ).issue();
    const { header, claims } = splitJwt(issued.jwt!);
    expect(header).toBe('{"alg":"ES256","kid":"internal-2024","typ":"JWT"}');
    expect(issued.jti).toMatch(/^[0-9a-f]{32}$/);
    expect(claims).toBe(
      `{"aud":"billing","scope":["read","write"],"n":1.5,"ok":true,"none":null,"obj":{"b":1,"a":[{}]},` +
        `"iss":"signerd","sub":"internal","iat":${FIXED_S},"nbf":${FIXED_S},"exp":${FIXED_S + 300},"jti":"${issued.jti}"}`,
    );
    expect(issued.expiresAt).toBe('2023-11-14T22:18:20Z');
    const { payload } = await verifyJwt(issued.jwt!, es256);
    expect(payload.aud).toBe('billing');
  });

  it('without claims has only the signerd claims; EdDSA keys use their thumbprint kid', async () => {
    const issued = await prepareCredential(context('jwt', ed), 'jwt', {}, fixedClock).issue();
    const { header, claims } = splitJwt(issued.jwt!);
    expect(header).toBe(`{"alg":"EdDSA","kid":"${ed.kid}","typ":"JWT"}`);
    expect(claims).toBe(
      `{"iss":"signerd","sub":"internal","iat":${FIXED_S},"nbf":${FIXED_S},"exp":${FIXED_S + 300},"jti":"${issued.jti}"}`,
    );
    await verifyJwt(issued.jwt!, ed);
  });

  it('defaults ttl to min(300, maxTtl) and accepts ttl up to maxTtl', async () => {
    const short = context('jwt', es256, { jwt: { iss: 'i', sub: 's', audiences: [], maxTtl: 60 } });
    const a = await verifyJwt((await prepareCredential(short, 'jwt', {}, fixedClock).issue()).jwt!, es256);
    expect(a.payload.exp! - a.payload.iat!).toBe(60);
    const long = context('jwt', es256, { jwt: { iss: 'i', sub: 's', audiences: [], maxTtl: 3600 } });
    const b = await verifyJwt((await prepareCredential(long, 'jwt', {}, fixedClock).issue()).jwt!, es256);
    expect(b.payload.exp! - b.payload.iat!).toBe(300);
    const c = await verifyJwt(
      (await prepareCredential(long, 'jwt', { ttl: 3600 }, fixedClock).issue()).jwt!,
      es256,
    );
    expect(c.payload.exp! - c.payload.iat!).toBe(3600);
  });

  it('accepts aud as an array of allowed audiences', async () => {
    const issued = await prepareCredential(
      context('jwt', es256),
      'jwt',
      { claims: { aud: ['billing', 'ledger'] } },
      fixedClock,
    ).issue();
    const { payload } = await verifyJwt(issued.jwt!, es256);
    expect(payload.aud).toEqual(['billing', 'ledger']);
  });

  it('parses method/url into the target for policy but keeps them out of the claims', async () => {
    const prepared = prepareCredential(
      context('jwt', es256),
      'jwt',
      { method: 'get', url: 'https://Billing.internal:8443/v1/x?y=1' },
      fixedClock,
    );
    expect(prepared.target).toEqual({
      method: 'GET',
      host: 'billing.internal:8443',
      path: '/v1/x',
      query: 'y=1',
    });
    const { payload } = await verifyJwt((await prepared.issue()).jwt!, es256);
    expect(Object.keys(payload)).toEqual(['iss', 'sub', 'iat', 'nbf', 'exp', 'jti']);
    expect(prepareCredential(context('jwt', es256), 'jwt', {}, fixedClock).target).toBeNull();
  });

  it('/headers answers a Bearer Authorization header', async () => {
    const issued = await prepareCredential(
      context('jwt', es256),
      'headers',
      { method: 'POST', url: 'https://billing.internal/charge' },
      fixedClock,
    ).issue();
    expect(Object.keys(issued.headers!)).toEqual(['Authorization']);
    await verifyJwt(issued.headers!['Authorization']!.replace(/^Bearer /, ''), es256);
  });

  it('serializes claims at prepare time: later changes to the request object are not signed', async () => {
    const claims: Record<string, unknown> = { role: 'reader' };
    const prepared = prepareCredential(context('jwt', es256), 'jwt', { claims }, fixedClock);
    claims['role'] = 'admin';
    claims['exp'] = 9_999_999_999;
    const { payload } = await verifyJwt((await prepared.issue()).jwt!, es256);
    expect(payload['role']).toBe('reader');
    expect(payload.exp).toBe(FIXED_S + 300);
  });

  it('treats a "__proto__" claim from JSON as an ordinary claim', async () => {
    const claims = JSON.parse('{"__proto__":{"x":1},"k":"v"}') as Record<string, unknown>;
    const issued = await prepareCredential(context('jwt', es256), 'jwt', { claims }, fixedClock).issue();
    expect(splitJwt(issued.jwt!).claims.startsWith('{"__proto__":{"x":1},"k":"v","iss":')).toBe(true);
    await verifyJwt(issued.jwt!, es256);
  });

  it('refuses claims set by signerd, naming claims.<name>', async () => {
    const ctx = context('jwt', es256);
    for (const name of ['iss', 'sub', 'iat', 'nbf', 'exp', 'jti']) {
      await expectRefused(
        () => prepareCredential(ctx, 'jwt', { claims: { ok: 1, [name]: 'x' } }),
        'ERR_BAD_REQUEST',
        `claims.${name}`,
        es256,
      );
    }
  });

  it('refuses an aud outside the audiences list', async () => {
    const ctx = context('jwt', es256);
    for (const aud of ['payments', ['billing', 'payments'], [], 42, null, ['billing', 1]]) {
      await expectRefused(
        () => prepareCredential(ctx, 'jwt', { claims: { aud } }),
        'ERR_BAD_REQUEST',
        'claims.aud',
        es256,
      );
    }
    const none = context('jwt', es256, { jwt: { iss: 'i', sub: 's', audiences: [], maxTtl: 60 } });
    await expectRefused(
      () => prepareCredential(none, 'jwt', { claims: { aud: 'billing' } }),
      'ERR_BAD_REQUEST',
      'claims.aud',
      es256,
    );
  });
});
