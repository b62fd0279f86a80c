/** Request and response schemas of every route: nothing undeclared goes in or comes out. */
import { Type, type Static } from '@sinclair/typebox';

/** Key names in the API: what the config accepts, so anything else is simply not found. */
export const KEY_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

export const KeyParams = Type.Object(
  { name: Type.String({ maxLength: 256 }) },
  { additionalProperties: false },
);
export type KeyParams = Static<typeof KeyParams>;

const HttpMethod = Type.String({ minLength: 1, maxLength: 32 });
const Url = Type.String({ minLength: 1, maxLength: 8192 });

export const JwtBody = Type.Object(
  {
    method: Type.Optional(HttpMethod),
    url: Type.Optional(Url),
    claims: Type.Optional(Type.Object({}, { additionalProperties: true, maxProperties: 64 })),
    ttl: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
  },
  { additionalProperties: false },
);
export type JwtBody = Static<typeof JwtBody>;

export const HeadersBody = Type.Object(
  {
    method: HttpMethod,
    url: Url,
    body: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type HeadersBody = Static<typeof HeadersBody>;

export const ErrorReply = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

const Jwk = Type.Object({
  kty: Type.String(),
  crv: Type.String(),
  x: Type.String(),
  y: Type.Optional(Type.String()),
});

export const KeyReply = Type.Object({
  name: Type.String(),
  profile: Type.String(),
  alg: Type.String(),
  kid: Type.String(),
  publicKey: Type.Object({ jwk: Jwk, pem: Type.String(), hex: Type.String() }),
  origin: Type.String(),
  extractable: Type.Boolean(),
});

export const KeysReply = Type.Object({ keys: Type.Array(KeyReply) });

export const JwksReply = Type.Object({
  keys: Type.Array(
    Type.Object({
      kty: Type.String(),
      crv: Type.String(),
      x: Type.String(),
      y: Type.Optional(Type.String()),
      kid: Type.String(),
      alg: Type.String(),
      use: Type.String(),
    }),
  ),
});

export const HealthReply = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  token: Type.Object({ label: Type.String(), present: Type.Boolean() }),
  keys: Type.Object({ loaded: Type.Integer() }),
});

export const JwtReply = Type.Object({
  jwt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
});

export const HeadersReply = Type.Object({
  headers: Type.Record(Type.String(), Type.String()),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
});
