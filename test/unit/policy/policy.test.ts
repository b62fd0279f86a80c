import { describe, expect, it } from 'vitest';
import type { PeerCred } from '../../../src/api/peercred.js';
import type { ClientConfig, Config, KeyConfig } from '../../../src/config/types.js';
import type { Target } from '../../../src/credentials/types.js';
import { SignerdError } from '../../../src/errors.js';
import type { ErrorCode } from '../../../src/errors.js';
import { Policy } from '../../../src/policy/policy.js';

const DAEMON_UID = 990;
const key = (name: string, profile: KeyConfig['profile'] = 'cobo'): KeyConfig => ({
  name,
  label: name,
  profile,
  allowExtractable: false,
});
const KEYS: Config['keys'] = {
  'cdp-main': key('cdp-main', 'cdp'),
  'cobo-prod': key('cobo-prod'),
  internal: key('internal', 'jwt'),
};

const peer = (uid: number, gid = uid, pid = 4242): PeerCred => ({ uid, gid, pid });
const t = (method: string, host: string, path: string, query = ''): Target => ({ method, host, path, query });
const order = t('POST', 'api.coinbase.com', '/api/v3/brokerage/orders');
const accounts = t('GET', 'api.coinbase.com', '/api/v3/brokerage/accounts', 'limit=5');

function client(partial: Partial<ClientConfig> & { name: string }): ClientConfig {
  return { keys: [], allow: [], websocket: false, ...partial };
}

function refusal(fn: () => unknown): SignerdError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SignerdError);
    return err as SignerdError;
  }
  throw new Error('expected a refusal');
}
const codeOf = (fn: () => unknown): ErrorCode => refusal(fn).code;

describe('no clients section: owner and root only', () => {
  const policy = new Policy({ keys: KEYS }, { daemonUid: DAEMON_UID });

  it('lets the daemon uid and root use every key for any request, websocket included', () => {
    for (const p of [peer(DAEMON_UID), peer(0), peer(0, 1234)]) {
      expect(policy.visibleKeys(p)).toEqual(['cdp-main', 'cobo-prod', 'internal']);
      expect(policy.authorize(p, 'cdp-main', order)).toEqual({ client: null });
      expect(policy.authorize(p, 'cobo-prod', t('GET', 'anything.example', '/x'))).toEqual({ client: null });
      expect(policy.authorize(p, 'cdp-main', null)).toEqual({ client: null });
      expect(policy.clientFor(p)).toBeNull();
    }
  });

  it('shows other uids nothing, and answers as if the key did not exist', () => {
    const other = peer(1001, DAEMON_UID); // the daemon's gid does not help
    expect(policy.visibleKeys(other)).toEqual([]);
    const denied = refusal(() => policy.authorize(other, 'cdp-main', order));
    const missing = refusal(() => policy.authorize(peer(0), 'no-such-key', order));
    expect(denied.code).toBe('ERR_KEY_NOT_FOUND');
    expect(denied.statusCode).toBe(404);
    expect(missing.code).toBe('ERR_KEY_NOT_FOUND');
    expect(refusal(() => policy.authorize(other, 'no-such-key', order)).message).toBe(missing.message);
    expect(denied.message).toBe(
      refusal(() => policy.authorize(peer(0), 'cdp-main-x', order)).message.replace('cdp-main-x', 'cdp-main'),
    );
  });

  it('defaults the daemon uid to process.getuid()', () => {
    const own = new Policy({ keys: KEYS });
    expect(own.authorize(peer(process.getuid!()), 'internal', null)).toEqual({ client: null });
  });

  it('does not rate limit the owner', () => {
    for (let i = 0; i < 1000; i++) policy.authorize(peer(0), 'cdp-main', order);
    expect(policy.authorize(peer(0), 'cdp-main', order)).toEqual({ client: null });
  });
});

describe('with a clients section', () => {
  const clients: ClientConfig[] = [
    client({
      name: 'trading-bot',
      uid: 1001,
      keys: ['cdp-main'],
      allow: ['GET api.coinbase.com/api/v3/brokerage/**', 'POST api.coinbase.com/api/v3/brokerage/orders'],
    }),
    client({ name: 'ws', uid: 1002, gid: 1002, keys: ['cdp-main'], websocket: true }),
    client({ name: 'payments', gid: 2000, keys: ['cobo-prod', 'internal'], allow: ['* api.cobo.com/v2/**'] }),
    client({ name: 'later-rule', uid: 1001, keys: ['cobo-prod'], allow: ['* api.cobo.com/v2/**'] }),
  ];
  const policy = new Policy({ keys: KEYS, clients }, { daemonUid: DAEMON_UID });

  it('grants a matching client its keys and patterns', () => {
    expect(policy.clientFor(peer(1001))).toBe('trading-bot');
    expect(policy.visibleKeys(peer(1001))).toEqual(['cdp-main']);
    expect(policy.authorize(peer(1001), 'cdp-main', order)).toEqual({ client: 'trading-bot' });
    expect(policy.authorize(peer(1001), 'cdp-main', accounts)).toEqual({ client: 'trading-bot' });
  });

  it("answers ERR_KEY_NOT_FOUND for a key that is not the client's, exactly as for a missing one", () => {
    const notMine = refusal(() => policy.authorize(peer(1001), 'internal', order));
    const missing = refusal(() => policy.authorize(peer(1001), 'nope', order));
    expect(notMine.code).toBe('ERR_KEY_NOT_FOUND');
    expect(missing.code).toBe('ERR_KEY_NOT_FOUND');
    expect(notMine.message.replace('internal', 'X')).toBe(missing.message.replace('nope', 'X'));
  });

  it("answers ERR_POLICY_DENIED (403) for the client's key on a request no pattern allows", () => {
    const err = refusal(() =>
      policy.authorize(peer(1001), 'cdp-main', t('DELETE', 'api.coinbase.com', '/api/v3/brokerage/orders')),
    );
    expect(err.code).toBe('ERR_POLICY_DENIED');
    expect(err.statusCode).toBe(403);
    expect(
      codeOf(() =>
        policy.authorize(peer(1001), 'cdp-main', t('GET', 'api.coinbase.com', '/api/v2/accounts')),
      ),
    ).toBe('ERR_POLICY_DENIED');
  });

  it('gives websocket JWTs only to clients with websocket: true', () => {
    expect(codeOf(() => policy.authorize(peer(1001), 'cdp-main', null))).toBe('ERR_POLICY_DENIED');
    expect(policy.authorize(peer(1002), 'cdp-main', null)).toEqual({ client: 'ws' });
    // a websocket-only client has no patterns: every request with a target is denied
    expect(codeOf(() => policy.authorize(peer(1002), 'cdp-main', order))).toBe('ERR_POLICY_DENIED');
  });

  it('matches uid AND gid when both are set', () => {
    expect(policy.clientFor(peer(1002, 1002))).toBe('ws');
    expect(policy.clientFor(peer(1002, 5))).toBeNull();
    expect(codeOf(() => policy.authorize(peer(1002, 5), 'cdp-main', null))).toBe('ERR_KEY_NOT_FOUND');
  });

  it('matches on gid alone', () => {
    expect(policy.clientFor(peer(3333, 2000))).toBe('payments');
    expect(policy.visibleKeys(peer(3333, 2000))).toEqual(['cobo-prod', 'internal']);
    expect(
      policy.authorize(peer(3333, 2000), 'cobo-prod', t('POST', 'api.cobo.com', '/v2/transactions/transfer')),
    ).toEqual({
      client: 'payments',
    });
  });

  it('first matching rule wins: a later rule for the same uid is never consulted', () => {
    expect(policy.clientFor(peer(1001, 2000))).toBe('trading-bot');
    expect(codeOf(() => policy.authorize(peer(1001), 'cobo-prod', t('POST', 'api.cobo.com', '/v2/x')))).toBe(
      'ERR_KEY_NOT_FOUND',
    );
  });

  it('gives root and the daemon uid nothing without a rule', () => {
    for (const p of [peer(0), peer(DAEMON_UID)]) {
      expect(policy.visibleKeys(p)).toEqual([]);
      expect(policy.clientFor(p)).toBeNull();
      expect(codeOf(() => policy.authorize(p, 'cdp-main', order))).toBe('ERR_KEY_NOT_FOUND');
    }
  });

  it('an empty clients list denies everyone', () => {
    const none = new Policy({ keys: KEYS, clients: [] }, { daemonUid: DAEMON_UID });
    expect(none.visibleKeys(peer(0))).toEqual([]);
    expect(codeOf(() => none.authorize(peer(DAEMON_UID), 'cdp-main', order))).toBe('ERR_KEY_NOT_FOUND');
  });

  it('returns copies: callers cannot change what the policy shows', () => {
    policy.visibleKeys(peer(1001)).push('internal');
    expect(policy.visibleKeys(peer(1001))).toEqual(['cdp-main']);
  });
});

describe('rate limits', () => {
  function limited(rate: number) {
    let now = 1_000_000;
    const policy = new Policy(
      {
        keys: KEYS,
        clients: [
          client({ name: 'bot', uid: 1001, keys: ['cdp-main'], allow: ['GET h/**'], rate, websocket: true }),
        ],
      },
      { daemonUid: DAEMON_UID, now: () => now },
    );
    const ok = () => policy.authorize(peer(1001), 'cdp-main', t('GET', 'h', '/x'));
    const advance = (ms: number) => {
      now += ms;
    };
    return { policy, ok, advance };
  }

  it('allows a burst of `rate`, then one per 1/rate seconds', () => {
    const { ok, advance } = limited(5);
    for (let i = 0; i < 5; i++) expect(ok()).toEqual({ client: 'bot' });
    const err = refusal(ok);
    expect(err.code).toBe('ERR_RATE_LIMITED');
    expect(err.statusCode).toBe(429);
    advance(199);
    expect(codeOf(ok)).toBe('ERR_RATE_LIMITED');
    advance(1);
    expect(ok()).toEqual({ client: 'bot' });
    expect(codeOf(ok)).toBe('ERR_RATE_LIMITED');
    advance(10_000); // the bucket refills to the burst, not beyond
    for (let i = 0; i < 5; i++) ok();
    expect(codeOf(ok)).toBe('ERR_RATE_LIMITED');
  });

  it('gives a fractional rate a burst of one', () => {
    const { ok, advance } = limited(0.5);
    ok();
    expect(codeOf(ok)).toBe('ERR_RATE_LIMITED');
    advance(1999);
    expect(codeOf(ok)).toBe('ERR_RATE_LIMITED');
    advance(1);
    expect(ok()).toEqual({ client: 'bot' });
  });

  it('counts only requests that pass the key and pattern checks', () => {
    const { policy, ok } = limited(1);
    for (let i = 0; i < 10; i++) {
      expect(codeOf(() => policy.authorize(peer(1001), 'cdp-main', t('GET', 'other', '/x')))).toBe(
        'ERR_POLICY_DENIED',
      );
      expect(codeOf(() => policy.authorize(peer(1001), 'internal', null))).toBe('ERR_KEY_NOT_FOUND');
    }
    expect(ok()).toEqual({ client: 'bot' });
    expect(codeOf(ok)).toBe('ERR_RATE_LIMITED');
  });

  it('counts websocket JWTs too, and never grants extra tokens when the clock steps back', () => {
    const { policy, ok, advance } = limited(2);
    expect(policy.authorize(peer(1001), 'cdp-main', null)).toEqual({ client: 'bot' });
    ok();
    advance(-60_000);
    expect(codeOf(ok)).toBe('ERR_RATE_LIMITED');
  });
});
