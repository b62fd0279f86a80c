/** The daemon's answers (contract §3), as the client library hands them on. */

export type Alg = 'ES256' | 'EdDSA';

export type Profile = 'cdp' | 'cdp-wallet' | 'cobo' | 'jwt';

export type PublicJwk =
  { kty: 'EC'; crv: 'P-256'; x: string; y: string } | { kty: 'OKP'; crv: 'Ed25519'; x: string };

/** A public JWK as `GET /v1/jwks` lists it: always with `kid` and `alg`. */
export type JWK = PublicJwk & { kid: string; alg: Alg; use?: string };

export interface Key {
  name: string;
  profile: Profile;
  alg: Alg;
  kid: string;
  publicKey: {
    jwk: PublicJwk;
    pem: string;
    /** Raw public key: 32 bytes for Ed25519 (what Cobo Portal asks for), 65-byte uncompressed point for P-256. */
    hex: string;
  };
  origin: 'generated' | 'imported';
  extractable: false;
}

/**
 * `GET /v1/health`. A daemon whose token is gone answers 503 with `status: "unavailable"`;
 * `health()` returns that report rather than throwing, so `token` and `keys` may be missing then.
 */
export interface Health {
  status: 'ok' | 'unavailable';
  token?: { label: string; present: boolean };
  keys?: { loaded: number };
}

export interface JwtRequest {
  /** With `url`: the request the JWT is for (CDP's `uri` claim). Without both: a websocket / uri-less JWT. */
  method?: string;
  url?: string;
  /** Extra claims (generic `jwt` profile keys only). */
  claims?: Record<string, unknown>;
  /** Lifetime in seconds, capped by the daemon (120 for CDP, `maxTtl` for generic keys). */
  ttl?: number;
}

export interface JwtResult {
  jwt: string;
  /** RFC 3339 UTC, or null when the credential has no expiry. */
  expiresAt: string | null;
}

export interface HeadersRequest {
  method: string;
  /** The full URL, query string exactly as it will go on the wire. */
  url: string;
  /** The exact body string that will be sent (Cobo and CDP wallet auth sign it). */
  body?: string;
}

export interface HeadersResult {
  headers: Record<string, string>;
  expiresAt: string | null;
}
