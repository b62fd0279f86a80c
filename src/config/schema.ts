/**
 * The configuration file's shape (contract §2), as a TypeBox schema: types, required fields,
 * ranges, enumerations, and `additionalProperties: false` everywhere so an unknown (misspelt)
 * field is an error. Rules that span fields (exactly one of, only with profile …, references
 * between sections, user and group names) are checked in load.ts.
 *
 * `errorMessage` on a schema is ours: the text used for any error at that schema's field.
 */
import { Type } from '@sinclair/typebox';
import type { Static, TSchema } from '@sinclair/typebox';
import { ValueErrorType } from '@sinclair/typebox/value';
import type { ValueError } from '@sinclair/typebox/value';

const closed = { additionalProperties: false } as const;
const NonEmpty = Type.String({ minLength: 1, errorMessage: 'must be a non-empty string' });

export const PROFILES = ['cdp', 'cdp-wallet', 'cobo', 'jwt'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const mustBe = (values: readonly string[]) => ({ errorMessage: `must be one of ${values.join('|')}` });

const IdRef = (what: 'user' | 'group', id: 'uid' | 'gid') =>
  Type.Union([Type.Integer({ minimum: 0, maximum: 0xfffffffe }), Type.String({ minLength: 1 })], {
    errorMessage: `must be a ${what} name or a ${id} number (0..4294967294)`,
  });

export const HsmSchema = Type.Object(
  {
    module: NonEmpty,
    token: Type.Optional(NonEmpty),
    serial: Type.Optional(
      Type.String({
        minLength: 1,
        errorMessage: 'must be a non-empty string (quote it: YAML reads digits as a number)',
      }),
    ),
    pin: Type.Object({ file: Type.Optional(NonEmpty), env: Type.Optional(NonEmpty) }, closed),
    sessions: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  },
  closed,
);

export const SocketSchema = Type.Object(
  {
    path: Type.Optional(NonEmpty),
    mode: Type.Optional(
      Type.String({
        pattern: '^(0o?)?[0-7]{3}$',
        errorMessage:
          'must be an octal string like "0660" (quote it: YAML reads 0660 as the decimal number 660)',
      }),
    ),
    group: Type.Optional(IdRef('group', 'gid')),
  },
  closed,
);

export const KeySchema = Type.Object(
  {
    label: Type.Optional(NonEmpty),
    id: Type.Optional(
      Type.String({
        pattern: '^([0-9A-Fa-f]{2})+$',
        errorMessage: 'must be hex digits, an even number of them',
      }),
    ),
    profile: Type.Union(
      [Type.Literal('cdp'), Type.Literal('cdp-wallet'), Type.Literal('cobo'), Type.Literal('jwt')],
      mustBe(PROFILES),
    ),
    cdp: Type.Optional(
      Type.Object(
        {
          keyName: Type.Optional(NonEmpty),
          uriClaim: Type.Optional(
            Type.Union([Type.Literal('uri'), Type.Literal('uris')], mustBe(['uri', 'uris'])),
          ),
        },
        closed,
      ),
    ),
    jwt: Type.Optional(
      Type.Object(
        {
          iss: NonEmpty,
          sub: NonEmpty,
          audiences: Type.Optional(Type.Array(NonEmpty)),
          maxTtl: Type.Integer({ minimum: 1, maximum: 86400 }),
        },
        closed,
      ),
    ),
    allowExtractable: Type.Optional(Type.Boolean()),
  },
  closed,
);

export const ClientSchema = Type.Object(
  {
    name: NonEmpty,
    uid: Type.Optional(IdRef('user', 'uid')),
    gid: Type.Optional(IdRef('group', 'gid')),
    keys: Type.Array(NonEmpty),
    allow: Type.Optional(Type.Array(Type.String())),
    websocket: Type.Optional(Type.Boolean()),
    rate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100000 })),
  },
  closed,
);

export const ConfigSchema = Type.Object(
  {
    hsm: HsmSchema,
    socket: Type.Optional(SocketSchema),
    keys: Type.Optional(Type.Record(Type.String(), KeySchema)),
    clients: Type.Optional(Type.Array(ClientSchema)),
    audit: Type.Optional(Type.Object({ path: Type.Optional(NonEmpty) }, closed)),
    log: Type.Optional(
      Type.Object(
        {
          level: Type.Optional(
            Type.Union(
              LOG_LEVELS.map((l) => Type.Literal(l)),
              mustBe(LOG_LEVELS),
            ),
          ),
        },
        closed,
      ),
    ),
  },
  closed,
);

export type RawConfig = Static<typeof ConfigSchema>;
export type RawHsm = Static<typeof HsmSchema>;
export type RawSocket = Static<typeof SocketSchema>;
export type RawKey = Static<typeof KeySchema>;
export type RawClient = Static<typeof ClientSchema>;

/** A field path as users read it: `keys.cdp-main.profile`, `clients[0].allow[1]`. */
export function fieldPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out === '' ? '(top level)' : out;
}

/** A TypeBox error's JSON pointer as segments, array indices as numbers (found by walking `root`). */
export function pointerSegments(pointer: string, root: unknown): (string | number)[] {
  if (pointer === '') return [];
  const segments: (string | number)[] = [];
  let current: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current) && /^[0-9]+$/.test(key)) {
      segments.push(Number(key));
      current = (current as unknown[])[Number(key)];
    } else {
      segments.push(key);
      current =
        current !== null && typeof current === 'object' && Object.hasOwn(current, key)
          ? (current as Record<string, unknown>)[key]
          : undefined;
    }
  }
  return segments;
}

function describeRange(schema: TSchema): string {
  const min = (schema.minimum ?? schema.exclusiveMinimum) as number | undefined;
  const max = schema.maximum as number | undefined;
  const lower = schema.exclusiveMinimum !== undefined ? `greater than ${min}` : `at least ${min}`;
  if (min !== undefined && max !== undefined) {
    return schema.exclusiveMinimum !== undefined ? `must be > ${min} and ≤ ${max}` : `must be ${min}..${max}`;
  }
  if (min !== undefined) return `must be ${lower}`;
  return `must be at most ${max}`;
}

/** Why a value failed, in the config's words. */
export function describeError(error: ValueError): string {
  const custom = (error.schema as { errorMessage?: unknown }).errorMessage;
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return 'unknown field';
    case ValueErrorType.ObjectRequiredProperty:
      return 'required field missing';
    default:
      break;
  }
  if (typeof custom === 'string') return custom;
  switch (error.type) {
    case ValueErrorType.Object:
      return 'must be a mapping (key: value)';
    case ValueErrorType.Array:
      return 'must be a list';
    case ValueErrorType.String:
      return 'must be a string';
    case ValueErrorType.Boolean:
      return 'must be true or false';
    case ValueErrorType.Integer:
      return 'must be an integer';
    case ValueErrorType.Number:
      return 'must be a number';
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.NumberExclusiveMinimum:
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.IntegerExclusiveMinimum:
      return describeRange(error.schema);
    default:
      return error.message;
  }
}
