/**
 * Hostile input against the real daemon: random JSON, wrong types, unknown fields, huge bodies,
 * odd key names, CR/LF in URLs, malformed HTTP. Only clean 4xx answers (or a valid credential),
 * never a 5xx, never CKR_ text, and the daemon still answers afterwards.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { unixRequest } from '../helpers/http.js';

const CODES = [
  'ERR_BAD_REQUEST',
  'ERR_POLICY_DENIED',
  'ERR_KEY_NOT_FOUND',
  'ERR_PAYLOAD_TOO_LARGE',
  'ERR_RATE_LIMITED',
];

let daemon: TestDaemon;

beforeAll(async () => {
  daemon = await startDaemon({
    keys: [
      {
        name: 'cdp',
        alg: 'ES256',
        config: { profile: 'cdp', cdp: { keyName: 'organizations/o/apiKeys/k' } },
      },
      { name: 'cobo', alg: 'EdDSA', config: { profile: 'cobo' } },
      {
        name: 'gen',
        alg: 'EdDSA',
        config: { profile: 'jwt', jwt: { iss: 'i', sub: 's', audiences: ['a'], maxTtl: 60 } },
      },
    ],
  });
});

afterAll(async () => {
  await daemon?.stop();
  daemon?.token.remove();
});

function expectClean(status: number, text: string) {
  expect(text).not.toMatch(/CKR_/);
  expect(status).toBeLessThan(500);
  if (status !== 200) {
    const body = JSON.parse(text) as { error: { code: string; message: string } };
    expect(CODES).toContain(body.error.code);
    expect(typeof body.error.message).toBe('string');
  }
}

const keyName = fc.oneof(
  fc.constantFrom(
    'cdp',
    'cobo',
    'gen',
    'nope',
    '..',
    '%2F',
    'cdp%2F..',
    '%00',
    encodeURIComponent('ключ'),
    'a'.repeat(300),
    '%E0%A4%A',
  ),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
);

const url = fc.oneof(
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.constantFrom(
    'https://api.coinbase.com/a\r\nX-Evil: 1',
    'https://u:p@api.coinbase.com/',
    'javascript:alert(1)',
    'https://api.coinbase.com/../../etc',
    'https://api.coinbase.com/%2e%2e/x',
    '',
  ),
  fc.string({ maxLength: 100 }),
);

const body = fc.oneof(
  fc.record(
    { method: fc.oneof(fc.constantFrom('GET', 'post', 'GE T', 'GET\n'), fc.string({ maxLength: 10 })), url },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      method: fc.anything(),
      url: fc.anything(),
      claims: fc.anything(),
      ttl: fc.anything(),
      body: fc.anything(),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue(),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue()),
);

describe('property-based hostile input', () => {
  it('2,400 random requests: only clean answers', { timeout: 180_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('jwt', 'headers', ''), keyName, body, async (route, name, payload) => {
        const path = route ? `/v1/keys/${name}/${route}` : `/v1/keys/${name}`;
        const res = await unixRequest(daemon.socket, route ? 'POST' : 'GET', path, payload);
        expectClean(res.status, res.text);
      }),
      { numRuns: 2400 },
    );
  });

  it('raw malformed bodies and content types', async () => {
    const raws = [
      '{',
      '{"method":',
      'null',
      '[]',
      '"x"',
      '{"__proto__":{"a":1}}',
      '{"constructor":{"prototype":{}}}',
      '\u0000',
    ];
    for (const raw of raws) {
      for (const contentType of ['application/json', 'text/plain', 'application/x-www-form-urlencoded']) {
        const res = await unixRequest(daemon.socket, 'POST', '/v1/keys/cdp/jwt', undefined, {
          raw,
          contentType,
        });
        expectClean(res.status, res.text);
        expect(res.status).toBeGreaterThanOrEqual(400);
      }
    }
    const huge = await unixRequest(daemon.socket, 'POST', '/v1/keys/cdp/jwt', undefined, {
      raw: `{"claims":{"a":"${'x'.repeat(100 * 1024)}"}}`,
    });
    expect(huge.status).toBe(413);
  });

  it('malformed HTTP gets a 4xx or a closed connection, and the daemon keeps serving', async () => {
    const garbage = [
      'GARBAGE\r\n\r\n',
      'GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      'POST /v1/keys/cdp/jwt HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
      `GET /v1/health HTTP/1.1\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`,
      'GET /v1/health HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n',
    ];
    for (const raw of garbage) {
      const answer = await new Promise<string>((resolve) => {
        const sock = connect(daemon.socket);
        let text = '';
        sock.on('data', (c: Buffer) => (text += c.toString()));
        sock.on('close', () => resolve(text));
        sock.on('error', () => resolve(text));
        sock.setTimeout(3000, () => sock.destroy());
        sock.end(raw);
      });
      if (answer) expect(answer).toMatch(/^HTTP\/1\.1 4\d\d/);
      expect(answer).not.toMatch(/CKR_/);
    }
    const health = await daemon.request('GET', '/v1/health');
    expect(health.status).toBe(200);
    expect(daemon.output()).not.toMatch(/CKR_/);
    expect(daemon.output()).not.toContain(daemon.token.pin);
  });
});
