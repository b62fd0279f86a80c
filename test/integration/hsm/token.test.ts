/**
 * The token layer against a real SoftHSM2 token: generation, persistence across processes,
 * non-extractability, the Cobo vector, concurrency through the pool, key safety checks.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign as cryptoSign } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestToken, useTestToken } from '../../helpers/softhsm.js';
import type { TestToken } from '../../helpers/softhsm.js';
import { openToken } from '../../../src/hsm/token.js';
import type { Pkcs11Token } from '../../../src/hsm/token.js';
import { p11 } from '../../../src/hsm/pkcs11.js';
import type { PKCS11 } from '../../../src/hsm/pkcs11.js';
import { parseEd25519Seed } from '../../../src/keys/import-formats.js';
import type { KeyInfo } from '../../../src/keys/types.js';
import { ckrOfCall, findByLabel, slotOf, verifies } from './helpers.js';

const CKR_ATTRIBUTE_SENSITIVE = 0x11;
const CKR_KEY_UNEXTRACTABLE = 0x6a;

let testToken: TestToken;
let token: Pkcs11Token;
let raw: PKCS11;
let es256: KeyInfo;
let eddsa: KeyInfo;

beforeAll(async () => {
  testToken = createTestToken('token-suite');
  useTestToken(testToken);
  token = await openToken(
    { module: testToken.module, token: { label: testToken.label }, pin: testToken.pin, sessions: 4 },
    {
      wrapModule: (m) => {
        raw = m;
        return m;
      },
    },
  );
  es256 = await token.generateKey({ label: 'gen-es256', alg: 'ES256' });
  eddsa = await token.generateKey({ label: 'gen-eddsa', alg: 'EdDSA' });
});

afterAll(async () => {
  await token?.close();
  testToken?.remove();
});

describe('generated keys', () => {
  it('reports the token and both keys with safe attributes', () => {
    expect(token.status()).toMatchObject({ label: 'token-suite', present: true });
    expect(token.status().serial).toMatch(/^[0-9a-f]+$/);
    for (const [info, alg, rawLength] of [
      [es256, 'ES256', 65],
      [eddsa, 'EdDSA', 32],
    ] as const) {
      expect(info).toMatchObject({
        alg,
        origin: 'generated',
        sensitive: true,
        extractable: false,
        alwaysSensitive: true,
        neverExtractable: true,
      });
      expect(info.id).toMatch(/^[0-9a-f]{32}$/);
      expect(info.publicKey.raw).toHaveLength(rawLength);
      expect(info.publicKey.hex).toBe(Buffer.from(info.publicKey.raw).toString('hex'));
    }
    expect(es256.id).not.toBe(eddsa.id);
  });

  it('signs ES256 and EdDSA; node:crypto verifies, and rejects a tampered message', async () => {
    const message = Buffer.from('header.claims');
    for (const info of [es256, eddsa]) {
      const signature = await token.signer(info).sign(message);
      expect(signature).toHaveLength(64);
      expect(verifies(info, message, signature)).toBe(true);
      expect(verifies(info, Buffer.from('header.claimz'), signature)).toBe(false);
    }
  });

  it('ES256 verifies with the exact call of the contract (jwk, ieee-p1363)', async () => {
    const input = Buffer.from('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0');
    const signature = await token.signer(es256).sign(input);
    const ok = (await import('node:crypto')).verify(
      'sha256',
      input,
      { key: { ...es256.publicKey.jwk }, format: 'jwk', dsaEncoding: 'ieee-p1363' },
      signature,
    );
    expect(ok).toBe(true);
  });

  it('gives the signer the thumbprint as kid unless told otherwise', () => {
    expect(token.signer(es256).kid).toBe(es256.publicKey.thumbprint);
    expect(token.signer(eddsa, { kid: 'custom' }).kid).toBe('custom');
    expect(token.signer(eddsa).alg).toBe('EdDSA');
  });

  it('finds the keys again by label and by id, and lists them', async () => {
    const byLabel = await token.getKey({ label: 'gen-es256' });
    expect(byLabel.publicKey.hex).toBe(es256.publicKey.hex);
    const byId = await token.getKey({ id: eddsa.id });
    expect(byId.label).toBe('gen-eddsa');
    const listed = await token.listKeys();
    expect(listed.map((k) => k.label)).toEqual(expect.arrayContaining(['gen-eddsa', 'gen-es256']));
    expect(listed.find((k) => k.label === 'gen-eddsa')?.publicKey.hex).toBe(eddsa.publicKey.hex);
  });

  it('refuses a label that exists', async () => {
    await expect(token.generateKey({ label: 'gen-es256', alg: 'EdDSA' })).rejects.toMatchObject({
      code: 'ERR_KEY_EXISTS',
    });
  });

  it('are on the token for another process: pkcs11-tool lists them', () => {
    const out = execFileSync(
      'pkcs11-tool',
      [
        '--module',
        testToken.module,
        '--token-label',
        testToken.label,
        '--login',
        '--pin',
        testToken.pin,
        '--list-objects',
      ],
      { env: testToken.env, encoding: 'utf8', timeout: 20_000 },
    );
    for (const label of ['gen-es256', 'gen-eddsa']) {
      expect(out).toContain(`label:      ${label}`);
    }
    expect(out).toMatch(/Private Key Object; EC\s/);
    expect(out).toContain(`ID:         ${es256.id}`);
  });

  it('are usable from another process: a child finds the key by label and signs; we verify', () => {
    const pkcs11Path = createRequire(import.meta.url).resolve('pkcs11js');
    const script = `
      import { createRequire } from 'node:module';
      const p = createRequire(import.meta.url)(${JSON.stringify(pkcs11Path)});
      const m = new p.PKCS11(); m.load(${JSON.stringify(testToken.module)});
      m.C_Initialize({ flags: p.CKF_OS_LOCKING_OK });
      const slot = m.C_GetSlotList(true).find((s) => m.C_GetTokenInfo(s).label.trim() === ${JSON.stringify(testToken.label)});
      const s = m.C_OpenSession(slot, p.CKF_SERIAL_SESSION);
      m.C_Login(s, p.CKU_USER, process.env.TEST_PIN);
      m.C_FindObjectsInit(s, [{ type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY }, { type: p.CKA_LABEL, value: 'gen-eddsa' }]);
      const [key] = m.C_FindObjects(s, 2); m.C_FindObjectsFinal(s);
      m.C_SignInit(s, { mechanism: 0x1057 }, key);
      process.stdout.write(m.C_Sign(s, Buffer.from('from another process'), Buffer.alloc(64)).toString('hex'));
      m.C_Logout(s); m.C_CloseSession(s); m.C_Finalize();
    `;
    const signatureHex = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...testToken.env, TEST_PIN: testToken.pin },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(signatureHex).toMatch(/^[0-9a-f]{128}$/);
    expect(verifies(eddsa, Buffer.from('from another process'), Buffer.from(signatureHex, 'hex'))).toBe(true);
  });
});

describe('private keys cannot leave the token', () => {
  it('refuses CKA_VALUE, refuses wrapping (while an extractable control key wraps fine)', () => {
    const slot = slotOf(raw, testToken.label);
    const session = raw.C_OpenSession(slot, p11.CKF_SERIAL_SESSION | p11.CKF_RW_SESSION);
    try {
      for (const label of ['gen-es256', 'gen-eddsa']) {
        const [key] = findByLabel(raw, session, label, p11.CKO_PRIVATE_KEY);
        expect(key).toBeDefined();
        expect(ckrOfCall(() => raw.C_GetAttributeValue(session, key!, [{ type: p11.CKA_VALUE }]))).toBe(
          CKR_ATTRIBUTE_SENSITIVE,
        );
        const attrs = raw.C_GetAttributeValue(session, key!, [
          { type: p11.CKA_SENSITIVE },
          { type: p11.CKA_EXTRACTABLE },
          { type: p11.CKA_ALWAYS_SENSITIVE },
          { type: p11.CKA_NEVER_EXTRACTABLE },
          { type: p11.CKA_PRIVATE },
          { type: p11.CKA_TOKEN },
        ]);
        expect(attrs.map((a) => a.value[0])).toEqual([1, 0, 1, 1, 1, 1]);
      }

      const wrappingKey = raw.C_GenerateKey(session, { mechanism: p11.CKM_AES_KEY_GEN }, [
        { type: p11.CKA_TOKEN, value: false },
        { type: p11.CKA_VALUE_LEN, value: 32 },
        { type: p11.CKA_WRAP, value: true },
      ]);
      // Control: an extractable EC key (session object) does wrap, so a refusal is about the attribute.
      const control = raw.C_GenerateKeyPair(
        session,
        { mechanism: p11.CKM_EC_KEY_PAIR_GEN },
        [
          { type: p11.CKA_TOKEN, value: false },
          { type: p11.CKA_EC_PARAMS, value: Buffer.from('06082a8648ce3d030107', 'hex') },
        ],
        [
          { type: p11.CKA_TOKEN, value: false },
          { type: p11.CKA_SENSITIVE, value: true },
          { type: p11.CKA_EXTRACTABLE, value: true },
        ],
      );
      const wrapped = raw.C_WrapKey(
        session,
        { mechanism: p11.CKM_AES_KEY_WRAP_PAD },
        wrappingKey,
        control.privateKey,
        Buffer.alloc(4096),
      );
      expect(wrapped.length).toBeGreaterThan(32);

      for (const label of ['gen-es256', 'gen-eddsa']) {
        const [key] = findByLabel(raw, session, label, p11.CKO_PRIVATE_KEY);
        expect(
          ckrOfCall(() =>
            raw.C_WrapKey(
              session,
              { mechanism: p11.CKM_AES_KEY_WRAP_PAD },
              wrappingKey,
              key!,
              Buffer.alloc(4096),
            ),
          ),
        ).toBe(CKR_KEY_UNEXTRACTABLE);
      }
    } finally {
      raw.C_CloseSession(session);
    }
  });

  it('flags an extractable, non-sensitive key as unsafe, by name', async () => {
    const slot = slotOf(raw, testToken.label);
    const session = raw.C_OpenSession(slot, p11.CKF_SERIAL_SESSION | p11.CKF_RW_SESSION);
    try {
      raw.C_GenerateKeyPair(
        session,
        { mechanism: p11.CKM_EC_KEY_PAIR_GEN },
        [
          { type: p11.CKA_TOKEN, value: true },
          { type: p11.CKA_LABEL, value: 'unsafe' },
          { type: p11.CKA_ID, value: Buffer.from('0badc0de', 'hex') },
          { type: p11.CKA_EC_PARAMS, value: Buffer.from('06082a8648ce3d030107', 'hex') },
        ],
        [
          { type: p11.CKA_TOKEN, value: true },
          { type: p11.CKA_PRIVATE, value: true },
          { type: p11.CKA_SIGN, value: true },
          { type: p11.CKA_LABEL, value: 'unsafe' },
          { type: p11.CKA_ID, value: Buffer.from('0badc0de', 'hex') },
          { type: p11.CKA_SENSITIVE, value: false },
          { type: p11.CKA_EXTRACTABLE, value: true },
        ],
      );
    } finally {
      raw.C_CloseSession(session);
    }
    const info = await token.getKey({ label: 'unsafe' });
    expect(info).toMatchObject({ extractable: true, sensitive: false, id: '0badc0de' });
    let thrown: unknown;
    try {
      token.checkKeySafety(info, false);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'ERR_KEY_UNSAFE' });
    expect((thrown as Error).message).toContain('"unsafe"');
    expect(token.checkKeySafety(info, true)).toHaveLength(2);
    expect(token.checkKeySafety(es256, false)).toEqual([]);
    await token.destroyKey({ label: 'unsafe' });
  });
});

describe('the official Cobo vector', () => {
  const seedHex = '0281d349927d3b4342129aa4d86bd0ed70163feb7b8d06fecc25c667974b6297';
  const pubHex = 'f06a7074b7892a39139b6317509f9d0e01ae234cf17fc7bfa9db3d5957f931be';
  const expected =
    '3f6b900e0b3d6d73baea6fb37ce564d47a51ffc3660facf1f421a5c05e3a9c15e281e197130647d5ad6a3192adf20ca9729ecd167181c07a74ae6ef958e0be09';
  const digest = createHash('sha256').update(createHash('sha256').update('000000', 'utf8').digest()).digest();

  it('means Ed25519 over SHA256(SHA256("000000")) (checked with node:crypto first)', () => {
    const key = createPrivateKey({
      key: Buffer.concat([
        Buffer.from('302e020100300506032b657004220420', 'hex'),
        Buffer.from(seedHex, 'hex'),
      ]),
      format: 'der',
      type: 'pkcs8',
    });
    expect(Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url').toString('hex')).toBe(
      pubHex,
    );
    expect(cryptoSign(null, digest, key).toString('hex')).toBe(expected);
  });

  it('the imported seed signs it to exactly the published signature', async () => {
    const info = await token.importKey({ label: 'cobo-vector', key: parseEd25519Seed(`${seedHex}\n`) });
    expect(info).toMatchObject({ alg: 'EdDSA', origin: 'imported', extractable: false, sensitive: true });
    expect(info.publicKey.hex).toBe(pubHex);
    const signature = await token.signer(info).sign(digest);
    expect(Buffer.from(signature).toString('hex')).toBe(expected);
  });
});

describe('concurrency through the pool', () => {
  it('1,000 concurrent mixed ES256/EdDSA signatures all verify', async () => {
    const messages = Array.from({ length: 1000 }, (_, i) =>
      Buffer.concat([Buffer.from(`msg-${i}-`), randomBytes(16)]),
    );
    const keys = messages.map((_, i) => (i % 2 === 0 ? es256 : eddsa));
    const signers = [token.signer(es256), token.signer(eddsa)];
    const signatures = await Promise.all(messages.map((m, i) => signers[i % 2]!.sign(m)));
    const failures = signatures.filter((sig, i) => !verifies(keys[i]!, messages[i]!, sig));
    expect(failures).toHaveLength(0);
    // EdDSA is deterministic: the same message signed twice gives the same bytes.
    expect(Buffer.from(await signers[1]!.sign(messages[1]!)).equals(Buffer.from(signatures[1]!))).toBe(true);
  });
});

describe('destroying keys', () => {
  it('removes the private and the public object', async () => {
    const info = await token.generateKey({ label: 'to-destroy', alg: 'ES256' });
    await token.destroyKey({ label: 'to-destroy' });
    await expect(token.getKey({ label: 'to-destroy' })).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
    const slot = slotOf(raw, testToken.label);
    const session = raw.C_OpenSession(slot, p11.CKF_SERIAL_SESSION);
    try {
      expect(findByLabel(raw, session, 'to-destroy', p11.CKO_PUBLIC_KEY)).toHaveLength(0);
      expect(findByLabel(raw, session, 'to-destroy', p11.CKO_PRIVATE_KEY)).toHaveLength(0);
    } finally {
      raw.C_CloseSession(session);
    }
    // A signer made before the key was destroyed fails cleanly.
    await expect(token.signer(info).sign(Buffer.from('x'))).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_FOUND',
    });
    await expect(token.destroyKey({ label: 'to-destroy' })).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_FOUND',
    });
  });
});
