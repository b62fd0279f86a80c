/** The logger redacts secrets by configuration, whatever a caller passes it. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';

function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger('info', sink), text: () => lines.join('') };
}

describe('logger redaction', () => {
  it('never writes a PIN, a JWT, a body, claims or an Authorization header', () => {
    const { logger, text } = capture();
    logger.info({ pin: 'pin-1234', hsm: { pin: 'pin-5678' } }, 'opening');
    logger.info({ jwt: 'eyJhbGciOi.secret.sig', result: { jwt: 'eyJ.nested.sig' } }, 'issued');
    logger.info({ body: '{"amount":"1"}', request: { body: 'raw-body', claims: { aud: 'x' } } }, 'request');
    logger.info({ req: { headers: { authorization: 'Bearer abc.def.ghi' } } }, 'incoming');
    logger.info(
      { headers: { Authorization: 'Bearer zzz', 'X-Wallet-Auth': 'eyJw', 'Biz-Api-Signature': 'beef' } },
      'out',
    );
    const out = text();
    for (const secret of [
      'pin-1234',
      'pin-5678',
      'eyJhbGciOi',
      'eyJ.nested',
      'amount',
      'raw-body',
      'Bearer abc',
      'Bearer zzz',
      'eyJw',
      'beef',
    ]) {
      expect(out).not.toContain(secret);
    }
    expect(out.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(10);
  });
});
