/**
 * Compact JSON with object keys sorted recursively — what CDP Wallet Auth hashes into `reqHash`.
 * Keys sort by UTF-16 code units (Array.prototype.sort, as RFC 8785 does), integer-like keys
 * included ("10" before "2", unlike JS property order); values serialize as JSON.stringify does.
 */
import { badRequest } from '../errors.js';

/** Deeper than any real request body; keeps the recursion far from the stack limit. */
export const MAX_CANONICAL_DEPTH = 128;

/** Parses `text` as JSON and re-serializes it canonically. ERR_BAD_REQUEST naming `field` when not JSON. */
export function canonicalizeJsonText(text: string, field = 'body'): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest(field, 'must be valid JSON');
  }
  return canonicalJson(value, field);
}

/**
 * Canonical JSON of a value that came from JSON.parse (or is otherwise plain data). Like
 * JSON.stringify, members that are undefined are left out and become null in arrays; `toJSON` is
 * not consulted. Only excessive nesting is refused (ERR_BAD_REQUEST naming `field`).
 */
export function canonicalJson(value: unknown, field = 'body'): string {
  return write(value, 0, field) ?? 'null';
}

function write(value: unknown, depth: number, field: string): string | undefined {
  if (value === null || typeof value !== 'object') {
    // Scalars as JSON.stringify writes them; it answers undefined (whatever its type says) for what
    // it leaves out: undefined, functions, symbols.
    const scalar: string | undefined = JSON.stringify(value);
    return scalar;
  }
  if (depth >= MAX_CANONICAL_DEPTH) {
    throw badRequest(field, `must not nest deeper than ${MAX_CANONICAL_DEPTH} levels`);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += write(value[i], depth + 1, field) ?? 'null';
    }
    return out + ']';
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  for (const key of keys) {
    const member = write(record[key], depth + 1, field);
    if (member === undefined) continue;
    if (out.length > 1) out += ',';
    out += JSON.stringify(key) + ':' + member;
  }
  return out + '}';
}
