#!/usr/bin/env node
/**
 * Token-layer sign rates on a throwaway SoftHSM2 token:
 *   - "sync, 1 session": pkcs11js C_SignInit + C_Sign in a loop on one session (the single-thread limit);
 *   - "async pool": Pkcs11Token signers (C_SignAsync through the session pool) at concurrency 2×cores.
 * ES256 includes the in-process SHA-256 in both modes (what a JWT costs); EdDSA signs the message.
 *
 *   npx tsc -p tsconfig.build.json && node scripts/bench/token.mjs [--duration-ms N] [--count N] [--json]
 *
 * Against a token that exists already (a TPM through tpm2-pkcs11, a YubiKey …) instead of a fresh
 * SoftHSM2 one: `--module PATH --token LABEL` with the user PIN in $SIGNERD_BENCH_PIN, and the
 * module's own environment set (for tpm2-pkcs11: TPM2_PKCS11_TCTI, TPM2_PKCS11_STORE, and
 * DBUS_SESSION_BUS_ADDRESS for a tabrmd session bus). The bench generates its keys there (EdDSA
 * only where the token can) and destroys them at the end. Optional `--sessions N --concurrency N`.
 *
 * Import runTokenBench(options) to reuse it from a bigger bench; it returns the JSON it would print.
 */
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import console from 'node:console';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { pathToFileURL } from 'node:url';
import { openToken } from '../../dist/hsm/token.js';
import { findSoftHsmModule, writeSoftHsmConfig } from '../../dist/hsm/softhsm.js';

const pkcs11js = createRequire(import.meta.url)('pkcs11js');
const CKM_EDDSA = 0x1057;
const LABEL = 'signerd-bench';
const PIN = 'bench-pin-1234';

/**
 * @param {object} [options]
 * @param {number} [options.durationMs]  run each measurement this long (default 2000) ...
 * @param {number} [options.count]       ... or exactly this many signatures instead
 * @param {number} [options.concurrency] async callers (default 2 × cores)
 * @param {number} [options.sessions]    pool size (default 4)
 * @param {number} [options.messageBytes] signing-input size (default 200, a typical JWT signing input)
 * @param {(line: string) => void} [options.print] where the table goes (default: nowhere)
 * @param {{ module: string, label: string, pin: string }} [options.token] an existing token to use
 *   instead of a throwaway SoftHSM2 one (its module's environment must be set in process.env)
 */
export async function runTokenBench(options = {}) {
  if (options.token) return runOnToken(options, options.token);
  // A throwaway SoftHSM2 token, measured the same way as a given one, then removed.
  const dir = mkdtempSync(join(tmpdir(), 'signerd-bench-'));
  const previousConf = process.env['SOFTHSM2_CONF'];
  const guard = setTimeout(() => {
    rmSync(dir, { recursive: true, force: true });
    console.error('token bench: gave up after 5 minutes');
    process.exit(1);
  }, 300_000);
  guard.unref();
  try {
    const { conf } = writeSoftHsmConfig(dir);
    process.env['SOFTHSM2_CONF'] = conf;
    execFileSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', LABEL, '--pin', PIN, '--so-pin', `so-${PIN}`],
      { env: process.env, stdio: 'ignore', timeout: 30_000 },
    );
    return await runOnToken(options, { module: findSoftHsmModule(), label: LABEL, pin: PIN });
  } finally {
    clearTimeout(guard);
    if (previousConf === undefined) delete process.env['SOFTHSM2_CONF'];
    else process.env['SOFTHSM2_CONF'] = previousConf;
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The two measurements on a token: (1) the synchronous limit, straight through pkcs11js on one
 * session, (2) asynchronously through the token layer's pool. Keys are generated for the run (only
 * of the algorithms the token can generate) and destroyed after. The synchronous loop needs the
 * module to itself, so it runs while no Pkcs11Token is open.
 */
async function runOnToken(options, given) {
  const durationMs = options.durationMs ?? 2_000;
  const limit = options.count === undefined ? { durationMs } : { count: options.count };
  const concurrency = options.concurrency ?? 2 * availableParallelism();
  const sessions = options.sessions ?? 4;
  const message = Buffer.alloc(options.messageBytes ?? 200, 'a');
  const tokenOptions = { module: given.module, token: { label: given.label }, pin: given.pin, sessions };
  const suffix = `${process.pid}-${Date.now()}`;
  let token = await openToken(tokenOptions);
  const can = await token.capabilities();
  const algs = ['ES256', 'EdDSA'].filter((alg) => can[alg].generate);
  const keys = {};
  try {
    for (const alg of algs) {
      keys[alg] = await token.generateKey({ label: `bench-${alg.toLowerCase()}-${suffix}`, alg });
    }
  } finally {
    await token.close();
  }
  const results = [];
  try {
    for (const alg of algs) {
      results.push({
        alg,
        mode: 'sync, 1 session',
        sessions: 1,
        concurrency: 1,
        ...syncRate(given.module, alg, message, limit, keys[alg], given),
      });
    }
    token = await openToken(tokenOptions);
    try {
      for (const alg of algs) {
        results.push({
          alg,
          mode: 'async pool',
          sessions,
          concurrency,
          ...(await poolRate(token.signer(keys[alg]), keys[alg], message, limit, concurrency)),
        });
      }
    } finally {
      await token.close();
    }
  } finally {
    token = await openToken({ ...tokenOptions, sessions: 1 });
    for (const key of Object.values(keys)) {
      await token.destroyKey({ label: key.label }).catch(() => undefined);
    }
    await token.close();
  }
  const report = {
    bench: 'token',
    node: process.version,
    cpus: availableParallelism(),
    uvThreadpool: Number(process.env['UV_THREADPOOL_SIZE'] ?? 4),
    module: given.module,
    token: given.label,
    unsupported: ['ES256', 'EdDSA'].filter((alg) => !algs.includes(alg)),
    messageBytes: message.length,
    results,
  };
  options.print?.(table(report));
  return report;
}

/** C_SignInit + C_Sign on one session until the limit; the module is initialized and finalized here. */
function syncRate(modulePath, alg, message, limit, key, login) {
  const p11 = new pkcs11js.PKCS11();
  p11.load(modulePath);
  p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  try {
    const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === login.label);
    const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    p11.C_Login(session, pkcs11js.CKU_USER, login.pin);
    p11.C_FindObjectsInit(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_LABEL, value: key.label },
    ]);
    const [handle] = p11.C_FindObjects(session, 1);
    p11.C_FindObjectsFinal(session);
    const mechanism = { mechanism: alg === 'ES256' ? pkcs11js.CKM_ECDSA : CKM_EDDSA };
    const signOnce = () => {
      const input = alg === 'ES256' ? createHash('sha256').update(message).digest() : message;
      p11.C_SignInit(session, mechanism, handle);
      return p11.C_Sign(session, input, Buffer.alloc(64));
    };
    if (!verifies(key, message, signOnce())) throw new Error(`sync ${alg}: signature does not verify`);
    let n = 0;
    const start = process.hrtime.bigint();
    const deadline = limit.durationMs === undefined ? undefined : Date.now() + limit.durationMs;
    while (deadline === undefined ? n < limit.count : (n & 31) !== 0 || Date.now() < deadline) {
      signOnce();
      n++;
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    p11.C_Logout(session);
    p11.C_CloseSession(session);
    return rate(n, seconds);
  } finally {
    p11.C_Finalize();
  }
}

/** `concurrency` callers each awaiting signer.sign in a loop until the limit. */
async function poolRate(signer, key, message, limit, concurrency) {
  if (!verifies(key, message, await signer.sign(message)))
    throw new Error(`pool ${key.alg}: signature does not verify`);
  let started = 0;
  const deadline = limit.durationMs === undefined ? undefined : Date.now() + limit.durationMs;
  const more = () => (deadline === undefined ? started < limit.count : Date.now() < deadline);
  const start = process.hrtime.bigint();
  const callers = Array.from({ length: concurrency }, async () => {
    let done = 0;
    while (more()) {
      started++;
      await signer.sign(message);
      done++;
    }
    return done;
  });
  const n = (await Promise.all(callers)).reduce((a, b) => a + b, 0);
  return rate(n, Number(process.hrtime.bigint() - start) / 1e9);
}

function verifies(key, message, signature) {
  const publicKey = createPublicKey({ key: key.publicKey.jwk, format: 'jwk' });
  return key.alg === 'ES256'
    ? verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)
    : verify(null, message, publicKey, signature);
}

function rate(signatures, seconds) {
  return { signatures, seconds: Number(seconds.toFixed(3)), perSecond: Math.round(signatures / seconds) };
}

function table(report) {
  const lines = [
    `Token sign rates: ${report.token ? `${report.module} token "${report.token}"` : 'SoftHSM2'}, ${report.cpus} cores, node ${report.node}, libuv threadpool ${report.uvThreadpool}, ${report.messageBytes}-byte input`,
    '',
    '| alg | mode | sessions | concurrency | signatures | seconds | signatures/s |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const alg of report.unsupported ?? []) lines.push(`| ${alg} | not supported by the token | | | | | |`);
  for (const r of report.results) {
    lines.push(
      `| ${r.alg} | ${r.mode} | ${r.sessions} | ${r.concurrency} | ${r.signatures} | ${r.seconds} | ${r.perSecond} |`,
    );
  }
  return lines.join('\n');
}

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const durationMs = argValue('--duration-ms');
  const count = argValue('--count');
  const sessions = argValue('--sessions');
  const concurrency = argValue('--concurrency');
  const moduleIndex = process.argv.indexOf('--module');
  const labelIndex = process.argv.indexOf('--token');
  const given =
    moduleIndex >= 0 && labelIndex >= 0
      ? {
          module: process.argv[moduleIndex + 1],
          label: process.argv[labelIndex + 1],
          pin: process.env['SIGNERD_BENCH_PIN'] ?? '',
        }
      : undefined;
  if (given && !given.pin) throw new Error('--module/--token need the user PIN in $SIGNERD_BENCH_PIN');
  const report = await runTokenBench({
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(count === undefined ? {} : { count }),
    ...(sessions === undefined ? {} : { sessions }),
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(given === undefined ? {} : { token: given }),
    print: (text) => console.log(text),
  });
  if (process.argv.includes('--json')) console.log(JSON.stringify(report, null, 2));
}
