/**
 * Parsing private keys from the forms they are handed over in (CDP key files, Cobo seeds, PEM,
 * CDP wallet secrets) into PrivateKeyMaterial for the one trip into the token.
 *
 * Errors are ERR_KEY_FORMAT with a message that says what was expected and never repeats any of
 * the input (JSON.parse and OpenSSL messages can quote it, so they are not passed on). Buffers this
 * module creates are zeroed when done; strings (JWK members, hex text) cannot be, which is why the
 * material lives in Uint8Arrays.
 */
import { createPrivateKey, createPublicKey, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SignerdError } from '../errors.js';
import type { PrivateKeyMaterial } from './store.js';

export interface CdpKeyFile {
  /** `organizations/…/apiKeys/…` (the file's `name`) or the key id (its `id`). */
  keyName: string;
  material: PrivateKeyMaterial;
}

/** DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The JSON file the CDP portal downloads: `{"name"|"id": KEYNAME, "privateKey": …}` where
 * privateKey is a SEC1 or PKCS#8 PEM (P-256 or Ed25519) or base64 of the 64 bytes seed‖public key.
 */
export function parseCdpKeyFile(text: string): CdpKeyFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw formatError('the CDP key file is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw formatError('the CDP key file must be a JSON object with "name" (or "id") and "privateKey"');
  }
  const fields = parsed as Record<string, unknown>;
  const keyName = [fields['name'], fields['id']].find(
    (v): v is string => typeof v === 'string' && v.length > 0,
  );
  if (!keyName) throw formatError('the CDP key file has no "name" or "id"');
  const privateKey = fields['privateKey'];
  if (typeof privateKey !== 'string' || privateKey.trim() === '') {
    throw formatError('the CDP key file has no "privateKey" string');
  }
  if (privateKey.includes('-----BEGIN')) {
    // Some copies keep the JSON escapes literally; PEM needs real line breaks.
    return { keyName, material: parsePemPrivateKey(privateKey.replace(/\\n/g, '\n')) };
  }
  return { keyName, material: parseSeedAndPublic(privateKey) };
}

/** base64(seed‖public), CDP's Ed25519 form; the public half must be the seed's. */
function parseSeedAndPublic(text: string): PrivateKeyMaterial {
  const compact = text.replace(/\s+/g, '');
  if (!BASE64.test(compact)) {
    throw formatError('"privateKey" is neither a PEM private key nor base64');
  }
  const bytes = Buffer.from(compact, 'base64');
  try {
    if (bytes.length !== 64) {
      throw formatError(
        `a base64 "privateKey" must hold 64 bytes (Ed25519 seed‖public key), not ${bytes.length}`,
      );
    }
    const material = ed25519FromSeed(bytes.subarray(0, 32));
    const given = bytes.subarray(32, 64);
    if (!timingSafeEqual(given, material.publicRaw)) {
      material.seed.fill(0);
      throw formatError(
        'the public half of "privateKey" does not match its seed (corrupted or mismatched key)',
      );
    }
    return material;
  } finally {
    bytes.fill(0);
  }
}

/**
 * An Ed25519 seed as Cobo hands it out: 64 hex digits (surrounding whitespace ignored), or the raw
 * 32 bytes.
 */
export function parseEd25519Seed(input: Uint8Array | string): PrivateKeyMaterial {
  if (typeof input !== 'string' && input.length === 32) {
    const text = Buffer.from(input).toString('latin1');
    if (/^[0-9a-fA-F\s]+$/.test(text)) {
      throw formatError(
        'this looks like 32 hex digits (16 bytes); an Ed25519 seed is 64 hex digits or 32 raw bytes',
      );
    }
    const seed = Buffer.from(input);
    try {
      return ed25519FromSeed(seed);
    } finally {
      seed.fill(0);
    }
  }
  const text = (typeof input === 'string' ? input : Buffer.from(input).toString('latin1')).trim();
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    const size = typeof input === 'string' ? `${input.length} characters` : `${input.length} bytes`;
    throw formatError(`an Ed25519 seed is 64 hex digits or 32 raw bytes (found ${size})`);
  }
  const seed = Buffer.from(text, 'hex');
  try {
    return ed25519FromSeed(seed);
  } finally {
    seed.fill(0);
  }
}

/** A P-256 (SEC1 "EC PRIVATE KEY" or PKCS#8) or Ed25519 (PKCS#8) private key in PEM. */
export function parsePemPrivateKey(text: string | Uint8Array): PrivateKeyMaterial {
  const pem = typeof text === 'string' ? text : Buffer.from(text).toString('utf8');
  if (pem.includes('ENCRYPTED PRIVATE KEY') || /Proc-Type:\s*4,ENCRYPTED/.test(pem)) {
    throw formatError('the PEM private key is encrypted; decrypt it first (e.g. openssl pkey -in key.pem)');
  }
  if (!/-----BEGIN (?:EC |)PRIVATE KEY-----/.test(pem)) {
    const kind = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
    throw formatError(
      kind
        ? `expected a PEM private key ("EC PRIVATE KEY" or "PRIVATE KEY"), found "${kind}"`
        : 'not a PEM private key (no -----BEGIN PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY----- line)',
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw formatError('the PEM private key is damaged or not a key signerd can read');
  }
  return materialFromKey(key);
}

/** A CDP wallet secret: base64 of a DER PKCS#8 P-256 private key. */
export function parseWalletSecret(text: string | Uint8Array): PrivateKeyMaterial {
  const compact = (typeof text === 'string' ? text : Buffer.from(text).toString('latin1')).replace(
    /\s+/g,
    '',
  );
  if (!BASE64.test(compact)) throw formatError('a wallet secret is base64 (of a DER PKCS#8 key)');
  const der = Buffer.from(compact, 'base64');
  try {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch {
      throw formatError('the wallet secret is not a DER PKCS#8 private key');
    }
    const material = materialFromKey(key);
    if (material.alg !== 'ES256') {
      material.seed.fill(0);
      throw formatError('a wallet secret must be a P-256 key, this is Ed25519');
    }
    return material;
  } finally {
    der.fill(0);
  }
}

/** d / seed and the raw public key of a P-256 or Ed25519 private KeyObject. */
function materialFromKey(key: KeyObject): PrivateKeyMaterial {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
    if (curve !== 'prime256v1')
      throw formatError(`wrong curve: ${curve} (signerd takes P-256 or Ed25519 keys)`);
    const jwk = key.export({ format: 'jwk' });
    if (!jwk.d || !jwk.x || !jwk.y) throw formatError('the P-256 key is incomplete');
    const d = leftPad(Buffer.from(jwk.d, 'base64url'), 32);
    const publicRaw = new Uint8Array(
      Buffer.concat([
        Buffer.from([0x04]),
        leftPad(Buffer.from(jwk.x, 'base64url'), 32),
        leftPad(Buffer.from(jwk.y, 'base64url'), 32),
      ]),
    );
    return { alg: 'ES256', d, publicRaw };
  }
  if (type === 'ed25519') {
    const jwk = key.export({ format: 'jwk' });
    if (!jwk.d || !jwk.x) throw formatError('the Ed25519 key is incomplete');
    return {
      alg: 'EdDSA',
      seed: new Uint8Array(Buffer.from(jwk.d, 'base64url')),
      publicRaw: new Uint8Array(Buffer.from(jwk.x, 'base64url')),
    };
  }
  throw formatError(`wrong key type: ${type ?? 'unknown'} (signerd takes P-256 or Ed25519 keys)`);
}

/** Material for a 32-byte Ed25519 seed (copied; the caller zeroes its own buffer). */
function ed25519FromSeed(seed: Uint8Array): PrivateKeyMaterial & { alg: 'EdDSA' } {
  const der = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
  try {
    const jwk = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({
      format: 'jwk',
    });
    if (!jwk.x) throw formatError('could not derive the Ed25519 public key');
    return {
      alg: 'EdDSA',
      seed: new Uint8Array(seed),
      publicRaw: new Uint8Array(Buffer.from(jwk.x, 'base64url')),
    };
  } finally {
    der.fill(0);
  }
}

/** Big-endian integer bytes left-padded to `length` (the source buffer is zeroed if copied). */
function leftPad(bytes: Buffer, length: number): Uint8Array {
  if (bytes.length === length) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  if (bytes.length > length) throw formatError('a key component is longer than the curve allows');
  const padded = new Uint8Array(length);
  padded.set(bytes, length - bytes.length);
  bytes.fill(0);
  return padded;
}

function formatError(message: string): SignerdError {
  return new SignerdError('ERR_KEY_FORMAT', message);
}
