/**
 * Why signerd.service leaves PrivateUsers= off: SO_PEERCRED is reported in the reading process's
 * user namespace, so a daemon in a namespace that maps only root and itself (what PrivateUsers=yes
 * sets up) sees every other client as the overflow uid/gid 65534. Shown here with unshare(1), whose
 * --map-root-user maps only the caller (root) - the same shape.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADDON, missing } from './helpers.js';

const SERVER = join(import.meta.dirname, 'fixtures/peer-server.mjs');
const CLIENT = join(import.meta.dirname, 'fixtures/peer-client.mjs');
const CLIENT_UID = 65533;
const OVERFLOW = 65534;

const userNsWorks = spawnSync('unshare', ['--user', '--map-root-user', 'true']).status === 0;
const reason = missing('PrivateUsers/SO_PEERCRED demonstration', {
  tools: ['unshare', 'setpriv'],
  files: [ADDON],
  root: true,
  also: [[userNsWorks, 'user namespaces (`unshare --user --map-root-user true` failed)']],
});

interface Cred {
  uid: number;
  gid: number;
  pid: number;
}

describe.skipIf(reason !== undefined)('peer identity across a user namespace', () => {
  let server: ChildProcess | undefined;
  let dir: string | undefined;

  afterEach(() => {
    server?.kill('SIGTERM');
    server = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function startServer(inUserNs: boolean): Promise<string> {
    dir = mkdtempSync(join(tmpdir(), 'signerd-peer-'));
    chmodSync(dir, 0o755);
    const path = join(dir, 'peer.sock');
    const argv = [process.execPath, SERVER, ADDON, path];
    server = inUserNs
      ? spawn('unshare', ['--user', '--map-root-user', ...argv])
      : spawn(argv[0]!, argv.slice(1));
    const proc = server;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('ready')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`peer server exited (${code})`)));
    });
    chmodSync(path, 0o666);
    return path;
  }

  function connectAs(uid: number, path: string): Cred {
    const prefix = uid === 0 ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
    const argv = [...prefix, process.execPath, CLIENT, path];
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 15_000 });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Cred;
  }

  it('in the host namespace the daemon sees the client uid and gid as they are', async () => {
    const path = await startServer(false);
    expect(connectAs(CLIENT_UID, path)).toMatchObject({ uid: CLIENT_UID, gid: CLIENT_UID });
    expect(connectAs(0, path)).toMatchObject({ uid: 0, gid: 0 });
  });

  it('inside a namespace mapping only root, another client shows as 65534 - peer identity is lost', async () => {
    const path = await startServer(true);
    expect(connectAs(CLIENT_UID, path)).toMatchObject({ uid: OVERFLOW, gid: OVERFLOW });
    // root is mapped, so it still looks like root: only the mapped ids survive.
    expect(connectAs(0, path)).toMatchObject({ uid: 0, gid: 0 });
  });
});
