/**
 * Shared pieces of the reliability suite: the fault-injecting PKCS#11 module (built from
 * faulty-pkcs11/faulty.c into a temp dir), its control file, keys for every profile, a bounded
 * load generator over keep-alive connections, and independent verification of what comes back.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestDaemon, TestKey } from '../helpers/daemon.js';
import type { DaemonToken } from '../helpers/daemon.js';

export const ROOT = resolve(import.meta.dirname, '../..');

// ---- the fault-injecting module ------------------------------------------------------------------

export interface FaultyModule {
  /** The built libfaulty.so: the daemon's `hsm.module`. */
  path: string;
  /** Environment for the daemon: target module, control and stats files. */
  env: NodeJS.ProcessEnv;
  /** Replaces the control file (atomically: the module sees a new inode and re-reads it). */
  set(control: Record<string, string | number>): void;
  /** No faults. */
  off(): void;
  /** What the module reports: faults injected since start, calls hanging right now. */
  stats(): { injected: number; hungNow: number };
  remove(): void;
}

/** CKR values the tests inject. */
export const CKR = {
  GENERAL_ERROR: 0x05,
  DEVICE_REMOVED: 0x32,
  SESSION_HANDLE_INVALID: 0xb3,
  TOKEN_NOT_PRESENT: 0xe0,
  USER_NOT_LOGGED_IN: 0x101,
} as const;

/** Compiles faulty.c against pkcs11js's PKCS#11 headers; `target` is the real module it wraps. */
export function buildFaultyModule(target: string): FaultyModule {
  const dir = mkdtempSync(join(tmpdir(), 'signerd-faulty-'));
  const path = join(dir, 'libfaulty.so');
  execFileSync(
    'cc',
    [
      '-shared',
      '-fPIC',
      '-O2',
      '-Wall',
      '-I',
      join(ROOT, 'node_modules/pkcs11js/includes'),
      '-o',
      path,
      join(ROOT, 'test/reliability/faulty-pkcs11/faulty.c'),
      '-ldl',
      '-lpthread',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 },
  );
  const control = join(dir, 'control');
  const statsPath = join(dir, 'stats');
  let serial = 0;
  const set = (values: Record<string, string | number>) => {
    const tmp = `${control}.${++serial}`;
    const text = Object.entries(values)
      .map(([k, v]) => `${k}=${String(v)}\n`)
      .join('');
    // `serial` also changes the size or content, so even a same-second rewrite is seen.
    writeFileSync(tmp, `# ${serial}\n${text}`);
    renameSync(tmp, control);
  };
  set({ mode: 'off' });
  return {
    path,
    env: {
      FAULTY_PKCS11_TARGET: target,
      FAULTY_PKCS11_CONTROL: control,
      FAULTY_PKCS11_STATS: statsPath,
      FAULTY_PKCS11_MAX_HANG_MS: '60000',
    },
    set,
    off: () => set({ mode: 'off' }),
    stats() {
      let text = '';
      try {
        text = readFileSync(statsPath, 'utf8');
      } catch {
        return { injected: 0, hungNow: 0 };
      }
      const injected = /injected=(\d+)/.exec(text)?.[1];
      const hung = /hung_now=(-?\d+)/.exec(text)?.[1];
      return { injected: Number(injected ?? 0), hungNow: Number(hung ?? 0) };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// ---- keys for every profile ----------------------------------------------------------------------

export const CDP_URL = 'https://api.coinbase.com/api/v3/brokerage/accounts';
export const COBO_URL = 'https://api.dev.cobo.com/v2/wallets?limit=10&cursor=a%20b';
export const COBO_BODY = '{"amount":"1.5"}';

export const PROFILE_KEYS: TestKey[] = [
  {
    name: 'cdp-es',
    alg: 'ES256',
    config: { profile: 'cdp', cdp: { keyName: 'organizations/o/apiKeys/es' } },
  },
  {
    name: 'cdp-ed',
    alg: 'EdDSA',
    config: { profile: 'cdp', cdp: { keyName: 'organizations/o/apiKeys/ed' } },
  },
  { name: 'cobo', alg: 'EdDSA', config: { profile: 'cobo' } },
  {
    name: 'gen',
    alg: 'ES256',
    config: { profile: 'jwt', jwt: { iss: 'signerd', sub: 'internal', audiences: ['billing'], maxTtl: 300 } },
  },
];

export type Profile = 'cdp-es' | 'cdp-ed' | 'cobo' | 'gen';
export const PROFILES: Profile[] = ['cdp-es', 'cdp-ed', 'cobo', 'gen'];

export interface Call {
  method: 'POST';
  path: string;
  body: unknown;
}

export function callFor(profile: Profile): Call {
  switch (profile) {
    case 'cdp-es':
    case 'cdp-ed':
      return { method: 'POST', path: `/v1/keys/${profile}/jwt`, body: { method: 'GET', url: CDP_URL } };
    case 'cobo':
      return {
        method: 'POST',
        path: '/v1/keys/cobo/headers',
        body: { method: 'POST', url: COBO_URL, body: COBO_BODY },
      };
    case 'gen':
      return { method: 'POST', path: '/v1/keys/gen/jwt', body: { claims: { aud: 'billing' }, ttl: 60 } };
  }
}

/** Checks answers independently of the daemon: node:crypto over the public keys it published. */
export class Verifier {
  private constructor(private readonly keys: Map<Profile, { key: KeyObject; hex: string; alg: string }>) {}

  static async of(daemon: Pick<TestDaemon<DaemonToken>, 'request'>): Promise<Verifier> {
    const keys = new Map<Profile, { key: KeyObject; hex: string; alg: string }>();
    for (const profile of PROFILES) {
      const res = await daemon.request('GET', `/v1/keys/${profile}`);
      if (res.status !== 200) throw new Error(`GET /v1/keys/${profile}: ${res.status} ${res.text}`);
      const view = res.json as { alg: string; publicKey: { jwk: object; hex: string } };
      keys.set(profile, {
        key: createPublicKey({ key: view.publicKey.jwk as never, format: 'jwk' }),
        hex: view.publicKey.hex,
        alg: view.alg,
      });
    }
    return new Verifier(keys);
  }

  /** Whether a JWT's signature verifies with the key of `profile`, whatever it signs. */
  jwtSignatureOk(profile: Profile, jwt: string): boolean {
    const k = this.keys.get(profile)!;
    const [h, p, s] = jwt.split('.');
    const input = Buffer.from(`${h}.${p}`);
    const signature = Buffer.from(s ?? '', 'base64url');
    return k.alg === 'ES256'
      ? verify('sha256', input, { key: k.key, dsaEncoding: 'ieee-p1363' }, signature)
      : verify(null, input, k.key, signature);
  }

  /** The credential's nonce (cdp, cobo) or jti (jwt) when the answer verifies; null otherwise. */
  check(profile: Profile, answer: any): string | null {
    const k = this.keys.get(profile)!;
    try {
      if (profile === 'cobo') {
        const h = answer.headers as Record<string, string>;
        if (h['Biz-Api-Key'] !== k.hex) return null;
        const nonce = h['Biz-Api-Nonce']!;
        const stringToSign = `POST|/v2/wallets|${nonce}|limit=10&cursor=a%20b|${COBO_BODY}`;
        const digest = createHash('sha256')
          .update(createHash('sha256').update(stringToSign).digest())
          .digest();
        return verify(null, digest, k.key, Buffer.from(h['Biz-Api-Signature']!, 'hex')) ? nonce : null;
      }
      const jwt = answer.jwt as string;
      const [h, p, s] = jwt.split('.');
      const header = JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, unknown>;
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
      if (header.alg !== k.alg) return null;
      const input = Buffer.from(`${h}.${p}`);
      const signature = Buffer.from(s!, 'base64url');
      const ok =
        k.alg === 'ES256'
          ? verify('sha256', input, { key: k.key, dsaEncoding: 'ieee-p1363' }, signature)
          : verify(null, input, k.key, signature);
      if (!ok) return null;
      if (profile === 'gen')
        return claims.aud === 'billing' && claims.iss === 'signerd' ? String(claims.jti) : null;
      const uriOk = claims.uri === 'GET api.coinbase.com/api/v3/brokerage/accounts';
      return uriOk && typeof header.nonce === 'string' ? header.nonce : null;
    } catch {
      return null;
    }
  }
}

// ---- load ----------------------------------------------------------------------------------------

export interface Outcome {
  profile: Profile;
  started: number;
  ended: number;
  status: number;
  /** Error code of a non-200 answer, or the transport error. */
  code: string | null;
  /** 200 and verified (null: 200 but not checked, this one was outside the sample). */
  verified: boolean | null;
  /** The verified credential's nonce (cdp, cobo) or jti (jwt). */
  id: string | null;
  text: string | null;
}

export interface LoadOptions {
  socket: string;
  verifier: Verifier;
  concurrency: number;
  /** Hard cap on requests. */
  maxRequests: number;
  /** Stop early when this turns true (checked before each request). */
  stop?: () => boolean;
  /** Verify every n-th 200 (1 = all). */
  verifyEvery?: number;
  /** Keep every outcome (fault tests) or only counts (soak). */
  keep?: boolean;
  onOutcome?: (o: Outcome) => void;
  timeoutMs?: number;
}

export interface LoadResult {
  sent: number;
  ok: number;
  verified: number;
  invalid: number;
  failed: number;
  byCode: Record<string, number>;
  /** Repeated random nonces/jtis among the verified cdp and jwt credentials. */
  duplicates: number;
  outcomes: Outcome[];
  ms: number;
}

const CLEAN_CODES = new Set(['ERR_HSM_UNAVAILABLE']);

/** Sends up to `maxRequests` requests, `concurrency` at a time, round-robin over the profiles. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const every = options.verifyEvery ?? 1;
  const result: LoadResult = {
    sent: 0,
    ok: 0,
    verified: 0,
    invalid: 0,
    failed: 0,
    byCode: {},
    duplicates: 0,
    outcomes: [],
    ms: 0,
  };
  const seen = new Set<string>();
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    for (;;) {
      if (next >= options.maxRequests || options.stop?.()) return;
      const i = next++;
      const profile = PROFILES[i % PROFILES.length]!;
      const call = callFor(profile);
      const t0 = Date.now();
      const answer = await send(agent, options.socket, call, options.timeoutMs ?? 30_000);
      result.sent++;
      const outcome: Outcome = {
        profile,
        started: t0,
        ended: Date.now(),
        status: answer.status,
        code: null,
        verified: null,
        id: null,
        text: null,
      };
      if (answer.status === 200) {
        result.ok++;
        if (result.ok % every === 0) {
          const id = options.verifier.check(profile, JSON.parse(answer.text));
          outcome.verified = id !== null;
          if (id === null) {
            result.invalid++;
            outcome.text = answer.text;
          } else {
            result.verified++;
            outcome.id = id;
            // Random nonces and jtis must never repeat; a Cobo nonce is the time in ms (contract §4), so it may.
            if (profile !== 'cobo') {
              if (seen.has(id)) result.duplicates++;
              seen.add(id);
            }
          }
        }
      } else {
        result.failed++;
        outcome.text = answer.text;
        let code = answer.error ?? `HTTP ${answer.status}`;
        try {
          code = (JSON.parse(answer.text) as { error: { code: string } }).error.code;
        } catch {
          // not JSON: keep the status
        }
        outcome.code = code;
        result.byCode[code] = (result.byCode[code] ?? 0) + 1;
      }
      options.onOutcome?.(outcome);
      if (options.keep) result.outcomes.push(outcome);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  agent.destroy();
  result.ms = Date.now() - started;
  return result;
}

/** True when every failure in the result is a clean ERR_HSM_UNAVAILABLE. */
export function onlyCleanFailures(result: LoadResult): boolean {
  return Object.keys(result.byCode).every((code) => CLEAN_CODES.has(code));
}

function send(
  agent: Agent,
  socketPath: string,
  call: Call,
  timeoutMs: number,
): Promise<{ status: number; text: string; error?: string }> {
  return new Promise((resolvePromise) => {
    const payload = JSON.stringify(call.body);
    const req = httpRequest(
      {
        agent,
        socketPath,
        method: call.method,
        path: call.path,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolvePromise({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', (err) => resolvePromise({ status: 0, text: '', error: `transport: ${err.message}` }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (err) => resolvePromise({ status: 0, text: '', error: `transport: ${err.message}` }));
    req.end(payload);
  });
}

/** Resident set size of a process, in MiB (from /proc). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  return Number(kb ?? 0) / 1024;
}

/** Where the figures of a run go: printed, and appended to $SIGNERD_RELIABILITY_REPORT if set. */
export function report(line: string): void {
  console.log(`[reliability] ${line}`);
  const file = process.env['SIGNERD_RELIABILITY_REPORT'];
  if (file) writeFileSync(file, `${line}\n`, { flag: 'a' });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
