import { checkSecretFilePermissions } from '../config/index.js';
import type { Logger } from '../log.js';

/**
 * The daemon's rule for its config and PIN files: one that group or other users can write is
 * refused (whoever writes it decides which module is loaded or which PIN is sent); one that every
 * user can read is reported loudly but served, so a first setup with a default umask still starts.
 * `signerd config check` uses the strict form and fails on both.
 */
export async function checkFilePermissions(
  path: string,
  what: 'config' | 'pin',
  logger: Logger,
): Promise<void> {
  await checkSecretFilePermissions(path, what, {
    onWorldReadable: (message) => logger.warn({ path }, message),
  });
}
