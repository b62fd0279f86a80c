/**
 * A real `signerd serve` process on a throwaway SoftHSM2 token, reached over its Unix socket.
 * Needs the build (`npm test` builds first); keys are created on the token before the daemon starts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { openToken } from '../../src/hsm/token.js';
import type { PrivateKeyMaterial } from '../../src/keys/store.js';
import type { Alg } from '../../src/keys/types.js';
import { unixRequest, type HttpAnswer } from './http.js';
import { createTestToken, useTestToken, type TestToken } from './softhsm.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const SIGNERD_BIN = join(ROOT, 'dist/cli/signerd.js');
export const SIGNER_BIN = join(ROOT, 'dist/cli/signer.js');

export interface TestKey {
  /** Name in the API and label on the token. */
  name: string;
  alg: Alg;
  /** Imported instead of generated. */
  material?: PrivateKeyMaterial;
  /** The key's config besides label (profile, cdp, jwt …). */
  config: Record<string, unknown>;
}

/**
 * What the daemon needs of a token: SoftHSM's TestToken, or another provider's (a TPM token from
 * test/helpers/tpm.ts). `env` reaches the daemon process (TPM2_PKCS11_TCTI, TPM2_PKCS11_STORE,
 * DBUS_SESSION_BUS_ADDRESS for a TPM; SOFTHSM2_CONF for SoftHSM).
 */
export type DaemonToken = Pick<TestToken, 'dir' | 'module' | 'label' | 'pin' | 'env'>;

export interface TestDaemon<T extends DaemonToken = TestToken> {
  token: T;
  dir: string;
  socket: string;
  configPath: string;
  auditPath: string;
  pinPath: string;
  proc: ChildProcess;
  output(): string;
  request(method: string, path: string, body?: unknown): Promise<HttpAnswer>;
  writeConfig(config: Record<string, unknown>): void;
  baseConfig: Record<string, unknown>;
  /** Sends a signal and waits for the exit code (bounded). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function prepareToken(keys: TestKey[]): Promise<TestToken> {
  const token = createTestToken();
  useTestToken(token);
  const store = await openToken({
    module: token.module,
    token: { label: token.label },
    pin: token.pin,
    sessions: 1,
  });
  try {
    for (const key of keys) {
      if (key.material) await store.importKey({ label: key.name, key: key.material });
      else await store.generateKey({ label: key.name, alg: key.alg });
    }
  } finally {
    await store.close();
  }
  return token;
}

export function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolvePromise, reject) => {
    const tick = async () => {
      let ok = false;
      try {
        ok = await check();
      } catch {
        ok = false;
      }
      if (ok) return resolvePromise();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(() => void tick(), 50);
    };
    void tick();
  });
}

export interface StartOptions<T extends DaemonToken = TestToken> {
  keys: TestKey[];
  clients?: unknown[];
  socketMode?: string;
  socketGroup?: string | number;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Start under `systemd-socket-activate -l SOCKET`, which binds the socket and passes it as fd 3. */
  socketActivation?: boolean;
  /** Serve this token (e.g. one a ceremony test filled) instead of a new one; `keys` must already be on it. */
  token?: T;
  /** `hsm.module` in the config instead of the token's own (e.g. a fault-injecting wrapper of it). */
  module?: string;
  /** Extra `hsm` settings (e.g. `sessions`). */
  hsm?: Record<string, unknown>;
}

export async function startDaemon<T extends DaemonToken = TestToken>(
  options: StartOptions<T>,
): Promise<TestDaemon<T>> {
  // Without `token`, T is the default TestToken: prepareToken makes one.
  const token = options.token ?? ((await prepareToken(options.keys)) as unknown as T);
  const dir = token.dir;
  chmodSync(dir, 0o711); // other test uids must reach the socket inside
  const socket = join(dir, 'signerd.sock');
  const configPath = join(dir, 'signerd.yaml');
  const auditPath = join(dir, 'audit', 'audit.jsonl');
  const pinPath = join(dir, 'pin');
  writeFileSync(pinPath, token.pin + '\n', { mode: 0o600 });
  const keys: Record<string, unknown> = {};
  for (const key of options.keys) keys[key.name] = { label: key.name, ...key.config };
  const baseConfig: Record<string, unknown> = {
    hsm: {
      module: options.module ?? token.module,
      token: token.label,
      pin: { file: pinPath },
      sessions: 4,
      ...options.hsm,
    },
    socket: {
      path: socket,
      mode: options.socketMode ?? '0660',
      ...(options.socketGroup !== undefined ? { group: options.socketGroup } : {}),
    },
    keys,
    ...(options.clients ? { clients: options.clients } : {}),
    audit: { path: auditPath },
    log: { level: 'info' },
  };
  const writeConfig = (config: Record<string, unknown>) =>
    writeFileSync(configPath, stringify(config), { mode: 0o600 });
  writeConfig(baseConfig);

  const argv = ['serve', '--config', configPath, ...(options.extraArgs ?? [])];
  const wrapper = options.socketActivation
    ? ['systemd-socket-activate', '-E', 'SOFTHSM2_CONF', '-l', socket]
    : [];
  const [cmd, ...args] = [...wrapper, process.execPath, SIGNERD_BIN, ...argv];
  const proc = spawn(cmd!, args, {
    env: { ...token.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));

  const request = (method: string, path: string, body?: unknown) => unixRequest(socket, method, path, body);
  try {
    await Promise.race([
      waitFor(
        async () => existsSync(socket) && (await request('GET', '/v1/health')).status === 200,
        20_000,
        'the daemon to answer /v1/health',
      ),
      exited.then((code) => Promise.reject(new Error(`daemon exited with ${code}`))),
    ]);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`daemon did not start: ${(err as Error).message}\n${output}`);
  }
  return {
    token,
    dir,
    socket,
    configPath,
    auditPath,
    pinPath,
    proc,
    output: () => output,
    request,
    writeConfig,
    baseConfig,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export function readAudit(path: string): Array<Record<string, any>> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
