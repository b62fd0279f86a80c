/**
 * buildApp(deps): the HTTP API as pure wiring, no listening (server.ts binds it).
 * request → peer identity → policy → credential builder → Signer → token, and an audit line for
 * every credential issued or refused.
 */
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AuditEvent, AuditLog } from '../audit/log.js';
import { prepareCredential } from '../credentials/index.js';
import type { Clock, CredentialKind, Target } from '../credentials/types.js';
import { SignerdError } from '../errors.js';
import type { TokenStatus } from '../keys/store.js';
import type { LoadedKey } from '../daemon/keys.js';
import { notFound, type Policy } from '../policy/policy.js';
import { parseTarget } from '../credentials/index.js';
import { toApiError } from './errors.js';
import { CHECK_INTERVAL_MS } from './connections.js';
import { peerCredOf, type PeerCred } from '../native.js';
import {
  ErrorReply,
  HeadersBody,
  HeadersReply,
  HealthReply,
  JwksReply,
  JwtBody,
  JwtReply,
  KEY_NAME_PATTERN,
  KeyParams,
  KeyReply,
  KeysReply,
} from './schemas.js';

/** Keys and policy, swapped as one on SIGHUP; a request keeps the state it started with. */
export interface DaemonState {
  keys: ReadonlyMap<string, LoadedKey>;
  policy: Policy;
}

export interface AppDeps {
  state(): DaemonState;
  token(): TokenStatus;
  audit: Pick<AuditLog, 'append'>;
  logger: Logger;
  /** Who sent a request; defaults to SO_PEERCRED of its connection. */
  peerOf?: (request: FastifyRequest) => PeerCred;
  clock?: Clock;
}

export const BODY_LIMIT = 64 * 1024;

const keyName = new RegExp(KEY_NAME_PATTERN);

function requestOf(target: Target | null): AuditEvent['request'] {
  return target ? { method: target.method, host: target.host, path: target.path } : null;
}

/** The peer of the request's connection (SO_PEERCRED). */
export function socketPeer(request: FastifyRequest): PeerCred {
  return peerCredOf(request.raw.socket);
}

export function buildApp(deps: AppDeps) {
  const peerOf = deps.peerOf ?? socketPeer;
  const clock = deps.clock ?? Date.now;
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: BODY_LIMIT,
    // Unknown fields are errors, types are never coerced: what is signed is exactly what was sent.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    logController: new LogController({ disableRequestLogging: true }),
    requestTimeout: 15_000,
    keepAliveTimeout: 30_000,
    connectionTimeout: 30_000,
    // Slow clients: headersTimeout (connections.ts) is checked every second, not every 30 s.
    http: { maxHeaderSize: 16 * 1024, connectionsCheckingInterval: CHECK_INTERVAL_MS },
    routerOptions: { maxParamLength: 256 },
    // Errors the router raises before any route runs (bad percent-encoding, over-long names).
    frameworkErrors: (err, _request, reply) => {
      void (reply as FastifyReply)
        .code(400)
        .send({
          error: { code: 'ERR_BAD_REQUEST', message: `bad request path: ${err.message.slice(0, 200)}` },
        });
    },
  });

  // JSON only: a text/plain body would otherwise reach the schema as a string.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((err, request, reply) => {
    const apiError = toApiError(err);
    if (!apiError.deliberate) request.log.error({ err }, 'unexpected error');
    else if (apiError.statusCode >= 500) request.log.warn({ err }, apiError.message);
    return reply
      .code(apiError.statusCode)
      .send({ error: { code: apiError.code, message: apiError.message } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(400).send({
      error: { code: 'ERR_BAD_REQUEST', message: `no route ${request.method} ${request.url.slice(0, 200)}` },
    }),
  );

  const errors = {
    400: ErrorReply,
    403: ErrorReply,
    404: ErrorReply,
    413: ErrorReply,
    429: ErrorReply,
    500: ErrorReply,
    503: ErrorReply,
  };

  app.get(
    '/v1/health',
    { schema: { response: { 200: HealthReply, 503: HealthReply } } },
    (_request, reply) => {
      const token = deps.token();
      return reply.code(token.present ? 200 : 503).send({
        status: token.present ? 'ok' : 'unavailable',
        token: { label: token.label, present: token.present },
        keys: { loaded: deps.state().keys.size },
      });
    },
  );

  function visibleKeys(request: FastifyRequest): LoadedKey[] {
    const { keys, policy } = deps.state();
    const out: LoadedKey[] = [];
    for (const name of policy.visibleKeys(peerOf(request))) {
      const key = keys.get(name);
      if (key) out.push(key);
    }
    return out;
  }

  /** The key if this caller may use it; otherwise the same 404 as a key that does not exist. */
  function usableKey(request: FastifyRequest, name: string, state: DaemonState): LoadedKey {
    const key = keyName.test(name) ? state.keys.get(name) : undefined;
    if (!key || !state.policy.mayUse(peerOf(request), name)) throw notFound();
    return key;
  }

  /** For the audit line of a refused stranger: what it asked for, if that much parses. */
  function targetOf(body: unknown): Target | null {
    const { method, url } = (body ?? {}) as { method?: unknown; url?: unknown };
    if (typeof method !== 'string' || typeof url !== 'string') return null;
    try {
      return parseTarget(method, url);
    } catch {
      return null;
    }
  }

  app.get('/v1/keys', { schema: { response: { 200: KeysReply, ...errors } } }, (request) => ({
    keys: visibleKeys(request).map((k) => k.view),
  }));

  app.get<{ Params: KeyParams }>(
    '/v1/keys/:name',
    { schema: { params: KeyParams, response: { 200: KeyReply, ...errors } } },
    (request) => usableKey(request, request.params.name, deps.state()).view,
  );

  app.get('/v1/jwks', { schema: { response: { 200: JwksReply, ...errors } } }, (request) => ({
    keys: visibleKeys(request).map((k) => k.jwk),
  }));

  async function issue(
    kind: CredentialKind,
    request: FastifyRequest<{ Params: KeyParams }>,
    reply: FastifyReply,
  ) {
    const name = request.params.name;
    const state = deps.state();
    const peer = peerOf(request);
    let key: LoadedKey | undefined;
    let target: Target | null = null;
    let client: string | null = null;
    try {
      // A peer no rule knows is refused outright, the same for every key name: it learns nothing.
      if (!state.policy.recognises(peer)) {
        target = targetOf(request.body);
        throw new SignerdError('ERR_POLICY_DENIED', `uid ${peer.uid} matches no client rule`);
      }
      key = usableKey(request, name, state);
      const prepared = prepareCredential(key.context, kind, request.body ?? {}, clock);
      target = prepared.target;
      client = state.policy.authorize(peer, name, target).client;
      const issued = await prepared.issue();
      const event: AuditEvent = {
        event: 'sign',
        key: name,
        profile: key.config.profile,
        peer,
        client,
        request: requestOf(target),
      };
      if (issued.nonce !== undefined) event.nonce = issued.nonce;
      if (issued.jti !== undefined) event.jti = issued.jti;
      // Written before the answer: a credential nobody can account for is never handed out.
      await deps.audit.append(event);
      return kind === 'jwt'
        ? reply.send({ jwt: issued.jwt, expiresAt: issued.expiresAt })
        : reply.send({ headers: issued.headers, expiresAt: issued.expiresAt });
    } catch (err) {
      const refused = toApiError(err);
      // The audit line keeps to the contract's fields; why it was refused goes to the daemon log.
      request.log.info({ key: name, peer, code: refused.code, status: refused.statusCode }, 'credential refused');
      try {
        await deps.audit.append({
          event: 'deny',
          key: name,
          profile: key?.config.profile ?? null,
          peer,
          client: client ?? state.policy.clientFor(peer),
          request: requestOf(target),
        });
      } catch (auditErr) {
        request.log.error({ err: auditErr }, 'audit log write failed');
        throw new SignerdError('ERR_INTERNAL', 'internal error', { cause: auditErr });
      }
      throw err;
    }
  }

  // A websocket CDP JWT is a POST with no body at all.
  const emptyBodyIsEmptyObject = (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
    if (request.body === undefined) request.body = {};
    done();
  };

  app.post<{ Params: KeyParams; Body: JwtBody }>(
    '/v1/keys/:name/jwt',
    {
      schema: { params: KeyParams, body: JwtBody, response: { 200: JwtReply, ...errors } },
      preValidation: emptyBodyIsEmptyObject,
    },
    (request, reply) => issue('jwt', request, reply),
  );

  app.post<{ Params: KeyParams; Body: HeadersBody }>(
    '/v1/keys/:name/headers',
    { schema: { params: KeyParams, body: HeadersBody, response: { 200: HeadersReply, ...errors } } },
    (request, reply) => issue('headers', request, reply),
  );

  return app;
}

export type SignerdApp = ReturnType<typeof buildApp>;
