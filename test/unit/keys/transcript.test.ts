/** Ceremony transcripts without a token: build, sign with an in-memory Signer, serialize, verify. */
import { describe, expect, it } from 'vitest';
import { publicKeyForms } from '../../../src/keys/public-key.js';
import {
  buildTranscriptBody,
  canonicalBody,
  serializeTranscript,
  signTranscript,
  verifyTranscript,
} from '../../../src/keys/transcript.js';
import type { Alg, KeyInfo } from '../../../src/keys/types.js';
import { memorySigner } from '../../helpers/memory-signer.js';

function keyInfo(alg: Alg, hex: string): KeyInfo {
  return {
    label: 'k',
    id: '0a0b',
    alg,
    origin: 'imported',
    sensitive: true,
    extractable: false,
    alwaysSensitive: false,
    neverExtractable: false,
    publicKey: publicKeyForms(alg, Buffer.from(hex, 'hex')),
  };
}

async function make(alg: Alg) {
  const signer = memorySigner(alg);
  const body = buildTranscriptBody({
    action: 'import',
    source: 'cdp-key-file',
    cdpKeyName: 'organizations/o/apiKeys/k',
    key: keyInfo(alg, signer.publicKeyHex),
    token: { label: 'tok', serial: '1234' },
    operator: { uid: 1000, user: 'ops' },
    host: 'ceremony-host',
    version: '9.9.9',
    time: new Date('2025-01-02T03:04:05.678Z'),
  });
  return { signer, body, transcript: await signTranscript(body, signer) };
}

describe('transcript', () => {
  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`${alg}: the file form verifies, and the signer signed exactly the canonical body`, async () => {
      const { signer, body, transcript } = await make(alg);
      const text = serializeTranscript(transcript);
      expect(verifyTranscript(text)).toEqual(transcript);
      expect(text.endsWith('}\n')).toBe(true);
      expect(signer.calls).toBe(1);
      expect(transcript.proof.alg).toBe(alg);
      expect(Buffer.from(transcript.proof.signature, 'base64url')).toHaveLength(64);
      // Canonical: sorted keys, no whitespace, no proof.
      const canonical = new TextDecoder().decode(canonicalBody(body));
      expect(canonical.startsWith('{"action":"import","cdpKeyName":')).toBe(true);
      expect(canonical).not.toMatch(/\s|"proof"/);
      expect(body.time).toBe('2025-01-02T03:04:05.678Z');
    });
  }

  it('refuses a signer of the other algorithm', async () => {
    const { body } = await make('EdDSA');
    await expect(signTranscript(body, memorySigner('ES256'))).rejects.toMatchObject({
      code: 'ERR_TRANSCRIPT',
    });
  });

  it('refuses re-formatted, extended or inconsistent transcripts, naming why', async () => {
    const { transcript } = await make('EdDSA');
    const text = serializeTranscript(transcript);
    const cases: Array<[string, RegExp]> = [
      [JSON.stringify(transcript), /not byte for byte/],
      [text.replace('\n', '\r\n'), /not byte for byte/],
      [serializeTranscript({ ...transcript, extra: 1 } as typeof transcript), /unknown member "extra"/],
      [
        serializeTranscript({ ...transcript, proof: { ...transcript.proof, alg: 'ES256' } }),
        /proof.alg ES256 differs/,
      ],
      [serializeTranscript({ ...transcript, time: 'yesterday' }), /RFC 3339/],
      [
        serializeTranscript({ ...transcript, key: { ...transcript.key, thumbprint: 'x' } }),
        /thumbprint does not match/,
      ],
      [
        serializeTranscript({
          ...transcript,
          key: { ...transcript.key, publicKey: { ...transcript.key.publicKey, hex: '00' } },
        }),
        /hex does not match/,
      ],
      [serializeTranscript({ ...transcript, host: 'elsewhere' }), /proof of possession does not verify/],
      ['[]', /not a JSON object/],
    ];
    for (const [input, why] of cases) {
      expect(() => verifyTranscript(input), why.source).toThrow(why);
    }
  });
});
