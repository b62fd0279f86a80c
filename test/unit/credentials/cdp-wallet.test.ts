import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalizeJsonText } from '../../../src/credentials/canonical-json.js';
import { prepareCredential } from '../../../src/credentials/index.js';
import { memorySigner } from '../../helpers/memory-signer.js';
import { FIXED_S, context, expectRefused, fixedClock, splitJwt, verifyCompact } from './fixtures.js';

const signer = memorySigner('ES256');

/**
 * Independent canonical form (RFC 8785 style): entries sorted by UTF-16 code units, joined with
 * map/join. Integer-like keys sort as strings, which rebuilding a JS object would not do.
 */
function sortedStringify(text: string): string {
  const emit = (value: unknown): string => {
    if (Array.isArray(value)) return `[${value.map(emit).join(',')}]`;
    if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${emit(v)}`).join(',')}}`;
    }
    return JSON.stringify(value);
  };
  return emit(JSON.parse(text));
}

const NESTED_BODY = `{
  "zeta": [3, 1.5, -0, 1e21, 12345678901234567890, {"b": true, "a": null}],
  "alpha": {"ü": "naïve ☃ 𝄞 \\u00e9", "Z": [], "a": {}, "é": "\\ud83d\\ude00"},
  "10": "numeric-looking key",
  "2": 2,
  "name": "line\\nbreak \\"quoted\\" \\\\ slash"
}`;

describe('canonical JSON', () => {
  it('sorts keys recursively and serializes compactly', () => {
    expect(canonicalizeJsonText('{"b":1,"a":{"d":[{"y":1,"x":2}],"c":"s"}}')).toBe(
      '{"a":{"c":"s","d":[{"x":2,"y":1}]},"b":1}',
    );
    expect(canonicalJson([3, 'x', null, false])).toBe('[3,"x",null,false]');
    expect(canonicalJson('solo')).toBe('"solo"');
    // Integer-like keys sort as strings, not in JS property order.
    expect(canonicalizeJsonText('{"2":"b","10":"a","b":1,"B":2}')).toBe('{"10":"a","2":"b","B":2,"b":1}');
    // Undefined members are left out, as JSON.stringify does.
    expect(canonicalJson({ b: undefined, a: [undefined, 1] })).toBe('{"a":[null,1]}');
    // A "__proto__" key from JSON.parse is data like any other.
    expect(canonicalizeJsonText('{"__proto__":{"z":1,"y":2},"a":0}')).toBe(
      '{"__proto__":{"y":2,"z":1},"a":0}',
    );
  });

  it('matches an independent implementation on a nested body with unicode, arrays and numbers', () => {
    expect(canonicalizeJsonText(NESTED_BODY)).toBe(sortedStringify(NESTED_BODY));
  });

  it('refuses text that is not JSON, naming the field', () => {
    expect(() => canonicalizeJsonText('{"a":')).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_REQUEST', field: 'body' }),
    );
    expect(() => canonicalizeJsonText('['.repeat(200) + ']'.repeat(200))).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_REQUEST', field: 'body' }),
    );
  });
});

describe('cdp-wallet JWT', () => {
  it('has exactly the contract header and claims, with reqHash of the canonical body', async () => {
    const issued = await prepareCredential(
      context('cdp-wallet', signer),
      'headers',
      { method: 'post', url: 'https://API.cdp.coinbase.com/platform/v2/evm/accounts?x=1', body: NESTED_BODY },
      fixedClock,
    ).issue();
    expect(Object.keys(issued.headers!)).toEqual(['X-Wallet-Auth']);
    expect(issued.expiresAt).toBeNull();
    const jwt = issued.headers!['X-Wallet-Auth']!;
    await verifyCompact(jwt, signer);
    const { header, claims } = splitJwt(jwt);
    expect(header).toBe('{"alg":"ES256","typ":"JWT"}');
    const reqHash = createHash('sha256')
      .update(Buffer.from(sortedStringify(NESTED_BODY), 'utf8'))
      .digest('hex');
    expect(issued.jti).toMatch(/^[0-9a-f]{32}$/);
    expect(claims).toBe(
      `{"iat":${FIXED_S},"nbf":${FIXED_S},"jti":"${issued.jti}","uris":["POST api.cdp.coinbase.com/platform/v2/evm/accounts"],"reqHash":"${reqHash}"}`,
    );
  });

  it('hashes the same for bodies that differ only in key order and whitespace', async () => {
    const hashOf = async (body: string) => {
      const issued = await prepareCredential(
        context('cdp-wallet', signer),
        'jwt',
        { method: 'POST', url: 'https://h.example/x', body },
        fixedClock,
      ).issue();
      return (JSON.parse(splitJwt(issued.jwt!).claims) as { reqHash: string }).reqHash;
    };
    expect(await hashOf('{"a":1,"b":[1,2]}')).toBe(await hashOf('{ "b" : [1, 2],\n "a" : 1 }'));
    expect(await hashOf('{"a":1}')).toBe(createHash('sha256').update('{"a":1}').digest('hex'));
  });

  it('has no reqHash without a body, and a fresh jti each time', async () => {
    const prepared = prepareCredential(
      context('cdp-wallet', signer),
      'jwt',
      { method: 'DELETE', url: 'https://h.example:8443/a%2Fb' },
      fixedClock,
    );
    const a = await prepared.issue();
    const b = await prepared.issue();
    expect(a.jti).not.toBe(b.jti);
    expect(splitJwt(a.jwt!).claims).toBe(
      `{"iat":${FIXED_S},"nbf":${FIXED_S},"jti":"${a.jti}","uris":["DELETE h.example:8443/a%2Fb"]}`,
    );
    expect(a.expiresAt).toBeNull();
    await verifyCompact(a.jwt!, signer);
  });

  it('refuses a body that is not JSON, a missing url, ttl and claims — before signing', async () => {
    const ctx = context('cdp-wallet', signer);
    const url = 'https://h.example/x';
    await expectRefused(
      () => prepareCredential(ctx, 'headers', { method: 'POST', url, body: 'a=1' }),
      'ERR_BAD_REQUEST',
      'body',
      signer,
    );
    await expectRefused(
      () => prepareCredential(ctx, 'jwt', { method: 'POST' }),
      'ERR_BAD_REQUEST',
      'url',
      signer,
    );
    await expectRefused(() => prepareCredential(ctx, 'jwt', {}), 'ERR_BAD_REQUEST', 'method', signer);
    await expectRefused(
      () => prepareCredential(ctx, 'jwt', { method: 'GET', url, ttl: 60 }),
      'ERR_BAD_REQUEST',
      'ttl',
      signer,
    );
    await expectRefused(
      () => prepareCredential(ctx, 'jwt', { method: 'GET', url, claims: { a: 1 } }),
      'ERR_BAD_REQUEST',
      'claims',
      signer,
    );
  });

  it('refuses an EdDSA key as a configuration error', async () => {
    const ed = memorySigner('EdDSA');
    await expectRefused(
      () => prepareCredential(context('cdp-wallet', ed), 'jwt', { method: 'GET', url: 'https://h.example/' }),
      'ERR_CONFIG',
      undefined,
      ed,
    );
  });
});
