import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSignerdError } from '../../../src/errors.js';
import { prepareCredential } from '../../../src/credentials/index.js';
import { parseTarget } from '../../../src/credentials/target.js';
import type { CredentialKind, CredentialRequest } from '../../../src/credentials/types.js';
import type { Profile } from '../../../src/config/types.js';
import { memorySigner } from '../../helpers/memory-signer.js';
import { context } from './fixtures.js';

const es256 = memorySigner('ES256');
const ed = memorySigner('EdDSA');

/** Characters that matter to URL parsing, plus anything at all. */
const urlChar = fc.oneof(
  fc.constantFrom(
    '/',
    '?',
    '#',
    '@',
    ':',
    '.',
    '%',
    '%2e',
    '%2F',
    '\\',
    ' ',
    '\r',
    '\n',
    '\t',
    '\u0000',
    '[',
    ']',
    '"',
    "'",
    '{',
    '|',
    '^',
    'é',
    '\u2028',
  ),
  fc.string({ unit: 'binary', maxLength: 3 }),
  fc.stringMatching(/^[a-z0-9-]{1,6}$/),
);
const urlish = fc.oneof(
  fc.webUrl({ validSchemes: ['https'], withQueryParameters: true, withFragments: true }),
  fc
    .tuple(
      fc.constantFrom('https://', 'HTTPS://', 'http://', 'https:/', 'wss://', ''),
      fc.array(urlChar, { maxLength: 24 }),
    )
    .map(([scheme, parts]) => scheme + parts.join('')),
  fc.string({ unit: 'binary', maxLength: 64 }),
);
const methodish = fc.oneof(
  { arbitrary: fc.stringMatching(/^[A-Za-z]{1,10}$/), weight: 3 },
  fc.constantFrom('GET', 'post', 'M-SEARCH', '', 'GET ', 'G\r\nET', 'A'.repeat(33)),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

function expectOnlyRequestErrors(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (err) {
    expect(isSignerdError(err), `not a SignerdError: ${String(err)}`).toBe(true);
    expect(['ERR_BAD_REQUEST', 'ERR_PAYLOAD_TOO_LARGE']).toContain((err as { code: string }).code);
    return undefined;
  }
}

describe('parsing never fails in an unplanned way', () => {
  it('parseTarget: only 400s, and an accepted path is a substring of the url as given', () => {
    let accepted = 0;
    fc.assert(
      fc.property(methodish, urlish, (method, url) => {
        const target = expectOnlyRequestErrors(() => parseTarget(method, url)) as
          ReturnType<typeof parseTarget> | undefined;
        if (target === undefined) return;
        accepted++;
        expect(url.includes(target.path) || (target.path === '/' && !/^https:\/\/[^/?#]*\//i.test(url))).toBe(
          true,
        );
        expect(url.includes(target.query)).toBe(true);
        expect(target.method).toBe(method.toUpperCase());
        expect(target.host).toBe(target.host.toLowerCase());
        expect(target.path.startsWith('/')).toBe(true);
        expect(target.path).not.toMatch(/[?#\s]/);
        expect(target.host.endsWith(':443')).toBe(false);
      }),
      { numRuns: 3000 },
    );
    // The generators must reach the accepting side too, or the property says little.
    expect(accepted).toBeGreaterThan(300); // of 3000
  });

  it('prepareCredential: every profile answers only 400/413 to arbitrary method, url, body, ttl', () => {
    const profiles: [Profile, CredentialKind][] = [
      ['cdp', 'jwt'],
      ['cdp-wallet', 'headers'],
      ['cobo', 'headers'],
      ['jwt', 'jwt'],
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...profiles),
        fc.option(methodish, { nil: undefined }),
        fc.option(urlish, { nil: undefined }),
        fc.option(fc.oneof(fc.json(), fc.string()), { nil: undefined }),
        fc.option(fc.oneof(fc.integer({ min: -5, max: 400 }), fc.double()), { nil: undefined }),
        ([profile, kind], method, url, body, ttl) => {
          const signer = profile === 'cobo' ? ed : es256;
          const before = signer.calls;
          const req: CredentialRequest = {};
          if (method !== undefined) req.method = method;
          if (url !== undefined) req.url = url;
          if (body !== undefined) req.body = body;
          if (ttl !== undefined && profile !== 'cobo' && profile !== 'cdp-wallet') req.ttl = ttl;
          expectOnlyRequestErrors(() => prepareCredential(context(profile, signer), kind, req));
          expect(signer.calls).toBe(before);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('jwt claims: arbitrary JSON-ish values give a JWT or a 400, never anything else', async () => {
    const ctx = context('jwt', es256);
    let issuedCount = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.string({ maxLength: 8 }),
          fc.oneof(fc.jsonValue({ maxDepth: 12 }), fc.double(), fc.constant(undefined)),
        ),
        async (claims) => {
          const prepared = expectOnlyRequestErrors(() => prepareCredential(ctx, 'jwt', { claims })) as
            ReturnType<typeof prepareCredential> | undefined;
          if (prepared === undefined) return;
          const issued = await prepared.issue();
          issuedCount++;
          const payload = JSON.parse(
            Buffer.from(issued.jwt!.split('.')[1]!, 'base64url').toString('utf8'),
          ) as object;
          expect(Object.keys(payload).slice(-6)).toEqual(['iss', 'sub', 'iat', 'nbf', 'exp', 'jti']);
        },
      ),
      { numRuns: 500 },
    );
    expect(issuedCount).toBeGreaterThan(50);
  });
});
