/**
 * Loading, initializing and finalizing a PKCS#11 module.
 *
 * A PKCS#11 library has one state per process (C_Initialize / C_Finalize / login are process-wide),
 * so tokens opened on the same module path share one loaded instance, counted here; the module is
 * finalized and unloaded when the last of them closes. This mirrors the library's own global state;
 * it holds no configuration.
 */
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { SignerdError } from '../errors.js';
import { isCkr, mapPkcs11Error } from './errors.js';
import { p11 } from './pkcs11.js';
import type { PKCS11 } from './pkcs11.js';

const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;

interface Loaded {
  module: PKCS11;
  refs: number;
}

const loaded = new Map<string, Loaded>();

/** Loads (or shares) the module at `path` and makes sure it is initialized. */
export function acquireModule(path: string): PKCS11 {
  if (!isAbsolute(path)) {
    throw new SignerdError('ERR_HSM_MODULE', `PKCS#11 module path must be absolute: ${path}`, {
      field: 'hsm.module',
    });
  }
  const shared = loaded.get(path);
  if (shared) {
    initialize(shared.module);
    shared.refs++;
    return shared.module;
  }
  if (!existsSync(path)) {
    throw new SignerdError('ERR_HSM_MODULE', `PKCS#11 module ${path} does not exist`, {
      field: 'hsm.module',
    });
  }
  const module = new p11.PKCS11();
  try {
    module.load(path);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new SignerdError('ERR_HSM_MODULE', `cannot load PKCS#11 module ${path}: ${why}`, {
      field: 'hsm.module',
      cause,
    });
  }
  try {
    initialize(module);
  } catch (err) {
    try {
      module.close();
    } catch {
      // unloading a module that failed to initialize: nothing more to do
    }
    throw err;
  }
  loaded.set(path, { module, refs: 1 });
  return module;
}

/**
 * C_Initialize with OS locking (concurrent *Async calls need it); "already initialized" is fine.
 * Returns true when the module was really (re)initialized: every earlier session is gone then.
 */
export function initialize(module: PKCS11): boolean {
  try {
    module.C_Initialize({ flags: p11.CKF_OS_LOCKING_OK });
    return true;
  } catch (err) {
    if (isCkr(err, CKR_CRYPTOKI_ALREADY_INITIALIZED)) return false;
    throw mapPkcs11Error(err, 'initializing the PKCS#11 module');
  }
}

/**
 * Drops one reference; the last one finalizes and unloads the module — unless `finalize` is false
 * (a call is still running inside it): then the module is only forgotten, left loaded and
 * initialized, and a later acquireModule() loads it afresh ("already initialized" is fine).
 */
export function releaseModule(path: string, finalize = true): void {
  const shared = loaded.get(path);
  if (!shared) return;
  shared.refs--;
  if (shared.refs > 0) return;
  loaded.delete(path);
  if (!finalize) return;
  try {
    shared.module.C_Finalize();
  } catch {
    // already finalized, or the device is gone: unloading is all that is left to do
  }
  try {
    shared.module.close();
  } catch {
    // already unloaded
  }
}

/** How many tokens share the module at `path` (for close(): log out only when last). */
export function moduleUsers(path: string): number {
  return loaded.get(path)?.refs ?? 0;
}
