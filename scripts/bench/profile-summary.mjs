#!/usr/bin/env node
/**
 * Top self-time functions of a V8 .cpuprofile (what `node --cpu-prof` writes), no GUI:
 *
 *   node scripts/bench/profile-summary.mjs FILE.cpuprofile [--top N]
 *
 * Self time per function (name + file:line), summed over every node of the call tree, as a share
 * of the sampled time; "(idle)" is the main thread waiting (for the thread pool, the socket, …).
 * Also a per-file and per-package rollup, to see which layer the time is in.
 */
import console from 'node:console';
import { readFileSync } from 'node:fs';
import process from 'node:process';

const file = process.argv[2];
if (!file) {
  console.error('usage: profile-summary.mjs FILE.cpuprofile [--top N]');
  process.exit(2);
}
const topIndex = process.argv.indexOf('--top');
const top = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 30;

const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfMicros = new Map();
// timeDeltas[i] is the time before sample i: attribute it to that sample's node.
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
let total = 0;
for (const v of selfMicros.values()) total += v;

const byFunction = new Map();
const byLayer = new Map();
for (const [id, micros] of selfMicros) {
  const { callFrame } = byId.get(id);
  const where = callFrame.url ? `${shorten(callFrame.url)}:${callFrame.lineNumber + 1}` : '';
  const name = `${callFrame.functionName || '(anonymous)'} ${where}`.trim();
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
  const layer = layerOf(callFrame);
  byLayer.set(layer, (byLayer.get(layer) ?? 0) + micros);
}

const pct = (v) => `${((v / total) * 100).toFixed(1)}%`;
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled\n`);
console.log('| self | function |\n|---:|---|');
for (const [name, micros] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`| ${pct(micros)} | ${name} |`);
}
console.log('\n| self | layer |\n|---:|---|');
for (const [layer, micros] of [...byLayer].sort((a, b) => b[1] - a[1])) {
  console.log(`| ${pct(micros)} | ${layer} |`);
}

function shorten(url) {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

function layerOf(callFrame) {
  const { url, functionName } = callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native / builtin)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return `npm: ${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0)
    return `signerd: ${url
      .slice(dist + 1)
      .split('/')
      .slice(0, 2)
      .join('/')}`;
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/')[0]}`;
  return url;
}
