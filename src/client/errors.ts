/**
 * The client library's own error: kept apart from the daemon's `SignerdError` so that importing
 * `signerd/client` pulls in nothing of the daemon.
 */

/** Codes the client raises itself; everything else is the daemon's own `ERR_…` code, passed on as is. */
export type ClientErrorCode =
  /** No daemon at the socket: ENOENT, ECONNREFUSED, EACCES, a reset connection, or no answer in time. */
  | 'ERR_DAEMON_UNREACHABLE'
  /** Something answered, but not in the daemon's format (not JSON, too large, wrong shape). */
  | 'ERR_BAD_RESPONSE'
  /** The call was refused before anything was sent (e.g. an empty key name, a non-string fetch body). */
  | 'ERR_BAD_REQUEST';

export interface SignerdClientErrorOptions {
  statusCode?: number;
  cause?: unknown;
}

export class SignerdClientError extends Error {
  override readonly name = 'SignerdClientError';
  /** The daemon's `ERR_…` code (contract §3), or one of {@link ClientErrorCode}. */
  readonly code: string;
  /** The HTTP status of the daemon's answer; absent when there was none. */
  readonly statusCode?: number;

  constructor(code: string, message: string, options: SignerdClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.statusCode !== undefined) this.statusCode = options.statusCode;
  }
}

export function isSignerdClientError(err: unknown): err is SignerdClientError {
  return err instanceof SignerdClientError;
}
