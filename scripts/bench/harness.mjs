/**
 * The bench's own throwaway world: a SoftHSM2 token in a temp dir (its own SOFTHSM2_CONF), keys
 * generated on it through the token layer, a config file, and a real `signerd serve` process on a
 * Unix socket in that dir. The bench-local twin of test/helpers/daemon.ts.
 */
import { Buffer } from 'node:buffer';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { findSoftHsmModule, writeSoftHsmConfig } from '../../dist/hsm/softhsm.js';
import { openToken } from '../../dist/hsm/token.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SIGNERD_BIN = join(ROOT, 'dist/cli/signerd.js');
export const TOKEN_LABEL = 'signerd-bench-e2e';
export const PIN = 'bench-pin-5678';

/** Every process the bench started and that may still run: killed by killAll() if the bench gives up. */
const children = new Set();

/** Remembers a child process until it exits. */
export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGKILLs every tracked child (the bench's own, by pid): the last resort of a bench that gives up. */
export function killAll() {
  for (const child of children) child.kill('SIGKILL');
}

/** The keys the bench serves: name → alg and key config (besides label). */
export const BENCH_KEYS = {
  'cdp-es256': {
    alg: 'ES256',
    config: { profile: 'cdp', cdp: { keyName: 'organizations/bench/apiKeys/es256' } },
  },
  'cdp-eddsa': {
    alg: 'EdDSA',
    config: { profile: 'cdp', cdp: { keyName: 'organizations/bench/apiKeys/eddsa' } },
  },
  cobo: { alg: 'EdDSA', config: { profile: 'cobo' } },
};

/**
 * A token dir with an initialized token and the bench keys on it. Returns
 * { dir, conf, module, env, keys: {name: KeyInfo}, remove() }.
 */
export async function prepareToken() {
  const dir = mkdtempSync(join(tmpdir(), 'signerd-bench-e2e-'));
  try {
    const { conf } = writeSoftHsmConfig(dir);
    const env = { ...process.env, SOFTHSM2_CONF: conf };
    execFileSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', TOKEN_LABEL, '--pin', PIN, '--so-pin', `so-${PIN}`],
      { env, stdio: 'ignore', timeout: 30_000 },
    );
    const module = findSoftHsmModule();
    // The token layer reads SOFTHSM2_CONF when the module is initialized: point it here for that.
    const previous = process.env['SOFTHSM2_CONF'];
    process.env['SOFTHSM2_CONF'] = conf;
    const keys = {};
    try {
      const store = await openToken({ module, token: { label: TOKEN_LABEL }, pin: PIN, sessions: 1 });
      try {
        for (const [name, { alg }] of Object.entries(BENCH_KEYS)) {
          keys[name] = await store.generateKey({ label: name, alg });
        }
      } finally {
        await store.close();
      }
    } finally {
      if (previous === undefined) delete process.env['SOFTHSM2_CONF'];
      else process.env['SOFTHSM2_CONF'] = previous;
    }
    return { dir, conf, module, env, keys, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Writes the config and starts `signerd serve` on the token. Options: sessions (hsm.sessions),
 * env (extra environment, e.g. UV_THREADPOOL_SIZE), nodeArgs (e.g. --cpu-prof, which node 20 does
 * not take from NODE_OPTIONS), bin (another build's dist/cli/signerd.js, for A/B runs), tag (distinguishes the
 * socket and audit log of successive daemons on one token).
 * Returns { pid, socket, configPath, auditPath, output(), stop() }.
 */
export async function startDaemon(token, options = {}) {
  const tag = options.tag ?? 'daemon';
  const socket = join(token.dir, `${tag}.sock`);
  const configPath = join(token.dir, `${tag}.yaml`);
  const auditPath = join(token.dir, `audit-${tag}`, 'audit.jsonl');
  const pinPath = join(token.dir, 'pin');
  writeFileSync(pinPath, `${PIN}\n`, { mode: 0o600 });
  const keys = {};
  for (const [name, { config }] of Object.entries(BENCH_KEYS)) keys[name] = { label: name, ...config };
  const uid = process.getuid?.() ?? 0;
  const config = {
    hsm: {
      module: token.module,
      token: TOKEN_LABEL,
      pin: { file: pinPath },
      sessions: options.sessions ?? 4,
    },
    socket: { path: socket, mode: '0600' },
    keys,
    // A real client rule (patterns checked per request), as a deployment would have; no rate limit.
    clients: [
      {
        name: 'bench',
        uid,
        keys: Object.keys(BENCH_KEYS),
        allow: [
          'GET api.coinbase.com/api/v3/brokerage/**',
          'POST api.coinbase.com/api/v3/brokerage/orders',
          'POST api.dev.cobo.com/v2/transactions/**',
        ],
      },
    ],
    audit: { path: auditPath },
    log: { level: 'info' },
  };
  writeFileSync(configPath, stringify(config), { mode: 0o600 });

  const nodeArgs = options.nodeArgs ?? [];
  const bin = options.bin ?? SIGNERD_BIN;
  const proc = spawn(process.execPath, [...nodeArgs, bin, 'serve', '--config', configPath], {
    env: { ...token.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(proc);
  let output = '';
  const keep = (chunk) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise((resolveExit) =>
    proc.once('exit', (code, signal) => resolveExit(code ?? signal)),
  );

  const deadline = Date.now() + 30_000;
  let exitCode;
  void exited.then((code) => (exitCode = code));
  for (;;) {
    if (exitCode !== undefined) throw new Error(`signerd exited (${exitCode}) while starting:\n${output}`);
    if (existsSync(socket) && (await healthy(socket))) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`signerd did not answer /v1/health within 30 s:\n${output}`);
    }
    await sleep(50);
  }

  return {
    pid: proc.pid,
    socket,
    configPath,
    auditPath,
    output: () => output,
    /** SIGTERM, then SIGKILL after 15 s; resolves with the exit code. */
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** GET over the socket: { status, json }. */
export function getJson(socket, path) {
  return new Promise((resolveGet, reject) => {
    const req = request({ socketPath: socket, path, method: 'GET', timeout: 5_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        try {
          resolveGet({ status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function healthy(socket) {
  try {
    return (await getJson(socket, '/v1/health')).status === 200;
  } catch {
    return false;
  }
}

export function sleep(ms) {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}
