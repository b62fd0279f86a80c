/**
 * `signerd token init` and `signerd dev`'s first run: initialise a fresh SoftHSM2 token and set its
 * user PIN through PKCS#11 itself, so no PIN ever appears in a process's argv (softhsm2-util takes
 * them as arguments).
 */
import pkcs11js from 'pkcs11js';
import { SignerdError } from '../errors.js';

export interface InitTokenRequest {
  module: string;
  label: string;
  soPin: string;
  userPin: string;
}

export interface InitTokenResult {
  label: string;
  serial: string;
}

const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;

function trimPadded(value: string): string {
  return value.replace(/[\s\0]+$/, '');
}

/**
 * Initialises the first slot whose token is not initialised yet (SoftHSM2 always keeps one free).
 * Refuses when a token with `label` already exists. Must not run while the same process has the
 * module open through a Token (C_Finalize at the end would close it).
 */
export function initToken(request: InitTokenRequest): InitTokenResult {
  if (!/^[\x20-\x7e]{1,32}$/.test(request.label)) {
    throw new SignerdError('ERR_USAGE', 'token label: 1 to 32 printable ASCII characters');
  }
  for (const [what, pin] of [
    ['SO PIN', request.soPin],
    ['user PIN', request.userPin],
  ] as const) {
    if (pin.length < 4 || pin.length > 255)
      throw new SignerdError('ERR_USAGE', `${what}: 4 to 255 characters`);
  }
  const p11 = new pkcs11js.PKCS11();
  try {
    p11.load(request.module);
  } catch (cause) {
    throw new SignerdError('ERR_HSM_MODULE', `cannot load the PKCS#11 module ${request.module}`, { cause });
  }
  try {
    try {
      p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (err) {
      if ((err as { code?: number }).code !== CKR_CRYPTOKI_ALREADY_INITIALIZED) throw err;
    }
    let free: Buffer | undefined;
    for (const slot of p11.C_GetSlotList(true)) {
      const info = p11.C_GetTokenInfo(slot);
      if (info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) {
        if (trimPadded(info.label) === request.label) {
          throw new SignerdError('ERR_KEY_EXISTS', `a token labelled "${request.label}" already exists`);
        }
      } else {
        free ??= slot;
      }
    }
    if (!free)
      throw new SignerdError('ERR_TOKEN_NOT_FOUND', 'no uninitialised token slot (is this SoftHSM2?)');
    p11.C_InitToken(free, request.soPin, request.label);
    // SoftHSM2 moves the initialised token to a new slot id: find it again by label.
    const slot = p11
      .C_GetSlotList(true)
      .find((s) => trimPadded(p11.C_GetTokenInfo(s).label) === request.label);
    if (!slot) throw new SignerdError('ERR_TOKEN_NOT_FOUND', 'the initialised token did not appear');
    const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      p11.C_Login(session, pkcs11js.CKU_SO, request.soPin);
      p11.C_InitPIN(session, request.userPin);
      p11.C_Logout(session);
    } finally {
      p11.C_CloseSession(session);
    }
    return { label: request.label, serial: trimPadded(p11.C_GetTokenInfo(slot).serialNumber) };
  } catch (err) {
    if (err instanceof SignerdError) throw err;
    throw new SignerdError('ERR_HSM', 'token initialisation failed', { cause: err });
  } finally {
    try {
      p11.C_Finalize();
    } catch {
      /* already finalised */
    }
    p11.close();
  }
}
