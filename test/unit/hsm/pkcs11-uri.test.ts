import { describe, expect, it } from 'vitest';
import { isPkcs11Uri, parsePkcs11Uri } from '../../../src/hsm/pkcs11-uri.js';

describe('parsePkcs11Uri (RFC 7512)', () => {
  it('reads path and query attributes', () => {
    expect(
      parsePkcs11Uri(
        'pkcs11:token=signerd;object=cdp-main;type=private;id=%01%02%ab?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin',
      ),
    ).toEqual({
      token: 'signerd',
      object: 'cdp-main',
      type: 'private',
      id: '0102ab',
      modulePath: '/usr/lib/softhsm/libsofthsm2.so',
      pinSource: 'file:/run/pin',
    });
  });

  it('percent-decodes values, including UTF-8 sequences and reserved characters', () => {
    expect(parsePkcs11Uri('pkcs11:token=My%20Token%3B%E2%82%AC;serial=DEADBEEF;object=a%2Fb')).toEqual({
      token: 'My Token;€',
      serial: 'DEADBEEF',
      object: 'a/b',
    });
  });

  it('RFC 7512 examples parse', () => {
    expect(parsePkcs11Uri('pkcs11:')).toEqual({});
    expect(parsePkcs11Uri('pkcs11:object=my-pubkey;type=public')).toEqual({
      object: 'my-pubkey',
      type: 'public',
    });
    expect(
      parsePkcs11Uri(
        'pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin',
      ),
    ).toEqual({ token: 'Software PKCS#11 softtoken', manufacturer: 'Snake Oil, Inc.', pinValue: 'the-pin' });
    expect(parsePkcs11Uri('pkcs11:slot-description=Sun%20Metaslot;library-version=1')).toEqual({});
    expect(parsePkcs11Uri('pkcs11:slot-id=3;x-vendor=1')).toEqual({ slotId: 3 });
    expect(parsePkcs11Uri('PKCS11:object=a')).toEqual({ object: 'a' });
  });

  it('rejects malformed URIs with ERR_CONFIG', () => {
    for (const bad of [
      'pkcs12:token=a',
      'token=a',
      'pkcs11:token=a;token=b',
      'pkcs11:object=%zz',
      'pkcs11:object=%4',
      'pkcs11:type=secret',
      'pkcs11:colour=red',
      'pkcs11:token',
      'pkcs11:token=a;;object=b',
      'pkcs11:object=%ff%fe',
      'pkcs11:?module-path=/x&module-path=/y',
      'pkcs11:?pin-sauce=x',
      'pkcs11:slot-id=abc',
    ]) {
      expect(() => parsePkcs11Uri(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
    }
  });

  it('does not repeat a PIN in its errors', () => {
    for (const uri of [
      'pkcs11:?pin-value=s3cret&pin-value=s3cret',
      'pkcs11:pin-value=s3cret',
      'pkcs11:?pin-value=%s3cret',
    ]) {
      let message = '';
      try {
        parsePkcs11Uri(uri);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^invalid pkcs11: URI/);
      expect(message).not.toContain('s3cret');
    }
  });

  it('isPkcs11Uri tells URIs from labels', () => {
    expect(isPkcs11Uri('pkcs11:object=a')).toBe(true);
    expect(isPkcs11Uri('cdp-main')).toBe(false);
  });
});
