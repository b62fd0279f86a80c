#!/usr/bin/env node
/**
 * signerd's benchmark, everything side by side in one run on one machine:
 *   1. the limit: pkcs11js signing on SoftHSM2 in-process (sync on one session; async through a pool),
 *      and beside it ES256 on a software TPM 2.0 through tpm2-pkcs11 (swtpm + tpm2-abrmd, started by
 *      ./tpm.mjs, the harness the tests use); skipped, loudly, when those packages are missing or with --quick;
 *   2. signerd end to end: CDP ES256 / CDP EdDSA JWTs and Cobo headers over the Unix socket at
 *      concurrency 1, 10 and 64, from a separate load-generator process that verifies what it gets;
 *   3. what a user would do instead: jose in-process with the key in memory; one pkcs11-tool per signature;
 *   4. with --soak N: N requests, the daemon's RSS sampled every second after warm-up.
 *
 *   npm run bench [-- --quick] [--duration S] [--soak N] [--sessions N] [--uv-threads N]
 *                 [--cpu-prof DIR] [--e2e-only] [--concurrency 1,10,64] [--only cdp-es256,cdp-eddsa,cobo]
 *                 [--out FILE]
 *
 * Prints a markdown table and writes every figure as JSON to bench/results/<timestamp>.json.
 * Creates its own throwaway SoftHSM2 token (and TPM) and daemon, and removes them; bounded in time.
 */
import { execFileSync } from 'node:child_process';
import console from 'node:console';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { joseRate, pkcs11ToolRate } from './alternatives.mjs';
import { PIN, ROOT, TOKEN_LABEL, getJson, killAll, prepareToken, sleep, startDaemon } from './harness.mjs';
import { CDP_URI, runLoad, workloads } from './e2e.mjs';
import { memory, round } from './proc.mjs';
import { runTokenBench } from './token.mjs';
import { TPM_ENV, startTpmToken, tpmMissing } from './tpm.mjs';

// ---- options --------------------------------------------------------------------------------

function option(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
function numberOption(name, fallback) {
  const v = option(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} wants a positive number, not ${v}`);
  return n;
}

const quick = process.argv.includes('--quick');
const e2eOnly = process.argv.includes('--e2e-only');
const durationMs = numberOption('--duration', 5) * 1000;
const soak = option('--soak') === undefined ? undefined : numberOption('--soak', 0);
const sessions = numberOption('--sessions', undefined);
const uvThreads = numberOption('--uv-threads', undefined);
const cpuProfDir = option('--cpu-prof');
const concurrencies = (option('--concurrency') ?? '1,10,64').split(',').map(Number);
const only = option('--only')?.split(',');
const cores = availableParallelism();

/** Per e2e cell: a fixed count with --quick, a fixed time otherwise. */
const cell = quick
  ? { count: 60, warmupMs: 0, verifyEvery: 1 }
  : { durationMs, warmupMs: 1_000, verifyEvery: 10 };

// ---- the parts ------------------------------------------------------------------------------

function machine() {
  let softhsm = 'unknown';
  try {
    softhsm = execFileSync('softhsm2-util', ['--version'], { encoding: 'utf8', timeout: 5_000 }).trim();
  } catch {
    // reported as unknown
  }
  return {
    cpus: cores,
    model: cpus()[0]?.model ?? 'unknown',
    memoryGB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    softhsm,
    platform: `${process.platform} ${process.arch}`,
    loadavgStart: loadavg().map((v) => round(v, 2)),
  };
}

/** How the daemon is started: thread pool size, CPU profile. */
function daemonOptions(tag) {
  const env = {};
  const nodeArgs = [];
  if (uvThreads !== undefined) env.UV_THREADPOOL_SIZE = String(uvThreads);
  if (cpuProfDir !== undefined) {
    mkdirSync(cpuProfDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`);
  }
  return { tag, env, nodeArgs, ...(sessions === undefined ? {} : { sessions }) };
}

async function endToEnd(token, keys) {
  const daemon = await startDaemon(token, daemonOptions('e2e'));
  const rows = [];
  try {
    const keyList = await getJson(daemon.socket, '/v1/keys');
    if (keyList.status !== 200) throw new Error(`GET /v1/keys answered ${keyList.status}`);
    for (const w of workloads(keys).filter((x) => !only || only.includes(x.key))) {
      const served = keyList.json.keys.find((k) => w.path.includes(`/${k.name}/`));
      if (
        !served ||
        JSON.stringify(served.publicKey.jwk) !== JSON.stringify(keys[served.name].publicKey.jwk)
      ) {
        throw new Error(`the daemon's public key for ${w.path} is not the one generated`);
      }
      for (const concurrency of concurrencies) {
        const result = await runLoad(daemon, {
          socket: daemon.socket,
          path: w.path,
          body: w.body,
          check: w.check,
          concurrency,
          ...cell,
        });
        rows.push({ credential: w.name, alg: w.alg, concurrency, ...result });
        process.stderr.write(
          `bench: ${w.name} ${w.alg} @${concurrency}: ${result.perSecond}/s p99 ${result.latencyMs.p99} ms\n`,
        );
      }
    }
  } finally {
    const code = await daemon.stop();
    if (code !== 0)
      process.stderr.write(`bench: daemon exited with ${code}\n${daemon.output().slice(-2000)}\n`);
  }
  return rows;
}

async function soakRun(token, keys, n) {
  const daemon = await startDaemon(token, daemonOptions('soak'));
  const samples = [];
  let timer;
  let t0 = 0;
  const sample = () => {
    try {
      samples.push({ t: round((Date.now() - t0) / 1000, 1), rssMB: memory(daemon.pid).rssMB });
    } catch {
      // the daemon is gone: the load generator will say so
    }
  };
  try {
    const w = workloads(keys)[0];
    const result = await runLoad(daemon, {
      socket: daemon.socket,
      path: w.path,
      body: w.body,
      check: w.check,
      concurrency: 10,
      count: n,
      warmupMs: quick ? 200 : 5_000,
      verifyEvery: quick ? 1 : 10,
      onMeasuring: () => {
        t0 = Date.now();
        sample();
        const tick = () => {
          sample();
          timer = setTimeout(tick, 1_000);
        };
        timer = setTimeout(tick, 1_000);
      },
    });
    clearTimeout(timer);
    sample();
    const first = samples[0]?.rssMB ?? NaN;
    const last = samples[samples.length - 1]?.rssMB ?? NaN;
    const max = Math.max(...samples.map((s) => s.rssMB));
    // The first tenth of the run still grows the heap to its working size: a second baseline.
    const tenth = samples[Math.floor(samples.length / 10)]?.rssMB ?? first;
    return {
      credential: `${w.name} ${w.alg}`,
      concurrency: 10,
      ...result,
      rss: {
        afterWarmupMB: first,
        at10PercentMB: tenth,
        lastMB: last,
        maxMB: max,
        growthPercent: round(((last - first) / first) * 100, 1),
        growthAfter10PercentPercent: round(((last - tenth) / tenth) * 100, 1),
        samples: downsample(samples, 400),
      },
      oneMillionWouldTakeMinutes: round(1e6 / result.perSecond / 60, 1),
    };
  } finally {
    clearTimeout(timer);
    await daemon.stop();
  }
}

function downsample(items, max) {
  if (items.length <= max) return items;
  const step = items.length / max;
  return Array.from({ length: max }, (_, i) => items[Math.floor(i * step)]);
}

/**
 * The TPM's in-process ES256 sign rate (the TPM has no Ed25519), on a throwaway swtpm token: sync on
 * one session, and the async pool with 2 sessions (swtpm runs one command at a time). Bounded: about
 * 3 s per mode, plus start-up and key generation. Returns { skipped } when it cannot run here.
 */
async function tpmLimit() {
  if (quick) return { skipped: '--quick (run without it for the TPM row)' };
  const missing = tpmMissing();
  if (missing) return { skipped: missing };
  const saved = Object.fromEntries(TPM_ENV.map((name) => [name, process.env[name]]));
  const tpm = await startTpmToken({ label: 'signerd-bench-tpm', pin: 'bench-tpm-pin-1234' });
  tpmCleanup = () => rmSync(tpm.dir, { recursive: true, force: true });
  try {
    tpm.use();
    const report = await runTokenBench({
      token: { module: tpm.module, label: tpm.label, pin: tpm.pin },
      durationMs: 3_000,
      sessions: 2,
      concurrency: 4,
    });
    return { ...report, results: report.results.filter((r) => r.alg === 'ES256') };
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await tpm.remove();
    tpmCleanup = undefined;
  }
}

// ---- report ---------------------------------------------------------------------------------

/**
 * The limit is measured before and after the end-to-end runs (the machine's load drifts); the
 * higher of the two is the limit, which makes every ratio against it conservative.
 */
function bestLimit(report, alg, mode) {
  const runs = [report.limit, report.limitAfter]
    .map((l) => l?.results.find((r) => r.alg === alg && r.mode === mode))
    .filter(Boolean);
  if (runs.length === 0) return undefined;
  return {
    ...runs.reduce((a, b) => (b.perSecond > a.perSecond ? b : a)),
    runs: runs.map((r) => r.perSecond),
  };
}

function ratios(report) {
  const e2e = (alg, c, credential = 'CDP JWT') =>
    report.endToEnd.find((r) => r.alg === alg && r.concurrency === c && r.credential === credential);
  const limit = bestLimit(report, 'ES256', 'async pool');
  const es10 = e2e('ES256', 10);
  const es1 = e2e('ES256', 1);
  const es64 = e2e('ES256', 64);
  const script = report.alternatives?.pkcs11Tool;
  const jose1 = report.alternatives?.jose.find((j) => j.alg === 'ES256' && j.concurrency === 1);
  const jose10 = report.alternatives?.jose.find((j) => j.alg === 'ES256' && j.concurrency === 10);
  const out = {};
  const ratio = (a, b) => (a && b ? round(a / b, 3) : null);
  if (es10 && limit) {
    out.es256E2eAt10VsAsyncPool = { value: ratio(es10.perSecond, limit.perSecond), target: '>= 0.5' };
  }
  if (es10) out.es256P99At10Ms = { value: es10.latencyMs.p99, target: '<= 3 ms' };
  if (es64 && es10) {
    out.es256At64 = {
      p99Ms: es64.latencyMs.p99,
      p999Ms: es64.latencyMs.p999,
      p99OverP50: ratio(es64.latencyMs.p99, es64.latencyMs.p50),
      rateVsAt10: ratio(es64.perSecond, es10.perSecond),
      target: 'no cliff: rate holds (>= 0.9 of @10), p99 near 64 / rate',
      littleLawMeanMs: round((64 / es64.perSecond) * 1000, 2),
    };
  }
  if (script && es1) {
    out.signerdVsScriptRoute = {
      at1: ratio(es1.perSecond, script.perSecond),
      at10: es10 ? ratio(es10.perSecond, script.perSecond) : null,
      target: '>= 100x',
    };
  }
  if (jose1 && es1) {
    out.signerdVsJoseInProcess = {
      at1: ratio(es1.perSecond, jose1.perSecond),
      at10: es10 && jose10 ? ratio(es10.perSecond, jose10.perSecond) : null,
      target: 'report only',
    };
  }
  const tpmRow = (mode) => report.limitTpm?.results?.find((r) => r.alg === 'ES256' && r.mode === mode);
  const softSync = bestLimit(report, 'ES256', 'sync, 1 session');
  if (tpmRow('sync, 1 session') || tpmRow('async pool')) {
    out.softhsmVsTpm = {
      es256Sync: ratio(softSync?.perSecond, tpmRow('sync, 1 session')?.perSecond),
      es256AsyncPool: ratio(limit?.perSecond, tpmRow('async pool')?.perSecond),
      target: 'report only',
    };
  }
  return out;
}

function markdown(report) {
  const m = report.machine;
  const lines = [
    `signerd bench — ${m.cpus} × ${m.model}, ${m.memoryGB} GB, node ${m.node}, ${m.softhsm.split('\n')[0] ? `SoftHSM ${m.softhsm.split('\n')[0]}` : ''}, load average ${m.loadavgStart.join(' ')} at start, ${m.loadavgEnd?.join(' ')} at end`,
    `daemon: hsm.sessions ${report.settings.sessions ?? 'default (4)'}, UV_THREADPOOL_SIZE ${report.settings.uvThreads ?? 'daemon default'}; ${quick ? '--quick (counts, not timed: rates are not meaningful)' : `${durationMs / 1000} s per cell after 1 s warm-up`}`,
    '',
    '| what | alg | concurrency | credentials/s | p50 ms | p99 ms | p99.9 ms | daemon CPU s / 1k | daemon peak RSS MB | verified / failed / invalid |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of report.limit?.results ?? []) {
    const best = bestLimit(report, r.alg, r.mode);
    lines.push(
      `| limit: pkcs11js ${r.mode} (best of ${best.runs.join(' / ')}, before / after) | ${r.alg} | ${r.concurrency} | ${best.perSecond} | | | | | | |`,
    );
  }
  for (const r of report.limitTpm?.results ?? []) {
    lines.push(
      `| limit: pkcs11js ${r.mode} on TPM 2.0 (swtpm, tpm2-abrmd, tpm2-pkcs11; ${r.sessions} session${r.sessions === 1 ? '' : 's'}) | ${r.alg} | ${r.concurrency} | ${r.perSecond} | | | | | | |`,
    );
  }
  for (const r of report.endToEnd) {
    lines.push(
      `| signerd ${r.credential} | ${r.alg} | ${r.concurrency} | ${r.perSecond} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${r.latencyMs.p999} | ${r.daemonCpuSecondsPer1000} | ${r.daemonPeakRssMB} | ${r.verified} / ${r.failed} / ${r.invalid} (1 in ${r.verifyEvery} verified) |`,
    );
  }
  for (const j of report.alternatives?.jose ?? []) {
    lines.push(
      `| jose in-process, key in memory | ${j.alg} | ${j.concurrency} | ${j.perSecond} | | | | | | sample ${j.verifiedSample ? 'verifies' : 'DOES NOT VERIFY'} |`,
    );
  }
  const s = report.alternatives?.pkcs11Tool;
  if (s) {
    lines.push(
      `| pkcs11-tool per signature (PIN on the command line) | ES256 | 1 | ${s.perSecond} | ${s.msPerSignature} (mean) | | | | | ${s.verified} / ${s.failed} / 0 |`,
    );
  }
  if (report.soak) {
    const k = report.soak;
    lines.push(
      '',
      `Soak: ${k.requests} × ${k.credential} @${k.concurrency}: ${k.perSecond}/s, p99 ${k.latencyMs.p99} ms, verified/failed/invalid ${k.verified}/${k.failed}/${k.invalid}; ` +
        `RSS after warm-up ${k.rss.afterWarmupMB} MB, at 10 % ${k.rss.at10PercentMB} MB, last ${k.rss.lastMB} MB, max ${k.rss.maxMB} MB ` +
        `(growth ${k.rss.growthPercent} % from warm-up, ${k.rss.growthAfter10PercentPercent} % from 10 %); 1,000,000 would take ~${k.oneMillionWouldTakeMinutes} min`,
    );
  }
  if (report.limitTpm?.skipped) lines.push('', `TPM row SKIPPED: ${report.limitTpm.skipped}`);
  lines.push('', 'Ratios:');
  for (const [name, value] of Object.entries(report.ratios))
    lines.push(`- ${name}: ${JSON.stringify(value)}`);
  return lines.join('\n');
}

/** Remove the throwaway token dirs; the guard calls them if the bench gives up. */
let cleanup;
let tpmCleanup;

// ---- main -----------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const report = {
    bench: 'signerd',
    version: 1,
    startedAt: new Date(started).toISOString(),
    machine: machine(),
    settings: {
      quick,
      durationMs: quick ? null : durationMs,
      sessions: sessions ?? null,
      uvThreads: uvThreads ?? null,
      concurrencies,
      cell,
    },
  };

  const limitOptions = {
    ...(quick ? { count: 200 } : { durationMs: 3_000 }),
    sessions: cores,
    concurrency: 2 * cores,
  };
  if (!e2eOnly) {
    process.stderr.write('bench: the limit (pkcs11js on SoftHSM, in-process)\n');
    report.limit = await runTokenBench(limitOptions);
    process.stderr.write('bench: the limit on a TPM 2.0 (pkcs11js on tpm2-pkcs11, in-process)\n');
    report.limitTpm = await tpmLimit().catch((err) => ({
      skipped: `the TPM run failed: ${String(err instanceof Error ? err.message : err).split('\n')[0]}`,
      error: err instanceof Error ? err.message : String(err),
    }));
    if (report.limitTpm.skipped) {
      process.stderr.write(`bench: *** TPM ROW SKIPPED: ${report.limitTpm.skipped} ***\n`);
    }
  }

  const token = await prepareToken();
  cleanup = token.remove;
  try {
    process.stderr.write('bench: signerd end to end\n');
    report.endToEnd = await endToEnd(token, token.keys);

    if (!e2eOnly) {
      process.stderr.write('bench: the limit again\n');
      report.limitAfter = await runTokenBench(limitOptions);
      process.stderr.write('bench: what a user would do instead\n');
      const jose = [];
      for (const alg of ['ES256', 'EdDSA']) {
        for (const concurrency of [1, 10]) {
          jose.push(
            await joseRate({
              alg,
              concurrency,
              durationMs: quick ? 200 : 2_000,
              keyName: 'organizations/bench/apiKeys/jose',
              uri: CDP_URI,
            }),
          );
        }
      }
      const pkcs11Tool = pkcs11ToolRate({
        token,
        key: token.keys['cdp-es256'],
        count: quick ? 5 : 50,
        label: TOKEN_LABEL,
        pin: PIN,
      });
      report.alternatives = { jose, pkcs11Tool };
    }

    if (soak !== undefined) {
      process.stderr.write(`bench: soak, ${soak} requests\n`);
      report.soak = await soakRun(token, token.keys, soak);
    }
  } finally {
    token.remove();
  }

  report.machine.loadavgEnd = loadavg().map((v) => round(v, 2));
  report.seconds = round((Date.now() - started) / 1000, 1);
  report.ratios = ratios(report);

  const out =
    option('--out') ?? join(ROOT, 'bench', 'results', `${report.startedAt.replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  console.log(markdown(report));
  console.log(`\nJSON: ${out}`);
}

// Everything is bounded: if something hangs, the guard kills what the bench started and cleans up.
const guardMs = (quick ? 5 : 20) * 60_000 + (soak ?? 0) * 5;
const guard = setTimeout(() => {
  console.error(`bench: gave up after ${guardMs / 1000} s`);
  killAll();
  cleanup?.();
  tpmCleanup?.();
  process.exit(1);
}, guardMs);
guard.unref();

try {
  await main();
} catch (err) {
  console.error(`bench: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
} finally {
  clearTimeout(guard);
}
await sleep(0);
