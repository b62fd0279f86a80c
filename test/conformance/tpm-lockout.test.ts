/**
 * tpm2-pkcs11 quirk (src/hsm/quirks.ts, pinLockedAdvice): wrong PINs are strikes on the TPM's
 * dictionary-attack counter; a few put the whole TPM in lockout, where the right PIN fails too.
 * On its own throwaway TPM, since the lockout outlives the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openToken } from '../../src/hsm/token.js';
import { startTpmToken, tpmUnavailableReason, type TpmTestToken } from '../helpers/tpm.js';
import { SETUP_TIMEOUT_MS } from './providers.js';

const reason = tpmUnavailableReason();
if (reason) console.warn(`[conformance] TPM dictionary-attack lockout: SKIPPED — ${reason}`);

describe.skipIf(reason !== undefined)(
  `TPM dictionary-attack lockout${reason ? ` (SKIPPED: ${reason})` : ''}`,
  () => {
    let tpm: TpmTestToken;

    beforeAll(async () => {
      tpm = await startTpmToken({ label: 'lockout' });
      tpm.use();
    }, SETUP_TIMEOUT_MS);

    afterAll(async () => {
      await tpm?.remove();
    }, SETUP_TIMEOUT_MS);

    it('wrong PINs lock the TPM; signerd says it is the TPM lockout, not an SO reset', async () => {
      const open = (pin: string) =>
        openToken({ module: tpm.module, token: { label: tpm.label }, pin, sessions: 1 }).then(
          (token) => token.close().then(() => undefined),
          (err: unknown) => err,
        );
      const codes: unknown[] = [];
      let locked: unknown;
      for (let attempt = 0; attempt < 6 && !locked; attempt++) {
        const err = await open(`wrong-${attempt}`);
        codes.push((err as { code?: string } | undefined)?.code);
        if ((err as { code?: string } | undefined)?.code === 'ERR_PIN_LOCKED') locked = err;
      }
      expect(codes[0]).toBe('ERR_PIN_INCORRECT');
      expect(locked).toBeDefined();
      expect((locked as Error).message).toContain('dictionary-attack lockout');
      expect((locked as Error).message).not.toMatch(/security officer|CKR_/);
      // The right PIN does not get in either while the TPM is locked out.
      expect(await open(tpm.pin)).toMatchObject({ code: 'ERR_PIN_LOCKED' });
    });
  },
);
