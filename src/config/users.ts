/**
 * User and group names → numbers, from /etc/passwd and /etc/group.
 *
 * Only the local files are read (no NSS: LDAP, sssd and systemd's DynamicUser names are not seen);
 * give such an account as a number. The reads are synchronous because they happen once, while the
 * configuration is validated, never on the request path.
 */
import { readFileSync } from 'node:fs';

export interface UserDbPaths {
  /** Default /etc/passwd. */
  passwd?: string;
  /** Default /etc/group. */
  group?: string;
}

export const DEFAULT_PASSWD = '/etc/passwd';
export const DEFAULT_GROUP = '/etc/group';

/** The largest valid id: (uid_t)-1 means "no id" to the kernel. */
const MAX_ID = 0xfffffffe;

/** A number, or a decimal string, that is a valid uid/gid; undefined otherwise. */
export function parseId(value: string | number): number | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 0 && value <= MAX_ID ? value : undefined;
  }
  if (!/^[0-9]{1,10}$/.test(value)) return undefined;
  const n = Number(value);
  return n <= MAX_ID ? n : undefined;
}

/** `name:field:…` databases: the numeric third field of the line whose first field is `name`. */
function lookupInFile(file: string, name: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields[0] !== name || fields.length < 3) continue;
    const id = parseId(fields[2] ?? '');
    if (id !== undefined) return id;
  }
  return undefined;
}

function lookup(nameOrNumber: string | number, file: string): number | undefined {
  const id = parseId(nameOrNumber);
  if (id !== undefined) return id;
  if (typeof nameOrNumber === 'number' || nameOrNumber === '' || nameOrNumber.includes(':')) return undefined;
  return lookupInFile(file, nameOrNumber);
}

/** A uid given as a number, a decimal string or a user name; undefined when unknown or invalid. */
export function lookupUid(nameOrNumber: string | number, paths: UserDbPaths = {}): number | undefined {
  return lookup(nameOrNumber, paths.passwd ?? DEFAULT_PASSWD);
}

/** A gid given as a number, a decimal string or a group name; undefined when unknown or invalid. */
export function lookupGid(nameOrNumber: string | number, paths: UserDbPaths = {}): number | undefined {
  return lookup(nameOrNumber, paths.group ?? DEFAULT_GROUP);
}
