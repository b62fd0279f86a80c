/**
 * Property-based fuzzing of every route of the real daemon — /v1/health, /v1/keys, /v1/keys/{name},
 * /v1/jwks, both credential routes, unknown routes — with random methods, paths, query strings,
 * headers and bodies: 8,000 cases here (test/e2e/fuzz.test.ts adds 2,400 on the credential routes).
 * Only documented answers: the right status for the route, a JSON error with a contract code, never
 * a 5xx, CKR_ text or a stack; every 200 credential verified; the daemon alive throughout.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { unixRequest } from '../helpers/http.js';
import { PROFILE_KEYS, report, Verifier, type Profile } from './helpers.js';

const CODES = new Set([
  'ERR_BAD_REQUEST',
  'ERR_POLICY_DENIED',
  'ERR_KEY_NOT_FOUND',
  'ERR_PAYLOAD_TOO_LARGE',
  'ERR_RATE_LIMITED',
]);
const RUNS = 8_000;

let daemon: TestDaemon;
let verifier: Verifier;

beforeAll(async () => {
  daemon = await startDaemon({ keys: PROFILE_KEYS });
  verifier = await Verifier.of(daemon);
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  daemon?.token.remove();
});

const method = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('GET', 'POST') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'get'),
  },
);

const keySegment = fc.oneof(
  fc.constantFrom(
    'cdp-es',
    'cdp-ed',
    'cobo',
    'gen',
    'missing',
    '',
    '.',
    '..',
    '%2e%2e',
    '%00',
    'a'.repeat(257),
  ),
  fc.string({ maxLength: 30 }).map(encodeURIComponent),
);

const path = fc.oneof(
  fc.constant('/v1/health'),
  fc.constant('/v1/keys'),
  fc.constant('/v1/jwks'),
  keySegment.map((k) => `/v1/keys/${k}`),
  fc
    .tuple(keySegment, fc.constantFrom('jwt', 'headers', 'sign', '', 'jwt/', 'JWT'))
    .map(([k, r]) => `/v1/keys/${k}/${r}`),
  fc.constantFrom(
    '/',
    '/v1',
    '/v2/health',
    '//v1/health',
    '/v1/health/',
    '/v1/keys/',
    '/v1//keys',
    '/V1/HEALTH',
    '/v1/jwks.json',
    '*',
  ),
  fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
);

const query = fc.oneof(
  fc.constant(''),
  fc.webQueryParameters().map((q) => `?${q}`),
  fc.constantFrom('?', '?a=%zz', '?__proto__[x]=1', `?${'q'.repeat(3000)}`),
);

const body = fc.oneof(
  fc.constant(undefined),
  // Near-valid bodies, so that credentials are issued for random targets too.
  fc
    .tuple(fc.constantFrom('GET', 'POST', 'DELETE'), fc.webPath(), fc.webQueryParameters())
    .map(([m, p, q]) => ({
      method: m,
      url: `https://api.coinbase.com/${p.replace(/^\/+/, '')}${q ? `?${q}` : ''}`,
    })),
  fc.integer({ min: -5, max: 400 }).map((ttl) => ({ claims: { aud: 'billing' }, ttl })),
  fc.record(
    {
      method: fc.oneof(fc.constantFrom('GET', 'POST', 'DELETE'), fc.string({ maxLength: 8 })),
      url: fc.oneof(fc.webUrl({ withQueryParameters: true }), fc.string({ maxLength: 60 })),
      claims: fc.oneof(
        fc.constant({ aud: 'billing' }),
        fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })),
      ),
      ttl: fc.oneof(fc.integer({ min: -10, max: 1000 }), fc.double(), fc.string({ maxLength: 4 })),
      body: fc.oneof(fc.string({ maxLength: 60 }), fc.jsonValue({ maxDepth: 2 })),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 3 }),
);

/** What a 200 must look like on each route. */
function checkOk(route: string, answer: any): boolean | null {
  if (route === '/v1/health') return answer.status === 'ok';
  if (route === '/v1/keys' || route === '/v1/jwks')
    return Array.isArray(answer.keys) && answer.keys.length === 4;
  const m = /^\/v1\/keys\/(cdp-es|cdp-ed|cobo|gen)(\/(jwt|headers))?$/.exec(route);
  if (!m) return false;
  if (!m[2]) return answer.name === m[1] && answer.extractable === false;
  const profile = m[1] as Profile;
  // Credentials for arbitrary targets: the signature is what must hold, whatever was signed.
  if (profile === 'cobo') return typeof answer.headers?.['Biz-Api-Signature'] === 'string';
  const jwt = m[3] === 'headers' ? bearer(answer) : answer.jwt;
  return typeof jwt === 'string' && jwt.split('.').length === 3;
}

function bearer(answer: any): string | undefined {
  const auth = answer?.headers?.Authorization;
  return typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
}

describe('every route, hostile input', () => {
  it(`${RUNS} random requests: only clean, documented answers`, { timeout: 300_000 }, async () => {
    const statuses: Record<number, number> = {};
    let credentials = 0;
    let verified = 0;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(method, path, query, body, async (m, p, q, b) => {
        const res = await unixRequest(
          daemon.socket,
          m,
          `${p}${q}`,
          m === 'GET' || m === 'HEAD' ? undefined : b,
          {
            timeoutMs: 15_000,
          },
        );
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        expect(res.text).not.toMatch(/CKR_|Pkcs11Error|at [^ ]+\.js:\d+|node:internal/);
        expect(res.status).toBeLessThan(500);
        if (m === 'HEAD') return;
        if (res.status === 200) {
          const route = p.split('?')[0]!;
          expect(checkOk(route, res.json)).toBe(true);
          if (/\/(jwt|headers)$/.test(route) && m === 'POST') {
            credentials++;
            const name = /^\/v1\/keys\/([^/]+)/.exec(route)![1] as Profile;
            const jwt = typeof res.json.jwt === 'string' ? res.json.jwt : bearer(res.json);
            if (jwt !== undefined) {
              // Whatever the random target, the signature must verify.
              expect(verifier.jwtSignatureOk(name, jwt)).toBe(true);
              verified++;
            }
          }
        } else {
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(CODES.has(res.json?.error?.code)).toBe(true);
          expect(typeof res.json.error.message).toBe('string');
        }
      }),
      { numRuns: RUNS },
    );
    const health = await daemon.request('GET', '/v1/health');
    report(
      `route fuzz: ${RUNS} cases in ${((Date.now() - started) / 1000).toFixed(1)} s, statuses ${JSON.stringify(statuses)}, ` +
        `${credentials} credentials issued for random targets (${verified} JWTs, every one verified); daemon health ${health.status}`,
    );
    expect(health.status).toBe(200);
    expect(daemon.output()).not.toMatch(/CKR_/);
    expect(daemon.output()).not.toContain(daemon.token.pin);
  });
});
