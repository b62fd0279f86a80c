/**
 * A stand-in for the daemon in client and `signer` tests: plain node:http on a Unix socket in a
 * temp dir, canned answers per contract §3, and a record of every request it was sent.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RecordedRequest {
  method: string;
  /** The raw request target, as sent (percent-encoding untouched). */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface CannedAnswer {
  status: number;
  /** Sent as JSON… */
  body?: unknown;
  /** …or as these exact bytes. */
  raw?: string;
}

export type Responder = (request: RecordedRequest) => CannedAnswer | Promise<CannedAnswer>;

const PEM_P256 =
  '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfake0000000000000000000000000000\n-----END PUBLIC KEY-----\n';

export const FAKE_KEYS = [
  {
    name: 'demo-cdp',
    profile: 'cdp',
    alg: 'ES256',
    kid: 'organizations/demo/apiKeys/demo-cdp',
    publicKey: {
      jwk: { kty: 'EC', crv: 'P-256', x: 'xxxxxxxx', y: 'yyyyyyyy' },
      pem: PEM_P256,
      hex: '04' + 'ab'.repeat(64),
    },
    origin: 'imported',
    extractable: false,
  },
  {
    name: 'demo-cobo',
    profile: 'cobo',
    alg: 'EdDSA',
    kid: 'kid-demo-cobo-thumbprint',
    publicKey: {
      jwk: { kty: 'OKP', crv: 'Ed25519', x: 'eeeeeeee' },
      pem: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA8GpwdLeJKjkTm2MXUJ+dDgGuI0zxf8e/qds9WVf5Mb4=\n-----END PUBLIC KEY-----\n',
      hex: 'f06a7074b7892a39139b6317509f9d0e01ae234cf17fc7bfa9db3d5957f931be',
    },
    origin: 'generated',
    extractable: false,
  },
] as const;

export function errorAnswer(status: number, code: string, message: string): CannedAnswer {
  return { status, body: { error: { code, message } } };
}

export class FakeSignerd {
  readonly requests: RecordedRequest[] = [];
  /** Connections accepted so far, and those still open. */
  connections = 0;
  readonly open = new Set<Socket>();
  #overrides = new Map<string, Responder>();
  #issued = 0;

  private constructor(
    readonly dir: string,
    readonly socketPath: string,
    private readonly server: Server,
  ) {}

  static async start(): Promise<FakeSignerd> {
    const dir = await mkdtemp(join(tmpdir(), 'signer-fake-'));
    const socketPath = join(dir, 'signerd.sock');
    const server = createServer();
    const daemon = new FakeSignerd(dir, socketPath, server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void daemon.#handle(req, res));
    server.on('connection', (socket: Socket) => {
      daemon.connections++;
      daemon.open.add(socket);
      socket.on('close', () => daemon.open.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    return daemon;
  }

  /** Answers `METHOD /path` (the raw path) with `answer` until reset(). */
  on(route: string, answer: CannedAnswer | Responder): void {
    this.#overrides.set(route, typeof answer === 'function' ? answer : () => answer);
  }

  reset(): void {
    this.requests.length = 0;
    this.#overrides.clear();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    this.requests.push(request);
    const override = this.#overrides.get(`${request.method} ${request.path}`);
    const answer = override !== undefined ? await override(request) : this.#default(request);
    const payload = answer.raw ?? JSON.stringify(answer.body);
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(payload);
  }

  /** Contract-shaped answers for the demo keys. */
  #default(request: RecordedRequest): CannedAnswer {
    const route = `${request.method} ${request.path}`;
    if (route === 'GET /v1/health') {
      return {
        status: 200,
        body: { status: 'ok', token: { label: 'signerd', present: true }, keys: { loaded: 2 } },
      };
    }
    if (route === 'GET /v1/keys') return { status: 200, body: { keys: FAKE_KEYS } };
    if (route === 'GET /v1/jwks') {
      return {
        status: 200,
        body: { keys: FAKE_KEYS.map((k) => ({ ...k.publicKey.jwk, kid: k.kid, alg: k.alg })) },
      };
    }
    const match = /^\/v1\/keys\/([^/]+)(\/jwt|\/headers)?$/.exec(request.path);
    const key = match ? FAKE_KEYS.find((k) => k.name === decodeURIComponent(match[1]!)) : undefined;
    if (match && key === undefined) return errorAnswer(404, 'ERR_KEY_NOT_FOUND', 'no such key');
    if (key !== undefined && request.method === 'GET' && match?.[2] === undefined)
      return { status: 200, body: key };
    if (key !== undefined && request.method === 'POST' && match?.[2] === '/jwt') {
      if (key.profile === 'cobo') return errorAnswer(400, 'ERR_BAD_REQUEST', 'cobo keys do not issue JWTs');
      return {
        status: 200,
        body: {
          jwt: `eyJhbGciOiJFUzI1NiJ9.eyJuIjo${++this.#issued}fQ.sig`,
          expiresAt: '2030-01-01T00:00:00Z',
        },
      };
    }
    if (key !== undefined && request.method === 'POST' && match?.[2] === '/headers') {
      const n = ++this.#issued;
      if (key.profile === 'cobo') {
        return {
          status: 200,
          body: {
            headers: {
              'Biz-Api-Key': key.publicKey.hex,
              'Biz-Api-Nonce': String(1700000000000 + n),
              'Biz-Api-Signature': 'ab'.repeat(64),
            },
            expiresAt: null,
          },
        };
      }
      return {
        status: 200,
        body: { headers: { Authorization: `Bearer jwt-${n}` }, expiresAt: '2030-01-01T00:00:00Z' },
      };
    }
    return errorAnswer(404, 'ERR_NOT_FOUND', `no route ${route}`);
  }
}
