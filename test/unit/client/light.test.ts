import { readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const IMPORT = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;

/** Every module a source file pulls in at run time, following relative imports. */
async function runtimeImports(entry: string): Promise<{ files: string[]; external: Set<string> }> {
  const seen = new Set<string>();
  const external = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = await readFile(file, 'utf8');
    for (const match of source.matchAll(IMPORT)) {
      if (/^\s*(import|export)\s+type\s/.test(match[0])) continue; // erased at compile time
      const specifier = match[1]!;
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else external.add(specifier);
    }
  }
  return { files: [...seen], external };
}

describe('signerd/client stays light', () => {
  it.each(['src/client/index.ts', 'src/cli/signer.ts'])('%s imports only node built-ins', async (entry) => {
    const { files, external } = await runtimeImports(resolve(root, entry));
    expect(files.length).toBeGreaterThan(1);
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    expect([...external].filter((m) => !builtins.has(m))).toEqual([]);
    // Nor any of the daemon's own modules.
    const daemonSide = files.filter((f) =>
      /src\/(api|hsm|config|policy|audit|keys)\/|src\/errors\.ts$/.test(f),
    );
    expect(daemonSide).toEqual([]);
  });
});
