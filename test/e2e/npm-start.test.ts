/**
 * The README's first command: `npm start` installs what is missing, builds, and runs `signerd dev`,
 * which creates a SoftHSM token with the demo keys and answers `signer jwt demo-cdp …`.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, SIGNER_BIN, waitFor } from '../helpers/daemon.js';
import { unixRequest } from '../helpers/http.js';
import { verifyJwt, verifyCobo } from '../helpers/verify.js';

const run = promisify(execFile);
const home = mkdtempSync(join(tmpdir(), 'signerd-home-'));

afterAll(() => rmSync(home, { recursive: true, force: true }));

async function startDev() {
  const proc = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { ...process.env, SIGNERD_HOME: home, SOFTHSM2_CONF: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const socket = join(home, 'signerd.sock');
  await waitFor(
    async () => existsSync(socket) && (await unixRequest(socket, 'GET', '/v1/health')).status === 200,
    120_000,
    `npm start to serve (output so far: ${output})`,
  );
  const stop = async () => {
    process.kill(-proc.pid!, 'SIGTERM');
    const timer = setTimeout(() => process.kill(-proc.pid!, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return { socket, output: () => output, stop };
}

describe('npm start', () => {
  it(
    'serves signer jwt demo-cdp with a JWT that verifies, and keeps its token across restarts',
    { timeout: 240_000 },
    async () => {
      const first = await startDev();
      let cdpHex: string;
      try {
        expect(first.output()).toMatch(
          /signer\.js jwt demo-cdp --method GET --url https:\/\/api\.coinbase\.com/,
        );
        const env = { ...process.env, SIGNERD_SOCKET: first.socket };
        const { stdout } = await run(
          process.execPath,
          [
            SIGNER_BIN,
            'jwt',
            'demo-cdp',
            '--method',
            'GET',
            '--url',
            'https://api.coinbase.com/api/v3/brokerage/accounts',
          ],
          { env },
        );
        const jwt = stdout.trim();
        const key = (await unixRequest(first.socket, 'GET', '/v1/keys/demo-cdp')).json;
        cdpHex = key.publicKey.hex;
        const { header, claims } = await verifyJwt(jwt, key.publicKey.jwk);
        expect(header['kid']).toBe('organizations/demo/apiKeys/demo-cdp');
        expect(claims['uri']).toBe('GET api.coinbase.com/api/v3/brokerage/accounts');

        const cobo = await unixRequest(first.socket, 'POST', '/v1/keys/demo-cobo/headers', {
          method: 'GET',
          url: 'https://api.dev.cobo.com/v2/wallets?limit=10',
        });
        const h = cobo.json.headers;
        expect(
          verifyCobo(
            `GET|/v2/wallets|${h['Biz-Api-Nonce']}|limit=10|`,
            h['Biz-Api-Signature'],
            h['Biz-Api-Key'],
          ),
        ).toBe(true);
        expect(statSync(join(home, 'pin')).mode & 0o077).toBe(0);
      } finally {
        await first.stop();
      }
      // Second start: same token, same keys, no new ones.
      const second = await startDev();
      try {
        const key = (await unixRequest(second.socket, 'GET', '/v1/keys/demo-cdp')).json;
        expect(key.publicKey.hex).toBe(cdpHex);
        expect(second.output()).not.toMatch(/generated demo-cdp/);
      } finally {
        await second.stop();
      }
    },
  );
});
