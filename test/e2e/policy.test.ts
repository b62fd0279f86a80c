/**
 * Peer-credential policy end to end: requests from other uids (setpriv) reach the real daemon, and
 * each caller sees and signs only what its client rule allows.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAudit, ROOT, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { verifyJwt } from '../helpers/verify.js';

const NOBODY = 65534;
const OTHER = 65533;
const REQUEST_AS = join(ROOT, 'test/helpers/request-as.mjs');
const canSwitchUid = process.getuid?.() === 0;

interface Answer {
  status: number;
  json: any;
}

function as(uid: number, socket: string, method: string, path: string, body?: unknown): Answer {
  const out = execFileSync(
    'setpriv',
    [
      `--reuid=${uid}`,
      `--regid=${NOBODY}`,
      '--clear-groups',
      process.execPath,
      REQUEST_AS,
      socket,
      method,
      path,
      ...(body === undefined ? [] : [JSON.stringify(body)]),
    ],
    { encoding: 'utf8', timeout: 15_000 },
  );
  const parsed = JSON.parse(out) as { status: number; body?: string; error?: string };
  if (parsed.status === 0) throw new Error(`request as uid ${uid} failed: ${parsed.error}`);
  return { status: parsed.status, json: JSON.parse(parsed.body!) };
}

describe.skipIf(!canSwitchUid)('policy by peer uid', () => {
  let daemon: TestDaemon;
  let jwk: Record<string, unknown>;

  beforeAll(async () => {
    daemon = await startDaemon({
      keys: [
        {
          name: 'cdp-main',
          alg: 'ES256',
          config: { profile: 'cdp', cdp: { keyName: 'organizations/o/apiKeys/main' } },
        },
        { name: 'cobo-prod', alg: 'EdDSA', config: { profile: 'cobo' } },
      ],
      socketGroup: NOBODY,
      clients: [
        {
          name: 'trading-bot',
          uid: NOBODY,
          keys: ['cdp-main'],
          allow: [
            'GET api.coinbase.com/api/v3/brokerage/**',
            'POST api.coinbase.com/api/v3/brokerage/orders',
          ],
          websocket: false,
        },
        {
          name: 'admin',
          uid: 0,
          keys: ['cdp-main', 'cobo-prod'],
          allow: ['* api.coinbase.com/**'],
          websocket: true,
        },
      ],
    });
    jwk = (await daemon.request('GET', '/v1/keys/cdp-main')).json.publicKey.jwk;
  });

  afterAll(async () => {
    await daemon?.stop();
    daemon?.token.remove();
  });

  it('the socket carries the configured group', () => {
    expect(statSync(daemon.socket).gid).toBe(NOBODY);
  });

  it('a client sees only its own keys', () => {
    expect(
      as(NOBODY, daemon.socket, 'GET', '/v1/keys').json.keys.map((k: { name: string }) => k.name),
    ).toEqual(['cdp-main']);
    expect(as(NOBODY, daemon.socket, 'GET', '/v1/jwks').json.keys).toHaveLength(1);
  });

  it('signs what its patterns allow, and the JWT verifies', async () => {
    const res = as(NOBODY, daemon.socket, 'POST', '/v1/keys/cdp-main/jwt', {
      method: 'GET',
      url: 'https://api.coinbase.com/api/v3/brokerage/accounts/abc',
    });
    expect(res.status).toBe(200);
    const { claims } = await verifyJwt(res.json.jwt, jwk);
    expect(claims['uri']).toBe('GET api.coinbase.com/api/v3/brokerage/accounts/abc');
  });

  it('refuses other requests with 403, and websocket JWTs when not allowed', () => {
    for (const body of [
      { method: 'DELETE', url: 'https://api.coinbase.com/api/v3/brokerage/orders' },
      { method: 'POST', url: 'https://api.coinbase.com/api/v3/brokerage/orders/batch_cancel' },
      { method: 'GET', url: 'https://evil.example.com/api/v3/brokerage/accounts' },
      {},
    ]) {
      const res = as(NOBODY, daemon.socket, 'POST', '/v1/keys/cdp-main/jwt', body);
      expect(res.status, JSON.stringify(body)).toBe(403);
      expect(res.json.error.code).toBe('ERR_POLICY_DENIED');
    }
  });

  it('a key it may not use answers exactly like a key that does not exist', () => {
    const hidden = as(NOBODY, daemon.socket, 'POST', '/v1/keys/cobo-prod/headers', {
      method: 'GET',
      url: 'https://api.dev.cobo.com/v2/x',
    });
    const missing = as(NOBODY, daemon.socket, 'POST', '/v1/keys/no-such-key/headers', {
      method: 'GET',
      url: 'https://api.dev.cobo.com/v2/x',
    });
    expect(hidden.status).toBe(404);
    expect(hidden.json).toEqual(missing.json);
    expect(as(NOBODY, daemon.socket, 'GET', '/v1/keys/cobo-prod').json).toEqual(
      as(NOBODY, daemon.socket, 'GET', '/v1/keys/no-such-key').json,
    );
  });

  it('a uid with no client rule is refused with 403, and its attempt is audited', () => {
    const res = as(OTHER, daemon.socket, 'POST', '/v1/keys/cdp-main/jwt', {
      method: 'GET',
      url: 'https://api.coinbase.com/api/v3/brokerage/accounts',
    });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('ERR_POLICY_DENIED');
    expect(as(OTHER, daemon.socket, 'GET', '/v1/keys').json.keys).toEqual([]);
    const denied = readAudit(daemon.auditPath).filter(
      (l) => l['event'] === 'deny' && l['peer'].uid === OTHER,
    );
    expect(denied.length).toBeGreaterThan(0);
    expect(denied[0]!['client']).toBeNull();
    expect(denied[0]!['request']).toEqual({
      method: 'GET',
      host: 'api.coinbase.com',
      path: '/api/v3/brokerage/accounts',
    });
  });

  it('root is served through its own client rule', async () => {
    const res = await daemon.request('POST', '/v1/keys/cdp-main/jwt', {});
    expect(res.status).toBe(200);
    const lines = readAudit(daemon.auditPath).filter((l) => l['event'] === 'sign' && l['client'] === 'admin');
    expect(lines.length).toBeGreaterThan(0);
  });
});
