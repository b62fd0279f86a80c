/**
 * Who may use which key for which request. Default deny.
 *
 * - No `clients` section: the daemon's own uid and root (uid 0) may use every key for any request
 *   (websocket JWTs included); everyone else sees no keys at all.
 * - A `clients` section: only a matching rule grants anything. root and the daemon's uid get no
 *   implicit access then — give them a rule if they need one.
 * - A peer matches a rule when its uid equals the rule's `uid` (if set) AND its gid equals the
 *   rule's `gid` (if set). The gid is the one the kernel records for the socket peer (its effective
 *   primary gid): supplementary groups are not seen. The FIRST matching rule wins, top to bottom,
 *   like a firewall; later rules are not consulted, so put narrow rules first.
 * - A key the peer may not use answers exactly like a key that does not exist (ERR_KEY_NOT_FOUND,
 *   same message): a denied client learns nothing. A key it may use, for a request no pattern
 *   allows, is ERR_POLICY_DENIED; a uri-less (websocket) CDP JWT needs `websocket: true`.
 * - Rate: a token bucket per client rule (see rate.ts), consumed only by requests that passed the
 *   key and pattern checks; the owner default (no `clients`) is not rate limited.
 */
import type { PeerCred } from '../api/peercred.js';
import type { ClientConfig, Config } from '../config/types.js';
import type { Target } from '../credentials/types.js';
import { SignerdError } from '../errors.js';
import { compilePattern, matchPattern } from './patterns.js';
import type { CompiledPattern } from './patterns.js';
import { TokenBucket } from './rate.js';

export interface Decision {
  /** The client rule's name, or null for the owner/root default (no `clients` section). */
  client: string | null;
}

export interface PolicyOptions {
  /** The uid the daemon runs as; default process.getuid(). */
  daemonUid?: number;
  /** Milliseconds from a monotonic clock; default performance.now(). */
  now?: () => number;
}

interface CompiledClient {
  readonly config: ClientConfig;
  readonly keys: ReadonlySet<string>;
  /** The client's keys, in the order of the `keys` section. */
  readonly visible: readonly string[];
  readonly patterns: readonly CompiledPattern[];
  readonly bucket: TokenBucket | null;
}

export class Policy {
  private readonly keyNames: readonly string[];
  private readonly keySet: ReadonlySet<string>;
  private readonly clients: readonly CompiledClient[] | null;
  private readonly daemonUid: number;

  constructor(config: Pick<Config, 'keys' | 'clients'>, options: PolicyOptions = {}) {
    this.keyNames = Object.keys(config.keys);
    this.keySet = new Set(this.keyNames);
    this.daemonUid = options.daemonUid ?? process.getuid?.() ?? -1;
    const now = options.now ?? (() => performance.now());
    this.clients =
      config.clients === undefined
        ? null
        : config.clients.map((client) => {
            const keys = new Set(client.keys.filter((key) => this.keySet.has(key)));
            return {
              config: client,
              keys,
              visible: this.keyNames.filter((key) => keys.has(key)),
              patterns: client.allow.map(compilePattern),
              bucket: client.rate === undefined ? null : new TokenBucket(client.rate, now),
            };
          });
  }

  private match(peer: PeerCred): CompiledClient | undefined {
    return this.clients?.find(
      ({ config }) =>
        (config.uid === undefined || config.uid === peer.uid) &&
        (config.gid === undefined || config.gid === peer.gid),
    );
  }

  private isOwner(peer: PeerCred): boolean {
    return peer.uid === 0 || peer.uid === this.daemonUid;
  }

  /** The name of the client rule this peer matches, or null (none, or no `clients` section). */
  clientFor(peer: PeerCred): string | null {
    return this.match(peer)?.config.name ?? null;
  }

  /**
   * Is this peer anyone the policy knows: the owner/root default without `clients`, or a peer that
   * matches a client rule? A stranger is refused the same way whatever key it names.
   */
  recognises(peer: PeerCred): boolean {
    return this.clients === null ? this.isOwner(peer) : this.match(peer) !== undefined;
  }

  /** May this peer see and use this key at all (patterns aside)? */
  mayUse(peer: PeerCred, keyName: string): boolean {
    if (!this.keySet.has(keyName)) return false;
    if (this.clients === null) return this.isOwner(peer);
    return this.match(peer)?.keys.has(keyName) ?? false;
  }

  /** Key names this peer may see and use (for /v1/keys, /v1/jwks), in config order. */
  visibleKeys(peer: PeerCred): string[] {
    if (this.clients === null) return this.isOwner(peer) ? [...this.keyNames] : [];
    return [...(this.match(peer)?.visible ?? [])];
  }

  /**
   * May this peer have a credential from this key for this request (null = websocket CDP JWT)?
   * Throws ERR_KEY_NOT_FOUND (unknown key, or not this peer's), ERR_POLICY_DENIED, ERR_RATE_LIMITED.
   */
  authorize(peer: PeerCred, keyName: string, target: Target | null): Decision {
    const exists = this.keySet.has(keyName);
    if (this.clients === null) {
      if (!exists || !this.isOwner(peer)) throw notFound();
      return { client: null };
    }
    const client = this.match(peer);
    if (!exists || !client?.keys.has(keyName)) throw notFound();
    const name = client.config.name;
    if (target === null) {
      if (!client.config.websocket) {
        throw new SignerdError('ERR_POLICY_DENIED', `client ${name} may not get websocket (uri-less) JWTs`);
      }
    } else if (!client.patterns.some((pattern) => matchPattern(pattern, target))) {
      throw new SignerdError(
        'ERR_POLICY_DENIED',
        `client ${name} may not use key ${keyName} for ${target.method} ${target.host}${target.path}`,
      );
    }
    if (client.bucket !== null && !client.bucket.take()) {
      throw new SignerdError(
        'ERR_RATE_LIMITED',
        `client ${name} is over its rate of ${client.bucket.rate}/s`,
      );
    }
    return { client: name };
  }
}

/**
 * The one answer for a key that does not exist and for a key the caller may not use: the same
 * bytes whatever the name, so not even a message difference tells them apart.
 */
export function notFound(): SignerdError {
  return new SignerdError('ERR_KEY_NOT_FOUND', 'no such key');
}
