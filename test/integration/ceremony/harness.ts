/**
 * Ceremony tests run the built `signerd` (dist/) as a child process against a throwaway SoftHSM2
 * token, with a config file holding only the `hsm` section. Keys for import are made here with
 * node:crypto, so every public form the CLI prints can be checked against an independent derivation.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ROOT, SIGNERD_BIN } from '../../helpers/daemon.js';
import { createTestToken, type TestToken } from '../../helpers/softhsm.js';

export { ROOT, SIGNERD_BIN };

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  /** Called once the child is running (e.g. to inspect /proc/<pid>), before stdin is written. */
  onSpawn?: (child: ChildProcess) => Promise<void> | void;
}

/** Runs a command and collects its output (stdin closed unless `input` is given). */
export function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    const feed = async () => {
      if (options.onSpawn) await options.onSpawn(child);
      if (options.input !== undefined) child.stdin.write(options.input);
      child.stdin.end();
    };
    feed().catch((err: unknown) => {
      child.kill('SIGKILL');
      reject(err instanceof Error ? err : new Error(String(err)));
    });
  });
}

export interface CeremonyEnv {
  token: TestToken;
  /** Config file with only the hsm section. */
  config: string;
  /** `signerd ARGS` with the token's environment. */
  signerd(args: string[], options?: RunOptions): Promise<RunResult>;
  /** `signerd keys SUB --config … ARGS`. */
  keys(sub: string, args?: string[], options?: RunOptions): Promise<RunResult>;
  /** A path in the token's scratch directory. */
  path(name: string): string;
  remove(): void;
}

export function requireBuild(): void {
  if (!existsSync(join(ROOT, 'dist/cli/signerd/keys.js'))) {
    throw new Error('dist/cli/signerd/keys.js is missing: build first (npx tsc -p tsconfig.build.json)');
  }
}

export function ceremonyEnv(): CeremonyEnv {
  requireBuild();
  const token = createTestToken('ceremony');
  const pinFile = join(token.dir, 'ceremony-pin');
  writeFileSync(pinFile, token.pin + '\n', { mode: 0o600 });
  const config = join(token.dir, 'ceremony.yaml');
  writeFileSync(
    config,
    stringify({ hsm: { module: token.module, token: token.label, pin: { file: pinFile } } }),
    { mode: 0o600 },
  );
  const signerd = (args: string[], options?: RunOptions) =>
    run(process.execPath, [SIGNERD_BIN, ...args], token.env, options);
  return {
    token,
    config,
    signerd,
    keys: (sub, args = [], options) => signerd(['keys', sub, '--config', config, ...args], options),
    path: (name) => join(token.dir, name),
    remove: () => token.remove(),
  };
}

// ------------------------------------------------------------------------------------------------
// Keys made with node:crypto, and the public forms node:crypto derives from them.

export interface ExpectedPublic {
  hex: string;
  pem: string;
  jwk: Record<string, unknown>;
}

export function expectedPublic(privateKey: KeyObject): ExpectedPublic {
  const pub = createPublicKey(privateKey);
  const jwk = pub.export({ format: 'jwk' });
  const hex =
    pub.asymmetricKeyType === 'ed25519'
      ? Buffer.from(jwk.x!, 'base64url').toString('hex')
      : '04' +
        Buffer.from(jwk.x!, 'base64url').toString('hex') +
        Buffer.from(jwk.y!, 'base64url').toString('hex');
  return { hex, pem: pub.export({ type: 'spki', format: 'pem' }).toString(), jwk: { ...jwk } };
}

export function p256Key(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
}

export function ed25519Key(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

/** The 32-byte seed of an Ed25519 private key (the tail of its PKCS#8 DER). */
export function ed25519Seed(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  return der.subarray(der.length - 32);
}

/** CDP's Ed25519 key file form: base64(seed‖public). */
export function cdpEd25519PrivateKey(key: KeyObject): string {
  return Buffer.concat([ed25519Seed(key), Buffer.from(expectedPublic(key).hex, 'hex')]).toString('base64');
}

/** CDP portal's JSON download. */
export function cdpKeyFileText(keyName: string, privateKey: string, member: 'name' | 'id' = 'name'): string {
  return JSON.stringify({ [member]: keyName, privateKey }, null, 2);
}

/** One key of `keys list --json`. */
export interface ListedKey {
  label: string;
  id: string;
  alg: 'ES256' | 'EdDSA';
  sensitive: boolean;
  extractable: boolean;
  origin: 'generated' | 'imported';
  thumbprint: string;
  publicKey: { hex: string; jwk: Record<string, string> };
}

/** `keys list --json`, parsed. */
export async function listKeys(env: CeremonyEnv): Promise<ListedKey[]> {
  const res = await env.keys('list', ['--json']);
  if (res.code !== 0) throw new Error(`keys list failed: ${res.stderr}`);
  return (JSON.parse(res.stdout) as { keys: ListedKey[] }).keys;
}
