/**
 * Key ceremony transcripts: a signed record of one `signerd keys generate|import`.
 *
 * The transcript says what was done (never the secret), when, by whom, on which host and token, and
 * which public key resulted; the new key signs it (proof of possession). It verifies offline, with
 * node:crypto only: no token, no config.
 *
 * Bytes: the body (everything but `proof`) is signed as canonical JSON (object keys sorted
 * recursively, no whitespace, UTF-8). The file is the whole transcript in the same key order,
 * indented by two spaces, with one trailing newline; the verifier re-serializes what it parsed and
 * requires the file to be exactly that, so no byte of the file can change unnoticed — not even
 * whitespace.
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { SignerdError } from '../errors.js';
import { canonicalJson } from '../credentials/canonical-json.js';
import { jwkThumbprint, jwkToRaw, publicKeyObject } from './public-key.js';
import type { Alg, KeyInfo, KeyOrigin, PublicJwk, Signer } from './types.js';

export const TRANSCRIPT_FORMAT = 'signerd-key-ceremony/1';

export type CeremonyAction = 'generate' | 'import';
/** Which import flag the secret came through. */
export type ImportSourceKind = 'cdp-key-file' | 'ed25519-seed-file' | 'pem-file' | 'wallet-secret-file';

/** What the ceremony did; the secret (and the path it was read from) never appears here. */
export interface TranscriptBody {
  format: typeof TRANSCRIPT_FORMAT;
  action: CeremonyAction;
  /** Import only: the kind of file the secret came from. */
  source?: ImportSourceKind;
  /** Import of a CDP key file only: the key name it carried (the config's `cdp.keyName`). */
  cdpKeyName?: string;
  /** RFC 3339, UTC. */
  time: string;
  operator: { uid: number; user?: string };
  host: string;
  token: { label: string; serial: string };
  key: {
    label: string;
    /** CKA_ID, lower-case hex. */
    id: string;
    alg: Alg;
    origin: KeyOrigin;
    sensitive: boolean;
    extractable: boolean;
    publicKey: { hex: string; jwk: PublicJwk };
    /** RFC 7638 SHA-256 thumbprint of the JWK, base64url. */
    thumbprint: string;
  };
  signerd: { version: string };
}

export interface Transcript extends TranscriptBody {
  /** The new key's signature over canonicalBody(body): ES256 raw r‖s (IEEE P1363), EdDSA plain; base64url. */
  proof: { alg: Alg; signature: string };
}

export interface BuildTranscriptRequest {
  action: CeremonyAction;
  source?: ImportSourceKind;
  cdpKeyName?: string;
  key: KeyInfo;
  token: { label: string; serial: string };
  operator: { uid: number; user?: string };
  host: string;
  version: string;
  time?: Date;
}

export function buildTranscriptBody(request: BuildTranscriptRequest): TranscriptBody {
  const { key } = request;
  const operator: TranscriptBody['operator'] = { uid: request.operator.uid };
  if (request.operator.user !== undefined) operator.user = request.operator.user;
  const body: TranscriptBody = {
    format: TRANSCRIPT_FORMAT,
    action: request.action,
    time: (request.time ?? new Date()).toISOString(),
    operator,
    host: request.host,
    token: { label: request.token.label, serial: request.token.serial },
    key: {
      label: key.label,
      id: key.id,
      alg: key.alg,
      origin: key.origin,
      sensitive: key.sensitive,
      extractable: key.extractable,
      publicKey: { hex: key.publicKey.hex, jwk: { ...key.publicKey.jwk } },
      thumbprint: key.publicKey.thumbprint,
    },
    signerd: { version: request.version },
  };
  if (request.source !== undefined) body.source = request.source;
  if (request.cdpKeyName !== undefined) body.cdpKeyName = request.cdpKeyName;
  return body;
}

/** The bytes the proof signs. */
export function canonicalBody(body: TranscriptBody): Uint8Array {
  return new TextEncoder().encode(canonicalJson(body, 'transcript'));
}

/** Signs the body with the new key (through its Signer, so on the token) and returns the transcript. */
export async function signTranscript(body: TranscriptBody, signer: Signer): Promise<Transcript> {
  if (signer.alg !== body.key.alg) {
    throw new SignerdError(
      'ERR_TRANSCRIPT',
      `the signer is ${signer.alg}, the transcript's key ${body.key.alg}`,
    );
  }
  const signature = await signer.sign(canonicalBody(body));
  return { ...body, proof: { alg: signer.alg, signature: Buffer.from(signature).toString('base64url') } };
}

/** The file form: keys sorted recursively, two-space indent, one trailing newline. */
export function serializeTranscript(transcript: Transcript): string {
  return JSON.stringify(JSON.parse(canonicalJson(transcript, 'transcript')), null, 2) + '\n';
}

/**
 * Checks a transcript file's text: exact file form, shape, public key forms consistent with each
 * other (hex ↔ JWK ↔ thumbprint, point on the curve), and the proof against the public key.
 * Returns the transcript; ERR_TRANSCRIPT with the reason otherwise.
 */
export function verifyTranscript(text: string): Transcript {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw fail('not valid JSON');
  }
  if (!isRecord(parsed)) throw fail('not a JSON object');
  let expected: string;
  try {
    expected = JSON.stringify(JSON.parse(canonicalJson(parsed, 'transcript')), null, 2);
  } catch {
    throw fail('not a transcript');
  }
  if (text !== expected + '\n' && text !== expected) {
    throw fail('the file is not byte for byte in the form signerd writes (altered or re-formatted)');
  }
  const transcript = checkShape(parsed);
  const { key, proof } = transcript;

  const jwkRaw = Buffer.from(jwkToRaw(key.publicKey.jwk));
  if (jwkRaw.toString('hex') !== key.publicKey.hex)
    throw fail('key.publicKey.hex does not match key.publicKey.jwk');
  if (jwkThumbprint(key.publicKey.jwk) !== key.thumbprint)
    throw fail('key.thumbprint does not match key.publicKey.jwk');
  if (proof.alg !== key.alg) throw fail(`proof.alg ${proof.alg} differs from key.alg ${key.alg}`);

  let publicKey;
  try {
    publicKey = publicKeyObject(key.alg, jwkRaw);
    // Round trip through node's JWK import too: the JWK alone must describe the same key.
    createPublicKey({ key: { ...key.publicKey.jwk }, format: 'jwk' });
  } catch {
    throw fail(`key.publicKey is not a valid ${key.alg === 'ES256' ? 'P-256' : 'Ed25519'} public key`);
  }
  const signature = Buffer.from(proof.signature, 'base64url');
  if (signature.length !== 64 || signature.toString('base64url') !== proof.signature) {
    throw fail('proof.signature is not 64 bytes of base64url');
  }
  const body = bodyOf(transcript);
  const ok =
    key.alg === 'ES256'
      ? cryptoVerify('sha256', canonicalBody(body), { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)
      : cryptoVerify(null, canonicalBody(body), publicKey, signature);
  if (!ok) throw fail('the proof of possession does not verify against key.publicKey');
  return transcript;
}

function bodyOf(transcript: Transcript): TranscriptBody {
  const { proof: _proof, ...body } = transcript;
  return body;
}

function fail(why: string): SignerdError {
  return new SignerdError('ERR_TRANSCRIPT', `transcript: ${why}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const BODY_MEMBERS = new Set([
  'format',
  'action',
  'source',
  'cdpKeyName',
  'time',
  'operator',
  'host',
  'token',
  'key',
  'signerd',
  'proof',
]);
const SOURCES: readonly string[] = ['cdp-key-file', 'ed25519-seed-file', 'pem-file', 'wallet-secret-file'];
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Structural check; every member the verifier relies on, and nothing unknown. */
function checkShape(doc: Record<string, unknown>): Transcript {
  for (const name of Object.keys(doc)) if (!BODY_MEMBERS.has(name)) throw fail(`unknown member "${name}"`);
  if (doc.format !== TRANSCRIPT_FORMAT) throw fail(`format must be "${TRANSCRIPT_FORMAT}"`);
  if (doc.action !== 'generate' && doc.action !== 'import')
    throw fail('action must be "generate" or "import"');
  if (doc.action === 'import' ? !SOURCES.includes(doc.source as string) : doc.source !== undefined) {
    throw fail('source is required for an import (one of ' + SOURCES.join(', ') + ') and absent otherwise');
  }
  if (doc.cdpKeyName !== undefined && (typeof doc.cdpKeyName !== 'string' || doc.source !== 'cdp-key-file')) {
    throw fail('cdpKeyName belongs to a cdp-key-file import only');
  }
  if (typeof doc.time !== 'string' || !RFC3339.test(doc.time) || Number.isNaN(Date.parse(doc.time))) {
    throw fail('time must be an RFC 3339 date-time');
  }
  const operator = doc.operator;
  if (
    !isRecord(operator) ||
    !Number.isInteger(operator.uid) ||
    (operator.user !== undefined && typeof operator.user !== 'string')
  ) {
    throw fail('operator must be {uid, user?}');
  }
  if (typeof doc.host !== 'string') throw fail('host must be a string');
  const token = doc.token;
  if (!isRecord(token) || typeof token.label !== 'string' || typeof token.serial !== 'string') {
    throw fail('token must be {label, serial}');
  }
  const key = doc.key;
  if (!isRecord(key)) throw fail('key must be an object');
  if (typeof key.label !== 'string' || typeof key.id !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(key.id)) {
    throw fail('key.label and key.id (lower-case hex) are required');
  }
  if (key.alg !== 'ES256' && key.alg !== 'EdDSA') throw fail('key.alg must be ES256 or EdDSA');
  if (key.origin !== 'generated' && key.origin !== 'imported')
    throw fail('key.origin must be generated or imported');
  if (typeof key.sensitive !== 'boolean' || typeof key.extractable !== 'boolean') {
    throw fail('key.sensitive and key.extractable must be booleans');
  }
  if (typeof key.thumbprint !== 'string') throw fail('key.thumbprint must be a string');
  const publicKey = key.publicKey;
  if (!isRecord(publicKey) || typeof publicKey.hex !== 'string' || !isJwk(publicKey.jwk, key.alg)) {
    throw fail(`key.publicKey must be {hex, jwk} with a ${key.alg === 'ES256' ? 'P-256' : 'Ed25519'} JWK`);
  }
  const signerd = doc.signerd;
  if (!isRecord(signerd) || typeof signerd.version !== 'string') throw fail('signerd must be {version}');
  const proof = doc.proof;
  if (!isRecord(proof)) throw fail('proof is missing');
  if (
    (proof.alg !== 'ES256' && proof.alg !== 'EdDSA') ||
    typeof proof.signature !== 'string' ||
    Object.keys(proof).length !== 2
  ) {
    throw fail('proof must be {alg, signature}');
  }
  return doc as unknown as Transcript;
}

function isJwk(value: unknown, alg: Alg): value is PublicJwk {
  if (!isRecord(value)) return false;
  const names = Object.keys(value).sort().join(',');
  if (alg === 'EdDSA')
    return (
      names === 'crv,kty,x' && value.kty === 'OKP' && value.crv === 'Ed25519' && typeof value.x === 'string'
    );
  return (
    names === 'crv,kty,x,y' &&
    value.kty === 'EC' &&
    value.crv === 'P-256' &&
    typeof value.x === 'string' &&
    typeof value.y === 'string'
  );
}
