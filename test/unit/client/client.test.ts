import { generateKeyPairSync, createHash, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  COBO_PUBLIC_KEYS,
  SignerdClient,
  SignerdClientError,
  verifyCoboSignature,
} from '../../../src/client/index.js';
import { errorAnswer, FAKE_KEYS, FakeSignerd } from '../../helpers/fake-signerd.js';

let daemon: FakeSignerd;
let client: SignerdClient;
let scratch: string;

beforeAll(async () => {
  daemon = await FakeSignerd.start();
  client = new SignerdClient({ socketPath: daemon.socketPath, timeoutMs: 5_000 });
  scratch = await mkdtemp(join(tmpdir(), 'signer-client-'));
});

afterEach(() => {
  daemon.reset();
  vi.unstubAllEnvs();
});

afterAll(async () => {
  client.close();
  await daemon.stop();
  await rm(scratch, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<SignerdClientError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SignerdClientError);
  return err as SignerdClientError;
}

describe('SignerdClient requests', () => {
  it('health() is GET /v1/health', async () => {
    const health = await client.health();
    expect(health).toEqual({ status: 'ok', token: { label: 'signerd', present: true }, keys: { loaded: 2 } });
    expect(daemon.requests).toMatchObject([{ method: 'GET', path: '/v1/health', body: '' }]);
  });

  it('health() returns the 503 report of an unavailable daemon instead of throwing', async () => {
    const report = {
      status: 'unavailable',
      token: { label: 'signerd', present: false },
      keys: { loaded: 0 },
    };
    daemon.on('GET /v1/health', { status: 503, body: report });
    expect(await client.health()).toEqual(report);
  });

  it('health() throws on a 503 error body', async () => {
    daemon.on('GET /v1/health', errorAnswer(503, 'ERR_HSM_UNAVAILABLE', 'token gone'));
    const err = await rejection(client.health());
    expect(err.code).toBe('ERR_HSM_UNAVAILABLE');
    expect(err.statusCode).toBe(503);
  });

  it('keys() is GET /v1/keys and returns the array', async () => {
    expect(await client.keys()).toEqual(FAKE_KEYS);
    expect(daemon.requests).toMatchObject([{ method: 'GET', path: '/v1/keys' }]);
  });

  it('key(name) is GET /v1/keys/{name}', async () => {
    expect(await client.key('demo-cobo')).toEqual(FAKE_KEYS[1]);
    expect(daemon.requests).toMatchObject([{ method: 'GET', path: '/v1/keys/demo-cobo' }]);
  });

  it('percent-encodes key names so that each is one path segment', async () => {
    daemon.on('GET /v1/keys/a%20b%2Fc%3F%23', errorAnswer(404, 'ERR_KEY_NOT_FOUND', 'nope'));
    daemon.on('GET /v1/keys/%2E%2E', errorAnswer(404, 'ERR_KEY_NOT_FOUND', 'nope'));
    await rejection(client.key('a b/c?#'));
    await rejection(client.key('..'));
    await rejection(client.jwt('ü', {}));
    expect(daemon.requests.map((r) => r.path)).toEqual([
      '/v1/keys/a%20b%2Fc%3F%23',
      '/v1/keys/%2E%2E',
      '/v1/keys/%C3%BC/jwt',
    ]);
  });

  it('refuses an empty key name without asking the daemon', async () => {
    const err = await rejection(client.key(''));
    expect(err.code).toBe('ERR_BAD_REQUEST');
    expect(err.statusCode).toBeUndefined();
    expect(daemon.requests).toHaveLength(0);
  });

  it('jwks() is GET /v1/jwks', async () => {
    const jwks = await client.jwks();
    expect(jwks.keys.map((k) => k.kid)).toEqual(FAKE_KEYS.map((k) => k.kid));
    expect(daemon.requests).toMatchObject([{ method: 'GET', path: '/v1/jwks' }]);
  });

  it('jwt(key) POSTs an empty JSON object', async () => {
    const result = await client.jwt('demo-cdp');
    expect(result.jwt).toMatch(/^eyJ/);
    expect(result.expiresAt).toBe('2030-01-01T00:00:00Z');
    const [req] = daemon.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/v1/keys/demo-cdp/jwt' });
    expect(req!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req!.body)).toEqual({});
  });

  it('jwt(key, request) sends method, url, claims and ttl as given', async () => {
    const request = {
      method: 'GET',
      url: 'https://api.coinbase.com/x?y=1',
      claims: { aud: 'billing' },
      ttl: 60,
    };
    await client.jwt('demo-cdp', request);
    expect(JSON.parse(daemon.requests[0]!.body)).toEqual(request);
  });

  it('headers(key, request) POSTs method, url and body', async () => {
    const request = { method: 'POST', url: 'https://api.cobo.com/v2/wallets?a=1', body: '{"b":2}' };
    const result = await client.headers('demo-cobo', request);
    expect(Object.keys(result.headers)).toEqual(['Biz-Api-Key', 'Biz-Api-Nonce', 'Biz-Api-Signature']);
    expect(result.expiresAt).toBeNull();
    expect(daemon.requests[0]).toMatchObject({ method: 'POST', path: '/v1/keys/demo-cobo/headers' });
    expect(JSON.parse(daemon.requests[0]!.body)).toEqual(request);
  });

  it('uses one kept-alive connection for consecutive calls', async () => {
    const own = new SignerdClient({ socketPath: daemon.socketPath });
    const before = daemon.connections;
    await own.health();
    await own.keys();
    await own.jwt('demo-cdp');
    expect(daemon.connections - before).toBe(1);
    own.close();
  });

  it('close() closes the pooled connection', async () => {
    const own = new SignerdClient({ socketPath: daemon.socketPath });
    await own.health();
    const open = daemon.open.size;
    own.close();
    await vi.waitFor(() => expect(daemon.open.size).toBe(open - 1), { timeout: 2_000 });
  });
});

describe('SignerdClient errors', () => {
  it('turns an error body into a SignerdClientError with the daemon code and status', async () => {
    daemon.on('POST /v1/keys/demo-cdp/jwt', errorAnswer(403, 'ERR_POLICY_DENIED', 'POST not allowed'));
    const err = await rejection(client.jwt('demo-cdp', { method: 'POST', url: 'https://x/y' }));
    expect(err.code).toBe('ERR_POLICY_DENIED');
    expect(err.statusCode).toBe(403);
    expect(err.message).toBe('POST not allowed');
    expect(err.name).toBe('SignerdClientError');
  });

  it.each([
    ['a body that is not JSON', { status: 200, raw: '<html>' }],
    ['a 2xx of the wrong shape', { status: 200, body: { token: 'x' } }],
    ['an error status without an error body', { status: 502, body: { oops: true } }],
  ])('answers %s with ERR_BAD_RESPONSE', async (_, answer) => {
    daemon.on('POST /v1/keys/demo-cdp/jwt', answer);
    const err = await rejection(client.jwt('demo-cdp'));
    expect(err.code).toBe('ERR_BAD_RESPONSE');
    expect(err.statusCode).toBe(answer.status);
  });

  it('refuses headers whose values are not strings', async () => {
    daemon.on('POST /v1/keys/demo-cdp/headers', {
      status: 200,
      body: { headers: { A: 1 }, expiresAt: null },
    });
    const err = await rejection(client.headers('demo-cdp', { method: 'GET', url: 'https://x/' }));
    expect(err.code).toBe('ERR_BAD_RESPONSE');
  });

  it('bounds the size of an answer', async () => {
    daemon.on('GET /v1/keys', { status: 200, raw: JSON.stringify({ keys: ['x'.repeat(1024 * 1024)] }) });
    const err = await rejection(client.keys());
    expect(err.code).toBe('ERR_BAD_RESPONSE');
    expect(err.message).toMatch(/exceeds/);
    // The client still works afterwards.
    expect((await client.health()).status).toBe('ok');
  });

  it('ERR_DAEMON_UNREACHABLE when there is no socket, naming its path', async () => {
    const socketPath = join(scratch, 'absent.sock');
    const own = new SignerdClient({ socketPath });
    const err = await rejection(own.health());
    expect(err.code).toBe('ERR_DAEMON_UNREACHABLE');
    expect(err.statusCode).toBeUndefined();
    expect(err.message).toContain(socketPath);
    expect(err.message).toContain('ENOENT');
    own.close();
  });

  it('ERR_DAEMON_UNREACHABLE when nothing listens on the path', async () => {
    const socketPath = join(scratch, 'not-listening.sock');
    await writeFile(socketPath, '');
    const own = new SignerdClient({ socketPath });
    const err = await rejection(own.keys());
    expect(err.code).toBe('ERR_DAEMON_UNREACHABLE');
    expect(err.message).toContain(socketPath);
    own.close();
  });

  it('ERR_DAEMON_UNREACHABLE when the daemon does not answer in time', async () => {
    daemon.on('GET /v1/health', () => new Promise(() => undefined));
    const own = new SignerdClient({ socketPath: daemon.socketPath, timeoutMs: 150 });
    const started = Date.now();
    const err = await rejection(own.health());
    expect(err.code).toBe('ERR_DAEMON_UNREACHABLE');
    expect(err.message).toMatch(/no answer within 150 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
    own.close();
  });

  it('rejects a non-positive timeout', () => {
    expect(() => new SignerdClient({ timeoutMs: 0 })).toThrow(RangeError);
  });
});

describe('socket path', () => {
  it('defaults to $SIGNERD_SOCKET', async () => {
    vi.stubEnv('SIGNERD_SOCKET', daemon.socketPath);
    const own = new SignerdClient();
    expect(own.socketPath).toBe(daemon.socketPath);
    expect((await own.health()).status).toBe('ok');
    own.close();
  });

  it('falls back to /run/signerd/signerd.sock', () => {
    vi.stubEnv('SIGNERD_SOCKET', '');
    expect(new SignerdClient().socketPath).toBe('/run/signerd/signerd.sock');
  });

  it('an explicit socketPath wins over the environment', () => {
    vi.stubEnv('SIGNERD_SOCKET', '/elsewhere.sock');
    expect(new SignerdClient({ socketPath: '/mine.sock' }).socketPath).toBe('/mine.sock');
  });
});

describe('a kept-alive connection the daemon dropped', () => {
  let server: NetServer;
  let socketPath: string;
  let requests = 0;

  beforeAll(async () => {
    socketPath = join(scratch, 'flaky.sock');
    const ok = '{"status":"ok","token":{"label":"t","present":true},"keys":{"loaded":0}}';
    const answer = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${ok.length}\r\nconnection: keep-alive\r\n\r\n${ok}`;
    // Per connection: answers the first request, resets the connection on the second.
    server = createNetServer((socket: Socket) => {
      let seen = 0;
      socket.on('data', () => {
        requests++;
        if (seen++ === 0) socket.write(answer);
        else socket.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('is retried once on a new connection', async () => {
    const own = new SignerdClient({ socketPath });
    expect((await own.health()).status).toBe('ok');
    expect((await own.health()).status).toBe('ok');
    expect(requests).toBe(3);
    own.close();
  });
});

describe('SignerdClient.fetch', () => {
  it('asks for fresh headers on every call and sends them with the caller’s', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const fakeFetch = (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
      seen.push({ url: url instanceof Request ? url.url : url.toString(), init: init ?? {} });
      return Promise.resolve(new Response('{"ok":true}', { status: 200 }));
    };
    const own = new SignerdClient({ socketPath: daemon.socketPath, fetch: fakeFetch });
    const url = 'https://api.coinbase.com/api/v3/brokerage/orders?limit=1';
    const body = '{"product_id":"BTC-USD"}';

    const first = await own.fetch('demo-cdp', url, {
      method: 'post',
      body,
      headers: { 'Content-Type': 'application/json' },
    });
    expect(await first.json()).toEqual({ ok: true });
    await own.fetch('demo-cdp', url);

    expect(daemon.requests.map((r) => [r.method, r.path, JSON.parse(r.body) as unknown])).toEqual([
      ['POST', '/v1/keys/demo-cdp/headers', { method: 'POST', url, body }],
      ['POST', '/v1/keys/demo-cdp/headers', { method: 'GET', url }],
    ]);
    expect(seen).toHaveLength(2);
    const [a, b] = seen.map((s) => ({ ...s, headers: new Headers(s.init.headers) }));
    expect(a!.url).toBe(url);
    expect(a!.init.method).toBe('POST');
    expect(a!.init.body).toBe(body);
    expect(a!.headers.get('content-type')).toBe('application/json');
    expect(b!.init.method).toBe('GET');
    expect(b!.init.body).toBeUndefined();
    const auth = [a!.headers.get('authorization'), b!.headers.get('authorization')];
    expect(auth[0]).toMatch(/^Bearer jwt-\d+$/);
    expect(auth[1]).toMatch(/^Bearer jwt-\d+$/);
    expect(auth[0]).not.toBe(auth[1]);
    own.close();
  });

  it('the daemon’s headers win over the caller’s of the same name', async () => {
    let sent: Headers | undefined;
    const own = new SignerdClient({
      socketPath: daemon.socketPath,
      fetch: (_url, init) => {
        sent = new Headers(init?.headers);
        return Promise.resolve(new Response(null, { status: 204 }));
      },
    });
    await own.fetch('demo-cdp', 'https://x.test/', { headers: { authorization: 'Bearer stale' } });
    expect(sent?.get('authorization')).toMatch(/^Bearer jwt-/);
    own.close();
  });

  it('refuses a body that is not a string, before asking the daemon', async () => {
    const fetchSpy = vi.fn<typeof globalThis.fetch>();
    const own = new SignerdClient({ socketPath: daemon.socketPath, fetch: fetchSpy });
    const init = { method: 'POST', body: new Uint8Array([1]) } as unknown as { body: string };
    const err = await rejection(own.fetch('demo-cdp', 'https://x.test/', init));
    expect(err.code).toBe('ERR_BAD_REQUEST');
    expect(daemon.requests).toHaveLength(0);
    expect(fetchSpy).not.toHaveBeenCalled();
    own.close();
  });

  it('does not send the request when the daemon refuses', async () => {
    daemon.on('POST /v1/keys/demo-cdp/headers', errorAnswer(403, 'ERR_POLICY_DENIED', 'denied'));
    const fetchSpy = vi.fn<typeof globalThis.fetch>();
    const own = new SignerdClient({ socketPath: daemon.socketPath, fetch: fetchSpy });
    const err = await rejection(own.fetch('demo-cdp', 'https://x.test/'));
    expect(err.code).toBe('ERR_POLICY_DENIED');
    expect(fetchSpy).not.toHaveBeenCalled();
    own.close();
  });

  describe('with the global fetch, to a loopback server', () => {
    let api: HttpServer;
    let base: string;
    const received: {
      method: string;
      url: string;
      auth: string | undefined;
      extra: string | undefined;
      body: string;
    }[] = [];

    beforeAll(async () => {
      api = createHttpServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push({
            method: req.method ?? '',
            url: req.url ?? '',
            auth: req.headers.authorization,
            extra: req.headers['x-extra'] as string | undefined,
            body: Buffer.concat(chunks).toString('utf8'),
          });
          res.writeHead(200, { 'content-type': 'text/plain' }).end('pong');
        });
      });
      await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
      const address = api.address();
      base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    });

    afterAll(async () => {
      api.closeAllConnections();
      await new Promise<void>((resolve) => api.close(() => resolve()));
    });

    it('sends method, body, the daemon’s and the caller’s headers', async () => {
      const own = new SignerdClient({ socketPath: daemon.socketPath });
      const res = await own.fetch('demo-cdp', `${base}/v2/thing?x=1`, {
        method: 'PUT',
        body: 'exact body',
        headers: { 'X-Extra': 'yes' },
      });
      expect(await res.text()).toBe('pong');
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({
        method: 'PUT',
        url: '/v2/thing?x=1',
        extra: 'yes',
        body: 'exact body',
      });
      expect(received[0]!.auth).toMatch(/^Bearer jwt-\d+$/);
      expect(JSON.parse(daemon.requests[0]!.body)).toEqual({
        method: 'PUT',
        url: `${base}/v2/thing?x=1`,
        body: 'exact body',
      });
      own.close();
    });
  });
});

describe('Cobo answer verification, re-exported', () => {
  it('verifyCoboSignature checks SHA256(SHA256(body|timestamp)) under the given key', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
    const body = '{"success":true,"result":{}}';
    const timestamp = '1700000000000';
    const digest = createHash('sha256')
      .update(createHash('sha256').update(`${body}|${timestamp}`).digest())
      .digest();
    const signature = sign(null, digest, privateKey).toString('hex');
    expect(verifyCoboSignature({ body, timestamp, signature, publicKey: raw })).toBe(true);
    expect(verifyCoboSignature({ body: body + ' ', timestamp, signature, publicKey: raw })).toBe(false);
    expect(verifyCoboSignature({ body, timestamp, signature, env: 'prod' })).toBe(false);
    expect(Object.keys(COBO_PUBLIC_KEYS).sort()).toEqual(['dev', 'prod', 'sandbox']);
  });
});
