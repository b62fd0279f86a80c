/**
 * The one table from PKCS#11 return values (CKR_*) to signerd's typed errors, and how the token
 * layer recovers from each. Every PKCS#11 error that leaves src/hsm goes through mapPkcs11Error:
 * the message is for humans and never contains CKR text, the PKCS#11 error is kept as `cause`.
 */
import { SignerdError, isSignerdError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { p11 } from './pkcs11.js';
import { ckrFromBindingError } from './quirks.js';

/**
 * What the token layer does about an error:
 * - `benign`  the call succeeded as far as we care (already initialized / logged in);
 * - `session` the session is unusable: evict it, retry once on a fresh one;
 * - `device`  the token or module is gone: evict, mark the token unavailable, reconnect;
 * - `handle`  a cached object handle went stale: drop the cache, find the key again;
 * - `fatal`   none of the above: report it.
 */
export type Recovery = 'benign' | 'session' | 'device' | 'handle' | 'fatal';

export interface CkrEntry {
  name: string;
  code: ErrorCode;
  message: string;
  recovery: Recovery;
}

const UNAVAILABLE = 'the token is not available';

/** CKR value → what it means to signerd. Values are from the PKCS#11 v2.40/3.0 headers. */
const CKR_TABLE: ReadonlyMap<number, CkrEntry> = new Map<number, CkrEntry>(
  (
    [
      [0x00000002, 'CKR_HOST_MEMORY', 'ERR_HSM', 'the PKCS#11 module ran out of memory', 'fatal'],
      [0x00000003, 'CKR_SLOT_ID_INVALID', 'ERR_HSM_UNAVAILABLE', UNAVAILABLE, 'device'],
      [
        0x00000005,
        'CKR_GENERAL_ERROR',
        'ERR_HSM_UNAVAILABLE',
        'the token reported an unrecoverable error',
        'device',
      ],
      [0x00000006, 'CKR_FUNCTION_FAILED', 'ERR_HSM', 'the token could not perform the operation', 'fatal'],
      [0x00000007, 'CKR_ARGUMENTS_BAD', 'ERR_HSM', 'the PKCS#11 module rejected the arguments', 'fatal'],
      [
        0x00000011,
        'CKR_ATTRIBUTE_SENSITIVE',
        'ERR_HSM',
        'the token refuses to reveal a sensitive attribute',
        'fatal',
      ],
      [
        0x00000012,
        'CKR_ATTRIBUTE_TYPE_INVALID',
        'ERR_HSM',
        'the token does not know an attribute signerd asked for',
        'fatal',
      ],
      [
        0x00000013,
        'CKR_ATTRIBUTE_VALUE_INVALID',
        'ERR_HSM',
        'the token rejected an attribute value',
        'fatal',
      ],
      [0x00000020, 'CKR_DATA_INVALID', 'ERR_HSM', 'the token rejected the data to sign', 'fatal'],
      [
        0x00000021,
        'CKR_DATA_LEN_RANGE',
        'ERR_HSM',
        'the data to sign has a length the token does not accept',
        'fatal',
      ],
      [0x00000030, 'CKR_DEVICE_ERROR', 'ERR_HSM_UNAVAILABLE', UNAVAILABLE, 'device'],
      [0x00000031, 'CKR_DEVICE_MEMORY', 'ERR_HSM', 'the token is out of memory', 'fatal'],
      [0x00000032, 'CKR_DEVICE_REMOVED', 'ERR_HSM_UNAVAILABLE', UNAVAILABLE, 'device'],
      [
        0x00000050,
        'CKR_FUNCTION_CANCELED',
        'ERR_HSM_UNAVAILABLE',
        'the token canceled the operation',
        'session',
      ],
      [
        0x00000054,
        'CKR_FUNCTION_NOT_SUPPORTED',
        'ERR_MECHANISM_UNSUPPORTED',
        'the PKCS#11 module does not implement this function',
        'fatal',
      ],
      [
        0x00000060,
        'CKR_KEY_HANDLE_INVALID',
        'ERR_KEY_NOT_FOUND',
        'the key is no longer on the token',
        'handle',
      ],
      [0x00000062, 'CKR_KEY_SIZE_RANGE', 'ERR_HSM', 'the token does not support this key size', 'fatal'],
      [
        0x00000063,
        'CKR_KEY_TYPE_INCONSISTENT',
        'ERR_HSM',
        'the key type does not fit the mechanism',
        'fatal',
      ],
      [0x00000068, 'CKR_KEY_FUNCTION_NOT_PERMITTED', 'ERR_HSM', 'the key is not allowed to sign', 'fatal'],
      [
        0x00000070,
        'CKR_MECHANISM_INVALID',
        'ERR_MECHANISM_UNSUPPORTED',
        'the token does not support the mechanism',
        'fatal',
      ],
      [
        0x00000071,
        'CKR_MECHANISM_PARAM_INVALID',
        'ERR_MECHANISM_UNSUPPORTED',
        'the token rejected the mechanism parameters',
        'fatal',
      ],
      [
        0x00000082,
        'CKR_OBJECT_HANDLE_INVALID',
        'ERR_KEY_NOT_FOUND',
        'the key is no longer on the token',
        'handle',
      ],
      [0x00000090, 'CKR_OPERATION_ACTIVE', 'ERR_HSM_UNAVAILABLE', 'the token session was busy', 'session'],
      [
        0x00000091,
        'CKR_OPERATION_NOT_INITIALIZED',
        'ERR_HSM_UNAVAILABLE',
        'the token session lost its operation',
        'session',
      ],
      [0x000000a0, 'CKR_PIN_INCORRECT', 'ERR_PIN_INCORRECT', 'the token rejected the PIN', 'fatal'],
      [
        0x000000a1,
        'CKR_PIN_INVALID',
        'ERR_PIN_INCORRECT',
        'the PIN contains characters the token does not accept',
        'fatal',
      ],
      [
        0x000000a2,
        'CKR_PIN_LEN_RANGE',
        'ERR_PIN_INCORRECT',
        'the PIN is too long or too short for the token',
        'fatal',
      ],
      [0x000000a3, 'CKR_PIN_EXPIRED', 'ERR_PIN_LOCKED', 'the PIN has expired and must be changed', 'fatal'],
      [
        0x000000a4,
        'CKR_PIN_LOCKED',
        'ERR_PIN_LOCKED',
        'the user PIN is locked (too many wrong attempts); the security officer must reset it',
        'fatal',
      ],
      [0x000000b0, 'CKR_SESSION_CLOSED', 'ERR_HSM_UNAVAILABLE', UNAVAILABLE, 'session'],
      [0x000000b1, 'CKR_SESSION_COUNT', 'ERR_HSM_UNAVAILABLE', 'the token has no free sessions', 'fatal'],
      [0x000000b3, 'CKR_SESSION_HANDLE_INVALID', 'ERR_HSM_UNAVAILABLE', UNAVAILABLE, 'session'],
      [0x000000b5, 'CKR_SESSION_READ_ONLY', 'ERR_HSM', 'the token session is read-only', 'fatal'],
      [0x000000c0, 'CKR_SIGNATURE_INVALID', 'ERR_HSM', 'the signature did not verify', 'fatal'],
      [
        0x000000d0,
        'CKR_TEMPLATE_INCOMPLETE',
        'ERR_HSM',
        'the token needs attributes signerd did not give',
        'fatal',
      ],
      [
        0x000000d1,
        'CKR_TEMPLATE_INCONSISTENT',
        'ERR_HSM',
        'the token rejected the combination of attributes',
        'fatal',
      ],
      [0x000000e0, 'CKR_TOKEN_NOT_PRESENT', 'ERR_HSM_UNAVAILABLE', UNAVAILABLE, 'device'],
      [0x000000e1, 'CKR_TOKEN_NOT_RECOGNIZED', 'ERR_HSM_UNAVAILABLE', UNAVAILABLE, 'device'],
      [0x000000e2, 'CKR_TOKEN_WRITE_PROTECTED', 'ERR_HSM', 'the token is write-protected', 'fatal'],
      [0x00000100, 'CKR_USER_ALREADY_LOGGED_IN', 'ERR_HSM', 'already logged in', 'benign'],
      [
        0x00000101,
        'CKR_USER_NOT_LOGGED_IN',
        'ERR_HSM_UNAVAILABLE',
        'the token session is not logged in',
        'session',
      ],
      [
        0x00000102,
        'CKR_USER_PIN_NOT_INITIALIZED',
        'ERR_HSM',
        'the token has no user PIN yet (initialize it first)',
        'fatal',
      ],
      [
        0x00000104,
        'CKR_USER_ANOTHER_ALREADY_LOGGED_IN',
        'ERR_HSM',
        'another user (the security officer?) is logged in to the token',
        'fatal',
      ],
      [
        0x00000130,
        'CKR_DOMAIN_PARAMS_INVALID',
        'ERR_MECHANISM_UNSUPPORTED',
        'the token does not support the curve',
        'fatal',
      ],
      [
        0x00000140,
        'CKR_CURVE_NOT_SUPPORTED',
        'ERR_MECHANISM_UNSUPPORTED',
        'the token does not support the curve',
        'fatal',
      ],
      [0x00000150, 'CKR_BUFFER_TOO_SMALL', 'ERR_HSM', 'the token returned more data than expected', 'fatal'],
      [0x00000190, 'CKR_CRYPTOKI_NOT_INITIALIZED', 'ERR_HSM_UNAVAILABLE', UNAVAILABLE, 'device'],
      [0x00000191, 'CKR_CRYPTOKI_ALREADY_INITIALIZED', 'ERR_HSM', 'already initialized', 'benign'],
      [0x00000200, 'CKR_FUNCTION_REJECTED', 'ERR_HSM', 'the token refused the operation', 'fatal'],
    ] as const
  ).map(([ckr, name, code, message, recovery]) => [ckr, { name, code, message, recovery }]),
);

const UNKNOWN: Omit<CkrEntry, 'name'> = {
  code: 'ERR_HSM',
  message: 'the token reported an error',
  recovery: 'fatal',
};

/** The numeric CKR value of a pkcs11js error (or of a SignerdError's PKCS#11 cause), if any. */
export function ckrOf(err: unknown): number | undefined {
  if (err instanceof p11.Pkcs11Error && typeof err.code === 'number') return err.code;
  if (isSignerdError(err) && err.cause !== undefined) return ckrOf(err.cause);
  return ckrFromBindingError(err);
}

export function ckrEntry(ckr: number): CkrEntry {
  return CKR_TABLE.get(ckr) ?? { name: `CKR 0x${ckr.toString(16)}`, ...UNKNOWN };
}

/** How to recover from `err`; anything that is not a PKCS#11 error is `fatal`. */
export function recoveryOf(err: unknown): Recovery {
  const ckr = ckrOf(err);
  return ckr === undefined ? 'fatal' : ckrEntry(ckr).recovery;
}

/** True when `err` is the given CKR value (e.g. `isCkr(e, 0x191)`). */
export function isCkr(err: unknown, ckr: number): boolean {
  return ckrOf(err) === ckr;
}

/** For logs only (operators may see CKR names; clients never do). */
export function describeForLog(err: unknown): { ckr?: string; error: string } {
  const ckr = ckrOf(err);
  const error = err instanceof Error ? err.message : String(err);
  return ckr === undefined ? { error } : { ckr: ckrEntry(ckr).name, error };
}

/**
 * Turns anything a PKCS#11 call threw into a SignerdError. `context` says what signerd was doing
 * ("signing with key cdp-main"); it is the start of the message. SignerdErrors pass through.
 */
export function mapPkcs11Error(err: unknown, context: string): SignerdError {
  if (isSignerdError(err)) return err;
  const ckr = ckrOf(err);
  if (ckr === undefined) {
    return new SignerdError('ERR_HSM', `${context}: unexpected failure in the PKCS#11 module`, {
      cause: err,
    });
  }
  const entry = ckrEntry(ckr);
  return new SignerdError(entry.code, `${context}: ${entry.message}`, { cause: err });
}
