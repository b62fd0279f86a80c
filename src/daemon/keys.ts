import type { KeyConfig, Profile } from '../config/types.js';
import type { KeyContext } from '../credentials/types.js';
import { SignerdError, isSignerdError } from '../errors.js';
import type { KeyStore } from '../keys/store.js';
import type { Alg, KeyInfo, KeyRef, PublicJwk } from '../keys/types.js';

/** What `GET /v1/keys/{name}` answers (contract §3). */
export interface KeyView {
  name: string;
  profile: Profile;
  alg: Alg;
  kid: string;
  publicKey: { jwk: PublicJwk; pem: string; hex: string };
  origin: 'generated' | 'imported';
  extractable: boolean;
}

export type JwksEntry = PublicJwk & { kid: string; alg: Alg; use: 'sig' };

/** A configured key, found on the token and ready to sign; everything per-key is computed once here. */
export interface LoadedKey {
  config: KeyConfig;
  info: KeyInfo;
  context: KeyContext;
  view: KeyView;
  jwk: JwksEntry;
}

/** Which algorithms each profile can use: Cobo is Ed25519 only, CDP Wallet Auth is ES256 only. */
const PROFILE_ALGS: Readonly<Record<Profile, readonly Alg[]>> = {
  cdp: ['ES256', 'EdDSA'],
  'cdp-wallet': ['ES256'],
  cobo: ['EdDSA'],
  jwt: ['ES256', 'EdDSA'],
};

export function keyRefOf(config: KeyConfig): KeyRef {
  const ref: KeyRef = {};
  if (config.label !== undefined) ref.label = config.label;
  if (config.id !== undefined) ref.id = config.id;
  return ref;
}

function describe(ref: KeyRef): string {
  return [ref.label !== undefined ? `label "${ref.label}"` : '', ref.id !== undefined ? `id ${ref.id}` : '']
    .filter(Boolean)
    .join(' and ');
}

/** Finds one configured key on the token and checks that it is safe and fits its profile. */
export async function loadKey(store: KeyStore, config: KeyConfig): Promise<LoadedKey> {
  const field = `keys.${config.name}`;
  const ref = keyRefOf(config);
  // Before looking for the key: a token that cannot sign for this profile at all is the real problem.
  await requireProfileSigning(store, config.profile, field);
  let info: KeyInfo;
  try {
    info = await store.getKey(ref);
  } catch (err) {
    if (isSignerdError(err) && err.code === 'ERR_KEY_NOT_FOUND') {
      throw new SignerdError('ERR_CONFIG', `${field}: no private key with ${describe(ref)} on the token`, {
        field,
        cause: err,
      });
    }
    throw err;
  }
  if ((info.extractable || !info.sensitive) && !config.allowExtractable) {
    throw new SignerdError(
      'ERR_KEY_UNSAFE',
      `${field}: the token says this private key is ${info.extractable ? 'extractable' : 'not sensitive'}; ` +
        'move it to a non-extractable key, or set allowExtractable: true to load it anyway',
      { field },
    );
  }
  if (!PROFILE_ALGS[config.profile].includes(info.alg)) {
    throw new SignerdError(
      'ERR_CONFIG',
      `${field}: profile ${config.profile} needs ${PROFILE_ALGS[config.profile].join(' or ')}, the key is ${info.alg}`,
      { field },
    );
  }
  await requireSigning(store, info.alg, field);
  // A CDP JWT names its key by the portal's key name; everything else by the RFC 7638 thumbprint.
  const kid = config.profile === 'cdp' && config.cdp ? config.cdp.keyName : info.publicKey.thumbprint;
  const signer = store.signer(info, { kid });
  const context: KeyContext = {
    name: config.name,
    profile: config.profile,
    signer,
    publicKeyHex: info.publicKey.hex,
  };
  if (config.cdp) context.cdp = config.cdp;
  if (config.jwt) context.jwt = config.jwt;
  const { jwk, pem, hex } = info.publicKey;
  return {
    config,
    info,
    context,
    view: {
      name: config.name,
      profile: config.profile,
      alg: info.alg,
      kid,
      publicKey: { jwk, pem, hex },
      origin: info.origin,
      extractable: info.extractable,
    },
    jwk: { ...jwk, kid, alg: info.alg, use: 'sig' },
  };
}

function isUnsupported(err: unknown): err is SignerdError {
  return isSignerdError(err) && err.code === 'ERR_MECHANISM_UNSUPPORTED';
}

/** ERR_MECHANISM_UNSUPPORTED for `field` when the token cannot sign with `alg` (read from the token). */
async function requireSigning(store: KeyStore, alg: Alg, field: string): Promise<void> {
  try {
    await store.requireSigning?.(alg);
  } catch (err) {
    if (!isUnsupported(err)) throw err;
    throw new SignerdError('ERR_MECHANISM_UNSUPPORTED', `${field}: ${err.message}`, { field, cause: err });
  }
}

/** The token must sign with at least one algorithm the profile can use (cobo: EdDSA only). */
async function requireProfileSigning(store: KeyStore, profile: Profile, field: string): Promise<void> {
  if (!store.requireSigning) return;
  const refusals: string[] = [];
  for (const alg of PROFILE_ALGS[profile]) {
    try {
      await store.requireSigning(alg);
      return;
    } catch (err) {
      if (!isUnsupported(err)) throw err;
      refusals.push(err.message);
    }
  }
  throw new SignerdError(
    'ERR_MECHANISM_UNSUPPORTED',
    `${field}: profile ${profile} needs ${PROFILE_ALGS[profile].join(' or ')}, and ${refusals.join('; ')}`,
    { field },
  );
}

/** Loads every configured key; the first problem stops the load (the caller keeps what it had). */
export async function loadKeys(
  store: KeyStore,
  keys: Readonly<Record<string, KeyConfig>>,
): Promise<ReadonlyMap<string, LoadedKey>> {
  const loaded = new Map<string, LoadedKey>();
  for (const config of Object.values(keys)) {
    loaded.set(config.name, await loadKey(store, config));
  }
  return loaded;
}
