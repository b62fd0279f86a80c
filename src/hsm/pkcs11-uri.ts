/**
 * RFC 7512 `pkcs11:` URIs, the common way to name a module, token and key:
 *   pkcs11:token=signerd;object=cdp-main;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so
 * Path attributes are `;`-separated, query attributes `&`-separated; values are percent-decoded
 * (`id` is raw bytes, returned as lower-case hex). An attribute may appear once.
 */
import { SignerdError } from '../errors.js';

export type Pkcs11ObjectType = 'public' | 'private' | 'cert' | 'secret-key' | 'data';

export interface Pkcs11Uri {
  /** Token label. */
  token?: string;
  /** Token serial number. */
  serial?: string;
  manufacturer?: string;
  model?: string;
  /** Object label (CKA_LABEL). */
  object?: string;
  /** CKA_ID, lower-case hex. */
  id?: string;
  type?: Pkcs11ObjectType;
  slotId?: number;
  modulePath?: string;
  moduleName?: string;
  pinSource?: string;
  /** Present only if the URI carries a PIN itself (discouraged by RFC 7512 §2.4). */
  pinValue?: string;
}

const PATH_ATTRIBUTES = new Map<string, keyof Pkcs11Uri>([
  ['token', 'token'],
  ['serial', 'serial'],
  ['manufacturer', 'manufacturer'],
  ['model', 'model'],
  ['object', 'object'],
  ['id', 'id'],
  ['type', 'type'],
  ['slot-id', 'slotId'],
]);
/** Recognized and ignored: they describe the library or slot, not what signerd selects on. */
const IGNORED_PATH = new Set([
  'library-manufacturer',
  'library-description',
  'library-version',
  'slot-manufacturer',
  'slot-description',
]);

const QUERY_ATTRIBUTES = new Map<string, keyof Pkcs11Uri>([
  ['module-path', 'modulePath'],
  ['module-name', 'moduleName'],
  ['pin-source', 'pinSource'],
  ['pin-value', 'pinValue'],
]);

const TYPES: readonly Pkcs11ObjectType[] = ['public', 'private', 'cert', 'secret-key', 'data'];

export function isPkcs11Uri(text: string): boolean {
  return /^pkcs11:/i.test(text);
}

export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (!isPkcs11Uri(uri)) throw uriError('it does not start with "pkcs11:"');
  const rest = uri.slice('pkcs11:'.length);
  const queryAt = rest.indexOf('?');
  const path = queryAt < 0 ? rest : rest.slice(0, queryAt);
  const query = queryAt < 0 ? '' : rest.slice(queryAt + 1);
  const result: Pkcs11Uri = {};
  const seen = new Set<string>();

  for (const [name, raw] of attributes(path, ';')) {
    if (seen.has(name)) throw uriError(`attribute "${name}" appears more than once`);
    seen.add(name);
    if (IGNORED_PATH.has(name) || name.startsWith('x-')) continue;
    const field = PATH_ATTRIBUTES.get(name);
    if (!field) throw uriError(`unknown path attribute "${name}"`);
    assign(result, field, name, raw);
  }
  for (const [name, raw] of attributes(query, '&')) {
    if (seen.has(name)) throw uriError(`attribute "${name}" appears more than once`);
    seen.add(name);
    if (name.startsWith('x-')) continue;
    const field = QUERY_ATTRIBUTES.get(name);
    if (!field) throw uriError(`unknown query attribute "${name}"`);
    assign(result, field, name, raw);
  }
  return result;
}

function* attributes(part: string, separator: string): Generator<[string, string]> {
  if (part === '') return;
  for (const item of part.split(separator)) {
    if (item === '') throw uriError(`empty attribute (stray "${separator}")`);
    const eq = item.indexOf('=');
    if (eq <= 0) throw uriError(`attribute "${safe(item)}" has no name=value form`);
    const name = item.slice(0, eq).toLowerCase();
    if (!/^[a-z][a-z0-9-]*$/.test(name)) throw uriError(`bad attribute name "${safe(name)}"`);
    yield [name, item.slice(eq + 1)];
  }
}

function assign(result: Pkcs11Uri, field: keyof Pkcs11Uri, name: string, raw: string): void {
  const bytes = percentDecode(raw, name);
  switch (field) {
    case 'id':
      result.id = bytes.toString('hex');
      return;
    case 'type': {
      const type = TYPES.find((t) => t === bytes.toString('utf8'));
      if (!type) throw uriError(`type must be one of ${TYPES.join(', ')}`);
      result.type = type;
      return;
    }
    case 'slotId': {
      const text = bytes.toString('utf8');
      if (!/^\d+$/.test(text)) throw uriError('slot-id must be a decimal number');
      result.slotId = Number(text);
      return;
    }
    default:
      result[field] = decodeUtf8(bytes, name);
  }
}

/** Percent-decoding to bytes; a `%` not followed by two hex digits is an error. */
function percentDecode(raw: string, name: string): Buffer {
  if (/%(?![0-9a-fA-F]{2})/.test(raw)) throw uriError(`bad percent-encoding in "${name}"`);
  const parts = raw.split(/(%[0-9a-fA-F]{2})/);
  return Buffer.concat(
    parts.map((part) =>
      /^%[0-9a-fA-F]{2}$/.test(part) ? Buffer.from([parseInt(part.slice(1), 16)]) : Buffer.from(part, 'utf8'),
    ),
  );
}

function decodeUtf8(bytes: Buffer, name: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw uriError(`"${name}" is not UTF-8 text`);
  }
}

/** Attribute text for a message, without echoing a possible PIN. */
function safe(text: string): string {
  return text.toLowerCase().startsWith('pin-value') ? 'pin-value' : text.slice(0, 40);
}

function uriError(why: string): SignerdError {
  return new SignerdError('ERR_CONFIG', `invalid pkcs11: URI: ${why}`);
}
