import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { SignerdError } from '../errors.js';

/** Who is at the other end of a Unix-socket connection, as the kernel recorded it at connect(). */
export interface PeerCred {
  uid: number;
  gid: number;
  pid: number;
}

interface Addon {
  getPeerCred(fd: number): PeerCred;
}

let addon: Addon | undefined;

function load(): Addon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  try {
    addon = require('../../build/Release/peercred.node') as Addon;
  } catch (cause) {
    throw new SignerdError(
      'ERR_PEERCRED',
      'the peer-credential addon is not built (run `npm ci` or `npx node-gyp rebuild`)',
      { cause },
    );
  }
  return addon;
}

/** SO_PEERCRED of a connected Unix socket. Throws ERR_PEERCRED off Linux or on a non-Unix socket. */
export function peerCredOf(socket: Socket): PeerCred {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new SignerdError('ERR_PEERCRED', 'connection has no file descriptor (not a Unix socket?)');
  }
  return load().getPeerCred(fd);
}
