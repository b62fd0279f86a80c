#!/usr/bin/env node
/**
 * Before/after, side by side on a noisy machine: two daemons (A and B) on one throwaway token,
 * both running for the whole measurement; the load generator alternates between them in short
 * slices (A B B A A B …), so drift in the machine's load hits both alike. Prints the medians and
 * the B/A ratios of rate, daemon CPU per 1,000 credentials (all threads, and the event-loop thread
 * alone), p50 and p99.
 *
 *   node scripts/bench/ab.mjs [--a-bin PATH] [--b-bin PATH] [--a-env K=V,…] [--b-env K=V,…]
 *        [--a-sessions N] [--b-sessions N] [--slices 10] [--slice-seconds 3]
 *        [--only cdp-es256] [--concurrency 10] [--json FILE]
 *
 * A build is a dist/cli/signerd.js (default: this checkout's); copy dist/ aside to compare builds.
 */
import console from 'node:console';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { runLoad, workloads } from './e2e.mjs';
import { killAll, prepareToken, startDaemon } from './harness.mjs';
import { round } from './proc.mjs';

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
function envOption(name) {
  const value = option(name);
  if (!value) return {};
  return Object.fromEntries(value.split(',').map((kv) => kv.split('=')));
}

const slices = Number(option('--slices', '10'));
const sliceMs = Number(option('--slice-seconds', '3')) * 1000;
const concurrency = Number(option('--concurrency', '10'));
const only = option('--only', 'cdp-es256');

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Removes the throwaway token dir; the guard calls it if the run gives up. */
let cleanup;

async function main() {
  const token = await prepareToken();
  cleanup = token.remove;
  const daemons = {};
  try {
    for (const side of ['a', 'b']) {
      const sessions = option(`--${side}-sessions`);
      daemons[side] = await startDaemon(token, {
        tag: side,
        env: envOption(`--${side}-env`),
        ...(option(`--${side}-bin`) ? { bin: option(`--${side}-bin`) } : {}),
        ...(sessions ? { sessions: Number(sessions) } : {}),
      });
    }
    const w = workloads(token.keys).find((x) => x.key === only);
    if (!w) throw new Error(`--only: no workload ${only}`);
    const results = { a: [], b: [] };
    const order = Array.from({ length: slices }, (_, i) =>
      i % 4 === 0 || i % 4 === 3 ? ['a', 'b'] : ['b', 'a'],
    ).flat();
    for (const side of order) {
      const r = await runLoad(daemons[side], {
        socket: daemons[side].socket,
        path: w.path,
        body: w.body,
        check: w.check,
        concurrency,
        durationMs: sliceMs,
        warmupMs: 300,
        verifyEvery: 10,
      });
      if (r.failed || r.invalid)
        throw new Error(`${side}: ${r.failed} failed, ${r.invalid} invalid: ${r.failures.join('; ')}`);
      results[side].push(r);
      process.stderr.write(
        `${side}: ${r.perSecond}/s cpu/1k ${r.daemonCpuSecondsPer1000} main/1k ${r.daemonMainThreadCpuSecondsPer1000} p99 ${r.latencyMs.p99}\n`,
      );
    }
    const summary = {};
    for (const side of ['a', 'b']) {
      const rs = results[side];
      summary[side] = {
        perSecond: median(rs.map((r) => r.perSecond)),
        cpuPer1000: median(rs.map((r) => r.daemonCpuSecondsPer1000)),
        mainPer1000: median(rs.map((r) => r.daemonMainThreadCpuSecondsPer1000)),
        p50: median(rs.map((r) => r.latencyMs.p50)),
        p99: median(rs.map((r) => r.latencyMs.p99)),
      };
    }
    const ratio = {};
    for (const k of Object.keys(summary.a)) ratio[k] = round(summary.b[k] / summary.a[k], 3);
    // Slices run in adjacent A/B pairs: the median of the pairs' ratios cancels slow drift best.
    const pick = {
      perSecond: (r) => r.perSecond,
      cpuPer1000: (r) => r.daemonCpuSecondsPer1000,
      mainPer1000: (r) => r.daemonMainThreadCpuSecondsPer1000,
      p50: (r) => r.latencyMs.p50,
      p99: (r) => r.latencyMs.p99,
    };
    const paired = {};
    for (const [k, f] of Object.entries(pick)) {
      paired[k] = round(median(results.a.map((a, i) => f(results.b[i]) / f(a))), 3);
    }
    const report = {
      workload: only,
      concurrency,
      slices,
      sliceMs,
      loadavg: loadavg(),
      summary,
      ratioBOverA: ratio,
      pairedRatioBOverA: paired,
    };
    console.log(JSON.stringify(report, null, 2));
    const json = option('--json');
    if (json) writeFileSync(json, JSON.stringify({ ...report, results }, null, 2));
  } finally {
    for (const d of Object.values(daemons)) await d.stop();
    token.remove();
  }
}

const guard = setTimeout(
  () => {
    console.error('ab: gave up');
    killAll();
    cleanup?.();
    process.exit(1);
  },
  slices * 2 * (sliceMs + 5_000) + 120_000,
);
guard.unref();
try {
  await main();
} catch (err) {
  console.error(`ab: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
} finally {
  clearTimeout(guard);
}
