/** The tiny native addon (native/signerd_native.c): SO_PEERCRED and core-dump suppression. */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { SignerdError } from './errors.js';

/** Who is at the other end of a Unix-socket connection, as the kernel recorded it at connect(). */
export interface PeerCred {
  uid: number;
  gid: number;
  pid: number;
}

interface Addon {
  getPeerCred(fd: number): PeerCred;
  disableCoreDumps(): boolean;
}

let addon: Addon | undefined;

function load(): Addon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  try {
    addon = require('../build/Release/signerd_native.node') as Addon;
  } catch (cause) {
    throw new SignerdError(
      'ERR_PEERCRED',
      'the native addon is not built (run `npm ci`, or `npm run install` in the package)',
      { cause },
    );
  }
  return addon;
}

const cache = new WeakMap<Socket, PeerCred>();

/**
 * SO_PEERCRED of a connected Unix socket, read once per connection (the kernel's answer does not
 * change while it is open). Throws ERR_PEERCRED off Linux or on a non-Unix socket.
 */
export function peerCredOf(socket: Socket): PeerCred {
  const cached = cache.get(socket);
  if (cached) return cached;
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new SignerdError('ERR_PEERCRED', 'connection has no file descriptor (not a Unix socket?)');
  }
  const peer = Object.freeze(load().getPeerCred(fd));
  cache.set(socket, peer);
  return peer;
}

/** No core dumps, not ptrace-able by other processes of the same uid. */
export function disableCoreDumps(): void {
  load().disableCoreDumps();
}
