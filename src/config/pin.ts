/**
 * The token PIN, from a file (a systemd credential, a tmpfs file) or an environment variable.
 * Errors name the file or variable, never the content. An empty PIN is never returned.
 */
import { open, stat } from 'node:fs/promises';
import { SignerdError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { PinSource } from './types.js';
import { fsReason } from './load.js';

/** A PIN file is a few bytes; anything larger is the wrong file. */
const MAX_PIN_FILE = 4096;

export async function readPin(source: PinSource, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if ('env' in source) {
    const value = env[source.env];
    if (value === undefined)
      throw new SignerdError('ERR_PIN_SOURCE', `PIN variable $${source.env} is not set`);
    if (value === '') throw new SignerdError('ERR_PIN_SOURCE', `PIN variable $${source.env} is empty`);
    return value;
  }
  const path = source.file;
  let bytes: Buffer;
  try {
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
      if (info.size > MAX_PIN_FILE) throw Object.assign(new Error('too large'), { code: 'ETOOBIG' });
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    const why =
      code === 'ENOTFILE'
        ? 'not a regular file'
        : code === 'ETOOBIG'
          ? `larger than ${MAX_PIN_FILE} bytes: not a PIN file`
          : fsReason(cause);
    // The cause carries the path and errno only, never content.
    throw new SignerdError('ERR_PIN_SOURCE', `cannot read PIN file ${path}: ${why}`, { cause });
  }
  let pin = bytes.toString('utf8');
  bytes.fill(0);
  if (pin.endsWith('\r\n')) pin = pin.slice(0, -2);
  else if (pin.endsWith('\n')) pin = pin.slice(0, -1);
  if (pin === '') throw new SignerdError('ERR_PIN_SOURCE', `PIN file ${path} is empty`);
  return pin;
}

export interface PermissionCheckOptions {
  /**
   * Called instead of refusing when the only problem is that every user can read the file; the
   * daemon logs it loudly, so a first setup with the default umask still starts.
   */
  onWorldReadable?: (message: string) => void;
}

/**
 * Refuses a config or PIN file that others may read, or that group or others may write: whoever
 * writes it chooses the module the daemon loads or the PIN it sends; whoever reads the PIN file
 * has the PIN. Group read is allowed (root:signerd 0640).
 */
export async function checkSecretFilePermissions(
  path: string,
  what: 'config' | 'pin',
  options: PermissionCheckOptions = {},
): Promise<void> {
  const code: ErrorCode = what === 'pin' ? 'ERR_PIN_SOURCE' : 'ERR_CONFIG';
  const label = what === 'pin' ? 'PIN file' : 'config file';
  let mode: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new SignerdError(code, `${label} ${path} is not a regular file`);
    mode = info.mode;
  } catch (cause) {
    if (cause instanceof SignerdError) throw cause;
    throw new SignerdError(code, `cannot check ${label} ${path}: ${fsReason(cause)}`, { cause });
  }
  const problems: string[] = [];
  if (mode & 0o002) problems.push('every user can write it');
  else if (mode & 0o020) problems.push('its group can write it');
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  if (mode & 0o004) {
    if (problems.length === 0 && options.onWorldReadable) {
      options.onWorldReadable(
        `${label} ${path} has mode ${octal}: every user can read it; fix it with chmod o-r`,
      );
      return;
    }
    problems.push('every user can read it');
  }
  if (problems.length > 0) {
    throw new SignerdError(
      code,
      `${label} ${path} has mode ${octal}: ${problems.join(' and ')}; fix it with chmod go-w,o-r (e.g. 0640 or 0600)`,
    );
  }
}
