import { describe, expect, it } from 'vitest';
import { checkKeySafety } from '../../../src/keys/safety.js';

const base = { label: 'cdp-main', id: '01', sensitive: true, extractable: false };

describe('checkKeySafety', () => {
  it('passes a sensitive, non-extractable key', () => {
    expect(checkKeySafety(base, false)).toEqual([]);
  });

  it('throws ERR_KEY_UNSAFE naming the key when extractable or not sensitive', () => {
    for (const unsafe of [{ extractable: true }, { sensitive: false }]) {
      expect(() => checkKeySafety({ ...base, ...unsafe }, false)).toThrow(
        expect.objectContaining({
          code: 'ERR_KEY_UNSAFE',
          message: expect.stringContaining('"cdp-main"') as string,
        }),
      );
    }
    expect(() => checkKeySafety({ ...base, label: '', extractable: true }, false)).toThrow(/id 01/);
  });

  it('returns the problems instead when the config allows it', () => {
    expect(checkKeySafety({ ...base, extractable: true, sensitive: false }, true)).toHaveLength(2);
  });
});
