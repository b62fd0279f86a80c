/**
 * What a user would do instead of signerd:
 *   (a) sign in-process with jose and the private key in memory (Coinbase's documented approach:
 *       the same CDP JWT through jose's SignJWT) — fast, but the key lives in memory and on disk;
 *   (b) the script route: one `pkcs11-tool` process per signature on a 32-byte digest file — the key
 *       stays on the token, but each signature pays a process start, a module load and a C_Login,
 *       and the PIN sits on the command line (visible in /proc/<pid>/cmdline to other users).
 */
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { SignJWT } from 'jose';

/**
 * jose SignJWT with an in-memory key: `concurrency` callers in this process for durationMs.
 * Returns { alg, concurrency, jwts, seconds, perSecond, verifiedSample }.
 */
export async function joseRate({ alg, durationMs, concurrency, keyName, uri }) {
  const { privateKey, publicKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const once = () => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: keyName, iss: 'cdp', nbf: now, exp: now + 120, uri })
      .setProtectedHeader({ alg, kid: keyName, nonce: randomBytes(16).toString('hex'), typ: 'JWT' })
      .sign(privateKey);
  };
  // The comparison is only fair if jose builds a valid credential: check one.
  const sample = await once();
  const [h, p, s] = sample.split('.');
  const input = Buffer.from(`${h}.${p}`, 'latin1');
  const signature = Buffer.from(s, 'base64url');
  const verifiedSample =
    alg === 'ES256'
      ? verify('sha256', input, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)
      : verify(null, input, publicKey, signature);

  let n = 0;
  const deadline = Date.now() + durationMs;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        await once();
        n++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return {
    alg,
    concurrency,
    jwts: n,
    seconds: round3(seconds),
    perSecond: Math.round(n / seconds),
    verifiedSample,
  };
}

/**
 * `pkcs11-tool --sign -m ECDSA` once per signature, `count` times in a row, on a 32-byte digest.
 * Returns { signatures, seconds, perSecond, msPerSignature, verified, failed }.
 */
export function pkcs11ToolRate({ token, key, count, label, pin }) {
  const digestPath = join(token.dir, 'digest.bin');
  const sigPath = join(token.dir, 'sig.bin');
  const publicKey = createPublicKey({ key: key.publicKey.jwk, format: 'jwk' });
  const args = [
    '--module',
    token.module,
    '--token-label',
    label,
    '--login',
    '--pin',
    pin,
    '--sign',
    '-m',
    'ECDSA',
    '--id',
    key.id,
    '-i',
    digestPath,
    '-o',
    sigPath,
  ];
  let verified = 0;
  let failed = 0;
  let busy = 0;
  for (let i = 0; i < count; i++) {
    // Each "request" gets its own signing input, as a JWT would.
    const message = Buffer.from(`signing input ${i} ${randomBytes(8).toString('hex')}`);
    writeFileSync(digestPath, createHash('sha256').update(message).digest());
    const t0 = process.hrtime.bigint();
    try {
      execFileSync('pkcs11-tool', args, { env: token.env, stdio: 'ignore', timeout: 30_000 });
    } catch {
      failed++;
      continue;
    } finally {
      busy += Number(process.hrtime.bigint() - t0);
    }
    const signature = readFileSync(sigPath);
    if (verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)) verified++;
    else failed++;
  }
  const seconds = busy / 1e9;
  return {
    signatures: count,
    seconds: round3(seconds),
    perSecond: round3(count / seconds),
    msPerSignature: round3((seconds * 1000) / count),
    verified,
    failed,
  };
}

function round3(v) {
  return Math.round(v * 1000) / 1000;
}
