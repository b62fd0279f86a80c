/** The validated, frozen configuration (contract §2). Produced only by src/config/load.ts. */

export type Profile = 'cdp' | 'cdp-wallet' | 'cobo' | 'jwt';

export type PinSource = { file: string } | { env: string };

export interface HsmConfig {
  /** Absolute path of the PKCS#11 module. */
  module: string;
  /** Which token: by label or by serial number. */
  token: { label: string } | { serial: string };
  pin: PinSource;
  /** Session pool size. */
  sessions: number;
}

export interface SocketConfig {
  path: string;
  /** File mode of the socket, e.g. 0o660. */
  mode: number;
  /** Group owning the socket: a number, or a name resolved at load time. */
  group?: { gid: number; name?: string };
}

export interface CdpKeyConfig {
  keyName: string;
  uriClaim: 'uri' | 'uris';
}

export interface JwtKeyConfig {
  iss: string;
  sub: string;
  audiences: string[];
  /** Seconds. */
  maxTtl: number;
}

export interface KeyConfig {
  /** The key's name in the API (the YAML map key). */
  name: string;
  /** CKA_LABEL and/or CKA_ID (lower-case hex) of the private key on the token. */
  label?: string;
  id?: string;
  profile: Profile;
  /** Load this key even though the token says it is extractable or not sensitive (flagged everywhere). */
  allowExtractable: boolean;
  cdp?: CdpKeyConfig;
  jwt?: JwtKeyConfig;
}

export interface ClientConfig {
  name: string;
  /** Matched against the socket peer's uid / gid (names resolved to numbers at load time). */
  uid?: number;
  gid?: number;
  keys: string[];
  /** "METHOD host/path" patterns; `*` one segment, `**` any rest. */
  allow: string[];
  websocket: boolean;
  /** Requests per second, if limited. */
  rate?: number;
}

export interface AuditConfig {
  path: string;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  /** The file it was read from, if any. */
  source?: string;
  hsm: HsmConfig;
  socket: SocketConfig;
  keys: Readonly<Record<string, KeyConfig>>;
  /** Absent: only the daemon's own uid and root may use keys. */
  clients?: readonly ClientConfig[];
  audit: AuditConfig;
  log: { level: LogLevel };
}
