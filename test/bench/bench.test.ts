/**
 * The benchmark must not rot: `scripts/bench/run.mjs --quick` (a few hundred credentials, all of them
 * verified by the load generator) runs end to end against the built daemon. Nothing here is timed:
 * only that it finishes, prints its table and writes JSON with nothing failed and nonzero rates.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'signerd-bench-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runQuickBench(out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(ROOT, 'scripts/bench/run.mjs'), '--quick', '--soak', '300', '--out', out],
      { cwd: ROOT, timeout: 85_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

describe('npm run bench -- --quick', () => {
  it(
    'runs, prints the table and writes JSON with every credential verified',
    { timeout: 90_000 },
    async () => {
      const out = join(dir, 'result.json');
      const { code, stdout, stderr } = await runQuickBench(out);
      expect(code, stderr).toBe(0);
      expect(stdout).toContain('| what | alg | concurrency | credentials/s |');
      expect(stdout).toContain(`JSON: ${out}`);

      const report = JSON.parse(readFileSync(out, 'utf8'));
      expect(report.machine.cpus).toBeGreaterThan(0);
      expect(report.machine.node).toBe(process.version);

      // 1. The limit.
      expect(report.limit.results.map((r: any) => `${r.alg} ${r.mode}`).sort()).toEqual([
        'ES256 async pool',
        'ES256 sync, 1 session',
        'EdDSA async pool',
        'EdDSA sync, 1 session',
      ]);
      for (const r of report.limit.results) expect(r.perSecond).toBeGreaterThan(0);

      // 2. End to end: three credentials × three concurrencies, every answer verified.
      expect(report.endToEnd).toHaveLength(9);
      for (const r of [...report.endToEnd, report.soak]) {
        expect(r.failed, JSON.stringify(r.failures)).toBe(0);
        expect(r.invalid, JSON.stringify(r.failures)).toBe(0);
        expect(r.verified).toBe(r.requests);
        expect(r.perSecond).toBeGreaterThan(0);
        expect(r.daemonCpuSecondsPer1000).toBeGreaterThanOrEqual(0);
        expect(r.daemonPeakRssMB).toBeGreaterThan(0);
      }
      expect(report.soak.requests).toBe(300);
      expect(report.soak.rss.samples.length).toBeGreaterThan(0);

      // 3. The alternatives.
      for (const j of report.alternatives.jose) {
        expect(j.verifiedSample).toBe(true);
        expect(j.perSecond).toBeGreaterThan(0);
      }
      expect(report.alternatives.pkcs11Tool.failed).toBe(0);
      expect(report.alternatives.pkcs11Tool.verified).toBe(report.alternatives.pkcs11Tool.signatures);
      expect(report.alternatives.pkcs11Tool.perSecond).toBeGreaterThan(0);

      // The ratios the issue asks for are all computed.
      expect(Object.keys(report.ratios).sort()).toEqual([
        'es256At64',
        'es256E2eAt10VsAsyncPool',
        'es256P99At10Ms',
        'signerdVsJoseInProcess',
        'signerdVsScriptRoute',
      ]);
    },
  );
});
