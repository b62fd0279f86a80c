import type { FastifyError } from 'fastify';
import type { ApiErrorCode } from '../errors.js';
import { isSignerdError } from '../errors.js';

export interface ApiError {
  statusCode: number;
  code: ApiErrorCode;
  message: string;
  /** False when the error was not raised on purpose: log it in full, tell the client nothing. */
  deliberate: boolean;
}

const API_CODES = new Set<string>([
  'ERR_BAD_REQUEST',
  'ERR_POLICY_DENIED',
  'ERR_KEY_NOT_FOUND',
  'ERR_PAYLOAD_TOO_LARGE',
  'ERR_RATE_LIMITED',
  'ERR_HSM_UNAVAILABLE',
  'ERR_INTERNAL',
]);

/** Local codes that mean "the token cannot serve right now" to an API client. */
const TOKEN_CODES = new Set<string>([
  'ERR_HSM',
  'ERR_HSM_MODULE',
  'ERR_TOKEN_NOT_FOUND',
  'ERR_PIN_INCORRECT',
  'ERR_PIN_LOCKED',
  'ERR_PIN_SOURCE',
]);

const INTERNAL: ApiError = {
  statusCode: 500,
  code: 'ERR_INTERNAL',
  message: 'internal error',
  deliberate: false,
};
const UNAVAILABLE = 'the signing token is unavailable; try again shortly';

/** Last line of defence: no PKCS#11 text ever reaches a client, whatever a message says. */
function clean(message: string, fallback: string): string {
  return /CKR_|pkcs11|PKCS#11/i.test(message) ? fallback : message.slice(0, 500);
}

/** Fastify's own errors (body parsing, schema validation) as the contract's codes. */
function fromFastify(err: FastifyError): ApiError | undefined {
  if (err.validation && err.validation.length > 0) {
    const first = err.validation[0]!;
    const params = first.params as { missingProperty?: string; additionalProperty?: string };
    const where = (err.validationContext ?? 'body') + first.instancePath.replace(/\//g, '.');
    let message: string;
    if (params.additionalProperty !== undefined)
      message = `${where}.${params.additionalProperty}: unknown field`;
    else if (params.missingProperty !== undefined) message = `${where}.${params.missingProperty}: required`;
    else message = `${where}: ${first.message ?? 'invalid'}`;
    return { statusCode: 400, code: 'ERR_BAD_REQUEST', message, deliberate: true };
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return {
      statusCode: 413,
      code: 'ERR_PAYLOAD_TOO_LARGE',
      message: 'request body exceeds 64 KiB',
      deliberate: true,
    };
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return {
      statusCode: 400,
      code: 'ERR_BAD_REQUEST',
      message: 'content-type: must be application/json',
      deliberate: true,
    };
  }
  if (typeof err.code === 'string' && err.code.startsWith('FST_ERR_CTP_')) {
    return {
      statusCode: 400,
      code: 'ERR_BAD_REQUEST',
      message: clean(err.message, 'bad request body'),
      deliberate: true,
    };
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return {
      statusCode: 400,
      code: 'ERR_BAD_REQUEST',
      message: clean(err.message, 'bad request'),
      deliberate: true,
    };
  }
  return undefined;
}

export function toApiError(err: unknown): ApiError {
  if (isSignerdError(err)) {
    if (API_CODES.has(err.code)) {
      const code = err.code as ApiErrorCode;
      const fallback = code === 'ERR_HSM_UNAVAILABLE' ? UNAVAILABLE : 'request refused';
      return { statusCode: err.statusCode, code, message: clean(err.message, fallback), deliberate: true };
    }
    if (TOKEN_CODES.has(err.code)) {
      return { statusCode: 503, code: 'ERR_HSM_UNAVAILABLE', message: UNAVAILABLE, deliberate: true };
    }
    return INTERNAL;
  }
  if (err instanceof Error && 'code' in err) {
    return fromFastify(err as FastifyError) ?? INTERNAL;
  }
  return INTERNAL;
}
