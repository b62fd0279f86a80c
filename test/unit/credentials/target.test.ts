import { describe, expect, it } from 'vitest';
import { isSignerdError } from '../../../src/errors.js';
import type { SignerdError } from '../../../src/errors.js';
import { parseTarget } from '../../../src/credentials/target.js';

function refusal(method: string | undefined, url: string | undefined): SignerdError {
  try {
    parseTarget(method, url);
  } catch (err) {
    if (isSignerdError(err)) return err;
    throw err;
  }
  throw new Error(`accepted ${String(method)} ${String(url)}`);
}

describe('parseTarget', () => {
  it('upper-cases the method, lower-cases the host, keeps the path and query as written', () => {
    expect(
      parseTarget('get', 'https://API.Coinbase.COM/api/v3/brokerage/accounts?limit=5&cursor=a%2Bb#frag'),
    ).toEqual({
      method: 'GET',
      host: 'api.coinbase.com',
      path: '/api/v3/brokerage/accounts',
      query: 'limit=5&cursor=a%2Bb',
    });
  });

  it('drops the default port and keeps any other', () => {
    expect(parseTarget('GET', 'https://example.com:443/x').host).toBe('example.com');
    expect(parseTarget('GET', 'https://Example.com:8443/x').host).toBe('example.com:8443');
    expect(parseTarget('GET', 'https://[::1]:8443/x').host).toBe('[::1]:8443');
  });

  it('keeps percent-encoding exactly, including encoded slashes and lower-case hex', () => {
    expect(parseTarget('GET', 'https://h.example/a%2Fb/c%2fd/%7Euser').path).toBe('/a%2Fb/c%2fd/%7Euser');
  });

  it('sends "/" for an empty path and "" for no or an empty query', () => {
    expect(parseTarget('GET', 'https://h.example')).toMatchObject({ path: '/', query: '' });
    expect(parseTarget('GET', 'https://h.example?x=1')).toMatchObject({ path: '/', query: 'x=1' });
    expect(parseTarget('GET', 'https://h.example/p?')).toMatchObject({ path: '/p', query: '' });
    expect(parseTarget('GET', 'https://h.example/p#a?b')).toMatchObject({ path: '/p', query: '' });
  });

  it('keeps the query raw: order, repeated keys, encodings, a second "?"', () => {
    expect(parseTarget('GET', 'https://h.example/p?z=1&a=%20x&a=2&q=a?b').query).toBe('z=1&a=%20x&a=2&q=a?b');
  });

  it('accepts any RFC 7230 token as method', () => {
    expect(parseTarget('m-search', 'https://h.example/').method).toBe('M-SEARCH');
    expect(parseTarget("X!#$%&'*+.^_`|~9", 'https://h.example/').method).toBe("X!#$%&'*+.^_`|~9");
  });

  it.each([
    ['http://h.example/', 'absolute https'],
    ['ws://h.example/', 'absolute https'],
    ['wss://h.example/', 'absolute https'],
    ['ftp://h.example/', 'absolute https'],
    ['//h.example/', 'absolute https'],
    ['/relative/path', 'absolute https'],
    ['https:/h.example/x', 'absolute https'],
    ['https:///x', 'host'],
    ['https://user:pass@h.example/', 'user information'],
    ['https://user@h.example/', 'user information'],
    ['https://h.example/a b', 'printable ASCII'],
    ['https://h.example/a\r\nX-Injected: 1', 'printable ASCII'],
    ['https://h.example/a\tb', 'printable ASCII'],
    ['https://h.example/\u0000', 'printable ASCII'],
    ['https://h.example/\u007f', 'printable ASCII'],
    ['https://h.example/caf\u00e9', 'printable ASCII'],
    ['https://h\u00e9.example/', 'printable ASCII'],
    ['https://h.example\\x', '"\\"'],
    ['https://h.example/a/../b', '".." segments'],
    ['https://h.example/a/./b', '".." segments'],
    ['https://h.example/a/%2e%2E/b', '".." segments'],
    ['https://h.example/a/.%2e', '".." segments'],
    ['https://h.example/a/%2E', '".." segments'],
    ['https://h.example/a"b', 'percent-encode them as "/a%22b"'],
    ['https://h.example/{x}', 'percent-encode them as "/%7Bx%7D"'],
    ["https://h.example/p?a='b'", 'percent-encode'],
    ['https://h.example:99999/', 'not a valid URL'],
    ['https://exa mple.com/', 'printable ASCII'],
    ['', 'must not be empty'],
  ])('refuses %j naming url', (url, why) => {
    const err = refusal('GET', url);
    expect(err.code).toBe('ERR_BAD_REQUEST');
    expect(err.field).toBe('url');
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain(why);
  });

  it('refuses a URL over 8 KiB', () => {
    const url = 'https://h.example/' + 'a'.repeat(8192);
    const err = refusal('GET', url);
    expect(err.field).toBe('url');
    expect(err.message).toContain('8192');
    expect(parseTarget('GET', url.slice(0, 8192)).path.length).toBe(8192 - 'https://h.example'.length);
  });

  it.each(['', 'GET POST', 'GET\r\n', 'G\u0000T', 'GÉT', 'GET/1', '(GET)', 'A'.repeat(33), ' GET'])(
    'refuses method %j naming method',
    (method) => {
      const err = refusal(method, 'https://h.example/');
      expect(err.code).toBe('ERR_BAD_REQUEST');
      expect(err.field).toBe('method');
    },
  );

  it('requires both method and url', () => {
    expect(refusal(undefined, 'https://h.example/').field).toBe('method');
    expect(refusal('GET', undefined).field).toBe('url');
  });

  it('refuses values that are not strings', () => {
    expect(refusal(42 as unknown as string, 'https://h.example/').field).toBe('method');
    expect(refusal('GET', { href: 'https://h.example/' } as unknown as string).field).toBe('url');
  });
});
