/**
 * disableCoreDumps() (called by `signerd serve` before it reads the PIN): after it, the process's
 * core-file limit is 0 (soft and hard, so it cannot be raised again) and it is not dumpable, so
 * the files under /proc/PID belong to root and another process of the same uid cannot read its
 * memory or environment. The process starts with core dumps allowed (prlimit), so the test sees the change.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDON, missing, NATIVE_JS } from './helpers.js';

const CHILD = join(import.meta.dirname, 'fixtures/core-dumps-child.mjs');
const UID = 65533;

const reason = missing('core-dump suppression', {
  tools: ['prlimit', 'setpriv'],
  files: [NATIVE_JS, ADDON],
  root: true,
});

describe.skipIf(reason !== undefined)('disableCoreDumps() on a live process', () => {
  let child: ChildProcess;
  let pid: number;
  let before: { limits: string; owner: number; peerRead: boolean };
  let after: { limits: string; owner: number; peerRead: boolean };

  function coreLimit(): string {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max core file size'));
    return (line ?? '').replace(/\s+/g, ' ').trim();
  }

  /** Can another process of the same uid read the child's environment (a ptrace-mode check)? */
  function sameUidCanRead(): boolean {
    const r = spawnSync('setpriv', [
      `--reuid=${UID}`,
      `--regid=${UID}`,
      '--clear-groups',
      'cat',
      `/proc/${pid}/environ`,
    ]);
    return r.status === 0;
  }

  function snapshot() {
    return { limits: coreLimit(), owner: statSync(`/proc/${pid}/environ`).uid, peerRead: sameUidCanRead() };
  }

  function waitForLine(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes(text)) {
          child.stdout!.off('data', onData);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`child exited (${code}) before "${text}"`)));
    });
  }

  beforeAll(async () => {
    child = spawn('prlimit', [
      '--core=unlimited:unlimited',
      'setpriv',
      `--reuid=${UID}`,
      `--regid=${UID}`,
      '--clear-groups',
      process.execPath,
      CHILD,
      NATIVE_JS,
    ]);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    await waitForLine('started').catch((err: Error) => {
      throw new Error(`${err.message}: ${stderr}`);
    });
    pid = child.pid!;
    before = snapshot();
    child.stdin!.write('go\n');
    await waitForLine('disabled');
    after = snapshot();
  });

  afterAll(() => {
    child?.kill('SIGTERM');
  });

  it('before: core dumps allowed, /proc/PID/environ owned by the process uid and readable by it', () => {
    expect(before.limits).toBe('Max core file size unlimited unlimited bytes');
    expect(before.owner).toBe(UID);
    expect(before.peerRead).toBe(true);
  });

  it('after: "Max core file size 0 0" in /proc/PID/limits', () => {
    console.info(`/proc/${pid}/limits after disableCoreDumps(): ${after.limits}`);
    expect(after.limits).toBe('Max core file size 0 0 bytes');
  });

  it('after: not dumpable - /proc/PID/environ is root-owned and the same uid cannot read it', () => {
    expect(after.owner).toBe(0);
    expect(after.peerRead).toBe(false);
  });
});
