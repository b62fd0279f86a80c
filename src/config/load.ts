/**
 * Reading and validating the configuration (contract §2): YAML → TypeBox shape check → rules that
 * span fields → a deeply frozen Config with defaults filled in.
 *
 * Every problem is reported, not only the first: one line each, `field.path: why`, in one
 * SignerdError('ERR_CONFIG'). Only `hsm` is required: key ceremonies need nothing else.
 *
 * YAML: one document, no duplicate keys, aliases bounded (an alias bomb is refused), no custom or
 * YAML 1.1 tags (`!!binary`, `!!set` …); warnings are errors too.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parseDocument } from 'yaml';
import { SignerdError } from '../errors.js';
import { parsePattern } from '../policy/patterns.js';
import type { ClientConfig, Config, HsmConfig, KeyConfig, SocketConfig } from './types.js';
import {
  ClientSchema,
  ConfigSchema,
  HsmSchema,
  KeySchema,
  SocketSchema,
  describeError,
  fieldPath,
  pointerSegments,
} from './schema.js';
import type { RawClient, RawHsm, RawKey, RawSocket } from './schema.js';
import { lookupGid, lookupUid } from './users.js';
import type { UserDbPaths } from './users.js';

export const DEFAULT_CONFIG_PATH = '/etc/signerd/signerd.yaml';
export const DEFAULTS = {
  sessions: 4,
  socketPath: '/run/signerd/signerd.sock',
  socketMode: '0660',
  auditPath: '/var/lib/signerd/audit.jsonl',
  logLevel: 'info',
} as const;

/** Key and client names: what the API, the audit log and the policy use. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Bounds alias expansion (YAML "billion laughs"): count of alias uses × size of what they copy. */
const MAX_ALIAS_COUNT = 100;
/** sun_path holds 108 bytes, the terminating NUL included. */
const MAX_SOCKET_PATH = 107;

export interface ParseOptions {
  /** Where user and group names are looked up (tests); default /etc/passwd and /etc/group. */
  users?: UserDbPaths;
}

/** `--config F`, else $SIGNERD_CONFIG, else /etc/signerd/signerd.yaml. */
export function resolveConfigPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env.SIGNERD_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return DEFAULT_CONFIG_PATH;
}

export async function loadConfig(path: string, options: ParseOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new SignerdError('ERR_CONFIG', `cannot read config file ${path}: ${fsReason(cause)}`, { cause });
  }
  return parseConfig(text, path, options);
}

/** Why a file could not be read or written, in words (the errno code when there are none). */
export function fsReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ELOOP':
      return 'is a symbolic link';
    default:
      if (typeof code === 'string') return code;
      return err instanceof Error ? err.message : 'unreadable';
  }
}

/** Collects `path: why` lines. */
class Problems {
  readonly lines: string[] = [];
  private readonly seen = new Set<string>();
  first: string | undefined;

  add(path: readonly (string | number)[], why: string): void {
    const field = fieldPath(path);
    const line = `${field}: ${why}`;
    if (this.seen.has(field)) return; // one problem per field: the first is the one to fix
    this.seen.add(field);
    this.first ??= field;
    this.lines.push(line);
  }

  /** A YAML syntax problem: it has a line and column, not a field. */
  addYaml(why: string): void {
    this.lines.push(`(yaml): ${why}`);
  }
}

export function parseConfig(text: string, source?: string, options: ParseOptions = {}): Config {
  const problems = new Problems();
  const raw = parseYaml(text, problems);
  if (problems.lines.length > 0) throw configError(problems, source);

  for (const error of Value.Errors(ConfigSchema, raw)) {
    problems.add(pointerSegments(error.path, raw), describeError(error));
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError(problems, source);
  }
  const doc = raw as Record<string, unknown>;
  const users = options.users ?? {};

  // hsm and socket are checked field by field, so one wrong field hides no other problem there;
  // a key or a client whose shape is wrong is reported by the schema alone.
  const hsm = isPlainObject(doc.hsm)
    ? checkHsm(validFields<RawHsm>(HsmSchema, doc.hsm), doc.hsm, problems)
    : undefined;
  const socketRaw = doc.socket ?? {};
  const socket = isPlainObject(socketRaw)
    ? checkSocket(validFields<RawSocket>(SocketSchema, socketRaw), problems, users)
    : undefined;

  const keys: Record<string, KeyConfig> = {};
  const keyNames = new Set<string>();
  // A `keys` section of the wrong shape is reported once; clients' references are then not checked.
  const keysUsable = doc.keys === undefined || isPlainObject(doc.keys);
  if (isPlainObject(doc.keys)) {
    for (const [name, value] of Object.entries(doc.keys)) {
      keyNames.add(name);
      if (!NAME_PATTERN.test(name)) {
        problems.add(['keys', name], `invalid key name: must match ${NAME_PATTERN.source}`);
        continue;
      }
      if (!Value.Check(KeySchema, value)) continue;
      const key = checkKey(name, value, problems);
      if (key) keys[name] = key;
    }
  }

  let clients: ClientConfig[] | undefined;
  if (Array.isArray(doc.clients)) {
    clients = [];
    const names = new Map<string, number>();
    for (const [i, value] of (doc.clients as unknown[]).entries()) {
      if (!Value.Check(ClientSchema, value)) continue;
      const client = checkClient(i, value, keysUsable ? keyNames : null, names, problems, users);
      if (client) clients.push(client);
    }
  }

  const audit = doc.audit as { path?: string } | undefined;
  const auditPath = audit?.path ?? DEFAULTS.auditPath;
  if (typeof auditPath === 'string') checkAbsolute(['audit', 'path'], auditPath, problems);

  if (problems.lines.length > 0 || !hsm || !socket) throw configError(problems, source);

  const log = doc.log as { level?: Config['log']['level'] } | undefined;
  const config: Config = {
    ...(source !== undefined ? { source } : {}),
    hsm,
    socket,
    keys,
    ...(clients !== undefined ? { clients } : {}),
    audit: { path: auditPath },
    log: { level: log?.level ?? DEFAULTS.logLevel },
  };
  return deepFreeze(config);
}

function parseYaml(text: string, problems: Problems): unknown {
  const doc = parseDocument(text, {
    uniqueKeys: true,
    prettyErrors: true,
    strict: true,
    schema: 'core',
    resolveKnownTags: false,
    merge: false,
  });
  for (const issue of [...doc.errors, ...doc.warnings]) {
    problems.addYaml(firstLine(issue.message));
  }
  if (problems.lines.length > 0) return undefined;
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const why = err instanceof Error ? firstLine(err.message) : 'cannot be read';
    problems.addYaml(why);
    return undefined;
  }
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? message;
}

function configError(problems: Problems, source: string | undefined): SignerdError {
  const where = source === undefined ? 'invalid configuration' : `invalid configuration in ${source}`;
  const lines =
    problems.lines.length > 0
      ? problems.lines
      : ['(top level): must be a mapping with at least an hsm section'];
  return new SignerdError('ERR_CONFIG', `${where}:\n${lines.map((l) => `  ${l}`).join('\n')}`, {
    ...(problems.first !== undefined ? { field: problems.first } : {}),
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The properties of `value` that are valid on their own (the others have been reported). */
function validFields<T>(schema: TObject, value: Record<string, unknown>): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [key, propertySchema] of Object.entries(schema.properties)) {
    if (Object.hasOwn(value, key) && Value.Check(propertySchema, value[key])) out[key] = value[key];
  }
  return out as Partial<T>;
}

function checkAbsolute(path: (string | number)[], value: string, problems: Problems): boolean {
  if (!isAbsolute(value)) {
    problems.add(path, 'must be an absolute path');
    return false;
  }
  if (value.includes('\0')) {
    problems.add(path, 'must not contain a NUL character');
    return false;
  }
  return true;
}

// ── hsm ────────────────────────────────────────────────────────────────────────────────────────

function checkHsm(
  raw: Partial<RawHsm>,
  given: Record<string, unknown>,
  problems: Problems,
): HsmConfig | undefined {
  const ok = problems.lines.length;
  if (raw.module !== undefined) checkAbsolute(['hsm', 'module'], raw.module, problems);

  let token: HsmConfig['token'] | undefined;
  if (raw.token !== undefined && raw.serial !== undefined) {
    problems.add(['hsm', 'serial'], 'give hsm.token or hsm.serial, not both');
  } else if (raw.token !== undefined) {
    if (/^pkcs11:/i.test(raw.token)) {
      const parsed = parseTokenUri(raw.token);
      if (typeof parsed === 'string') problems.add(['hsm', 'token'], parsed);
      else token = parsed;
    } else {
      token = { label: raw.token };
    }
  } else if (raw.serial !== undefined) {
    token = { serial: raw.serial };
  } else if (given.token === undefined && given.serial === undefined) {
    problems.add(['hsm', 'token'], 'required: the token label (or hsm.serial)');
  }
  // PKCS#11 pads CK_TOKEN_INFO's label to 32 bytes and its serial to 16: longer never matches.
  if (token && 'label' in token && Buffer.byteLength(token.label) > 32) {
    problems.add(['hsm', 'token'], 'a token label is at most 32 bytes (CK_TOKEN_INFO.label)');
  } else if (token && 'serial' in token && Buffer.byteLength(token.serial) > 16) {
    problems.add(
      ['hsm', raw.serial !== undefined ? 'serial' : 'token'],
      'a token serial number is at most 16 characters (CK_TOKEN_INFO.serialNumber)',
    );
  }

  let pin: HsmConfig['pin'] | undefined;
  const { file, env } = raw.pin ?? {};
  if (raw.pin === undefined) {
    // missing or malformed: reported by the schema
  } else if (file !== undefined && env !== undefined) {
    problems.add(['hsm', 'pin'], 'give exactly one of file or env, not both');
  } else if (file !== undefined) {
    if (checkAbsolute(['hsm', 'pin', 'file'], file, problems)) pin = { file };
  } else if (env !== undefined) {
    if (ENV_NAME.test(env)) pin = { env };
    else problems.add(['hsm', 'pin', 'env'], 'must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)');
  } else {
    problems.add(['hsm', 'pin'], 'required: { file: /path/to/pin } or { env: VARIABLE }');
  }

  if (problems.lines.length !== ok || raw.module === undefined || !token || !pin) return undefined;
  return { module: raw.module, token, pin, sessions: raw.sessions ?? DEFAULTS.sessions };
}

/**
 * The token part of an RFC 7512 URI: `pkcs11:token=<label>` or `pkcs11:serial=<serial>`
 * (percent-decoded). `manufacturer` and `model` are accepted and ignored so a URI copied from
 * p11tool works; anything else, a query (where a PIN could hide), or both token and serial is refused.
 */
export function parseTokenUri(uri: string): HsmConfig['token'] | string {
  const body = uri.slice('pkcs11:'.length);
  if (body.includes('?')) return 'a pkcs11: URI with a query is not accepted here (the PIN goes in hsm.pin)';
  const attributes = new Map<string, string>();
  for (const part of body.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return `"${part}" is not an attribute=value pair`;
    const name = part.slice(0, eq).toLowerCase();
    let value: string;
    try {
      value = decodeURIComponent(part.slice(eq + 1));
    } catch {
      return `the value of ${name} has an invalid %-escape`;
    }
    if (!['token', 'serial', 'manufacturer', 'model'].includes(name)) {
      return `pkcs11: URI attribute "${name}" is not supported here (token= or serial=)`;
    }
    if (attributes.has(name)) return `pkcs11: URI gives ${name} twice`;
    attributes.set(name, value);
  }
  const label = attributes.get('token');
  const serial = attributes.get('serial');
  if (label !== undefined && serial !== undefined)
    return 'a pkcs11: URI with both token= and serial=: keep one';
  if (label !== undefined && label !== '') return { label };
  if (serial !== undefined && serial !== '') return { serial };
  return 'a pkcs11: URI must name the token (token=LABEL or serial=SERIAL)';
}

// ── socket ─────────────────────────────────────────────────────────────────────────────────────

function checkSocket(
  raw: Partial<RawSocket>,
  problems: Problems,
  users: UserDbPaths,
): SocketConfig | undefined {
  const ok = problems.lines.length;
  const path = raw.path ?? DEFAULTS.socketPath;
  if (checkAbsolute(['socket', 'path'], path, problems) && Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    problems.add(['socket', 'path'], `too long for a Unix socket (at most ${MAX_SOCKET_PATH} bytes)`);
  }
  const mode = parseInt((raw.mode ?? DEFAULTS.socketMode).replace(/^0o/, ''), 8);
  if (mode & 0o007) {
    problems.add(
      ['socket', 'mode'],
      'must grant nothing to others (last digit 0): whoever can connect can ask for credentials; use socket.group and 0660',
    );
  } else if (mode & 0o111) {
    problems.add(
      ['socket', 'mode'],
      'must have no execute bits: they mean nothing on a socket (use 0660 or 0600)',
    );
  }
  let group: SocketConfig['group'];
  if (raw.group !== undefined) {
    const gid = lookupGid(raw.group, users);
    if (gid === undefined) {
      problems.add(
        ['socket', 'group'],
        `unknown group ${JSON.stringify(raw.group)} (not in ${users.group ?? '/etc/group'})`,
      );
    } else {
      group = typeof raw.group === 'string' && String(gid) !== raw.group ? { gid, name: raw.group } : { gid };
    }
  }
  if (problems.lines.length !== ok) return undefined;
  return { path, mode, ...(group ? { group } : {}) };
}

// ── keys ───────────────────────────────────────────────────────────────────────────────────────

function checkKey(name: string, raw: RawKey, problems: Problems): KeyConfig | undefined {
  const ok = problems.lines.length;
  const at = (...rest: string[]) => ['keys', name, ...rest];
  if (raw.label === undefined && raw.id === undefined) {
    problems.add(at('label'), "required: the key's CKA_LABEL (label) or CKA_ID (id), or both");
  }
  if (raw.profile === 'cdp') {
    if (raw.cdp === undefined)
      problems.add(at('cdp'), 'required for profile cdp: { keyName: "organizations/…/apiKeys/…" }');
    else if (raw.cdp.keyName === undefined) problems.add(at('cdp', 'keyName'), 'required for profile cdp');
  } else if (raw.cdp !== undefined) {
    problems.add(at('cdp'), `only valid with profile cdp (this key's profile is ${raw.profile})`);
  }
  if (raw.profile === 'jwt') {
    if (raw.jwt === undefined)
      problems.add(at('jwt'), 'required for profile jwt: { iss, sub, audiences, maxTtl }');
  } else if (raw.jwt !== undefined) {
    problems.add(at('jwt'), `only valid with profile jwt (this key's profile is ${raw.profile})`);
  }
  if (raw.jwt?.audiences) {
    const seen = new Set<string>();
    for (const [i, audience] of raw.jwt.audiences.entries()) {
      if (seen.has(audience))
        problems.add([...at('jwt', 'audiences'), i], `duplicate audience ${JSON.stringify(audience)}`);
      seen.add(audience);
    }
  }
  if (problems.lines.length !== ok) return undefined;

  const key: KeyConfig = { name, profile: raw.profile, allowExtractable: raw.allowExtractable ?? false };
  if (raw.label !== undefined) key.label = raw.label;
  if (raw.id !== undefined) key.id = raw.id.toLowerCase();
  if (raw.cdp?.keyName !== undefined)
    key.cdp = { keyName: raw.cdp.keyName, uriClaim: raw.cdp.uriClaim ?? 'uri' };
  if (raw.jwt) {
    key.jwt = {
      iss: raw.jwt.iss,
      sub: raw.jwt.sub,
      audiences: raw.jwt.audiences ?? [],
      maxTtl: raw.jwt.maxTtl,
    };
  }
  return key;
}

// ── clients ────────────────────────────────────────────────────────────────────────────────────

function checkClient(
  i: number,
  raw: RawClient,
  /** Null when the keys section itself is malformed. */
  keyNames: ReadonlySet<string> | null,
  names: Map<string, number>,
  problems: Problems,
  users: UserDbPaths,
): ClientConfig | undefined {
  const ok = problems.lines.length;
  const at = (...rest: (string | number)[]) => ['clients', i, ...rest];

  if (!NAME_PATTERN.test(raw.name)) {
    problems.add(at('name'), `invalid client name: must match ${NAME_PATTERN.source}`);
  } else if (names.has(raw.name)) {
    problems.add(
      at('name'),
      `duplicate client name ${JSON.stringify(raw.name)} (also clients[${names.get(raw.name)}])`,
    );
  } else {
    names.set(raw.name, i);
  }

  if (raw.uid === undefined && raw.gid === undefined) {
    problems.add(at('uid'), 'a client needs uid and/or gid to match peers on');
  }
  let uid: number | undefined;
  if (raw.uid !== undefined) {
    uid = lookupUid(raw.uid, users);
    if (uid === undefined) {
      problems.add(
        at('uid'),
        `unknown user ${JSON.stringify(raw.uid)} (not in ${users.passwd ?? '/etc/passwd'}; give the uid as a number)`,
      );
    }
  }
  let gid: number | undefined;
  if (raw.gid !== undefined) {
    gid = lookupGid(raw.gid, users);
    if (gid === undefined) {
      problems.add(
        at('gid'),
        `unknown group ${JSON.stringify(raw.gid)} (not in ${users.group ?? '/etc/group'}; give the gid as a number)`,
      );
    }
  }

  const listed = new Set<string>();
  for (const [j, key] of raw.keys.entries()) {
    if (keyNames !== null && !keyNames.has(key))
      problems.add(at('keys', j), `unknown key ${JSON.stringify(key)} (not in keys)`);
    else if (listed.has(key)) problems.add(at('keys', j), `key ${JSON.stringify(key)} is listed twice`);
    listed.add(key);
  }

  const allow = raw.allow ?? [];
  for (const [j, pattern] of allow.entries()) {
    const result = parsePattern(pattern);
    if (!result.ok) problems.add(at('allow', j), `${JSON.stringify(pattern)}: ${result.reason}`);
  }

  if (problems.lines.length !== ok) return undefined;
  const client: ClientConfig = {
    name: raw.name,
    keys: [...raw.keys],
    allow: [...allow],
    websocket: raw.websocket ?? false,
  };
  if (uid !== undefined) client.uid = uid;
  if (gid !== undefined) client.gid = gid;
  if (raw.rate !== undefined) client.rate = raw.rate;
  return client;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
