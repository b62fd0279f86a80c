/**
 * One error type for everything signerd raises on purpose.
 *
 * `code` is a literal union, `statusCode` is what the HTTP API answers, and `expose` says whether
 * the message may reach a client. Anything that is not a SignerdError is, by definition, a bug:
 * the API answers ERR_INTERNAL and logs it in full.
 */

/** Codes the HTTP API answers (contract §3). */
export type ApiErrorCode =
  | 'ERR_BAD_REQUEST'
  | 'ERR_POLICY_DENIED'
  | 'ERR_KEY_NOT_FOUND'
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_RATE_LIMITED'
  | 'ERR_HSM_UNAVAILABLE'
  | 'ERR_INTERNAL';

/** Codes used by the daemon, the ceremonies and the library beyond the API's own. */
export type LocalErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_PIN_SOURCE'
  | 'ERR_PIN_INCORRECT'
  | 'ERR_PIN_LOCKED'
  | 'ERR_HSM_MODULE'
  | 'ERR_TOKEN_NOT_FOUND'
  | 'ERR_KEY_EXISTS'
  | 'ERR_KEY_AMBIGUOUS'
  | 'ERR_KEY_UNSAFE'
  | 'ERR_KEY_FORMAT'
  /** A key file for a ceremony cannot be read, or (--shred) overwritten and deleted. */
  | 'ERR_KEY_FILE'
  | 'ERR_MECHANISM_UNSUPPORTED'
  | 'ERR_HSM'
  | 'ERR_AUDIT'
  | 'ERR_SOCKET'
  | 'ERR_PEERCRED'
  | 'ERR_DAEMON_UNREACHABLE'
  /** The client library: something answered on the socket, but not in the daemon's format. */
  | 'ERR_BAD_RESPONSE'
  | 'ERR_TRANSCRIPT'
  | 'ERR_USAGE';

export type ErrorCode = ApiErrorCode | LocalErrorCode;

const STATUS: Record<ApiErrorCode, number> = {
  ERR_BAD_REQUEST: 400,
  ERR_POLICY_DENIED: 403,
  ERR_KEY_NOT_FOUND: 404,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_RATE_LIMITED: 429,
  ERR_HSM_UNAVAILABLE: 503,
  ERR_INTERNAL: 500,
};

export interface SignerdErrorOptions {
  cause?: unknown;
  /** The request or config field the error is about, e.g. `url` or `keys.cdp-main.label`. */
  field?: string;
  /** HTTP status when the code is not one of the API's own. */
  statusCode?: number;
}

export class SignerdError extends Error {
  override readonly name = 'SignerdError';
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: SignerdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.statusCode = options.statusCode ?? (STATUS as Record<string, number>)[code] ?? 500;
  }
}

export function isSignerdError(err: unknown): err is SignerdError {
  return err instanceof SignerdError;
}

/** A 400 that names the offending field. */
export function badRequest(field: string, why: string): SignerdError {
  return new SignerdError('ERR_BAD_REQUEST', `${field}: ${why}`, { field });
}
