/** Bad input of every kind: each is refused with a code naming the field, and never reaches the signer. */
import { describe, expect, it } from 'vitest';
import { prepareCredential } from '../../../src/credentials/index.js';
import type { CredentialKind, CredentialRequest } from '../../../src/credentials/types.js';
import type { Profile } from '../../../src/config/types.js';
import { memorySigner } from '../../helpers/memory-signer.js';
import { context, expectRefused } from './fixtures.js';

const es256 = memorySigner('ES256');
const ed = memorySigner('EdDSA');
const URL_OK = 'https://api.example.com/v2/x';

function signerFor(profile: Profile) {
  return profile === 'cobo' ? ed : es256;
}

const everyProfile: [Profile, CredentialKind][] = [
  ['cdp', 'jwt'],
  ['cdp', 'headers'],
  ['cdp-wallet', 'jwt'],
  ['cdp-wallet', 'headers'],
  ['cobo', 'headers'],
  ['jwt', 'jwt'],
  ['jwt', 'headers'],
];

describe.each(everyProfile)('%s /%s refuses', (profile, kind) => {
  const signer = signerFor(profile);
  const ctx = context(profile, signer);
  const refused = (
    req: CredentialRequest,
    code: 'ERR_BAD_REQUEST' | 'ERR_PAYLOAD_TOO_LARGE',
    field: string,
  ) => expectRefused(() => prepareCredential(ctx, kind, req), code, field, signer);

  it.each([
    ['http://api.example.com/x', 'url'],
    ['ws://api.example.com/x', 'url'],
    ['https://user:pw@api.example.com/x', 'url'],
    ['https://api.example.com/x\r\nHost: evil', 'url'],
    ['https://api.example.com/x\ny', 'url'],
    ['https://api.example.com/a b', 'url'],
    ['https://api.example.com/\u0007', 'url'],
    ['https://api.example.com/../admin', 'url'],
  ])('url %j', async (url, field) => {
    await refused({ method: 'GET', url }, 'ERR_BAD_REQUEST', field);
  });

  it.each(['GET\r\n', 'GET\n', 'G T', 'GET\u0000', '\tGET', 'POST\u00a0'])('method %j', async (method) => {
    await refused({ method, url: URL_OK }, 'ERR_BAD_REQUEST', 'method');
  });

  it('url without method, method without url', async () => {
    await refused({ url: URL_OK }, 'ERR_BAD_REQUEST', 'method');
    await refused({ method: 'GET' }, 'ERR_BAD_REQUEST', 'url');
  });

  it('a 1 MiB body (413), and a body just over 64 KiB in multi-byte characters', async () => {
    const err = await expectRefused(
      () => prepareCredential(ctx, kind, { method: 'POST', url: URL_OK, body: 'x'.repeat(1024 * 1024) }),
      'ERR_PAYLOAD_TOO_LARGE',
      'body',
      signer,
    );
    expect(err.statusCode).toBe(413);
    // 21,846 three-byte characters: 65,538 bytes in 21,846 UTF-16 units.
    await refused(
      { method: 'POST', url: URL_OK, body: '"' + '\u2713'.repeat(21_846) + '"' },
      'ERR_PAYLOAD_TOO_LARGE',
      'body',
    );
  });

  if (profile === 'cdp' || profile === 'jwt') {
    it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '60' as unknown as number, 100_000])(
      'ttl %s',
      async (ttl) => {
        await refused({ method: 'GET', url: URL_OK, ttl }, 'ERR_BAD_REQUEST', 'ttl');
      },
    );
  }
});

describe('profile-specific refusals', () => {
  it('cdp: ttl over 120, and any claims', async () => {
    const ctx = context('cdp', es256);
    const err = await expectRefused(
      () => prepareCredential(ctx, 'jwt', { ttl: 121 }),
      'ERR_BAD_REQUEST',
      'ttl',
      es256,
    );
    expect(err.message).toContain('120');
    await expectRefused(
      () => prepareCredential(ctx, 'jwt', { claims: {} }),
      'ERR_BAD_REQUEST',
      'claims',
      es256,
    );
  });

  it('cdp /headers needs method and url (no websocket form there)', async () => {
    await expectRefused(
      () => prepareCredential(context('cdp', es256), 'headers', {}),
      'ERR_BAD_REQUEST',
      'method',
      es256,
    );
  });

  it('jwt: ttl over maxTtl', async () => {
    const ctx = context('jwt', es256, { jwt: { iss: 'i', sub: 's', audiences: [], maxTtl: 60 } });
    const err = await expectRefused(
      () => prepareCredential(ctx, 'jwt', { ttl: 61 }),
      'ERR_BAD_REQUEST',
      'ttl',
      es256,
    );
    expect(err.message).toContain('60');
  });

  it('jwt: claim names that are empty, have spaces, CR/LF, control or non-ASCII characters', async () => {
    const ctx = context('jwt', es256);
    for (const name of [
      '',
      ' ',
      'a b',
      'a\r\nb',
      'a\nb',
      'tab\t',
      'nul\u0000',
      'del\u007f',
      'caf\u00e9',
      'x'.repeat(257),
    ]) {
      await expectRefused(
        () => prepareCredential(ctx, 'jwt', { claims: { [name]: 1 } }),
        'ERR_BAD_REQUEST',
        'claims',
        es256,
      );
    }
  });

  it('jwt: values that are not JSON', async () => {
    const ctx = context('jwt', es256);
    let deep: unknown = 'leaf';
    for (let i = 0; i < 9; i++) deep = { d: deep };
    let eight: unknown = 'leaf';
    for (let i = 0; i < 8; i++) eight = [eight];
    const bad: [unknown, string][] = [
      [Number.NaN, 'finite'],
      [Number.POSITIVE_INFINITY, 'finite'],
      [{ n: Number.NEGATIVE_INFINITY }, 'finite'],
      [undefined, 'undefined'],
      [() => 1, 'function'],
      [10n, 'bigint'],
      [Symbol('s'), 'symbol'],
      [new Date(0), 'plain'],
      [new Map(), 'plain'],
      [[1, [2, new Uint8Array(1)]], 'plain'],
      [deep, '8 levels'],
    ];
    for (const [value, why] of bad) {
      const err = await expectRefused(
        () => prepareCredential(ctx, 'jwt', { claims: { v: value } }),
        'ERR_BAD_REQUEST',
        'claims.v',
        es256,
      );
      expect(err.message).toContain(why);
    }
    // Exactly 8 levels is fine.
    expect(() => prepareCredential(ctx, 'jwt', { claims: { v: eight } })).not.toThrow();
  });

  it('jwt: claims over 16 KiB, wide or long, and claims that are not an object', async () => {
    const ctx = context('jwt', es256);
    await expectRefused(
      () => prepareCredential(ctx, 'jwt', { claims: { big: 'x'.repeat(16 * 1024) } }),
      'ERR_BAD_REQUEST',
      'claims',
      es256,
    );
    await expectRefused(
      () => prepareCredential(ctx, 'jwt', { claims: { wide: new Array<number>(20_000).fill(0) } }),
      'ERR_BAD_REQUEST',
      'claims',
      es256,
    );
    const many = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`claim${i}`, i]));
    await expectRefused(
      () => prepareCredential(ctx, 'jwt', { claims: many }),
      'ERR_BAD_REQUEST',
      'claims',
      es256,
    );
    for (const claims of [[1], 'x', null, new Date()]) {
      await expectRefused(
        () => prepareCredential(ctx, 'jwt', { claims: claims as unknown as Record<string, unknown> }),
        'ERR_BAD_REQUEST',
        'claims',
        es256,
      );
    }
  });

  it('a body that is not a string', async () => {
    await expectRefused(
      () => prepareCredential(context('cdp', es256), 'jwt', { body: { a: 1 } as unknown as string }),
      'ERR_BAD_REQUEST',
      'body',
      es256,
    );
  });
});
