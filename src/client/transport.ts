/** JSON over HTTP/1.1 on the daemon's Unix socket, with a keep-alive pool, a deadline and a size bound. */

import { Agent, request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { SignerdClientError } from './errors.js';

/** The daemon's answers are small; anything bigger is not the daemon. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface TransportOptions {
  socketPath: string;
  timeoutMs: number;
}

export interface RawAnswer {
  statusCode: number;
  /** The parsed JSON body. */
  body: unknown;
}

/** A failure before a complete answer arrived; `retryable` when a pooled socket turned out to be dead. */
class ExchangeError extends Error {
  constructor(
    readonly reason: unknown,
    readonly retryable: boolean,
  ) {
    super('exchange failed');
  }
}

export class Transport {
  readonly socketPath: string;
  readonly #timeoutMs: number;
  readonly #agent: Agent;

  constructor(options: TransportOptions) {
    this.socketPath = options.socketPath;
    this.#timeoutMs = options.timeoutMs;
    this.#agent = new Agent({ keepAlive: true, maxSockets: 16 });
  }

  /** Sends one request; resolves with any HTTP answer whose body is JSON, rejects with a SignerdClientError. */
  async send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<RawAnswer> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const deadline = Date.now() + this.#timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#exchange(method, path, payload, deadline);
      } catch (err) {
        if (err instanceof SignerdClientError) throw err;
        const failure = err as ExchangeError;
        // A kept-alive socket the daemon closed meanwhile: the request never reached it, send it once more.
        if (failure.retryable && attempt === 0 && Date.now() < deadline) continue;
        throw this.#unreachable(failure.reason);
      }
    }
  }

  /** Releases the pooled connections. The transport still works afterwards; it opens new ones. */
  close(): void {
    this.#agent.destroy();
  }

  #exchange(
    method: 'GET' | 'POST',
    path: string,
    payload: Buffer | undefined,
    deadline: number,
  ): Promise<RawAnswer> {
    return new Promise<RawAnswer>((resolve, reject) => {
      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      let settled = false;
      let answered = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const req: ClientRequest = httpRequest({
        socketPath: this.socketPath,
        agent: this.#agent,
        method,
        path,
        headers,
      });
      const timer = setTimeout(
        () => {
          const timeout = Object.assign(new Error(`no answer within ${this.#timeoutMs} ms`), {
            code: 'ETIMEDOUT',
          });
          finish(() => reject(new ExchangeError(timeout, false)));
          req.destroy(timeout);
        },
        Math.max(0, deadline - Date.now()),
      );
      req.on('error', (cause: NodeJS.ErrnoException) => {
        const retryable = req.reusedSocket && !answered && cause.code === 'ECONNRESET';
        finish(() => reject(new ExchangeError(cause, retryable)));
      });
      req.on('response', (res: IncomingMessage) => {
        answered = true;
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > MAX_RESPONSE_BYTES) {
          finish(() => reject(tooLarge(res.statusCode)));
          req.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            finish(() => reject(tooLarge(res.statusCode)));
            req.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (cause) => finish(() => reject(new ExchangeError(cause, false))));
        res.on('end', () => {
          const statusCode = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            finish(() =>
              reject(
                new SignerdClientError(
                  'ERR_BAD_RESPONSE',
                  `the daemon at ${this.socketPath} answered HTTP ${statusCode} with a body that is not JSON`,
                  { statusCode },
                ),
              ),
            );
            return;
          }
          finish(() => resolve({ statusCode, body: parsed }));
        });
      });
      req.end(payload);
    });
  }

  #unreachable(cause: unknown): SignerdClientError {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const why =
      code === 'ENOENT'
        ? 'no such socket'
        : code === 'ECONNREFUSED'
          ? 'connection refused'
          : code === 'EACCES'
            ? 'permission denied'
            : code === 'ETIMEDOUT'
              ? `no answer within ${this.#timeoutMs} ms`
              : cause instanceof Error
                ? cause.message
                : String(cause);
    return new SignerdClientError(
      'ERR_DAEMON_UNREACHABLE',
      `cannot reach signerd at ${this.socketPath}: ${why}${code !== undefined && code !== 'ETIMEDOUT' ? ` (${code})` : ''}`,
      { cause },
    );
  }
}

function tooLarge(statusCode: number | undefined): SignerdClientError {
  return new SignerdClientError(
    'ERR_BAD_RESPONSE',
    `the daemon's answer exceeds ${MAX_RESPONSE_BYTES} bytes`,
    statusCode === undefined ? {} : { statusCode },
  );
}
