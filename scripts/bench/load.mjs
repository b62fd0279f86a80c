#!/usr/bin/env node
/**
 * The load generator: a separate process that asks a running signerd for credentials over its Unix
 * socket (keep-alive http.Agent) from `concurrency` callers, for a fixed time or a fixed count, and
 * checks what comes back.
 *
 *   node scripts/bench/load.mjs --spec '<json>'
 *
 * spec: { socket, path, body, check, concurrency, durationMs | count, warmupMs?, verifyEvery? }
 *   check: { kind: "jwt", alg: "ES256"|"EdDSA", jwk, kid, sub, uri }  (CDP JWT)
 *        | { kind: "cobo", publicKeyHex, method, path, query, body }    (Cobo headers)
 *
 * Every answer is parsed and shape-checked; every `verifyEvery`-th (default 1: all) is verified in
 * full: the signature with node:crypto against the key's public key, and every header field and
 * claim against what was asked, nonces unique among the verified. Prints one JSON line:
 * { requests, ok, failed, verified, invalid, seconds, perSecond, latencyMs{…}, loadCpuSeconds, … }.
 */
import { Buffer } from 'node:buffer';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { Agent, request } from 'node:http';
import process from 'node:process';

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function parseSpec() {
  const i = process.argv.indexOf('--spec');
  if (i < 0 || !process.argv[i + 1]) throw new Error('usage: load.mjs --spec JSON');
  return JSON.parse(process.argv[i + 1]);
}

/** Returns (answerText) => 'ok' | 'invalid' for a full check, and a cheap shape check. */
function makeChecker(check) {
  const seen = new Set();
  if (check.kind === 'jwt') {
    const key = createPublicKey({ key: check.jwk, format: 'jwk' });
    const full = (answer) => {
      const parts = answer.jwt.split('.');
      if (parts.length !== 3) return false;
      const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
      const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
      if (header.alg !== check.alg || header.kid !== check.kid || header.typ !== 'JWT') return false;
      if (typeof header.nonce !== 'string' || !/^[0-9a-f]{32}$/.test(header.nonce)) return false;
      if (seen.has(header.nonce)) return false;
      seen.add(header.nonce);
      if (claims.sub !== check.sub || claims.iss !== 'cdp' || claims.uri !== check.uri) return false;
      if (!Number.isInteger(claims.nbf) || claims.exp !== claims.nbf + 120) return false;
      if (Math.abs(claims.nbf - Date.now() / 1000) > 300) return false;
      const input = Buffer.from(`${parts[0]}.${parts[1]}`, 'latin1');
      const signature = Buffer.from(parts[2], 'base64url');
      return check.alg === 'ES256'
        ? verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature)
        : verify(null, input, key, signature);
    };
    const shape = (answer) => typeof answer.jwt === 'string' && typeof answer.expiresAt === 'string';
    return { full, shape };
  }
  if (check.kind === 'cobo') {
    const key = createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(check.publicKeyHex, 'hex')]),
      format: 'der',
      type: 'spki',
    });
    const full = (answer) => {
      const h = answer.headers;
      if (h['Biz-Api-Key'] !== check.publicKeyHex) return false;
      const nonce = h['Biz-Api-Nonce'];
      if (!/^\d{13}$/.test(nonce) || Math.abs(Number(nonce) - Date.now()) > 300_000) return false;
      const text = `${check.method}|${check.path}|${nonce}|${check.query}|${check.body}`;
      const digest = createHash('sha256').update(createHash('sha256').update(text, 'utf8').digest()).digest();
      return verify(null, digest, key, Buffer.from(h['Biz-Api-Signature'], 'hex'));
    };
    const shape = (answer) =>
      answer.expiresAt === null &&
      typeof answer.headers === 'object' &&
      /^[0-9a-f]{128}$/.test(answer.headers['Biz-Api-Signature']);
    return { full, shape };
  }
  throw new Error(`unknown check kind ${check.kind}`);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

async function main() {
  const spec = parseSpec();
  const concurrency = spec.concurrency;
  const verifyEvery = Math.max(1, spec.verifyEvery ?? 1);
  const checker = makeChecker(spec.check);
  const body = Buffer.from(JSON.stringify(spec.body), 'utf8');
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, socketPath: spec.socket });
  const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };

  const send = () =>
    new Promise((resolveSend) => {
      const req = request(
        { agent, socketPath: spec.socket, method: 'POST', path: spec.path, headers },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            resolveSend({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (err) => resolveSend({ status: 0, text: String(err) }));
        },
      );
      req.on('error', (err) => resolveSend({ status: 0, text: String(err) }));
      req.end(body);
    });

  // Warm-up: same traffic, nothing recorded.
  if (spec.warmupMs) {
    const until = Date.now() + spec.warmupMs;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < until) await send();
      }),
    );
  }

  let latencies = new Float64Array(1 << 16);
  let n = 0;
  let started = 0;
  let ok = 0;
  let failed = 0;
  let verified = 0;
  let invalid = 0;
  let successes = 0;
  const statuses = {};
  const failures = [];
  const record = (ms) => {
    if (n === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[n++] = ms;
  };

  const deadline = spec.durationMs === undefined ? undefined : Date.now() + spec.durationMs;
  const more = () => (deadline === undefined ? started < spec.count : Date.now() < deadline);
  process.stdout.write(`${JSON.stringify({ phase: 'measuring' })}\n`);
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more()) {
        started++;
        const t0 = process.hrtime.bigint();
        const { status, text } = await send();
        record(Number(process.hrtime.bigint() - t0) / 1e6);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status !== 200) {
          failed++;
          if (failures.length < 5) failures.push(`${status} ${text.slice(0, 300)}`);
          continue;
        }
        let answer;
        try {
          answer = JSON.parse(text);
        } catch {
          invalid++;
          continue;
        }
        if (!checker.shape(answer)) {
          invalid++;
          if (failures.length < 5) failures.push(`bad shape: ${text.slice(0, 300)}`);
          continue;
        }
        ok++;
        if (successes++ % verifyEvery !== 0) continue;
        let good = false;
        try {
          good = checker.full(answer);
        } catch {
          good = false;
        }
        if (good) verified++;
        else {
          invalid++;
          ok--;
          if (failures.length < 5) failures.push(`does not verify: ${text.slice(0, 300)}`);
        }
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  agent.destroy();

  const sorted = latencies.subarray(0, n).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const ms = (v) => Math.round(v * 1000) / 1000;
  const result = {
    requests: n,
    ok,
    failed,
    verified,
    invalid,
    verifyEvery,
    statuses,
    failures,
    seconds: ms(seconds),
    perSecond: Math.round(n / seconds),
    latencyMs: {
      mean: ms(n ? sum / n : 0),
      p50: ms(percentile(sorted, 50)),
      p90: ms(percentile(sorted, 90)),
      p99: ms(percentile(sorted, 99)),
      p999: ms(percentile(sorted, 99.9)),
      max: ms(n ? sorted[n - 1] : 0),
    },
    loadCpuSeconds: ms((cpu.user + cpu.system) / 1e6),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err) => {
  process.stderr.write(`load: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
