/** `SignerdClient`: the daemon's HTTP API (contract §3) as typed calls. */

import { SignerdClientError } from './errors.js';
import { Transport } from './transport.js';
import type { RawAnswer } from './transport.js';
import type { HeadersRequest, HeadersResult, Health, JWK, JwtRequest, JwtResult, Key } from './types.js';

export const DEFAULT_SOCKET_PATH = '/run/signerd/signerd.sock';
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface SignerdClientOptions {
  /** Default: `$SIGNERD_SOCKET`, else `/run/signerd/signerd.sock`. */
  socketPath?: string;
  /** Deadline for each call to the daemon, connection included. Default 10 000 ms. */
  timeoutMs?: number;
  /** The fetch that `SignerdClient.fetch()` sends the signed request with. Default: the global `fetch`. */
  fetch?: typeof globalThis.fetch;
}

export type FetchInit = Omit<RequestInit, 'body'> & { body?: string };

export class SignerdClient {
  readonly socketPath: string;
  readonly #transport: Transport;
  readonly #fetch: typeof globalThis.fetch | undefined;

  constructor(options: SignerdClientOptions = {}) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);
    }
    const fromEnv = process.env.SIGNERD_SOCKET;
    this.socketPath =
      options.socketPath ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_SOCKET_PATH);
    this.#transport = new Transport({ socketPath: this.socketPath, timeoutMs });
    this.#fetch = options.fetch;
  }

  /** `GET /v1/health`. Resolves with the report for a 503 too (`status: "unavailable"`). */
  async health(): Promise<Health> {
    const answer = await this.#transport.send('GET', '/v1/health');
    const body = answer.body;
    if (answer.statusCode === 503 && isObject(body) && body.status === 'unavailable')
      return body as unknown as Health;
    return this.#expect(answer, (b) => isObject(b) && typeof b.status === 'string', 'health') as Health;
  }

  /** `GET /v1/keys`: the keys this caller may use. */
  async keys(): Promise<Key[]> {
    const answer = await this.#transport.send('GET', '/v1/keys');
    const body = this.#expect(answer, (b) => isObject(b) && Array.isArray(b.keys), 'keys') as { keys: Key[] };
    return body.keys;
  }

  /** `GET /v1/keys/{name}`. */
  async key(name: string): Promise<Key> {
    const answer = await this.#transport.send('GET', keyPath(name));
    return this.#expect(answer, (b) => isObject(b) && typeof b.name === 'string', 'key') as Key;
  }

  /** `GET /v1/jwks`: the caller's public keys as a JWK Set, each with `kid` and `alg`. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const answer = await this.#transport.send('GET', '/v1/jwks');
    return this.#expect(answer, (b) => isObject(b) && Array.isArray(b.keys), 'jwks') as { keys: JWK[] };
  }

  /** `POST /v1/keys/{name}/jwt`. */
  async jwt(key: string, request: JwtRequest = {}): Promise<JwtResult> {
    const answer = await this.#transport.send('POST', `${keyPath(key)}/jwt`, request);
    return this.#expect(answer, (b) => isObject(b) && typeof b.jwt === 'string', 'jwt') as JwtResult;
  }

  /** `POST /v1/keys/{name}/headers`: the headers that authenticate one request. */
  async headers(key: string, request: HeadersRequest): Promise<HeadersResult> {
    const answer = await this.#transport.send('POST', `${keyPath(key)}/headers`, request);
    return this.#expect(answer, isHeadersResult, 'headers') as HeadersResult;
  }

  /**
   * Sends a request with fresh credentials from the daemon: every call asks for new headers
   * (CDP wants a new JWT per request, Cobo a new nonce), then calls fetch with the daemon's headers
   * over the caller's. The body must be a string (or absent) so that the signed body is exactly
   * the sent body; the method defaults to GET.
   */
  async fetch(key: string, url: string, init: FetchInit = {}): Promise<Response> {
    const body: unknown = init.body;
    if (body !== undefined && typeof body !== 'string') {
      throw new SignerdClientError(
        'ERR_BAD_REQUEST',
        'fetch(): the body must be a string, so that the daemon signs exactly what is sent',
      );
    }
    const method = (init.method ?? 'GET').toUpperCase();
    const request: HeadersRequest = { method, url };
    if (body !== undefined) request.body = body;
    const signed = await this.headers(key, request);
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(signed.headers)) headers.set(name, value);
    const doFetch = this.#fetch ?? globalThis.fetch;
    return doFetch(url, { ...init, method, headers });
  }

  /** Destroys the keep-alive connections to the daemon (the client reconnects if used again). */
  close(): void {
    this.#transport.close();
  }

  /** Passes a 2xx answer of the expected shape; turns anything else into a SignerdClientError. */
  #expect(answer: RawAnswer, valid: (body: unknown) => boolean, what: string): unknown {
    const { statusCode, body } = answer;
    if (statusCode >= 200 && statusCode < 300) {
      if (valid(body)) return body;
      throw new SignerdClientError(
        'ERR_BAD_RESPONSE',
        `the daemon at ${this.socketPath} answered ${what} in an unexpected form`,
        { statusCode },
      );
    }
    const error = isObject(body) ? body.error : undefined;
    if (isObject(error) && typeof error.code === 'string') {
      const message = typeof error.message === 'string' ? error.message : `HTTP ${statusCode}`;
      throw new SignerdClientError(error.code, message, { statusCode });
    }
    throw new SignerdClientError(
      'ERR_BAD_RESPONSE',
      `the daemon at ${this.socketPath} answered HTTP ${statusCode} without an error body`,
      { statusCode },
    );
  }
}

/** `/v1/keys/{name}` with the name as one path segment, whatever it contains. */
function keyPath(name: string): string {
  if (typeof name !== 'string' || name === '') {
    throw new SignerdClientError('ERR_BAD_REQUEST', 'a key name must be a non-empty string');
  }
  // encodeURIComponent leaves `.` alone; `.` and `..` alone would be path navigation, not a name.
  const segment = name === '.' || name === '..' ? name.replaceAll('.', '%2E') : encodeURIComponent(name);
  return `/v1/keys/${segment}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isHeadersResult(body: unknown): boolean {
  return (
    isObject(body) &&
    isObject(body.headers) &&
    Object.values(body.headers).every((value) => typeof value === 'string')
  );
}
