/**
 * SECURITY.md backs its claims with tests by path (and sometimes by test title): every path it
 * names must exist, and every quoted title must still be in that file, so the references cannot
 * rot silently.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const text = readFileSync(join(ROOT, 'SECURITY.md'), 'utf8');
const flat = text.replace(/\s+/g, ' ');

const testPaths = [...new Set([...text.matchAll(/`(test\/[\w./-]+)`/g)].map((m) => m[1]!))];
const repoPaths = [
  ...new Set([...text.matchAll(/`((?:native-config|src|scripts)\/[\w./-]+|Dockerfile)`/g)].map((m) => m[1]!)),
];
/** `test/x.test.ts` ("title") or `test/x.test.ts`: "title" - the title as it stands in the test. */
const titled = [...flat.matchAll(/`(test\/[\w./-]+)`\s*(?:\(|:)\s*"([^"]+)"/g)].map((m) => ({
  path: m[1]!,
  title: m[2]!,
}));

/** Same words whatever the quote style or line wrapping. */
const normalise = (s: string) => s.replace(/[’‘]/g, "'").replace(/\s+/g, ' ');

describe('SECURITY.md references', () => {
  it('names the tests behind its claims (at least the e2e, integration, unit and packaging ones)', () => {
    for (const kind of ['test/e2e/', 'test/integration/', 'test/unit/', 'test/packaging/']) {
      expect(
        testPaths.some((p) => p.startsWith(kind)),
        kind,
      ).toBe(true);
    }
    expect(titled.length).toBeGreaterThan(0);
  });

  it.each(testPaths)('%s exists', (path) => {
    expect(existsSync(join(ROOT, path)), `SECURITY.md cites ${path}, which does not exist`).toBe(true);
  });

  it.each(repoPaths)('%s exists', (path) => {
    expect(existsSync(join(ROOT, path.replace(/\/$/, ''))), path).toBe(true);
  });

  it.each(titled)('$path still has a test titled "$title"', ({ path, title }) => {
    const source = normalise(readFileSync(join(ROOT, path), 'utf8'));
    expect(source, `${path} has no test titled "${title}"`).toContain(normalise(title));
  });

  it('tells reporters to use a private advisory, and invents no contact address', () => {
    expect(flat).toMatch(/private security advisory/);
    expect(text).not.toMatch(/[\w.+-]+@[\w-]+\.[\w.]+/);
  });
});
