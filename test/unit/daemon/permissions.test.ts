/**
 * The daemon's file rule: config and PIN files writable by group or others are refused; files that
 * others can read are served with a warning (a first setup under the default umask still starts);
 * owner- and group-readable files pass silently.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSecretFilePermissions } from '../../../src/config/index.js';
import { checkFilePermissions } from '../../../src/daemon/permissions.js';
import { isSignerdError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';

const dir = mkdtempSync(join(tmpdir(), 'signerd-perm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileWithMode(mode: number): string {
  const path = join(dir, `file-${mode.toString(8)}`);
  writeFileSync(path, 'pin-or-config\n');
  chmodSync(path, mode); // explicit: the umask cannot interfere
  return path;
}

/** Runs the check with a logger that records what it logs; returns the error (if any) and the lines. */
async function check(path: string, what: 'config' | 'pin' = 'pin') {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  let error: unknown;
  try {
    await checkFilePermissions(path, what, createLogger('info', sink));
  } catch (err) {
    error = err;
  }
  return {
    error,
    logged: lines
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('checkFilePermissions (the daemon)', () => {
  it.each([0o600, 0o400, 0o640, 0o440])('%o: accepted without a word', async (mode) => {
    const { error, logged } = await check(fileWithMode(mode));
    expect(error).toBeUndefined();
    expect(logged).toEqual([]);
  });

  it.each([0o644, 0o604])(
    '%o (others may read): accepted, with a warning naming the file and the fix',
    async (mode) => {
      const path = fileWithMode(mode);
      const { error, logged } = await check(path);
      expect(error).toBeUndefined();
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ level: 40, path });
      expect(String(logged[0]!['msg'])).toMatch(/PIN file .* every user can read it.*chmod o-r/);
    },
  );

  it.each([
    [0o664, 'its group can write it'],
    [0o660, 'its group can write it'],
    [0o620, 'its group can write it'],
    [0o666, 'every user can write it'],
    [0o602, 'every user can write it'],
    [0o777, 'every user can write it'],
  ])('%o: refused with ERR_CONFIG (%s)', async (mode, why) => {
    const path = fileWithMode(mode);
    const { error, logged } = await check(path, 'config');
    expect(isSignerdError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_CONFIG' });
    expect((error as Error).message).toContain(`config file ${path} has mode`);
    expect((error as Error).message).toContain(why);
    expect(logged).toEqual([]);
  });

  it('a missing PIN file is a clear ERR_PIN_SOURCE naming it', async () => {
    const path = join(dir, 'does-not-exist');
    const { error } = await check(path);
    expect(error).toMatchObject({ code: 'ERR_PIN_SOURCE' });
    expect((error as Error).message).toContain(path);
  });

  it('the strict form (no callback) refuses world-readable files too', async () => {
    await expect(checkSecretFilePermissions(fileWithMode(0o644), 'pin')).rejects.toMatchObject({
      code: 'ERR_PIN_SOURCE',
    });
  });
});
