/** Property: whatever the input, parseConfig returns a Config or throws SignerdError ERR_CONFIG — nothing else. */
import fc from 'fast-check';
import { mutatedYaml } from '../../helpers/yaml-mutations.js';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../../src/config/load.js';
import { SignerdError } from '../../../src/errors.js';

const BASE = `
hsm:
  module: /usr/lib/softhsm/libsofthsm2.so
  token: signerd
  pin: { file: /run/credentials/signerd.service/hsm-pin }
  sessions: 4
socket: { path: /run/signerd/signerd.sock, mode: "0660", group: 0 }
keys:
  cdp-main: { label: cdp-main, profile: cdp, cdp: { keyName: "organizations/ORG/apiKeys/KEY", uriClaim: uri } }
  cobo-prod: { id: a1b2, profile: cobo }
  internal: { label: internal, profile: jwt, jwt: { iss: signerd, sub: internal, audiences: [billing], maxTtl: 300 } }
clients:
  - name: trading-bot
    uid: 1001
    keys: [cdp-main]
    allow: ["GET api.coinbase.com/api/v3/brokerage/**", "POST api.coinbase.com/api/v3/brokerage/orders"]
    websocket: false
    rate: 50
audit: { path: /var/lib/signerd/audit.jsonl }
log: { level: info }
`;

/** Either a Config or ERR_CONFIG; fails the property on anything else. */
function parsesOrRefuses(text: string): boolean {
  try {
    const config = parseConfig(text);
    return Object.isFrozen(config) && typeof config.hsm.module === 'string';
  } catch (err) {
    return (
      err instanceof SignerdError &&
      err.code === 'ERR_CONFIG' &&
      err.message.startsWith('invalid configuration')
    );
  }
}

/** Text edits of the valid config: deletions, insertions, replacements. */
const textMutation = mutatedYaml(BASE, { maxRemove: 12, maxEdits: 5 });

/** Structural edits: a value anywhere in the valid config replaced by an arbitrary JSON value. */
const base = parse(BASE) as unknown;
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))];
}
const allPaths = paths(base).filter((p) => p.length > 0);
const structuralMutation = fc
  .tuple(
    fc.constantFrom(...allPaths),
    fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.string(),
      fc.constantFrom(-1, 0, 1.5, Number.POSITIVE_INFINITY, '', '0777', 'pkcs11:token=%', '__proto__'),
    ),
  )
  .map(([path, value]) => {
    const copy = structuredClone(base) as Record<string | number, unknown>;
    let node: Record<string | number, unknown> = copy;
    for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
    node[path[path.length - 1]!] = value;
    return stringify(copy);
  });

describe('parseConfig never throws anything but ERR_CONFIG', () => {
  it('the base config is valid', () => {
    expect(parseConfig(BASE).clients?.[0]?.name).toBe('trading-bot');
  });

  it('holds for random text, mutated text and mutated structure', () => {
    const started = Date.now();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          textMutation,
          structuralMutation,
          fc.jsonValue().map((v) => stringify(v)),
        ),
        parsesOrRefuses,
      ),
      { numRuns: 1500 },
    );
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
