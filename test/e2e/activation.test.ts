/** systemd socket activation: the daemon serves on the socket systemd-socket-activate hands it. */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { verifyJwt } from '../helpers/verify.js';

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!have('systemd-socket-activate'))('socket activation (LISTEN_FDS)', () => {
  let daemon: TestDaemon | undefined;

  afterAll(async () => {
    await daemon?.stop();
    daemon?.token.remove();
  });

  it('systemd-socket-activate -l SOCKET signerd serve … serves a request', async () => {
    const keys = [
      {
        name: 'cdp',
        alg: 'ES256' as const,
        config: { profile: 'cdp', cdp: { keyName: 'organizations/o/apiKeys/a' } },
      },
    ];
    daemon = await startDaemon({ keys, socketActivation: true });
    expect(daemon.output()).toMatch(/fd:3/);
    const keysAnswer = await daemon.request('GET', '/v1/keys/cdp');
    const res = await daemon.request('POST', '/v1/keys/cdp/jwt', {
      method: 'GET',
      url: 'https://api.coinbase.com/v2/accounts',
    });
    expect(res.status).toBe(200);
    const { claims } = await verifyJwt(res.json.jwt, keysAnswer.json.publicKey.jwk);
    expect(claims['uri']).toBe('GET api.coinbase.com/v2/accounts');
  });
});
