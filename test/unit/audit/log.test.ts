import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, GENESIS_PREV } from '../../../src/audit/log.js';
import type { AuditEvent } from '../../../src/audit/log.js';
import { verifyAuditLog } from '../../../src/audit/verify.js';

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'signerd-audit-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fresh = () => join(dir, `log-${++n}`, 'audit.jsonl');

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const fileLines = (path: string) => readFileSync(path, 'utf8').split('\n');

function sign(i: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    event: 'sign',
    key: 'cdp-main',
    profile: 'cdp',
    peer: { uid: 1001, gid: 1001, pid: 10_000 + i },
    client: 'trading-bot',
    request: { method: 'GET', host: 'api.coinbase.com', path: `/api/v3/brokerage/orders/${i}` },
    nonce: i.toString(16).padStart(32, '0'),
    ...extra,
  };
}

async function writeLog(path: string, count: number): Promise<void> {
  const log = await AuditLog.open(path);
  for (let i = 0; i < count; i++) await log.append(sign(i));
  await log.close();
}

describe('AuditLog', () => {
  it('creates the file 0600 in a new 0700 directory', async () => {
    const path = fresh();
    const log = await AuditLog.open(path);
    await log.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700);
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  it("writes the contract's fields, in order, chained from 64 zeros", async () => {
    const path = fresh();
    const log = await AuditLog.open(path, { now: () => Date.UTC(2025, 0, 2, 3, 4, 5, 6) });
    await log.append(sign(1));
    await log.append({
      event: 'deny',
      key: 'internal',
      profile: null,
      peer: { uid: 5, gid: 6, pid: 7 },
      client: null,
      request: null,
    });
    await log.append({ ...sign(2), nonce: undefined, jti: 'abc' } as unknown as AuditEvent);
    await log.close();
    const [first, second, third, end] = fileLines(path);
    expect(end).toBe('');
    expect(first).toBe(
      '{"time":"2025-01-02T03:04:05.006Z","event":"sign","key":"cdp-main","profile":"cdp",' +
        '"peer":{"uid":1001,"gid":1001,"pid":10001},"client":"trading-bot",' +
        '"request":{"method":"GET","host":"api.coinbase.com","path":"/api/v3/brokerage/orders/1"},' +
        `"nonce":"00000000000000000000000000000001","prev":"${GENESIS_PREV}"}`,
    );
    expect(second).toBe(
      '{"time":"2025-01-02T03:04:05.006Z","event":"deny","key":"internal","profile":null,' +
        '"peer":{"uid":5,"gid":6,"pid":7},"client":null,"request":null,' +
        `"prev":"${sha(first!)}"}`,
    );
    expect(JSON.parse(third!)).toMatchObject({ jti: 'abc', prev: sha(second!) });
    expect(third).not.toContain('nonce');
  });

  it("writes only the declared fields, whatever else the caller's object carries", async () => {
    const path = fresh();
    const log = await AuditLog.open(path);
    const event = {
      ...sign(1),
      jwt: 'eyJhbGciOi.secret.jwt',
      pin: '1234',
      body: '{"amount":1}',
      peer: { uid: 1, gid: 2, pid: 3, secret: 'x' },
      request: { method: 'GET', host: 'h', path: '/p', query: 'token=abc' },
    } as AuditEvent;
    await log.append(event);
    await log.close();
    const text = readFileSync(path, 'utf8');
    for (const leak of ['secret', '1234', 'amount', 'token=abc', 'query']) expect(text).not.toContain(leak);
    expect(Object.keys(JSON.parse(text) as object)).toEqual([
      'time',
      'event',
      'key',
      'profile',
      'peer',
      'client',
      'request',
      'nonce',
      'prev',
    ]);
  });

  it('serializes 500 concurrent appends from two producers into one valid chain', async () => {
    const path = fresh();
    const log = await AuditLog.open(path);
    const producer = (offset: number) => Array.from({ length: 250 }, (_, i) => log.append(sign(offset + i)));
    await Promise.all([...producer(0), ...producer(1000)]);
    await log.close();
    const lines = fileLines(path).filter((l) => l !== '');
    expect(lines).toHaveLength(500);
    expect(await verifyAuditLog(path)).toEqual({
      ok: true,
      lines: 500,
      chainBroken: false,
      tornTail: false,
      tornLines: [],
    });
  });

  it('continues the chain when reopened', async () => {
    const path = fresh();
    await writeLog(path, 3);
    const log = await AuditLog.open(path);
    expect(log.tornLineRepaired).toBe(false);
    await log.append(sign(3));
    await log.close();
    const lines = fileLines(path);
    expect(JSON.parse(lines[3]!)).toMatchObject({ prev: sha(lines[2]!) });
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, lines: 4 });
  });

  it('finds the last line of a log whose lines span read chunks', async () => {
    const path = fresh();
    const log = await AuditLog.open(path);
    for (let i = 0; i < 3; i++) await log.append(sign(i, { key: `k${'x'.repeat(40_000)}${i}` }));
    await log.close();
    const reopened = await AuditLog.open(path);
    await reopened.append(sign(9));
    await reopened.close();
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, lines: 4 });
  });

  it('terminates a torn last line on open, and chains onto it', async () => {
    const path = fresh();
    await writeLog(path, 2);
    const torn = '{"time":"2025-01-01T00:00:00.000Z","event":"sign","ke';
    appendFileSync(path, torn);
    const log = await AuditLog.open(path);
    expect(log.tornLineRepaired).toBe(true);
    await log.append(sign(2));
    await log.close();
    const lines = fileLines(path);
    expect(lines[2]).toBe(torn);
    expect(JSON.parse(lines[3]!)).toMatchObject({ prev: sha(torn) });
    const result = await verifyAuditLog(path);
    expect(result).toMatchObject({ ok: false, lines: 4, badLine: 3, tornTail: false, tornLines: [3] });
    expect(result.reason).toMatch(/torn line 3: write cut short by a crash; the chain continues over it/);
  });

  it('refuses appends after close', async () => {
    const path = fresh();
    const log = await AuditLog.open(path);
    await log.close();
    await expect(log.append(sign(1))).rejects.toMatchObject({ code: 'ERR_AUDIT' });
    await log.close();
  });

  it('reports a directory it cannot create as ERR_AUDIT', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    await expect(AuditLog.open(join(file, 'audit.jsonl'))).rejects.toMatchObject({ code: 'ERR_AUDIT' });
  });
});

describe('verifyAuditLog', () => {
  it('accepts an empty log', async () => {
    const path = fresh();
    await writeLog(path, 0);
    expect(await verifyAuditLog(path)).toEqual({
      ok: true,
      lines: 0,
      chainBroken: false,
      tornTail: false,
      tornLines: [],
    });
  });

  it('reports the line after a tampered byte', async () => {
    const path = fresh();
    await writeLog(path, 10);
    const text = readFileSync(path, 'utf8');
    const lines = text.split('\n');
    lines[4] = lines[4]!.replace('"uid":1001', '"uid":1002'); // line 5, still valid JSON
    writeFileSync(path, lines.join('\n'));
    const result = await verifyAuditLog(path);
    expect(result).toMatchObject({ ok: false, badLine: 6, tornTail: false });
    expect(result.reason).toMatch(/prev is not the SHA-256 of line 5/);
  });

  it('reports a byte flipped inside a line as that line, when it stops being JSON', async () => {
    const path = fresh();
    await writeLog(path, 5);
    const bytes = readFileSync(path);
    const at = bytes.indexOf('"event"', bytes.indexOf('\n') + 1);
    bytes[at] = 0x7b; // '{' : line 2 no longer parses
    writeFileSync(path, bytes);
    expect(await verifyAuditLog(path)).toMatchObject({
      ok: false,
      badLine: 2,
      reason: 'not a valid audit record',
    });
  });

  it('reports a removed line, an inserted line and a first line that does not start the chain', async () => {
    const removed = fresh();
    await writeLog(removed, 5);
    const lines = fileLines(removed);
    writeFileSync(removed, [...lines.slice(0, 2), ...lines.slice(3)].join('\n'));
    expect(await verifyAuditLog(removed)).toMatchObject({ ok: false, badLine: 3 });

    const inserted = fresh();
    await writeLog(inserted, 3);
    const again = fileLines(inserted);
    writeFileSync(inserted, [again[0], again[0], ...again.slice(1)].join('\n'));
    expect(await verifyAuditLog(inserted)).toMatchObject({ ok: false, badLine: 2 });

    const truncatedStart = fresh();
    await writeLog(truncatedStart, 3);
    writeFileSync(truncatedStart, fileLines(truncatedStart).slice(1).join('\n'));
    const result = await verifyAuditLog(truncatedStart);
    expect(result).toMatchObject({ ok: false, badLine: 1 });
    expect(result.reason).toMatch(/first line's prev is not 64 zeros/);
  });

  it('reports a torn tail explicitly, with the lines before it verified', async () => {
    const path = fresh();
    await writeLog(path, 4);
    appendFileSync(path, '{"time":"2025-');
    const result = await verifyAuditLog(path);
    expect(result).toMatchObject({ ok: false, lines: 5, badLine: 5, tornTail: true, tornLines: [] });
    expect(result.reason).toMatch(/line 5 is torn: no trailing newline .*lines 1\.\.4 verify/);
  });

  it('reports a complete record missing only its newline as a torn tail', async () => {
    const path = fresh();
    await writeLog(path, 2);
    writeFileSync(path, readFileSync(path, 'utf8').slice(0, -1));
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false, lines: 2, badLine: 2, tornTail: true });
    // reopening repairs it: the record is whole, so the log verifies again
    const log = await AuditLog.open(path);
    expect(log.tornLineRepaired).toBe(true);
    await log.append(sign(2));
    await log.close();
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, lines: 3 });
  });

  it('reports a terminated torn line with nothing after it (restart, then no request) as torn', async () => {
    const path = fresh();
    await writeLog(path, 2);
    appendFileSync(path, '{"ti');
    await (await AuditLog.open(path)).close();
    expect(await verifyAuditLog(path)).toMatchObject({
      ok: false,
      badLine: 3,
      tornTail: false,
      tornLines: [3],
    });
  });

  it('does not split lines on \\r or re-encode bytes: hashes are over the exact bytes', async () => {
    const path = fresh();
    const log = await AuditLog.open(path);
    await log.append(sign(1, { key: 'ключ\r\u2028✓' }));
    await log.append(sign(2));
    await log.close();
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, lines: 2 });
  });

  it('streams a large log', async () => {
    const path = fresh();
    const log = await AuditLog.open(path);
    await Promise.all(Array.from({ length: 20_000 }, (_, i) => log.append(sign(i))));
    await log.close();
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, lines: 20_000 });
  });

  it('throws ERR_AUDIT for a file it cannot read', async () => {
    await expect(verifyAuditLog(join(dir, 'missing.jsonl'))).rejects.toMatchObject({ code: 'ERR_AUDIT' });
  });
});
