import { describe, expect, it } from 'vitest';
import type { Target } from '../../../src/credentials/types.js';
import { compilePattern, matchPattern, parsePattern } from '../../../src/policy/patterns.js';

function target(method: string, hostPath: string, query = ''): Target {
  const slash = hostPath.indexOf('/');
  return { method, host: hostPath.slice(0, slash), path: hostPath.slice(slash), query };
}

const matches = (pattern: string, method: string, hostPath: string, query = '') =>
  matchPattern(compilePattern(pattern), target(method, hostPath, query));

describe('matchPattern', () => {
  // [pattern, method, host+path, expected]
  const table: [string, string, string, boolean][] = [
    // literal
    [
      'POST api.coinbase.com/api/v3/brokerage/orders',
      'POST',
      'api.coinbase.com/api/v3/brokerage/orders',
      true,
    ],
    [
      'POST api.coinbase.com/api/v3/brokerage/orders',
      'GET',
      'api.coinbase.com/api/v3/brokerage/orders',
      false,
    ],
    [
      'POST api.coinbase.com/api/v3/brokerage/orders',
      'POST',
      'api.coinbase.com/api/v3/brokerage/orders/1',
      false,
    ],
    [
      'POST api.coinbase.com/api/v3/brokerage/orders',
      'POST',
      'api.coinbase.com/api/v3/brokerage/order',
      false,
    ],
    ['POST api.coinbase.com/api/v3/brokerage/orders', 'POST', 'evil.com/api/v3/brokerage/orders', false],
    // trailing slash is significant
    ['GET h/a', 'GET', 'h/a/', false],
    ['GET h/a/', 'GET', 'h/a', false],
    ['GET h/a/', 'GET', 'h/a/', true],
    ['GET h/', 'GET', 'h/', true],
    ['GET h/', 'GET', 'h/x', false],
    // * = exactly one non-empty segment
    ['GET h/orders/*', 'GET', 'h/orders/123', true],
    ['GET h/orders/*', 'GET', 'h/orders/', false],
    ['GET h/orders/*', 'GET', 'h/orders', false],
    ['GET h/orders/*', 'GET', 'h/orders/1/2', false],
    ['GET h/*/fills', 'GET', 'h/abc/fills', true],
    ['GET h/*/fills', 'GET', 'h//fills', false],
    ['GET h/*/fills', 'GET', 'h/a/b/fills', false],
    // ** = any rest, zero or more segments, last only
    ['GET h/api/**', 'GET', 'h/api', true],
    ['GET h/api/**', 'GET', 'h/api/', true],
    ['GET h/api/**', 'GET', 'h/api/x', true],
    ['GET h/api/**', 'GET', 'h/api/x/y/z', true],
    ['GET h/api/**', 'GET', 'h/apix', false],
    ['GET h/api/**', 'GET', 'h/other/api/x', false],
    ['GET h/**', 'GET', 'h/', true],
    ['GET h/**', 'GET', 'h/anything/at/all', true],
    ['GET h/*/x/**', 'GET', 'h/a/x/b/c', true],
    ['GET h/*/x/**', 'GET', 'h/a/y/b/c', false],
    // %2F is data, not a separator; escapes compare byte for byte
    ['GET h/files/*', 'GET', 'h/files/a%2Fb', true],
    ['GET h/files/*/raw', 'GET', 'h/files/a%2Fb/raw', true],
    ['GET h/files/a/b', 'GET', 'h/files/a%2Fb', false],
    ['GET h/files/a%2Fb', 'GET', 'h/files/a%2Fb', true],
    ['GET h/files/a%2Fb', 'GET', 'h/files/a%2fb', false],
    ['GET h/files/a%2Fb', 'GET', 'h/files/a/b', false],
    // dot segments never match
    ['GET h/api/**', 'GET', 'h/api/../admin', false],
    ['GET h/api/**', 'GET', 'h/api/%2e%2e/admin', false],
    ['GET h/api/*/x', 'GET', 'h/api/./x', false],
    ['GET h/api/*', 'GET', 'h/api/..x', true],
    // method: * any, pattern case-insensitive, target method exact (upper-case by contract)
    ['* h/a', 'DELETE', 'h/a', true],
    ['* h/a', 'GET', 'h/b', false],
    ['get h/a', 'GET', 'h/a', true],
    ['GET h/a', 'get', 'h/a', false],
    // host: pattern lower-cased, ports part of the host
    ['GET API.Coinbase.COM/a', 'GET', 'api.coinbase.com/a', true],
    ['GET api.coinbase.com/a', 'GET', 'api.coinbase.com:8443/a', false],
    ['GET localhost:8443/a', 'GET', 'localhost:8443/a', true],
    ['GET [::1]:8443/a', 'GET', '[::1]:8443/a', true],
    ['GET h/a', 'GET', 'h.evil/a', false],
  ];

  it.each(table)('%s  vs  %s %s → %s', (pattern, method, hostPath, expected) => {
    expect(matches(pattern, method, hostPath)).toBe(expected);
  });

  it('never looks at the query', () => {
    expect(matches('GET h/a', 'GET', 'h/a', 'x=1&y=2')).toBe(true);
    expect(matches('GET h/a/*', 'GET', 'h/a', 'b')).toBe(false);
  });

  it('does not match a target path that does not start with "/"', () => {
    expect(matchPattern(compilePattern('GET h/**'), { method: 'GET', host: 'h', path: '*', query: '' })).toBe(
      false,
    );
  });
});

describe('parsePattern', () => {
  it('compiles a pattern once into method, host and segments', () => {
    const result = parsePattern('get API.example.com/v1/*/items/**');
    expect(result).toEqual({
      ok: true,
      pattern: {
        source: 'get API.example.com/v1/*/items/**',
        method: 'GET',
        host: 'api.example.com',
        segments: [{ literal: 'v1' }, { one: true }, { literal: 'items' }],
        rest: true,
      },
    });
  });

  it.each([
    ['GET', 'must be "METHOD host/path"'],
    ['GET  h/a', 'must be "METHOD host/path"'],
    ['GET h/a b', 'must be "METHOD host/path"'],
    ['GET /a', 'a host is required'],
    ['GET h', 'the path must start with "/"'],
    ['G@T h/a', 'is not an HTTP method'],
    ['GET ht_p:x/a', 'is not a host name'],
    ['GET h/a?x=1', 'no query or fragment'],
    ['GET h/a#f', 'no query or fragment'],
    ['GET h/a b', 'must be "METHOD host/path"'],
    ['GET h/a%zz', 'not a %XX escape'],
    ['GET h/a"b', 'not valid in a URL path'],
    ['GET h/**/a', '"**" may only be the last segment'],
    ['GET h/a*', 'must be a whole segment'],
    ['GET h/***', 'must be a whole segment'],
    ['GET h/./a', '"." and ".." segments are not allowed'],
    ['GET h/%2E%2E/a', '"." and ".." segments are not allowed'],
    ['GET https://h/a', 'without a scheme'],
  ])('refuses %j (%s)', (pattern, reason) => {
    const result = parsePattern(pattern);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
  });

  it('compilePattern throws on an invalid pattern', () => {
    expect(() => compilePattern('nope')).toThrow(TypeError);
  });
});
