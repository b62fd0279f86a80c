/**
 * Checks an audit log's hash chain (`signerd audit verify FILE`), streaming: memory stays bounded
 * by the longest line, whatever the file's size. Lines are split on "\n" bytes and hashed as the
 * exact bytes on disk (not re-encoded, not split on "\r").
 *
 * Each line must be a JSON record (`time`, `event` sign|deny, `key`, 64-hex `prev`) whose `prev`
 * is the SHA-256 of the line before (64 zeros for the first). The first line that breaks this is
 * `badLine`, and verification stops there.
 *
 * Torn lines (a write cut short by a crash; see log.ts) are reported, never passed silently, but
 * do not hide what comes before or after them:
 * - the last line has no trailing "\n" → `tornTail`, the lines before are still verified;
 * - a line that is not a record, but which the next line's `prev` chains onto (or which is the last
 *   line: the daemon terminated it on restart and has written nothing since) → `tornLines`; the
 *   chain continues over it.
 * `ok` is true only for a log with no problem and no torn line; when only torn lines are wrong,
 * `badLine` is the first of them, with a reason saying so.
 */
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { SignerdError } from '../errors.js';
import { GENESIS_PREV } from './log.js';

export interface VerifyResult {
  ok: boolean;
  /** Lines read (up to and including `badLine` when verification stopped there). */
  lines: number;
  /** 1-based line of the first problem. */
  badLine?: number;
  /** True when a line was edited, removed or inserted; false when the only problems are torn lines. */
  chainBroken: boolean;
  reason?: string;
  /** The last line has no trailing newline (a write cut short); the lines before it were checked. */
  tornTail: boolean;
  /** 1-based lines cut short by a crash and since terminated, that the chain continues over (not the unterminated last line: that is `tornTail`). */
  tornLines: number[];
}

/** A line longer than this is not an audit record; stop rather than buffer it. */
const MAX_LINE = 1024 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

interface Line {
  bytes: Buffer;
  terminated: boolean;
}

/** Lines as exact bytes, with whether each ended in "\n". */
async function* lines(path: string): AsyncGenerator<Line> {
  let pending: Buffer[] = [];
  let pendingLength = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let index = chunk.indexOf(0x0a); index !== -1; index = chunk.indexOf(0x0a, from)) {
      const piece = chunk.subarray(from, index);
      const bytes = pendingLength === 0 ? piece : Buffer.concat([...pending, piece]);
      pending = [];
      pendingLength = 0;
      yield { bytes, terminated: true };
      from = index + 1;
    }
    if (from < chunk.length) {
      pending.push(chunk.subarray(from));
      pendingLength += chunk.length - from;
      if (pendingLength > MAX_LINE) {
        yield { bytes: Buffer.concat(pending).subarray(0, MAX_LINE + 1), terminated: false };
        return;
      }
    }
  }
  if (pendingLength > 0) yield { bytes: Buffer.concat(pending), terminated: false };
}

/** The record's `prev`, or null when the line is not an audit record. */
function recordPrev(bytes: Buffer): string | null {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  if (typeof record.time !== 'string' || typeof record.key !== 'string') return null;
  if (record.event !== 'sign' && record.event !== 'deny') return null;
  if (typeof record.prev !== 'string' || !HEX64.test(record.prev)) return null;
  return record.prev;
}

export async function verifyAuditLog(path: string): Promise<VerifyResult> {
  let count = 0;
  let expected = GENESIS_PREV;
  /** A line that is not a record, waiting to see whether the next line chains onto it. */
  let suspect: number | null = null;
  const tornLines: number[] = [];
  let tornTail = false;
  const stop = (badLine: number, reason: string): VerifyResult => ({
    ok: false,
    lines: count,
    badLine,
    chainBroken: true,
    reason,
    tornTail,
    tornLines,
  });

  try {
    for await (const line of lines(path)) {
      count++;
      if (line.bytes.length > MAX_LINE)
        return stop(count, `line longer than ${MAX_LINE} bytes: not an audit record`);
      if (!line.terminated) tornTail = true;
      const hash = createHash('sha256').update(line.bytes).digest('hex');
      const prev = recordPrev(line.bytes);
      if (prev === null) {
        if (suspect !== null) return stop(suspect, 'not a valid audit record');
        suspect = count;
      } else {
        if (prev !== expected) {
          if (suspect !== null) return stop(suspect, 'not a valid audit record');
          return stop(
            count,
            count === 1
              ? "chain broken: the first line's prev is not 64 zeros (lines missing from the start?)"
              : `chain broken: prev is not the SHA-256 of line ${count - 1} (a line changed, removed or inserted)`,
          );
        }
        if (suspect !== null) {
          tornLines.push(suspect);
          suspect = null;
        }
      }
      expected = hash;
    }
  } catch (cause) {
    throw new SignerdError(
      'ERR_AUDIT',
      `cannot read audit log ${path}: ${(cause as { code?: string }).code ?? String(cause)}`,
      {
        cause,
      },
    );
  }

  if (suspect !== null && !tornTail) tornLines.push(suspect);
  if (tornTail) {
    return {
      ok: false,
      lines: count,
      badLine: count,
      chainBroken: false,
      reason: `line ${count} is torn: no trailing newline (a write cut short, e.g. by a crash); lines 1..${count - 1} verify`,
      tornTail,
      tornLines,
    };
  }
  if (tornLines.length > 0) {
    const list = tornLines.join(', ');
    return {
      ok: false,
      lines: count,
      badLine: tornLines[0]!,
      chainBroken: false,
      reason: `torn line${tornLines.length > 1 ? 's' : ''} ${list}: write${tornLines.length > 1 ? 's' : ''} cut short by a crash; the chain continues over ${tornLines.length > 1 ? 'them' : 'it'} and every other line verifies`,
      tornTail,
      tornLines,
    };
  }
  return { ok: true, lines: count, chainBroken: false, tornTail, tornLines };
}
