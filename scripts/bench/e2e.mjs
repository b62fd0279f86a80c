/**
 * The end-to-end part of the bench: the credentials it asks signerd for, and one run of the load
 * generator (scripts/bench/load.mjs, a separate process) with the daemon's CPU and memory read from
 * /proc over exactly the window the generator measured.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { track } from './harness.mjs';
import { cpuSeconds, memory, resetPeak, round } from './proc.mjs';

const LOAD_BIN = join(dirname(fileURLToPath(import.meta.url)), 'load.mjs');
export const CDP_URL = 'https://api.coinbase.com/api/v3/brokerage/accounts';
export const CDP_URI = 'GET api.coinbase.com/api/v3/brokerage/accounts';
const COBO_BODY = JSON.stringify({
  request_id: 'bench-0001',
  source: { source_type: 'Asset', wallet_id: 'f47ac10b-58cc-4372-a567-0e02b2c3d479' },
  token_id: 'ETH_USDT',
  destination: { destination_type: 'Address', account_output: { address: '0xabc', amount: '1.5' } },
});

/** Runs load.mjs once; resolves with its result plus the daemon's CPU and memory over the window. */
export function runLoad(daemon, spec) {
  const { onMeasuring, ...childSpec } = spec;
  return new Promise((resolveLoad, reject) => {
    const child = spawn(process.execPath, [LOAD_BIN, '--spec', JSON.stringify(childSpec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    track(child);
    let pending = '';
    let err = '';
    let cpuStart;
    let mainStart;
    let result;
    const limitMs =
      (spec.durationMs ?? 0) + (spec.warmupMs ?? 0) + (spec.count ? spec.count * 20 : 0) + 60_000;
    const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.stdout.on('data', (chunk) => {
      pending += chunk.toString();
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const message = JSON.parse(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        if (message.phase === 'measuring') {
          // The window starts when the generator starts counting (after its warm-up).
          resetPeak(daemon.pid);
          cpuStart = cpuSeconds(daemon.pid);
          mainStart = cpuSeconds(daemon.pid, daemon.pid);
          onMeasuring?.();
          continue;
        }
        const cpuEnd = cpuSeconds(daemon.pid);
        const mainEnd = cpuSeconds(daemon.pid, daemon.pid);
        const mem = memory(daemon.pid);
        message.daemonCpuSeconds = round(cpuEnd - (cpuStart ?? cpuEnd), 3);
        message.daemonCpuSecondsPer1000 =
          message.requests > 0 ? round((message.daemonCpuSeconds / message.requests) * 1000, 3) : null;
        // The event-loop thread alone (JS, HTTP, and the synchronous PKCS#11 calls such as C_SignInit).
        message.daemonMainThreadCpuSecondsPer1000 =
          message.requests > 0
            ? round(((mainEnd - (mainStart ?? mainEnd)) / message.requests) * 1000, 3)
            : null;
        message.daemonPeakRssMB = mem.hwmMB;
        message.daemonRssMB = mem.rssMB;
        result = message;
      }
    });
    child.stderr.on('data', (chunk) => (err += chunk.toString()));
    child.on('exit', (code) => {
      clearTimeout(killer);
      if (code !== 0 || !result) reject(new Error(`load generator failed (${code}): ${err}`));
      else resolveLoad(result);
    });
  });
}

/** The three credentials the bench asks for: route, request body and how the answer is checked. */
export function workloads(keys) {
  const jwtCheck = (name, alg, keyName) => ({
    kind: 'jwt',
    alg,
    jwk: keys[name].publicKey.jwk,
    kid: keyName,
    sub: keyName,
    uri: CDP_URI,
  });
  return [
    {
      key: 'cdp-es256',
      name: 'CDP JWT',
      alg: 'ES256',
      path: '/v1/keys/cdp-es256/jwt',
      body: { method: 'GET', url: CDP_URL },
      check: jwtCheck('cdp-es256', 'ES256', 'organizations/bench/apiKeys/es256'),
    },
    {
      key: 'cdp-eddsa',
      name: 'CDP JWT',
      alg: 'EdDSA',
      path: '/v1/keys/cdp-eddsa/jwt',
      body: { method: 'GET', url: CDP_URL },
      check: jwtCheck('cdp-eddsa', 'EdDSA', 'organizations/bench/apiKeys/eddsa'),
    },
    {
      key: 'cobo',
      name: 'Cobo headers',
      alg: 'EdDSA',
      path: '/v1/keys/cobo/headers',
      body: { method: 'POST', url: 'https://api.dev.cobo.com/v2/transactions/transfer', body: COBO_BODY },
      check: {
        kind: 'cobo',
        publicKeyHex: keys.cobo.publicKey.hex,
        method: 'POST',
        path: '/v2/transactions/transfer',
        query: '',
        body: COBO_BODY,
      },
    },
  ];
}
