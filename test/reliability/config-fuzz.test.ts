/**
 * The config loader against hostile files, through loadConfig (the file path the daemon takes):
 * alias bombs, deep nesting, huge and binary files, random mutations of a valid config written to
 * disk. Only a Config or a clean ERR_CONFIG, each within a bounded time — never a crash or a hang.
 * (test/unit/config/fuzz.test.ts runs 1,500 in-memory parseConfig cases; these add the file path.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { mutatedYaml } from '../helpers/yaml-mutations.js';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { SignerdError } from '../../src/errors.js';
import { report } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'signerd-config-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VALID = `hsm:
  module: /usr/lib/softhsm/libsofthsm2.so
  token: signerd
  pin: { file: /run/credentials/signerd.service/hsm-pin }
  sessions: 4
socket: { path: /run/signerd/signerd.sock, mode: "0660" }
keys:
  cdp-main: { label: cdp-main, profile: cdp, cdp: { keyName: "organizations/ORG/apiKeys/KEY" } }
  cobo-prod: { label: cobo-prod, profile: cobo }
audit: { path: /var/lib/signerd/audit.jsonl }
log: { level: info }
`;

let n = 0;
async function outcome(content: string | Buffer): Promise<{ ok: boolean; ms: number }> {
  const path = join(dir, `c${++n}.yaml`);
  writeFileSync(path, content, { mode: 0o600 });
  const t0 = Date.now();
  try {
    await loadConfig(path);
    return { ok: true, ms: Date.now() - t0 };
  } catch (err) {
    expect(err).toBeInstanceOf(SignerdError);
    expect((err as SignerdError).code).toBe('ERR_CONFIG');
    expect((err as Error).message).not.toMatch(/\bat .*\.js:\d+/);
    return { ok: false, ms: Date.now() - t0 };
  } finally {
    rmSync(path, { force: true });
  }
}

describe('loadConfig on hostile files', () => {
  it('the valid base loads', async () => {
    expect((await outcome(VALID)).ok).toBe(true);
  });

  it('alias bombs, deep nesting, huge and binary files: clean ERR_CONFIG, bounded', async () => {
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      laughs.push(
        `${cur}: &${cur} [*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev}]`,
      );
    }
    const cases: Array<[string, string | Buffer]> = [
      ['billion laughs', `${laughs.join('\n')}\nhsm: *j\n`],
      ['alias bomb inside a valid config', `${VALID}x: &x [1,2,3]\ny: [*x,*x,*x]\n`],
      ['deep nesting', `${'['.repeat(5_000)}${']'.repeat(5_000)}`],
      ['deep mapping', `${Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n')} 1\n`],
      ['5 MiB of one line', 'a'.repeat(5 * 1024 * 1024)],
      ['binary', Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 131 + 7) % 256))],
      ['NUL bytes', `${VALID}\u0000\u0000`],
      ['BOM and CRLF', `\ufeff${VALID.replaceAll('\n', '\r\n')}`],
      ['duplicate keys', `${VALID}hsm: {}\n`],
      ['tags', `hsm: !!binary aGVsbG8=\n`],
      ['prototype keys', `__proto__: { polluted: 1 }\nconstructor: { prototype: { x: 1 } }\n`],
      ['empty', ''],
    ];
    const times: string[] = [];
    for (const [name, content] of cases) {
      const r = await outcome(content);
      times.push(`${name} ${r.ok ? 'ok' : 'ERR_CONFIG'} ${r.ms} ms`);
      expect(r.ms).toBeLessThan(15_000);
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    report(`config hostile files: ${times.join('; ')}`);
  }, 120_000);

  it('1,000 random mutations of the valid file: a Config or ERR_CONFIG', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(mutatedYaml(VALID, { maxRemove: 20, maxEdits: 6 }), async (text) => {
        if ((await outcome(text)).ok) accepted++;
      }),
      { numRuns: 1_000 },
    );
    report(`config mutations: 1000 mutated files, ${accepted} still valid, the rest clean ERR_CONFIG`);
  }, 120_000);
});
