/**
 * Binding the app: a Unix socket created with its final mode and group and never more open than
 * that, or the socket systemd hands over (LISTEN_FDS).
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { dirname } from 'node:path';
import type { SocketConfig } from '../config/types.js';
import { SignerdError } from '../errors.js';
import { peerCredOf } from '../native.js';
import type { SignerdApp } from './app.js';
import { guardConnections } from './connections.js';

/** The first socket systemd passed us (fd 3), if any and if it is meant for this process. */
export function activationFd(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const fds = Number(env['LISTEN_FDS'] ?? '0');
  const pid = env['LISTEN_PID'];
  if (!Number.isInteger(fds) || fds < 1) return undefined;
  if (pid !== undefined && pid !== '' && Number(pid) !== process.pid) return undefined;
  return 3;
}

/** True if something answers on the socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (alive: boolean) => {
      socket.destroy();
      resolve(alive);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

/** A socket file left by a daemon that died is replaced; a live one, or any other file, is not. */
async function clearStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) {
    throw new SignerdError('ERR_SOCKET', `${path} exists and is not a socket; refusing to replace it`);
  }
  if (await answers(path)) {
    throw new SignerdError('ERR_SOCKET', `another signerd is already serving on ${path}`);
  }
  unlinkSync(path);
}

function listenOn(server: Server, target: { path: string } | { fd: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(target, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export interface ListenResult {
  /** The socket path, or `fd:3` when systemd passed the socket. */
  address: string;
  activated: boolean;
}

export async function listen(
  app: SignerdApp,
  socket: SocketConfig,
  env = process.env,
): Promise<ListenResult> {
  await app.ready();
  const server = app.server;
  // Every connection's peer is read at accept time; one we cannot identify is dropped.
  server.on('connection', (conn) => {
    try {
      peerCredOf(conn);
    } catch (err) {
      app.log.warn({ err }, 'dropping a connection without peer credentials');
      conn.destroy();
    }
  });
  // At most 1024 connections; idle ones are shed near the limit so a flood cannot lock others out.
  guardConnections(server);

  const fd = activationFd(env);
  if (fd !== undefined) {
    await listenOn(server, { fd });
    return { address: `fd:${fd}`, activated: true };
  }

  mkdirSync(dirname(socket.path), { recursive: true, mode: 0o750 });
  await clearStaleSocket(socket.path);
  // Created 0600 under a tight umask, then opened up to the configured mode: never more open.
  const previous = process.umask(0o177);
  try {
    await listenOn(server, { path: socket.path });
  } finally {
    process.umask(previous);
  }
  if (socket.group) chownSync(socket.path, -1, socket.group.gid);
  chmodSync(socket.path, socket.mode);
  return { address: socket.path, activated: false };
}
