/**
 * Context-specific login (PKCS#11 v2.40 §5.6 "CKA_ALWAYS_AUTHENTICATE"): a private key with
 * CKA_ALWAYS_AUTHENTICATE true needs C_Login(CKU_CONTEXT_SPECIFIC, PIN) after every C_SignInit, or
 * the C_Sign fails with CKR_USER_NOT_LOGGED_IN. YubiKey PIV slot 9c keys (and any key made with PIN
 * policy "always") are like this under ykcs11; SoftHSM2 enforces it too. The attribute is read once,
 * when the key is found, and cached with its handle.
 */
import { isCkr } from './errors.js';
import { p11 } from './pkcs11.js';
import type { Handle, PKCS11 } from './pkcs11.js';
import { readBool } from './objects.js';

const CKR_ATTRIBUTE_TYPE_INVALID = 0x12;

/** Whether the key wants a context-specific login per signature; false when the token does not know the attribute. */
export function needsContextLogin(module: PKCS11, session: Handle, key: Handle): boolean {
  try {
    const [attr] = module.C_GetAttributeValue(session, key, [{ type: p11.CKA_ALWAYS_AUTHENTICATE }]);
    return attr !== undefined && readBool(attr.value);
  } catch (err) {
    // A PKCS#11 2.11-era token that has no such attribute has no such keys either.
    if (isCkr(err, CKR_ATTRIBUTE_TYPE_INVALID)) return false;
    throw err;
  }
}

/** C_Login(CKU_CONTEXT_SPECIFIC) for the operation just initialized on `session`. */
export function contextLogin(module: PKCS11, session: Handle, pin: string): void {
  module.C_Login(session, p11.CKU_CONTEXT_SPECIFIC, pin);
}
