import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupGid, lookupUid, parseId } from '../../../src/config/users.js';
import type { UserDbPaths } from '../../../src/config/users.js';

let dir: string;
let paths: UserDbPaths;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'signerd-users-'));
  writeFileSync(
    join(dir, 'passwd'),
    [
      '# local users',
      'root:x:0:0:root:/root:/bin/bash',
      'alice:x:1000:1000:Alice:/home/alice:/bin/sh',
      'broken:x:notanumber:1::/:/bin/false',
      '+nis',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'group'), 'root:x:0:\nsignerd:x:990:alice,bob\nwheel:x:10:\n');
  paths = { passwd: join(dir, 'passwd'), group: join(dir, 'group') };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseId', () => {
  it('accepts valid ids only', () => {
    expect(parseId(0)).toBe(0);
    expect(parseId('1001')).toBe(1001);
    expect(parseId(4294967294)).toBe(4294967294);
    expect(parseId(4294967295)).toBeUndefined();
    expect(parseId(-1)).toBeUndefined();
    expect(parseId(1.5)).toBeUndefined();
    expect(parseId('1e3')).toBeUndefined();
    expect(parseId('')).toBeUndefined();
  });
});

describe('lookupUid / lookupGid', () => {
  it('resolves names from the files', () => {
    expect(lookupUid('alice', paths)).toBe(1000);
    expect(lookupUid('root', paths)).toBe(0);
    expect(lookupGid('signerd', paths)).toBe(990);
    expect(lookupGid('wheel', paths)).toBe(10);
  });

  it('passes numbers and numeric strings through without a lookup', () => {
    expect(lookupUid(4242, paths)).toBe(4242);
    expect(lookupGid('77', paths)).toBe(77);
  });

  it('answers undefined for unknown names, malformed entries and missing files', () => {
    expect(lookupUid('mallory', paths)).toBeUndefined();
    expect(lookupUid('broken', paths)).toBeUndefined();
    expect(lookupUid('# local users', paths)).toBeUndefined();
    expect(lookupUid('alice:x', paths)).toBeUndefined();
    expect(lookupGid('signerd', { group: join(dir, 'no-such-file') })).toBeUndefined();
    // a user name is not a group name
    expect(lookupGid('alice', paths)).toBeUndefined();
  });

  it('reads /etc/passwd by default', () => {
    expect(lookupUid('root')).toBe(0);
  });
});
