/**
 * `signerd serve` as root: refused under systemd (INVOCATION_ID set) or with SIGNERD_REFUSE_ROOT=1,
 * unless --allow-root. Outside those it proceeds, deliberately (CI runs the daemon as root). The
 * refusal comes before the config is read, so a missing config tells the two paths apart.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { missing, SIGNERD_BIN } from './helpers.js';

const reason = missing('root refusal', { tools: ['setpriv'], files: [SIGNERD_BIN], root: true });
const REFUSED = /refusing to serve as root: run as the signerd user .*--allow-root/;
const NO_CONFIG = /cannot read config file .*no such file/;

describe.skipIf(reason !== undefined)('signerd serve as root', () => {
  const dir = mkdtempSync(join(tmpdir(), 'signerd-root-'));
  chmodSync(dir, 0o755); // the non-root run must be told "no such file", not "permission denied"
  const config = join(dir, 'absent.yaml');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs `signerd serve` with exactly these extra variables (none of the test runner's systemd ones). */
  function serve(env: Record<string, string>, args: string[] = [], asUid?: number) {
    const base: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env };
    const prefix =
      asUid === undefined ? [] : ['setpriv', `--reuid=${asUid}`, `--regid=${asUid}`, '--clear-groups'];
    const argv = [...prefix, process.execPath, SIGNERD_BIN, 'serve', '--config', config, ...args];
    const r = spawnSync(argv[0]!, argv.slice(1), { env: base, encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stderr: r.stderr, stdout: r.stdout };
  }

  it('under systemd (INVOCATION_ID set): exit 2, with a message naming the fix', () => {
    const r = serve({ INVOCATION_ID: '0123456789abcdef0123456789abcdef' });
    expect(r.stderr).toMatch(REFUSED);
    expect(r.stderr).not.toMatch(NO_CONFIG);
    expect(r.status).toBe(2);
  });

  it('with SIGNERD_REFUSE_ROOT=1: exit 2', () => {
    const r = serve({ SIGNERD_REFUSE_ROOT: '1' });
    expect(r.stderr).toMatch(REFUSED);
    expect(r.status).toBe(2);
  });

  it('--allow-root under systemd: gets past the check (then exit 1 on the missing config)', () => {
    const r = serve({ INVOCATION_ID: '0123456789abcdef0123456789abcdef' }, ['--allow-root']);
    expect(r.stderr).not.toMatch(REFUSED);
    expect(r.stderr).toMatch(NO_CONFIG);
    expect(r.status).toBe(1);
  });

  it('as root outside systemd, without SIGNERD_REFUSE_ROOT: proceeds (deliberate, for CI)', () => {
    const r = serve({});
    expect(r.stderr).not.toMatch(REFUSED);
    expect(r.stderr).toMatch(NO_CONFIG);
    expect(r.status).toBe(1);
  });

  it('a non-root user under systemd is not refused', () => {
    const r = serve(
      { INVOCATION_ID: '0123456789abcdef0123456789abcdef', SIGNERD_REFUSE_ROOT: '1' },
      [],
      65533,
    );
    expect(r.stderr).not.toMatch(REFUSED);
    expect(r.stderr).toMatch(NO_CONFIG);
    expect(r.status).toBe(1);
  });
});
