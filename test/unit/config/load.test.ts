import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_PATH, loadConfig, parseConfig, resolveConfigPath } from '../../../src/config/load.js';
import type { ParseOptions } from '../../../src/config/load.js';
import { SignerdError } from '../../../src/errors.js';

let dir: string;
let options: ParseOptions;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'signerd-config-'));
  writeFileSync(
    join(dir, 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\n# comment\nbot:x:1001:1001::/home/bot:/bin/sh\n',
  );
  writeFileSync(join(dir, 'group'), 'root:x:0:\nsignerd:x:990:bot\nbots:x:1500:\n');
  options = { users: { passwd: join(dir, 'passwd'), group: join(dir, 'group') } };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The contract's §2 example, verbatim. */
const EXAMPLE = `
hsm:
  module: /usr/lib/softhsm/libsofthsm2.so   # absolute path of the PKCS#11 module
  token: signerd                             # token label (or \`serial: ...\`)
  pin: { file: /run/credentials/signerd.service/hsm-pin }   # or { env: SIGNERD_PIN }
  sessions: 4                                # session pool size
socket:
  path: /run/signerd/signerd.sock
  mode: "0660"
  group: signerd                             # optional
keys:
  cdp-main:                                  # the key's name in the API
    label: cdp-main                          # CKA_LABEL of the private key (or \`id: <hex CKA_ID>\`)
    profile: cdp                             # cdp | cdp-wallet | cobo | jwt
    cdp: { keyName: "organizations/ORG/apiKeys/KEY", uriClaim: uri }   # uri (default) | uris
  cobo-prod:
    label: cobo-prod
    profile: cobo
  internal:
    label: internal
    profile: jwt
    jwt: { iss: signerd, sub: internal, audiences: [billing], maxTtl: 300 }
clients:                                     # default deny; with no \`clients\` section only
  - name: trading-bot                        # the daemon's own uid and root may use any key
    uid: 1001                                # match on uid and/or gid (number or name)
    keys: [cdp-main]
    allow:                                   # "METHOD host/path"; \`*\` one segment, \`**\` any rest
      - "GET api.coinbase.com/api/v3/brokerage/**"
      - "POST api.coinbase.com/api/v3/brokerage/orders"
    websocket: false                         # may it get uri-less (websocket) CDP JWTs
    rate: 50                                 # requests per second, optional
audit: { path: /var/lib/signerd/audit.jsonl }
log: { level: info }
`;

const HSM_ONLY = `
hsm:
  module: /usr/lib/softhsm/libsofthsm2.so
  token: signerd
  pin: { env: SIGNERD_PIN }
`;

function configError(text: string): SignerdError {
  try {
    parseConfig(text, undefined, options);
  } catch (err) {
    expect(err).toBeInstanceOf(SignerdError);
    expect((err as SignerdError).code).toBe('ERR_CONFIG');
    return err as SignerdError;
  }
  throw new Error('expected ERR_CONFIG');
}

/** The problem lines of an ERR_CONFIG message. */
function problems(text: string): string[] {
  return configError(text)
    .message.split('\n')
    .slice(1)
    .map((line) => line.trim());
}

/** HSM_ONLY plus `extra` YAML. */
const withHsm = (extra: string) => HSM_ONLY + extra;

describe('resolveConfigPath', () => {
  it('prefers --config, then $SIGNERD_CONFIG, then the default', () => {
    expect(resolveConfigPath('/a.yaml', { SIGNERD_CONFIG: '/b.yaml' })).toBe('/a.yaml');
    expect(resolveConfigPath(undefined, { SIGNERD_CONFIG: '/b.yaml' })).toBe('/b.yaml');
    expect(resolveConfigPath(undefined, {})).toBe(DEFAULT_CONFIG_PATH);
    expect(resolveConfigPath(undefined, { SIGNERD_CONFIG: '' })).toBe('/etc/signerd/signerd.yaml');
  });
});

describe('parseConfig: valid configurations', () => {
  it('accepts the contract example and fills in the typed config', () => {
    const config = parseConfig(EXAMPLE, '/etc/signerd/signerd.yaml', options);
    expect(config.source).toBe('/etc/signerd/signerd.yaml');
    expect(config.hsm).toEqual({
      module: '/usr/lib/softhsm/libsofthsm2.so',
      token: { label: 'signerd' },
      pin: { file: '/run/credentials/signerd.service/hsm-pin' },
      sessions: 4,
    });
    expect(config.socket).toEqual({
      path: '/run/signerd/signerd.sock',
      mode: 0o660,
      group: { gid: 990, name: 'signerd' },
    });
    expect(Object.keys(config.keys)).toEqual(['cdp-main', 'cobo-prod', 'internal']);
    expect(config.keys['cdp-main']).toEqual({
      name: 'cdp-main',
      label: 'cdp-main',
      profile: 'cdp',
      allowExtractable: false,
      cdp: { keyName: 'organizations/ORG/apiKeys/KEY', uriClaim: 'uri' },
    });
    expect(config.keys.internal?.jwt).toEqual({
      iss: 'signerd',
      sub: 'internal',
      audiences: ['billing'],
      maxTtl: 300,
    });
    expect(config.clients).toEqual([
      {
        name: 'trading-bot',
        uid: 1001,
        keys: ['cdp-main'],
        allow: ['GET api.coinbase.com/api/v3/brokerage/**', 'POST api.coinbase.com/api/v3/brokerage/orders'],
        websocket: false,
        rate: 50,
      },
    ]);
    expect(config.audit).toEqual({ path: '/var/lib/signerd/audit.jsonl' });
    expect(config.log).toEqual({ level: 'info' });
  });

  it('accepts a config with only the hsm section, with defaults everywhere else', () => {
    const config = parseConfig(HSM_ONLY, undefined, options);
    expect(config.source).toBeUndefined();
    expect(config.hsm.pin).toEqual({ env: 'SIGNERD_PIN' });
    expect(config.hsm.sessions).toBe(4);
    expect(config.socket).toEqual({ path: '/run/signerd/signerd.sock', mode: 0o660 });
    expect(config.keys).toEqual({});
    expect(config.clients).toBeUndefined();
    expect('clients' in config).toBe(false);
    expect(config.audit.path).toBe('/var/lib/signerd/audit.jsonl');
    expect(config.log.level).toBe('info');
  });

  it('freezes the result deeply', () => {
    const config = parseConfig(EXAMPLE, undefined, options);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.hsm.token)).toBe(true);
    expect(Object.isFrozen(config.keys['cdp-main']?.cdp)).toBe(true);
    expect(Object.isFrozen(config.clients?.[0]?.allow)).toBe(true);
    expect(() => {
      (config.hsm as { sessions: number }).sessions = 9;
    }).toThrow(TypeError);
  });

  it('resolves user and group names, and numeric strings', () => {
    const config = parseConfig(
      withHsm(`
keys: { k: { label: k, profile: cobo } }
clients:
  - { name: a, uid: bot, keys: [k] }
  - { name: b, gid: bots, keys: [k] }
  - { name: c, uid: "1234", gid: 0, keys: [k] }
socket: { group: 990 }
`),
      undefined,
      options,
    );
    expect(config.clients?.map((c) => [c.uid, c.gid])).toEqual([
      [1001, undefined],
      [undefined, 1500],
      [1234, 0],
    ]);
    expect(config.socket.group).toEqual({ gid: 990 });
  });

  it('takes the token from a pkcs11: URI, percent-decoded', () => {
    const uri = (token: string) =>
      parseConfig(`hsm: { module: /m.so, token: "${token}", pin: { env: P } }`, undefined, options).hsm.token;
    expect(uri('pkcs11:token=my%20token')).toEqual({ label: 'my token' });
    expect(uri('pkcs11:serial=4e0a1b2c3d4e5f60')).toEqual({ serial: '4e0a1b2c3d4e5f60' });
    expect(uri('pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;token=signerd')).toEqual({
      label: 'signerd',
    });
  });

  it('accepts hsm.serial, key ids (lower-cased), uris claims, sockets modes 0600 and 0o640', () => {
    const config = parseConfig(
      `
hsm: { module: /m.so, serial: "0123456789abcdef", pin: { file: /p }, sessions: 64 }
socket: { mode: "0o640" }
keys:
  a: { id: A1B2, profile: cdp, cdp: { keyName: n, uriClaim: uris }, allowExtractable: true }
  b.c_d-e: { label: x, id: "00", profile: cdp-wallet }
log: { level: debug }
`,
      undefined,
      options,
    );
    expect(config.hsm.token).toEqual({ serial: '0123456789abcdef' });
    expect(config.hsm.sessions).toBe(64);
    expect(config.socket.mode).toBe(0o640);
    expect(config.keys.a).toEqual({
      name: 'a',
      id: 'a1b2',
      profile: 'cdp',
      allowExtractable: true,
      cdp: { keyName: 'n', uriClaim: 'uris' },
    });
    expect(config.keys['b.c_d-e']?.id).toBe('00');
    expect(config.log.level).toBe('debug');
    expect(parseConfig(`${HSM_ONLY}socket: { mode: "600" }\n`, undefined, options).socket.mode).toBe(0o600);
  });

  it('defaults jwt audiences to none, client allow to none and websocket to false', () => {
    const config = parseConfig(
      withHsm(`
keys: { j: { label: j, profile: jwt, jwt: { iss: i, sub: s, maxTtl: 60 } } }
clients: [{ name: x, uid: 5, keys: [j] }]
`),
      undefined,
      options,
    );
    expect(config.keys.j?.jwt?.audiences).toEqual([]);
    expect(config.clients?.[0]).toEqual({ name: 'x', uid: 5, keys: ['j'], allow: [], websocket: false });
  });

  it('an empty clients list is valid (nobody may use a key)', () => {
    expect(parseConfig(withHsm('clients: []\n'), undefined, options).clients).toEqual([]);
  });
});

describe('parseConfig: every error names its field', () => {
  const cases: [string, string, string][] = [
    [
      'label too long',
      `hsm: { module: /m, token: ${'t'.repeat(33)}, pin: { env: P } }`,
      'hsm.token: a token label is at most 32 bytes',
    ],
    [
      'serial too long',
      `hsm: { module: /m, serial: "${'1'.repeat(17)}", pin: { env: P } }`,
      'hsm.serial: a token serial number is at most 16 characters',
    ],
    [
      'keys not a mapping',
      withHsm('keys: [a]\nclients: [{ name: c, uid: 1, keys: [a] }]\n'),
      'keys: must be a mapping',
    ],
    ['unknown top-level field', withHsm('extra: 1\n'), 'extra: unknown field'],
    [
      'unknown hsm field',
      `hsm: { module: /m, token: t, pin: { env: P }, slot: 1 }`,
      'hsm.slot: unknown field',
    ],
    ['missing hsm', 'socket: { mode: "0600" }\n', 'hsm: required field missing'],
    [
      'relative module',
      `hsm: { module: lib.so, token: t, pin: { env: P } }`,
      'hsm.module: must be an absolute path',
    ],
    ['missing module', `hsm: { token: t, pin: { env: P } }`, 'hsm.module: required field missing'],
    ['no token', `hsm: { module: /m, pin: { env: P } }`, 'hsm.token: required'],
    [
      'token and serial',
      `hsm: { module: /m, token: t, serial: s, pin: { env: P } }`,
      'hsm.serial: give hsm.token or hsm.serial, not both',
    ],
    [
      'numeric serial',
      `hsm: { module: /m, serial: 1234, pin: { env: P } }`,
      'hsm.serial: must be a non-empty string (quote it',
    ],
    [
      'pin both',
      `hsm: { module: /m, token: t, pin: { env: P, file: /f } }`,
      'hsm.pin: give exactly one of file or env',
    ],
    ['pin neither', `hsm: { module: /m, token: t, pin: {} }`, 'hsm.pin: required'],
    [
      'pin unknown source',
      `hsm: { module: /m, token: t, pin: { value: "1234" } }`,
      'hsm.pin.value: unknown field',
    ],
    [
      'pin relative file',
      `hsm: { module: /m, token: t, pin: { file: pin.txt } }`,
      'hsm.pin.file: must be an absolute path',
    ],
    [
      'pin bad env name',
      `hsm: { module: /m, token: t, pin: { env: "A-B" } }`,
      'hsm.pin.env: must be an environment variable name',
    ],
    [
      'sessions 0',
      `hsm: { module: /m, token: t, pin: { env: P }, sessions: 0 }`,
      'hsm.sessions: must be 1..64',
    ],
    [
      'sessions 65',
      `hsm: { module: /m, token: t, pin: { env: P }, sessions: 65 }`,
      'hsm.sessions: must be 1..64',
    ],
    [
      'sessions 1.5',
      `hsm: { module: /m, token: t, pin: { env: P }, sessions: 1.5 }`,
      'hsm.sessions: must be an integer',
    ],
    [
      'uri query',
      `hsm: { module: /m, token: "pkcs11:token=t?pin-value=1234", pin: { env: P } }`,
      'hsm.token: a pkcs11: URI with a query',
    ],
    [
      'uri attribute',
      `hsm: { module: /m, token: "pkcs11:object=k", pin: { env: P } }`,
      'hsm.token: pkcs11: URI attribute "object"',
    ],
    [
      'uri escape',
      `hsm: { module: /m, token: "pkcs11:token=%zz", pin: { env: P } }`,
      'hsm.token: the value of token has an invalid %-escape',
    ],
    [
      'uri both',
      `hsm: { module: /m, token: "pkcs11:token=a;serial=b", pin: { env: P } }`,
      'hsm.token: a pkcs11: URI with both',
    ],
    [
      'mode as number',
      withHsm('socket: { mode: 0660 }\n'),
      'socket.mode: must be an octal string like "0660"',
    ],
    ['mode for others', withHsm('socket: { mode: "0666" }\n'), 'socket.mode: must grant nothing to others'],
    ['mode exec', withHsm('socket: { mode: "0770" }\n'), 'socket.mode: must have no execute bits'],
    ['mode setuid', withHsm('socket: { mode: "4660" }\n'), 'socket.mode: must be an octal string'],
    ['unknown group', withHsm('socket: { group: nogroup }\n'), 'socket.group: unknown group "nogroup"'],
    ['relative socket', withHsm('socket: { path: signerd.sock }\n'), 'socket.path: must be an absolute path'],
    [
      'long socket',
      withHsm(`socket: { path: /${'x'.repeat(110)} }\n`),
      'socket.path: too long for a Unix socket',
    ],
    [
      'bad key name',
      withHsm('keys: { "-bad": { label: x, profile: cobo } }\n'),
      'keys["-bad"]: invalid key name',
    ],
    [
      'long key name',
      withHsm(`keys: { ${'k'.repeat(65)}: { label: x, profile: cobo } }\n`),
      `keys.${'k'.repeat(65)}: invalid key name`,
    ],
    [
      'bad profile',
      withHsm('keys: { cdp-main: { label: x, profile: coinbase } }\n'),
      'keys.cdp-main.profile: must be one of cdp|cdp-wallet|cobo|jwt',
    ],
    ['no profile', withHsm('keys: { k: { label: x } }\n'), 'keys.k.profile: required field missing'],
    ['no label or id', withHsm('keys: { k: { profile: cobo } }\n'), 'keys.k.label: required'],
    [
      'odd id',
      withHsm('keys: { k: { id: abc, profile: cobo } }\n'),
      'keys.k.id: must be hex digits, an even number of them',
    ],
    ['non-hex id', withHsm('keys: { k: { id: zz, profile: cobo } }\n'), 'keys.k.id: must be hex digits'],
    [
      'unknown key field',
      withHsm('keys: { k: { label: x, profile: cobo, kid: y } }\n'),
      'keys.k.kid: unknown field',
    ],
    [
      'cdp without section',
      withHsm('keys: { k: { label: x, profile: cdp } }\n'),
      'keys.k.cdp: required for profile cdp',
    ],
    [
      'cdp without keyName',
      withHsm('keys: { k: { label: x, profile: cdp, cdp: { uriClaim: uri } } }\n'),
      'keys.k.cdp.keyName: required for profile cdp',
    ],
    [
      'cdp bad uriClaim',
      withHsm('keys: { k: { label: x, profile: cdp, cdp: { keyName: n, uriClaim: url } } }\n'),
      'keys.k.cdp.uriClaim: must be one of uri|uris',
    ],
    [
      'cdp on cobo',
      withHsm('keys: { k: { label: x, profile: cobo, cdp: { keyName: n } } }\n'),
      'keys.k.cdp: only valid with profile cdp',
    ],
    [
      'jwt missing',
      withHsm('keys: { k: { label: x, profile: jwt } }\n'),
      'keys.k.jwt: required for profile jwt',
    ],
    [
      'jwt on cdp',
      withHsm(
        'keys: { k: { label: x, profile: cdp, cdp: { keyName: n }, jwt: { iss: a, sub: b, maxTtl: 5 } } }\n',
      ),
      'keys.k.jwt: only valid with profile jwt',
    ],
    [
      'jwt maxTtl',
      withHsm('keys: { k: { label: x, profile: jwt, jwt: { iss: a, sub: b, maxTtl: 86401 } } }\n'),
      'keys.k.jwt.maxTtl: must be 1..86400',
    ],
    [
      'jwt no iss',
      withHsm('keys: { k: { label: x, profile: jwt, jwt: { sub: b, maxTtl: 5 } } }\n'),
      'keys.k.jwt.iss: required field missing',
    ],
    [
      'jwt audience type',
      withHsm(
        'keys: { k: { label: x, profile: jwt, jwt: { iss: a, sub: b, maxTtl: 5, audiences: [1] } } }\n',
      ),
      'keys.k.jwt.audiences[0]: must be a non-empty string',
    ],
    [
      'jwt duplicate audience',
      withHsm(
        'keys: { k: { label: x, profile: jwt, jwt: { iss: a, sub: b, maxTtl: 5, audiences: [a, a] } } }\n',
      ),
      'keys.k.jwt.audiences[1]: duplicate audience',
    ],
    [
      'allowExtractable type',
      withHsm('keys: { k: { label: x, profile: cobo, allowExtractable: "yes" } }\n'),
      'keys.k.allowExtractable: must be true or false',
    ],
    ['clients not a list', withHsm('clients: { name: a }\n'), 'clients: must be a list'],
    [
      'client without uid/gid',
      withHsm('keys: { k: { label: x, profile: cobo } }\nclients: [{ name: a, keys: [k] }]\n'),
      'clients[0].uid: a client needs uid and/or gid',
    ],
    [
      'client unknown user',
      withHsm('clients: [{ name: a, uid: nobody-here, keys: [] }]\n'),
      'clients[0].uid: unknown user "nobody-here"',
    ],
    [
      'client unknown group',
      withHsm('clients: [{ name: a, gid: nogroup, keys: [] }]\n'),
      'clients[0].gid: unknown group "nogroup"',
    ],
    [
      'client negative uid',
      withHsm('clients: [{ name: a, uid: -1, keys: [] }]\n'),
      'clients[0].uid: must be a user name or a uid number',
    ],
    [
      'client unknown key',
      withHsm('keys: { k: { label: x, profile: cobo } }\nclients: [{ name: a, uid: 1, keys: [k, nope] }]\n'),
      'clients[0].keys[1]: unknown key "nope" (not in keys)',
    ],
    [
      'client key twice',
      withHsm('keys: { k: { label: x, profile: cobo } }\nclients: [{ name: a, uid: 1, keys: [k, k] }]\n'),
      'clients[0].keys[1]: key "k" is listed twice',
    ],
    [
      'client duplicate name',
      withHsm('clients: [{ name: a, uid: 1, keys: [] }, { name: a, uid: 2, keys: [] }]\n'),
      'clients[1].name: duplicate client name "a" (also clients[0])',
    ],
    [
      'client bad name',
      withHsm('clients: [{ name: "a b", uid: 1, keys: [] }]\n'),
      'clients[0].name: invalid client name',
    ],
    [
      'client no keys',
      withHsm('clients: [{ name: a, uid: 1 }]\n'),
      'clients[0].keys: required field missing',
    ],
    [
      'client unknown field',
      withHsm('clients: [{ name: a, uid: 1, keys: [], allowed: [] }]\n'),
      'clients[0].allowed: unknown field',
    ],
    [
      'client rate 0',
      withHsm('clients: [{ name: a, uid: 1, keys: [], rate: 0 }]\n'),
      'clients[0].rate: must be > 0 and ≤ 100000',
    ],
    [
      'client rate huge',
      withHsm('clients: [{ name: a, uid: 1, keys: [], rate: 100001 }]\n'),
      'clients[0].rate: must be > 0 and ≤ 100000',
    ],
    [
      'client websocket type',
      withHsm('clients: [{ name: a, uid: 1, keys: [], websocket: 1 }]\n'),
      'clients[0].websocket: must be true or false',
    ],
    [
      'pattern no path',
      withHsm('clients: [{ name: a, uid: 1, keys: [], allow: ["GET host"] }]\n'),
      'clients[0].allow[0]: "GET host": the path must start with "/"',
    ],
    [
      'pattern bad method',
      withHsm('clients: [{ name: a, uid: 1, keys: [], allow: ["GET h/", "G(T h/"] }]\n'),
      'clients[0].allow[1]: "G(T h/": "G(T" is not an HTTP method',
    ],
    [
      'pattern ** not last',
      withHsm('clients: [{ name: a, uid: 1, keys: [], allow: ["GET h/**/x"] }]\n'),
      'clients[0].allow[0]: "GET h/**/x": "**" may only be the last segment',
    ],
    [
      'pattern partial *',
      withHsm('clients: [{ name: a, uid: 1, keys: [], allow: ["GET h/a*"] }]\n'),
      'clients[0].allow[0]: "GET h/a*": "*" and "**" must be a whole segment',
    ],
    [
      'pattern query',
      withHsm('clients: [{ name: a, uid: 1, keys: [], allow: ["GET h/a?b=1"] }]\n'),
      'clients[0].allow[0]: "GET h/a?b=1": no query or fragment',
    ],
    [
      'pattern scheme',
      withHsm('clients: [{ name: a, uid: 1, keys: [], allow: ["GET https://h/a"] }]\n'),
      'clients[0].allow[0]: "GET https://h/a": ',
    ],
    [
      'pattern no method',
      withHsm('clients: [{ name: a, uid: 1, keys: [], allow: ["h/a"] }]\n'),
      'clients[0].allow[0]: "h/a": must be "METHOD host/path"',
    ],
    [
      'pattern dot segment',
      withHsm('clients: [{ name: a, uid: 1, keys: [], allow: ["GET h/a/../b"] }]\n'),
      'clients[0].allow[0]: "GET h/a/../b": "." and ".." segments are not allowed',
    ],
    [
      'pattern not a string',
      withHsm('clients: [{ name: a, uid: 1, keys: [], allow: [7] }]\n'),
      'clients[0].allow[0]: must be a string',
    ],
    [
      'relative audit path',
      withHsm('audit: { path: audit.jsonl }\n'),
      'audit.path: must be an absolute path',
    ],
    [
      'bad log level',
      withHsm('log: { level: verbose }\n'),
      'log.level: must be one of fatal|error|warn|info|debug|trace|silent',
    ],
  ];

  it.each(cases)('%s', (_name, text, expected) => {
    const lines = problems(text);
    expect(
      lines.some((line) => line.startsWith(expected)),
      `${expected}\n  not in\n${lines.join('\n')}`,
    ).toBe(true);
  });

  it('sets err.field to the first problem', () => {
    expect(configError(withHsm('keys: { cdp-main: { label: x, profile: nope } }\n')).field).toBe(
      'keys.cdp-main.profile',
    );
  });

  it('reports every problem at once, one per line', () => {
    const lines = problems(`
hsm: { module: rel.so, token: t, pin: { env: P }, sessions: 0 }
socket: { mode: "0777" }
keys: { k: { profile: cobo }, j: { label: j, profile: foo } }
clients: [{ name: a, keys: [missing] }]
bogus: true
`);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^bogus: unknown field/),
        expect.stringMatching(/^hsm\.module: must be an absolute path/),
        expect.stringMatching(/^hsm\.sessions: /),
        expect.stringMatching(/^socket\.mode: /),
        expect.stringMatching(/^keys\.k\.label: /),
        expect.stringMatching(/^keys\.j\.profile: /),
        expect.stringMatching(/^clients\[0\]\.uid: /),
        expect.stringMatching(/^clients\[0\]\.keys\[0\]: unknown key "missing"/),
      ]),
    );
    expect(lines.length).toBeGreaterThanOrEqual(8);
  });

  it('does not report client keys as unknown when the keys section itself is malformed', () => {
    expect(problems(withHsm('keys: [a]\nclients: [{ name: c, uid: 1, keys: [a] }]\n'))).toEqual([
      'keys: must be a mapping (key: value)',
    ]);
  });

  it('does not report a client key as unknown when the key exists but is itself invalid', () => {
    const lines = problems(
      withHsm('keys: { k: { profile: cobo } }\nclients: [{ name: a, uid: 1, keys: [k] }]\n'),
    );
    expect(lines).toEqual(["keys.k.label: required: the key's CKA_LABEL (label) or CKA_ID (id), or both"]);
  });

  it('names the source file in the message', () => {
    try {
      parseConfig('hsm: 1', '/etc/x.yaml', options);
      expect.unreachable();
    } catch (err) {
      expect((err as SignerdError).message).toMatch(
        /^invalid configuration in \/etc\/x\.yaml:\n {2}hsm: must be a mapping/,
      );
    }
  });
});

describe('parseConfig: YAML hazards', () => {
  it('refuses duplicate keys', () => {
    expect(
      problems(
        'hsm: { module: /m, token: t, pin: { env: P } }\nhsm: { module: /n, token: t, pin: { env: P } }\n',
      )[0],
    ).toMatch(/^\(yaml\): Map keys must be unique at line 2/);
  });

  it('refuses an alias bomb', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]',
    ].join('\n');
    expect(problems(bomb).join('\n')).toMatch(/alias/i);
  });

  it('allows a few plain aliases (shared allow lists)', () => {
    const config = parseConfig(
      withHsm(`
keys: { k: { label: k, profile: cobo } }
clients:
  - { name: a, uid: 1, keys: [k], allow: &cobo ["POST api.cobo.com/v2/**"] }
  - { name: b, uid: 2, keys: [k], allow: *cobo }
`),
      undefined,
      options,
    );
    expect(config.clients?.[1]?.allow).toEqual(['POST api.cobo.com/v2/**']);
  });

  it('refuses YAML 1.1 and custom tags, and multiple documents', () => {
    expect(problems(withHsm('log: { level: !!binary aW5mbw== }\n')).join('\n')).toMatch(/^\(yaml\).*tag/im);
    expect(problems(withHsm('log: { level: !custom info }\n')).join('\n')).toMatch(/tag/i);
    expect(problems(`${HSM_ONLY}---\n${HSM_ONLY}`).join('\n')).toMatch(/multiple documents/i);
  });

  it('treats __proto__ as the unknown field it is, without touching prototypes', () => {
    expect(problems(withHsm('__proto__: { polluted: true }\n'))).toContain('__proto__: unknown field');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses an empty document and a non-mapping', () => {
    expect(problems('')[0]).toMatch(/^\(top level\): must be a mapping/);
    expect(problems('- a\n- b\n')[0]).toMatch(/^\(top level\): must be a mapping/);
    expect(problems('hsm: [')[0]).toMatch(/^\(yaml\)/);
  });
});

describe('loadConfig', () => {
  it('reads and parses a file, recording its path', async () => {
    const file = join(dir, 'signerd.yaml');
    writeFileSync(file, HSM_ONLY);
    const config = await loadConfig(file, options);
    expect(config.source).toBe(file);
    expect(config.hsm.token).toEqual({ label: 'signerd' });
  });

  it('says which file is missing', async () => {
    const missing = join(dir, 'nope.yaml');
    await expect(loadConfig(missing)).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: `cannot read config file ${missing}: no such file`,
    });
  });
});
