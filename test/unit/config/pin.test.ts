import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSecretFilePermissions, readPin } from '../../../src/config/pin.js';
import { SignerdError } from '../../../src/errors.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'signerd-pin-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pinFile(name: string, content: string | Buffer, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

async function pinError(promise: Promise<unknown>): Promise<SignerdError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SignerdError);
  return err as SignerdError;
}

describe('readPin from a file', () => {
  it('returns the content as is', async () => {
    expect(await readPin({ file: pinFile('plain', '1234-abcd') })).toBe('1234-abcd');
  });

  it('strips one trailing newline (\\n or \\r\\n), and only one', async () => {
    expect(await readPin({ file: pinFile('nl', '1234\n') })).toBe('1234');
    expect(await readPin({ file: pinFile('crlf', '1234\r\n') })).toBe('1234');
    expect(await readPin({ file: pinFile('two', '1234\n\n') })).toBe('1234\n');
    expect(await readPin({ file: pinFile('spaces', ' 12 34 \n') })).toBe(' 12 34 ');
  });

  it('refuses an empty file, and a file holding only a newline', async () => {
    for (const [name, content] of [
      ['empty', ''],
      ['only-nl', '\n'],
      ['only-crlf', '\r\n'],
    ] as const) {
      const path = pinFile(name, content);
      const err = await pinError(readPin({ file: path }));
      expect(err.code).toBe('ERR_PIN_SOURCE');
      expect(err.message).toBe(`PIN file ${path} is empty`);
    }
  });

  it('names a missing file', async () => {
    const path = join(dir, 'missing');
    const err = await pinError(readPin({ file: path }));
    expect(err.code).toBe('ERR_PIN_SOURCE');
    expect(err.message).toBe(`cannot read PIN file ${path}: no such file`);
  });

  it('names an unreadable file without its content', async () => {
    if (process.getuid?.() === 0) return; // root reads anything: nothing to test
    const path = pinFile('unreadable', 'secret-pin-value', 0o000);
    const err = await pinError(readPin({ file: path }));
    expect(err.code).toBe('ERR_PIN_SOURCE');
    expect(err.message).toBe(`cannot read PIN file ${path}: permission denied`);
    expect(err.message).not.toContain('secret-pin-value');
  });

  it('refuses a directory and an oversized file', async () => {
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    expect((await pinError(readPin({ file: sub }))).message).toMatch(/not a regular file|is a directory/);
    const big = pinFile('big', Buffer.alloc(5000, 0x31));
    const err = await pinError(readPin({ file: big }));
    expect(err.code).toBe('ERR_PIN_SOURCE');
    expect(err.message).toMatch(/larger than 4096 bytes/);
    expect(err.message).not.toContain('1111');
  });
});

describe('readPin from the environment', () => {
  it('returns the variable', async () => {
    expect(await readPin({ env: 'SIGNERD_PIN' }, { SIGNERD_PIN: '9876' })).toBe('9876');
  });

  it('refuses an unset or empty variable, naming it', async () => {
    const unset = await pinError(readPin({ env: 'SIGNERD_PIN' }, {}));
    expect(unset.code).toBe('ERR_PIN_SOURCE');
    expect(unset.message).toBe('PIN variable $SIGNERD_PIN is not set');
    const empty = await pinError(readPin({ env: 'SIGNERD_PIN' }, { SIGNERD_PIN: '' }));
    expect(empty.message).toBe('PIN variable $SIGNERD_PIN is empty');
  });

  it('reads process.env by default', async () => {
    process.env.SIGNERD_TEST_PIN_VAR = 'from-process';
    try {
      expect(await readPin({ env: 'SIGNERD_TEST_PIN_VAR' })).toBe('from-process');
    } finally {
      delete process.env.SIGNERD_TEST_PIN_VAR;
    }
  });
});

describe('checkSecretFilePermissions', () => {
  it.each([0o600, 0o640, 0o400, 0o440, 0o660 & ~0o020])('accepts mode %o', async (mode) => {
    await expect(
      checkSecretFilePermissions(pinFile(`ok-${mode}`, 'x', mode), 'pin'),
    ).resolves.toBeUndefined();
  });

  it.each([
    [0o644, 'every user can read it'],
    [0o604, 'every user can read it'],
    [0o620, 'its group can write it'],
    [0o602, 'every user can write it'],
    [0o666, 'every user can write it and every user can read it'],
  ])('refuses mode %o (%s)', async (mode, why) => {
    const path = pinFile(`bad-${mode}`, 'x', mode);
    const pin = await pinError(checkSecretFilePermissions(path, 'pin'));
    expect(pin.code).toBe('ERR_PIN_SOURCE');
    expect(pin.message).toContain(`PIN file ${path} has mode ${mode.toString(8).padStart(4, '0')}: ${why}`);
    const config = await pinError(checkSecretFilePermissions(path, 'config'));
    expect(config.code).toBe('ERR_CONFIG');
    expect(config.message).toMatch(/^config file /);
  });

  it('reports a missing file with the right code', async () => {
    const err = await pinError(checkSecretFilePermissions(join(dir, 'nope'), 'config'));
    expect(err.code).toBe('ERR_CONFIG');
    expect(err.message).toMatch(/no such file/);
  });
});
