/** The credential builders' inputs and outputs. Builders see a Signer, never PKCS#11. */
import type { CdpKeyConfig, JwtKeyConfig, Profile } from '../config/types.js';
import type { Signer } from '../keys/types.js';

/** A key as the builders need it. */
export interface KeyContext {
  name: string;
  profile: Profile;
  signer: Signer;
  /** Raw public key as hex (Cobo's Biz-Api-Key). */
  publicKeyHex: string;
  cdp?: CdpKeyConfig;
  jwt?: JwtKeyConfig;
}

/** The body of POST /v1/keys/{name}/jwt and /headers, already shape-checked by the route schema. */
export interface CredentialRequest {
  method?: string;
  url?: string;
  /** The exact body string that will be sent. */
  body?: string;
  claims?: Record<string, unknown>;
  ttl?: number;
}

/** The request a credential is for, parsed once and used by policy, builder and audit alike. */
export interface Target {
  /** Upper-case RFC 7230 token. */
  method: string;
  /** Lower-case, with `:port` only when not the scheme's default. */
  host: string;
  /** Exactly as on the wire (percent-encoding preserved), no query, no fragment. */
  path: string;
  /** Raw query string without `?`, exactly as given; "" when none. */
  query: string;
}

export type CredentialKind = 'jwt' | 'headers';

export interface IssuedCredential {
  jwt?: string;
  headers?: Record<string, string>;
  /** RFC 3339 UTC, or null when the credential has no expiry (Cobo). */
  expiresAt: string | null;
  /** For the audit log: the CDP JWT nonce or the Cobo nonce … */
  nonce?: string;
  /** … or the JWT id. */
  jti?: string;
}

/**
 * A request validated in full, before anything reaches the token: `target` is what policy checks
 * (null = a websocket CDP JWT, no uri); `issue()` signs.
 */
export interface PreparedCredential {
  kind: CredentialKind;
  target: Target | null;
  issue(): Promise<IssuedCredential>;
}

/** Milliseconds since the epoch; injectable for tests. */
export type Clock = () => number;
