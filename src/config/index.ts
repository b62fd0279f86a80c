export {
  DEFAULT_CONFIG_PATH,
  DEFAULTS,
  fsReason,
  loadConfig,
  parseConfig,
  resolveConfigPath,
} from './load.js';
export type { ParseOptions } from './load.js';
export { checkSecretFilePermissions, readPin } from './pin.js';
export { lookupGid, lookupUid } from './users.js';
export type * from './types.js';
