/**
 * Too many connections, slow clients and oversize headers: the daemon stays bounded and keeps
 * serving a normal client meanwhile. The normal client runs in its own process (request-as.mjs),
 * as a real neighbour of the flood would.
 */
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';
import { PROFILE_KEYS, report, sleep } from './helpers.js';

let daemon: TestDaemon;
const open = new Set<Socket>();

beforeAll(async () => {
  daemon = await startDaemon({ keys: PROFILE_KEYS });
}, 60_000);

afterAll(async () => {
  for (const s of open) s.destroy();
  await daemon?.stop();
  daemon?.token.remove();
});

/** A credential request from a separate process; resolves with its status and how long it took. */
function normalClient(timeoutMs = 20_000): Promise<{ status: number; ms: number }> {
  const script = `
    const http = require('node:http');
    const body = JSON.stringify({ method: 'GET', url: 'https://api.coinbase.com/api/v3/brokerage/accounts' });
    const req = http.request({ socketPath: process.argv[1], method: 'POST', path: '/v1/keys/cdp-es/jwt',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, agent: false },
      (res) => { res.resume(); res.on('end', () => { process.stdout.write(String(res.statusCode)); }); });
    req.on('error', (e) => { process.stdout.write('0 ' + e.code); });
    req.end(body);`;
  const t0 = Date.now();
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      ['-e', script, daemon.socket],
      { timeout: timeoutMs, cwd: ROOT },
      (_err, stdout) => {
        resolvePromise({ status: Number(String(stdout).split(' ')[0] || 0), ms: Date.now() - t0 });
      },
    );
  });
}

/** Opens a raw connection to the daemon; resolves once connected (or failed). */
function rawConnection(): Promise<Socket | null> {
  return new Promise((resolvePromise) => {
    const s = connect(daemon.socket);
    s.once('connect', () => {
      open.add(s);
      s.once('close', () => open.delete(s));
      resolvePromise(s);
    });
    s.once('error', () => resolvePromise(null));
    s.on('error', () => undefined);
  });
}

function closedWithin(s: Socket, ms: number): Promise<number | null> {
  const t0 = Date.now();
  return new Promise((resolvePromise) => {
    if (s.destroyed) return resolvePromise(0);
    const timer = setTimeout(() => resolvePromise(null), ms);
    s.once('close', () => {
      clearTimeout(timer);
      resolvePromise(Date.now() - t0);
    });
  });
}

describe('connection floods', () => {
  it('2,000 idle connections: bounded, and a normal client is served meanwhile', async () => {
    const sockets: Socket[] = [];
    for (let i = 0; i < 2_000; i++) {
      const s = await rawConnection();
      if (s) sockets.push(s);
    }
    await sleep(300);
    const stillOpen = () => sockets.filter((s) => !s.destroyed).length;
    const heldBefore = stillOpen();
    let normal;
    let heldAfter;
    try {
      normal = await normalClient();
      heldAfter = stillOpen();
    } finally {
      for (const s of sockets) s.destroy();
    }
    report(
      `2,000 idle connections: ${sockets.length} connected, ${heldBefore} still open before a normal request ` +
        `(the daemon caps at 1024 and sheds idle ones under pressure); normal client got ${normal.status} in ${normal.ms} ms; ` +
        `${heldAfter} idle still open after`,
    );
    expect(normal.status).toBe(200);
    expect(heldBefore).toBeLessThanOrEqual(1024);
    expect((await daemon.request('GET', '/v1/health')).status).toBe(200);
  }, 120_000);

  it('slowloris: headers trickled byte by byte are cut off, others are served meanwhile', async () => {
    const slow: Socket[] = [];
    for (let i = 0; i < 50; i++) {
      const s = await rawConnection();
      if (s) slow.push(s);
    }
    const request = 'GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(1_000);
    let at = 0;
    let stop = false;
    const trickle = (async () => {
      // One byte per connection every 200 ms; bounded by the request length and `stop`.
      while (!stop && at < request.length) {
        for (const s of slow) if (!s.destroyed) s.write(request[at]!);
        at++;
        await sleep(200);
      }
    })();
    const t0 = Date.now();
    const normal = await normalClient();
    const closes = await Promise.all(slow.map((s) => closedWithin(s, 45_000)));
    stop = true;
    await trickle;
    const cut = closes.filter((c) => c !== null);
    report(
      `slowloris (50 connections, 1 byte/200 ms): normal client got ${normal.status} in ${normal.ms} ms meanwhile; ` +
        `${cut.length}/50 slow connections cut off by the daemon, the last ${Math.round((Math.max(...cut.map(Number)) + 0) / 1000)} s ` +
        `after the trickle began (${at} bytes sent each)`,
    );
    expect(normal.status).toBe(200);
    expect(cut.length).toBe(50);
    expect(Date.now() - t0).toBeLessThan(60_000);
  }, 90_000);

  it('oversize headers get 431 or a closed connection; the daemon keeps serving', async () => {
    const answers: string[] = [];
    for (const size of [17 * 1024, 64 * 1024, 1024 * 1024]) {
      const s = await rawConnection();
      expect(s).not.toBeNull();
      const text = await new Promise<string>((resolvePromise) => {
        let got = '';
        s!.on('data', (c: Buffer) => (got += c.toString()));
        s!.once('close', () => resolvePromise(got));
        s!.setTimeout(10_000, () => s!.destroy());
        s!.write(`GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(size)}\r\n\r\n`);
      });
      answers.push(text.split('\r\n')[0] || '(closed)');
      if (text) expect(text).toMatch(/^HTTP\/1\.1 431/);
    }
    const normal = await normalClient();
    report(`oversize headers (17 KiB, 64 KiB, 1 MiB): ${answers.join('; ')}; normal client ${normal.status}`);
    expect(normal.status).toBe(200);
    await waitFor(async () => (await daemon.request('GET', '/v1/health')).status === 200, 5_000, 'health');
  }, 60_000);
});
