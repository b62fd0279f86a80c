/** Shared by the packaging tests: the repository root, tool detection, and loud skips. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const SYSTEMD_DIR = join(ROOT, 'native-config/systemd');
export const SIGNERD_BIN = join(ROOT, 'dist/cli/signerd.js');
export const NATIVE_JS = join(ROOT, 'dist/native.js');
export const ADDON = join(ROOT, 'build/Release/signerd_native.node');

/** True when `cmd` is on PATH. */
export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

export const isRoot = process.getuid?.() === 0;

/**
 * The reason a suite cannot run here, printed as a warning so that a skip is never silent; undefined
 * when everything it needs is present. Use as `describe.skipIf(missing(...) !== undefined)`.
 */
export function missing(
  suite: string,
  needs: { tools?: string[]; files?: string[]; root?: boolean; also?: Array<[ok: boolean, what: string]> },
): string | undefined {
  const lacking = [
    ...(needs.tools ?? []).filter((t) => !have(t)).map((t) => `the ${t} command`),
    ...(needs.files ?? [])
      .filter((f) => !existsSync(f))
      .map((f) => `${f} (build with \`npm ci && npm run build\`)`),
    ...(needs.root && !isRoot ? ['root (to switch uids with setpriv)'] : []),
    ...(needs.also ?? []).filter(([ok]) => !ok).map(([, what]) => what),
  ];
  if (lacking.length === 0) return undefined;
  const reason = `SKIPPED ${suite}: needs ${lacking.join(', ')}`;
  console.warn(`\n*** ${reason} ***\n`);
  return reason;
}
