/**
 * Connection limits that keep the daemon serving under a flood of connections.
 *
 * The server accepts at most MAX_CONNECTIONS; past that, Node drops every new connection — so a
 * client that opens a thousand idle connections would lock every other client out until they time
 * out. Instead, once the count reaches SHED_AT, connections that are idle (no request in flight)
 * and have been for at least MIN_IDLE_MS are closed, oldest first, down to SHED_TO. A client in the
 * middle of a request is never cut off, and a fresh connection gets MIN_IDLE_MS to send its request;
 * the headroom between SHED_AT and MAX_CONNECTIONS is what new clients get in through meanwhile.
 *
 * Slow clients are bounded by Node's own timers: headers must arrive within HEADERS_TIMEOUT_MS,
 * checked every CHECK_INTERVAL_MS (set where the server is created, app.ts).
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export const MAX_CONNECTIONS = 1024;
const SHED_AT = MAX_CONNECTIONS - 64;
const SHED_TO = MAX_CONNECTIONS / 2;
const MIN_IDLE_MS = 250;
/** The whole request head (request line and headers) within this time, or the connection closes. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** How often Node checks headersTimeout / requestTimeout (its default, 30 s, lets slow clients linger). */
export const CHECK_INTERVAL_MS = 1_000;

interface Tracked {
  /** Requests in flight on this connection. */
  active: number;
  /** When it last became idle (or connected). */
  idleSince: number;
}

export interface ConnectionGuard {
  /** Connections open right now. */
  readonly open: number;
  /** Connections closed because the daemon was near its limit. */
  readonly shed: number;
}

export function guardConnections(server: Server, now: () => number = Date.now): ConnectionGuard {
  const tracked = new Map<Socket, Tracked>();
  let shed = 0;
  server.maxConnections = MAX_CONNECTIONS;
  // Never longer than requestTimeout (Node requires headersTimeout <= requestTimeout).
  if (server.requestTimeout === 0 || server.requestTimeout > HEADERS_TIMEOUT_MS) {
    server.headersTimeout = HEADERS_TIMEOUT_MS;
  }

  const shedIdle = () => {
    const cutoff = now() - MIN_IDLE_MS;
    const idle = [...tracked].filter(([, t]) => t.active === 0 && t.idleSince <= cutoff);
    idle.sort((a, b) => a[1].idleSince - b[1].idleSince);
    for (const [socket] of idle) {
      if (tracked.size <= SHED_TO) break;
      tracked.delete(socket);
      socket.destroy();
      shed++;
    }
  };

  server.on('connection', (socket: Socket) => {
    tracked.set(socket, { active: 0, idleSince: now() });
    socket.once('close', () => tracked.delete(socket));
    if (tracked.size >= SHED_AT) shedIdle();
  });
  server.on('request', (request: { socket: Socket }, response: { once(e: 'close', f: () => void): void }) => {
    const t = tracked.get(request.socket);
    if (!t) return;
    t.active++;
    response.once('close', () => {
      t.active--;
      t.idleSince = now();
    });
  });

  return {
    get open() {
      return tracked.size;
    },
    get shed() {
      return shed;
    },
  };
}
