/**
 * `signerd/client`: ask the local signerd daemon for API credentials.
 *
 * Light on purpose: node:http and node:crypto only, nothing of the daemon (no fastify, PKCS#11,
 * YAML or logger) is imported from here.
 */

export { SignerdClient, DEFAULT_SOCKET_PATH, DEFAULT_TIMEOUT_MS } from './client.js';
export type { SignerdClientOptions, FetchInit } from './client.js';
export { SignerdClientError, isSignerdClientError } from './errors.js';
export type { ClientErrorCode, SignerdClientErrorOptions } from './errors.js';
export type {
  Alg,
  Health,
  HeadersRequest,
  HeadersResult,
  JWK,
  JwtRequest,
  JwtResult,
  Key,
  Profile,
  PublicJwk,
} from './types.js';
export { verifyCoboSignature, COBO_PUBLIC_KEYS, type CoboEnv } from '../credentials/cobo-verify.js';
