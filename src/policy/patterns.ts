/**
 * Request patterns: `"METHOD host/path"`, compiled once and matched against a Target.
 *
 * - METHOD: an RFC 7230 token, compared upper-case (the Target's method is upper-case), or `*`.
 * - host: compared exactly, lower-case, with `:port` when the request has one (Target form).
 * - path: split on `/`. A segment `*` matches exactly one non-empty segment; `**` (last segment
 *   only) matches the rest, zero or more segments; anything else matches the same bytes exactly.
 *   The Target's path is the one on the wire, percent-encoding and all: `%2F` is data, not a
 *   separator, and `%2f` is not `%2F`. The query string is never part of the match.
 * - A request path containing a dot segment (`.`, `..`, or their `%2e` spellings) never matches:
 *   the server would resolve it to another path than the one the pattern allowed.
 */
import type { Target } from '../credentials/types.js';

/** One path segment of a pattern: literal text, or a wildcard. */
type Segment = { literal: string } | { one: true };

export interface CompiledPattern {
  readonly source: string;
  /** Upper-case method, or null for `*`. */
  readonly method: string | null;
  readonly host: string;
  /** The segments after the leading `/`. */
  readonly segments: readonly Segment[];
  /** Whether the pattern ends in `**`. */
  readonly rest: boolean;
}

export type PatternResult = { ok: true; pattern: CompiledPattern } | { ok: false; reason: string };

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HOST_LABEL = '[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?';
const HOST = new RegExp(`^(?:${HOST_LABEL}(?:\\.${HOST_LABEL})*|\\[[0-9a-f:.]+\\])(?::[0-9]{1,5})?$`);
/** Path characters RFC 3986 allows (pchar and `/`), percent-escapes checked separately. */
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

/** Parses and checks a pattern; the reason says what is wrong, for the config error. */
export function parsePattern(text: string): PatternResult {
  const fail = (reason: string): PatternResult => ({ ok: false, reason });
  const space = text.indexOf(' ');
  if (space <= 0 || text.indexOf(' ', space + 1) !== -1) {
    return fail('must be "METHOD host/path", e.g. "GET api.example.com/v1/**"');
  }
  const methodText = text.slice(0, space);
  const rest = text.slice(space + 1);
  if (methodText !== '*' && !METHOD.test(methodText))
    return fail(`"${methodText}" is not an HTTP method (or *)`);
  const slash = rest.indexOf('/');
  if (slash === -1)
    return fail('the path must start with "/" right after the host, e.g. "api.example.com/v1/**"');
  const hostText = rest.slice(0, slash);
  const path = rest.slice(slash);
  if (hostText === '') return fail('a host is required before the path');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text.slice(space + 1))) return fail('give the host without a scheme');
  const host = hostText.toLowerCase();
  if (!HOST.test(host)) return fail(`"${hostText}" is not a host name (with an optional :port)`);
  if (path.includes('?') || path.includes('#')) {
    return fail('no query or fragment: patterns match the path only (the query is never part of the match)');
  }
  if (!PATH_CHARS.test(path)) return fail('the path has characters that are not valid in a URL path');
  if (/%(?![0-9A-Fa-f]{2})/.test(path)) return fail('the path has a "%" that is not a %XX escape');

  const parts = path.slice(1).split('/');
  const segments: Segment[] = [];
  let endsInRest = false;
  for (const [i, part] of parts.entries()) {
    if (part === '**') {
      if (i !== parts.length - 1) return fail('"**" may only be the last segment');
      endsInRest = true;
      continue;
    }
    if (part === '*') {
      segments.push({ one: true });
      continue;
    }
    if (part.includes('*')) return fail(`"*" and "**" must be a whole segment (not "${part}")`);
    if (isDotSegment(part)) return fail('"." and ".." segments are not allowed');
    segments.push({ literal: part });
  }
  const method = methodText === '*' ? null : methodText.toUpperCase();
  return { ok: true, pattern: Object.freeze({ source: text, method, host, segments, rest: endsInRest }) };
}

/** Compiles a pattern already validated by the config loader; throws on an invalid one. */
export function compilePattern(text: string): CompiledPattern {
  const result = parsePattern(text);
  if (!result.ok) throw new TypeError(`invalid request pattern "${text}": ${result.reason}`);
  return result.pattern;
}

function isDotSegment(segment: string): boolean {
  if (segment.length > 6) return false;
  const decoded = segment.replace(/%2e/gi, '.');
  return decoded === '.' || decoded === '..';
}

/** Does the request match the pattern? */
export function matchPattern(pattern: CompiledPattern, target: Target): boolean {
  if (pattern.method !== null && pattern.method !== target.method) return false;
  if (pattern.host !== target.host) return false;
  const path = target.path;
  if (path.charCodeAt(0) !== 0x2f /* / */) return false;
  const parts = path.slice(1).split('/');
  const { segments } = pattern;
  if (pattern.rest ? parts.length < segments.length : parts.length !== segments.length) return false;
  for (const part of parts) if (isDotSegment(part)) return false;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i]!;
    if ('one' in segment) {
      if (part === '') return false;
    } else if (segment.literal !== part) {
      return false;
    }
  }
  return true;
}
