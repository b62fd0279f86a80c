import { pino, type Logger, type LoggerOptions } from 'pino';
import type { LogLevel } from './config/types.js';

/**
 * Redaction is configuration, not discipline: whatever a caller logs, these paths never reach the
 * log in clear. PINs, bearer tokens, JWTs, signatures, request bodies and claim sets.
 */
export const REDACT_PATHS = [
  'pin',
  '*.pin',
  'soPin',
  '*.soPin',
  'jwt',
  '*.jwt',
  'signature',
  '*.signature',
  'body',
  '*.body',
  'claims',
  '*.claims',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["x-wallet-auth"]',
  'headers["Authorization"]',
  'headers["X-Wallet-Auth"]',
  'headers["Biz-Api-Signature"]',
];

export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'signerd' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
