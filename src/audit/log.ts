/**
 * The audit log: one JSON line per credential issued or refused (contract §6), hash-chained.
 *
 *   {"time","event","key","profile","peer":{"uid","gid","pid"},"client","request":{"method","host","path"},
 *    "nonce"|"jti","prev"}
 *
 * `prev` is the hex SHA-256 of the previous line's exact bytes without its newline; the first
 * line's is 64 zeros. Lines are built field by field from AuditEvent, so nothing else (no PIN,
 * JWT, signature, body or query string) can reach the file.
 *
 * Writing: one fd opened O_APPEND; appends are serialized by a single write loop, in call order;
 * a line is never split across write() calls (a short write is completed by the next call, still
 * in order), and lines that queue up while the loop runs share the next write() (group commit:
 * under load the disk sees one write per batch, and no answer waits longer than it would anyway).
 * The write() itself is synchronous (see writeAllSync). The promise resolves once its line's
 * write() has returned. No fsync per line: the page cache survives a daemon crash, and a power cut
 * costs at most the last lines — which the chain shows (see below), never hides.
 *
 * Torn last line (a write cut short, e.g. power loss or kill -9 mid-write: the file does not end
 * in "\n"): open() keeps it, terminates it with "\n", and chains the next line onto the torn
 * line's own bytes. Nothing is deleted, and nothing is chained silently either: `tornLineRepaired`
 * tells the daemon to warn, and verifyAuditLog() reports the torn line (see verify.ts).
 *
 * One AuditLog per file: two writers (two instances, two daemons) on one file break the chain.
 */
import { createHash } from 'node:crypto';
import { constants, writeSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PeerCred } from '../api/peercred.js';
import { SignerdError } from '../errors.js';

export interface AuditEvent {
  event: 'sign' | 'deny';
  key: string;
  profile: string | null;
  peer: PeerCred;
  client: string | null;
  request: { method: string; host: string; path: string } | null;
  nonce?: string;
  jti?: string;
}

export interface AuditLogOptions {
  /** Milliseconds since the epoch, for `time`; default Date.now. */
  now?: () => number;
}

export const GENESIS_PREV = '0'.repeat(64);
const NEWLINE = 0x0a;
const CHUNK = 64 * 1024;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The line for an event, without `prev` and the closing brace: the fields in the contract's order. */
function serialize(event: AuditEvent, time: string): string {
  if (event.event !== 'sign' && event.event !== 'deny') {
    throw new SignerdError('ERR_AUDIT', `invalid audit event type ${String(event.event)}`);
  }
  const record: Record<string, unknown> = {
    time,
    event: event.event,
    key: event.key,
    profile: event.profile,
    peer: { uid: event.peer.uid, gid: event.peer.gid, pid: event.peer.pid },
    client: event.client,
    request:
      event.request === null
        ? null
        : { method: event.request.method, host: event.request.host, path: event.request.path },
  };
  if (event.nonce !== undefined) record.nonce = event.nonce;
  if (event.jti !== undefined) record.jti = event.jti;
  const json = JSON.stringify(record);
  return json.slice(0, -1);
}

interface Tail {
  /** Hash of the last line's bytes, or GENESIS_PREV for an empty file. */
  prev: string;
  /** The file did not end in "\n". */
  torn: boolean;
}

/** Reads backwards from the end of the file to the last line, and hashes it. */
async function readTail(handle: FileHandle): Promise<Tail> {
  const { size } = await handle.stat();
  if (size === 0) return { prev: GENESIS_PREV, torn: false };
  const last = Buffer.alloc(1);
  await handle.read(last, 0, 1, size - 1);
  const torn = last[0] !== NEWLINE;
  const end = torn ? size : size - 1;

  let start = 0;
  let pos = end;
  const buffer = Buffer.alloc(CHUNK);
  while (pos > 0) {
    const from = Math.max(0, pos - CHUNK);
    const { bytesRead } = await handle.read(buffer, 0, pos - from, from);
    const index = buffer.subarray(0, bytesRead).lastIndexOf(NEWLINE);
    if (index !== -1) {
      start = from + index + 1;
      break;
    }
    pos = from;
  }

  const hash = createHash('sha256');
  for (let at = start; at < end;) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(CHUNK, end - at), at);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    at += bytesRead;
  }
  return { prev: hash.digest('hex'), torn };
}

/**
 * The append itself, synchronous: a page-cache append of a few hundred bytes takes microseconds,
 * while an async write's thread-pool round trip (shared with the token's C_SignAsync calls) cost
 * ~45 µs of event-loop time per credential under load (bench/README-performance.md). A disk that
 * stalls stalls the event loop too; every credential waits for its line regardless.
 */
function writeAllSync(fd: number, bytes: Buffer): void {
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}

async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

interface Pending {
  head: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Lines written by one write() at most: bounds the buffer when the disk falls far behind. */
const MAX_BATCH = 1024;

export class AuditLog {
  /** Lines waiting for the write in flight to finish, in call order. */
  private pending: Pending[] = [];
  /** The write loop, while one runs. */
  private flushing: Promise<void> | null = null;
  private closed = false;
  /** After a failed write the file's end is unknown: the next write re-reads it first. */
  private resync = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private prev: string,
    /** open() found a torn last line, terminated it and chained onto it: warn the operator. */
    readonly tornLineRepaired: boolean,
    private readonly now: () => number,
  ) {}

  /** Opens (creating 0600, parent directory 0700 if missing) and continues the chain. */
  static async open(path: string, options: AuditLogOptions = {}): Promise<AuditLog> {
    let handle: FileHandle;
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      handle = await open(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o600);
    } catch (cause) {
      throw new SignerdError('ERR_AUDIT', `cannot open audit log ${path}: ${errnoOf(cause)}`, { cause });
    }
    try {
      const tail = await readTail(handle);
      if (tail.torn) await writeAll(handle, Buffer.from('\n'));
      return new AuditLog(path, handle, tail.prev, tail.torn, options.now ?? Date.now);
    } catch (cause) {
      await handle.close().catch(() => undefined);
      throw new SignerdError('ERR_AUDIT', `cannot read the end of audit log ${path}: ${errnoOf(cause)}`, {
        cause,
      });
    }
  }

  /**
   * Appends one line; resolves once it has been written. Lines are written in call order. While a
   * write is in flight, the lines that arrive meanwhile go out together in the next write (each
   * whole line in one write() call): that never delays an answer, they would be waiting anyway.
   */
  append(event: AuditEvent): Promise<void> {
    if (this.closed) return Promise.reject(new SignerdError('ERR_AUDIT', `audit log ${this.path} is closed`));
    let head: string;
    try {
      head = serialize(event, new Date(this.now()).toISOString());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ head, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_BATCH);
      try {
        await this.write(batch);
        for (const entry of batch) entry.resolve();
      } catch (err) {
        for (const entry of batch) entry.reject(err);
      }
    }
    this.flushing = null;
  }

  private async write(batch: readonly Pending[]): Promise<void> {
    try {
      if (this.resync) {
        const tail = await readTail(this.handle);
        if (tail.torn) await writeAll(this.handle, Buffer.from('\n'));
        this.prev = tail.prev;
        this.resync = false;
      }
      let prev = this.prev;
      const lines: Buffer[] = [];
      for (const { head } of batch) {
        const line = Buffer.from(`${head},"prev":"${prev}"}\n`, 'utf8');
        prev = sha256Hex(line.subarray(0, line.length - 1));
        lines.push(line);
      }
      writeAllSync(this.handle.fd, lines.length === 1 ? lines[0]! : Buffer.concat(lines));
      this.prev = prev;
    } catch (cause) {
      this.resync = true;
      throw new SignerdError('ERR_AUDIT', `cannot write audit log ${this.path}: ${errnoOf(cause)}`, {
        cause,
      });
    }
  }

  /** Waits for pending appends, then closes the file. Later appends are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushing;
    await this.handle.close();
  }
}

function errnoOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}
