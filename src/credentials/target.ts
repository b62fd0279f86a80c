/**
 * The request a credential is for, parsed from the caller's `method` and `url`.
 *
 * What gets signed must be what goes on the wire, so this parser refuses rather than normalizes:
 * the path and the query are taken from the caller's own text, and a URL whose path or query a
 * WHATWG client (fetch, undici, browsers) would send differently — dot segments, characters it
 * percent-encodes — is a 400 telling the caller the form to send instead. Only the host is
 * normalized (lower case, IDNA, default port dropped), as every HTTP client does.
 */
import { badRequest } from '../errors.js';
import type { Target } from './types.js';

export const MAX_METHOD_LENGTH = 32;
export const MAX_URL_LENGTH = 8192;

/** RFC 7230 `token`: 1*tchar. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible ASCII only: no space, no control characters, nothing beyond 0x7E. */
const VISIBLE_ASCII = /^[\x21-\x7e]*$/;
/** A `.` or `..` path segment, literal or percent-encoded. */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/** Upper-cased RFC 7230 method token. */
export function parseMethod(method: unknown): string {
  if (typeof method !== 'string') throw badRequest('method', 'must be a string');
  if (method.length === 0) throw badRequest('method', 'must not be empty');
  if (method.length > MAX_METHOD_LENGTH) {
    throw badRequest('method', `must be at most ${MAX_METHOD_LENGTH} characters`);
  }
  if (!TOKEN.test(method)) {
    throw badRequest('method', "must be an HTTP method token (letters, digits, !#$%&'*+-.^_`|~)");
  }
  return method.toUpperCase();
}

/** Host, path and query of an https URL, as they will be sent. */
export function parseUrl(url: unknown): Omit<Target, 'method'> {
  if (typeof url !== 'string') throw badRequest('url', 'must be a string');
  if (url.length === 0) throw badRequest('url', 'must not be empty');
  if (url.length > MAX_URL_LENGTH) throw badRequest('url', `must be at most ${MAX_URL_LENGTH} characters`);
  if (!VISIBLE_ASCII.test(url)) {
    throw badRequest(
      'url',
      'must be printable ASCII without spaces or control characters (percent-encode anything else)',
    );
  }
  if (url.includes('\\')) throw badRequest('url', 'must not contain "\\" (percent-encode it as %5C)');
  if (!/^https:\/\//i.test(url)) throw badRequest('url', 'must be an absolute https:// URL');

  const hash = url.indexOf('#');
  const withoutFragment = hash === -1 ? url : url.slice(0, hash);
  const authorityStart = 8; // "https://".length
  let authorityEnd = withoutFragment.length;
  for (let i = authorityStart; i < withoutFragment.length; i++) {
    const c = withoutFragment.charCodeAt(i);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */) {
      authorityEnd = i;
      break;
    }
  }
  const authority = withoutFragment.slice(authorityStart, authorityEnd);
  if (authority.includes('@')) throw badRequest('url', 'must not contain user information ("user@")');
  if (authority.length === 0) throw badRequest('url', 'must name a host');

  const rest = withoutFragment.slice(authorityEnd);
  const question = rest.indexOf('?');
  const rawPath = question === -1 ? rest : rest.slice(0, question);
  const query = question === -1 ? '' : rest.slice(question + 1);
  // An HTTP client sends "/" for an empty path.
  const path = rawPath === '' ? '/' : rawPath;

  for (const segment of path.split('/')) {
    if (DOT_SEGMENT.test(segment)) {
      throw badRequest('url', `path must not contain "." or ".." segments (found "${segment}")`);
    }
  }

  let parsed: URL;
  try {
    parsed = new URL(withoutFragment);
  } catch {
    throw badRequest('url', 'is not a valid URL');
  }
  if (parsed.protocol !== 'https:') throw badRequest('url', 'must be an absolute https:// URL');
  if (parsed.username !== '' || parsed.password !== '') {
    throw badRequest('url', 'must not contain user information ("user@")');
  }
  if (parsed.hostname === '') throw badRequest('url', 'must name a host');

  // Refuse anything a WHATWG client would put on the wire differently from the caller's text.
  const wire = parsed.pathname + parsed.search;
  const given = query === '' ? path : `${path}?${query}`;
  if (wire !== given) {
    throw badRequest('url', `path and query must be sent as written; percent-encode them as "${wire}"`);
  }

  // `host` is lower-cased, IDNA-mapped, and carries the port only when it is not 443.
  return { host: parsed.host, path, query };
}

/**
 * Parses a credential request's `method` and `url`; both are required here.
 * Every failure is ERR_BAD_REQUEST naming `method` or `url`.
 */
export function parseTarget(method: string | undefined, url: string | undefined): Target {
  if (method === undefined) throw badRequest('method', 'is required');
  if (url === undefined) throw badRequest('url', 'is required');
  const upper = parseMethod(method);
  const { host, path, query } = parseUrl(url);
  return { method: upper, host, path, query };
}
