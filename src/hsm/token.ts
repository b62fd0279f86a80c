/**
 * A PKCS#11 token as a KeyStore: finds the token, logs in, keeps a session pool, caches private-key
 * handles, signs through the *Async calls, and survives lost sessions and a token that goes away
 * and comes back.
 */
import { createHash, randomBytes, verify as cryptoVerify } from 'node:crypto';
import { SignerdError, isSignerdError } from '../errors.js';
import { publicKeyObject } from '../keys/public-key.js';
import { checkKeySafety as assertKeySafe } from '../keys/safety.js';
import type {
  GenerateKeyRequest,
  ImportKeyRequest,
  KeyStore,
  PrivateKeyMaterial,
  TokenStatus,
} from '../keys/store.js';
import type { Alg, KeyInfo, KeyRef, Signer } from '../keys/types.js';
import {
  ED25519_PARAMS_NAME,
  ED25519_PARAMS_OID,
  encodeEcPoint,
  P256_PARAMS,
  PUBLIC_RAW_LENGTH,
} from './ec.js';
import { ckrOf, describeForLog, isCkr, mapPkcs11Error, recoveryOf } from './errors.js';
import { acquireModule, initialize, moduleUsers, releaseModule } from './module.js';
import {
  classTemplate,
  describeRef,
  findObjects,
  findPrivateKey,
  findPublicKeys,
  idFromHex,
  privateKeyTemplate,
  publicKeyTemplate,
  readKeyInfo,
} from './objects.js';
import {
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
  CKM_EDDSA,
  CKS_RO_USER_FUNCTIONS,
  CKS_RW_USER_FUNCTIONS,
  mechanismName,
  p11,
} from './pkcs11.js';
import type { Handle, PKCS11 } from './pkcs11.js';
import { SessionPool } from './session-pool.js';
import { CallGate, defaultCallBudget, isTokenCallTimeout } from './deadline.js';
import { capabilitiesFrom, readMechanisms } from './capabilities.js';
import type { Capabilities } from './capabilities.js';
import { contextLogin, needsContextLogin } from './context-login.js';
import { explainLoginError, identifyModule, quirksOf } from './quirks.js';
import type { Quirks } from './quirks.js';

export interface TokenLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ReconnectOptions {
  /** First delay of the background reconnect (default 50 ms), doubling up to maxDelayMs. */
  initialDelayMs?: number;
  /** Default 2000 ms. */
  maxDelayMs?: number;
  /** Background attempts before the timer gives up (default 150, about five minutes); requests still try. */
  maxAttempts?: number;
}

export interface TokenOptions {
  /** Absolute path of the PKCS#11 module. */
  module: string;
  token: { label: string } | { serial: string };
  pin: string;
  /** Session pool size (default 4). */
  sessions?: number;
  logger?: TokenLogger;
  /** How long a request waits for a free session (default 10 s). */
  acquireTimeoutMs?: number;
  /** How long close() waits for operations in flight (default 5 s). */
  closeTimeoutMs?: number;
  /**
   * Deadline of one signature (default 5 s). Past it the request fails with ERR_HSM_UNAVAILABLE;
   * the call keeps its thread until it returns, its session is set aside and closed then (deadline.ts).
   */
  signTimeoutMs?: number;
  /** Token calls that may occupy libuv threads at once, hung ones included (default: pool size − 1). */
  callBudget?: number;
  reconnect?: ReconnectOptions;
}

/** Test seam: lets a test see (or wrap, to inject faults) the loaded module. Not for production. */
export interface TokenInternals {
  wrapModule?: (module: PKCS11) => PKCS11;
}

const SILENT: TokenLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

const SIGNATURE_LENGTH = 64;
const CKR_USER_ALREADY_LOGGED_IN = 0x100;
const CKR_USER_NOT_LOGGED_IN = 0x101;
const CKR_PIN_INCORRECT = 0xa0;
/** Errors that say "this token does not take the OID form of the Ed25519 curve". */
const CURVE_FORM_REJECTED = new Set([0x13, 0x130, 0x140, 0xd1]);

/** Finds the token, logs in and opens the session pool. */
export async function openToken(options: TokenOptions, internals: TokenInternals = {}): Promise<Pkcs11Token> {
  return Pkcs11Token.open(options, internals);
}

export class Pkcs11Token implements KeyStore {
  readonly #pin: string;
  private readonly module: PKCS11;
  private readonly modulePath: string;
  private readonly want: { label: string } | { serial: string };
  private readonly log: TokenLogger;
  private readonly pool: SessionPool;
  /** Deadlines and thread budget for the calls that run on libuv's pool (deadline.ts). */
  private readonly gate: CallGate;
  private readonly closeTimeoutMs: number;
  private readonly reconnectOptions: Required<ReconnectOptions>;

  private slot: Handle | undefined;
  private label = '';
  private serial = '';
  private present = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private pinRejected = false;
  /** Private-key handles by label/id; valid until re-login or reconnect. */
  private readonly handles = new Map<string, Handle>();
  private mechanismCache: Set<number> | undefined;
  /** Module differences the token does not report itself (quirks.ts). */
  private readonly quirks: Quirks;
  /** Cached private-key handles whose key has CKA_ALWAYS_AUTHENTICATE (context-login.ts). */
  private readonly contextLoginKeys = new WeakSet<Handle>();
  private reconnecting: Promise<boolean> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempts = 0;
  /** Serializes generate / import / destroy, so "label exists?" and "create" are one step. */
  private ceremonyQueue: Promise<unknown> = Promise.resolve();

  private constructor(options: TokenOptions, module: PKCS11) {
    this.#pin = options.pin;
    this.module = module;
    this.modulePath = options.module;
    this.want = 'label' in options.token ? { label: options.token.label } : { serial: options.token.serial };
    this.log = options.logger ?? SILENT;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
    this.reconnectOptions = {
      initialDelayMs: options.reconnect?.initialDelayMs ?? 50,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 2_000,
      maxAttempts: options.reconnect?.maxAttempts ?? 150,
    };
    this.quirks = quirksOf(identifyModule(module));
    this.gate = new CallGate({
      timeoutMs: options.signTimeoutMs ?? 5_000,
      budget: options.callBudget ?? defaultCallBudget(),
    });
    this.pool = new SessionPool({
      size: options.sessions ?? 4,
      acquireTimeoutMs: options.acquireTimeoutMs ?? 10_000,
      open: () => this.openSession(),
      close: (session) => this.closeSessionQuietly(session),
    });
  }

  static async open(options: TokenOptions, internals: TokenInternals = {}): Promise<Pkcs11Token> {
    const loaded = acquireModule(options.module);
    let token: Pkcs11Token;
    try {
      token = new Pkcs11Token(options, internals.wrapModule ? internals.wrapModule(loaded) : loaded);
    } catch (err) {
      releaseModule(options.module);
      throw err;
    }
    try {
      token.findSlot();
      // Log in now: a wrong PIN or a locked token fails here, not on the first request.
      const lease = await token.pool.acquire();
      token.pool.release(lease);
      token.present = true;
    } catch (err) {
      await token.close();
      throw mapPkcs11Error(err, `opening token ${token.describeWanted()}`);
    }
    token.log.info({ token: token.label, serial: token.serial, sessions: token.pool.size }, 'token opened');
    return token;
  }

  /** Token calls past their deadline that have not returned (a hung token). */
  get hungCalls(): number {
    return this.gate.hung;
  }

  status(): TokenStatus {
    return { label: this.label, serial: this.serial, present: this.present };
  }

  /** The mechanisms the token supports (cached per connection). */
  async mechanisms(): Promise<Set<number>> {
    if (this.mechanismCache) return this.mechanismCache;
    await this.ensurePresent('listing the token mechanisms');
    const slot = this.slot;
    if (!slot) throw this.unavailable('listing the token mechanisms');
    try {
      this.mechanismCache = readMechanisms(this.module, slot);
    } catch (err) {
      throw mapPkcs11Error(err, `listing the mechanisms of token "${this.label}"`);
    }
    return this.mechanismCache;
  }

  /** What the token can do for signerd: read from its mechanisms, plus the module's quirks. */
  async capabilities(): Promise<Capabilities> {
    return capabilitiesFrom(await this.mechanisms(), this.quirks);
  }

  /** ERR_MECHANISM_UNSUPPORTED naming the mechanism when the token cannot sign with `alg`. */
  async requireSigning(alg: Alg): Promise<void> {
    await this.requireMechanism(signMechanism(alg));
  }

  /** ERR_MECHANISM_UNSUPPORTED naming the mechanism when the token lacks it. */
  async requireMechanism(mechanism: number): Promise<void> {
    if (!(await this.mechanisms()).has(mechanism)) {
      throw new SignerdError(
        'ERR_MECHANISM_UNSUPPORTED',
        `token "${this.label}" does not support ${mechanismName(mechanism)}`,
      );
    }
  }

  /**
   * ERR_KEY_UNSAFE naming the key when it is extractable or not sensitive, unless allowed; an
   * allowed unsafe key is logged as a warning. Returns the problems (empty for a safe key).
   */
  checkKeySafety(info: KeyInfo, allowExtractable: boolean): string[] {
    const problems = assertKeySafe(info, allowExtractable);
    if (problems.length > 0) {
      this.log.warn(
        { key: info.label, id: info.id, problems },
        'serving a private key that could leave the token',
      );
    }
    return problems;
  }

  async getKey(ref: KeyRef): Promise<KeyInfo> {
    return this.run(`looking up key ${describeRef(ref)}`, (session) => {
      const handle = this.findPrivate(session, ref);
      const info = readKeyInfo(this.module, session, handle);
      if (!info) {
        throw new SignerdError(
          'ERR_KEY_FORMAT',
          `key ${describeRef(ref)} is neither a P-256 nor an Ed25519 key`,
        );
      }
      this.handles.set(handleKey(info), handle);
      return Promise.resolve(info);
    });
  }

  async listKeys(): Promise<KeyInfo[]> {
    return this.run('listing keys', (session) => {
      const keys: KeyInfo[] = [];
      for (const handle of findObjects(this.module, session, [
        { type: p11.CKA_CLASS, value: p11.CKO_PRIVATE_KEY },
      ])) {
        try {
          const info = readKeyInfo(this.module, session, handle);
          if (info) keys.push(info);
        } catch (err) {
          if (recoveryOf(err) !== 'fatal') throw err;
          this.log.warn(
            { token: this.label, ...describeForLog(err) },
            'skipping a private key signerd cannot read',
          );
        }
      }
      return Promise.resolve(keys.sort((a, b) => a.label.localeCompare(b.label) || a.id.localeCompare(b.id)));
    });
  }

  signer(key: KeyInfo, options: { kid?: string } = {}): Signer {
    const { alg } = key;
    const ref: KeyRef = { label: key.label, id: key.id };
    const context = `signing with key ${describeRef(key.label ? { label: key.label } : { id: key.id })}`;
    return {
      alg,
      kid: options.kid ?? key.publicKey.thumbprint,
      sign: (message: Uint8Array): Promise<Uint8Array> => {
        const input = alg === 'ES256' ? createHash('sha256').update(message).digest() : asBuffer(message);
        return this.run(context, async (session) =>
          this.signOn(session, this.privateHandle(session, ref), alg, input),
        );
      },
    };
  }

  async generateKey(request: GenerateKeyRequest): Promise<KeyInfo> {
    const { label, alg } = request;
    checkLabel(label);
    const id = request.id === undefined ? randomBytes(16) : idFromHex(request.id);
    const generate = alg === 'ES256' ? p11.CKM_EC_KEY_PAIR_GEN : CKM_EC_EDWARDS_KEY_PAIR_GEN;
    return this.ceremony(async () => {
      await this.requireMechanism(generate);
      await this.requireMechanism(signMechanism(alg));
      return this.run(
        `generating key "${label}"`,
        async (session) => {
          this.refuseExisting(session, label, request.id === undefined ? undefined : id);
          const pair = await this.withCurveFallback(alg, (params) =>
            this.module.C_GenerateKeyPairAsync(
              session,
              { mechanism: generate },
              [...publicKeyTemplate(label, id), { type: p11.CKA_EC_PARAMS, value: params }],
              privateKeyTemplate(label, id),
            ),
          );
          const info = readKeyInfo(this.module, session, pair.privateKey);
          if (!info) throw new SignerdError('ERR_HSM', `the token did not create a usable ${alg} key`);
          this.log.info({ token: this.label, key: label, id: info.id, alg }, 'key generated');
          return info;
        },
        false,
      );
    });
  }

  async importKey(request: ImportKeyRequest): Promise<KeyInfo> {
    const { label, key } = request;
    const secret = key.alg === 'ES256' ? key.d : key.seed;
    try {
      checkLabel(label);
      checkMaterial(key);
      const id = request.id === undefined ? randomBytes(16) : idFromHex(request.id);
      return await this.ceremony(async () => {
        if (!this.quirks.importsPrivateKeys) {
          throw new SignerdError(
            'ERR_MECHANISM_UNSUPPORTED',
            `token "${this.label}" (${this.quirks.family}) cannot import private keys: ${this.quirks.importAdvice}`,
          );
        }
        await this.requireMechanism(signMechanism(key.alg));
        return this.run(
          `importing key "${label}"`,
          async (session) => {
            this.refuseExisting(session, label, request.id === undefined ? undefined : id);
            const privateHandle = await this.withCurveFallback(key.alg, (params) =>
              Promise.resolve(
                this.module.C_CreateObject(session, [
                  ...classTemplate(p11.CKO_PRIVATE_KEY, key.alg, params),
                  ...privateKeyTemplate(label, id),
                  // A view of the caller's buffer, not a copy: zeroing `secret` below zeroes this.
                  { type: p11.CKA_VALUE, value: asBuffer(secret) },
                ]),
              ),
            );
            const created: Handle[] = [privateHandle];
            try {
              const params = this.storedEcParams(session, privateHandle);
              created.push(
                this.module.C_CreateObject(session, [
                  ...classTemplate(p11.CKO_PUBLIC_KEY, key.alg, params),
                  ...publicKeyTemplate(label, id),
                  { type: p11.CKA_EC_POINT, value: encodeEcPoint(key.publicRaw) },
                ]),
              );
              await this.proveKeyPair(session, privateHandle, key.alg, key.publicRaw, label);
              const info = readKeyInfo(this.module, session, privateHandle);
              if (!info) throw new SignerdError('ERR_HSM', `the token did not store a usable ${key.alg} key`);
              this.log.info({ token: this.label, key: label, id: info.id, alg: key.alg }, 'key imported');
              return info;
            } catch (err) {
              for (const handle of created) this.destroyQuietly(session, handle);
              throw err;
            }
          },
          false,
        );
      });
    } finally {
      secret.fill(0);
    }
  }

  async destroyKey(ref: KeyRef): Promise<void> {
    await this.ceremony(() =>
      this.run(
        `destroying key ${describeRef(ref)}`,
        (session) => {
          const privateHandle = this.findPrivate(session, ref);
          const [labelAttr, idAttr] = this.module.C_GetAttributeValue(session, privateHandle, [
            { type: p11.CKA_LABEL },
            { type: p11.CKA_ID },
          ]);
          const pair: KeyRef = {};
          const label = labelAttr?.value.toString('utf8');
          const id = idAttr?.value.toString('hex');
          if (label) pair.label = label;
          if (id) pair.id = id;
          for (const handle of findPublicKeys(this.module, session, pair)) {
            this.module.C_DestroyObject(session, handle);
          }
          this.module.C_DestroyObject(session, privateHandle);
          this.handles.clear();
          this.log.info({ token: this.label, key: pair.label, id: pair.id }, 'key destroyed');
          return Promise.resolve();
        },
        false,
      ),
    );
  }

  /** Waits (bounded) for operations in flight, logs out, closes sessions, finalizes the module. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.stopReconnectTimer();
    await this.reconnecting;
    const finished = await this.pool.drain(this.closeTimeoutMs);
    if (!finished) {
      this.log.warn(
        { token: this.label, inFlight: this.pool.inFlight },
        'closing the token with operations still in flight',
      );
    }
    // A call still inside the module (hung, or past the drain timeout): logging out, finalizing or
    // unloading under it could block this thread or pull the code from under it. Leave the module
    // loaded; the process exit cleans up.
    const abandoned = !finished || this.gate.hung > 0;
    if (abandoned) {
      this.log.warn(
        { token: this.label, hung: this.gate.hung, inFlight: this.pool.inFlight },
        'token calls have not returned; closing without logout or finalize',
      );
    }
    const session = this.pool.anyIdle();
    if (session && this.present && !abandoned && moduleUsers(this.modulePath) === 1) {
      try {
        this.module.C_Logout(session);
      } catch {
        // not logged in any more: nothing to undo
      }
    }
    this.pool.closeIdle();
    this.present = false;
    this.handles.clear();
    releaseModule(this.modulePath, !abandoned);
    if (this.label) this.log.info({ token: this.label }, 'token closed');
  }

  // ---- sessions, login, recovery ------------------------------------------------------------

  /**
   * Runs `fn` on a pooled session. Session-level errors evict the session and (with `retry`) run
   * once more on a fresh one; a stale key handle is found again; device-level errors mark the
   * token unavailable, try one reconnect, and retry. Everything that escapes is a SignerdError.
   */
  private async run<T>(context: string, fn: (session: Handle) => Promise<T>, retry = true): Promise<T> {
    await this.ensurePresent(context);
    let lastError: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      let lease;
      try {
        lease = await this.pool.acquire();
        const result = await fn(lease.session);
        this.pool.release(lease);
        return result;
      } catch (err) {
        lastError = err;
        if (isTokenCallTimeout(err)) {
          // Still running in the module: never lent again, closed when it returns. No retry: it
          // would wait out another deadline on a token that is not answering.
          if (lease) this.pool.quarantine(lease, err.settled);
          throw err;
        }
        const recovery = recoveryOf(err);
        if (lease) {
          if (recovery === 'session' || recovery === 'device') this.pool.evict(lease);
          else this.pool.release(lease);
        }
        if (recovery === 'fatal' || recovery === 'benign' || this.closed) throw mapPkcs11Error(err, context);
        this.log.warn(
          { token: this.label, context, attempt, ...describeForLog(err) },
          'token operation failed; recovering',
        );
        if (recovery === 'handle') this.handles.clear();
        if (recovery === 'session') this.pool.sweep((session) => this.sessionAlive(session));
        if (recovery === 'device') {
          this.markUnavailable();
          if (!retry || attempt > 0 || !(await this.reconnect())) throw this.unavailable(context, err);
          continue;
        }
        // A handle can go stale on a non-idempotent step too; a retry re-finds it, never re-creates.
        if (!retry && recovery !== 'handle') break;
      }
    }
    throw mapPkcs11Error(lastError, context);
  }

  /** While the token is unavailable, a request tries one reconnect itself before failing. */
  private async ensurePresent(context: string): Promise<void> {
    if (this.closed)
      throw new SignerdError('ERR_HSM_UNAVAILABLE', `${context}: the token connection is closed`);
    if (!this.present && !(await this.reconnect())) throw this.unavailable(context);
  }

  /** Pool opener: a new R/W session, logged in (C_Login only if the token is not already). */
  private openSession(): Handle {
    const slot = this.slot;
    if (!slot || this.closed) throw this.unavailable('opening a session');
    const session = this.module.C_OpenSession(slot, p11.CKF_SERIAL_SESSION | p11.CKF_RW_SESSION);
    try {
      this.loginIfNeeded(session);
    } catch (err) {
      this.closeSessionQuietly(session);
      throw err;
    }
    return session;
  }

  private loginIfNeeded(session: Handle): void {
    const { state } = this.module.C_GetSessionInfo(session);
    if (state === CKS_RO_USER_FUNCTIONS || state === CKS_RW_USER_FUNCTIONS) return;
    if (this.pinRejected) {
      throw new SignerdError(
        'ERR_PIN_INCORRECT',
        `token "${this.label}" rejected the PIN before; not trying it again (repeated attempts would lock the token)`,
      );
    }
    try {
      this.module.C_Login(session, p11.CKU_USER, this.#pin);
    } catch (err) {
      if (!isCkr(err, CKR_USER_ALREADY_LOGGED_IN)) {
        if (isCkr(err, CKR_PIN_INCORRECT)) this.pinRejected = true;
        if (recoveryOf(err) !== 'fatal') throw err;
        throw explainLoginError(
          mapPkcs11Error(err, `logging in to token "${this.label}"`),
          this.quirks,
          this.label,
        );
      }
    }
    // A new login: handles found before may not be valid any more.
    this.handles.clear();
  }

  private sessionAlive(session: Handle): boolean {
    try {
      const { state } = this.module.C_GetSessionInfo(session);
      return state === CKS_RO_USER_FUNCTIONS || state === CKS_RW_USER_FUNCTIONS;
    } catch {
      return false;
    }
  }

  private closeSessionQuietly(session: Handle): void {
    try {
      this.module.C_CloseSession(session);
    } catch {
      // already closed, or the token is gone
    }
  }

  /** Finds the slot holding the wanted token; records its label and serial. */
  private findSlot(): void {
    let slots: Handle[];
    try {
      slots = this.module.C_GetSlotList(true);
    } catch (err) {
      throw mapPkcs11Error(err, 'listing the token slots');
    }
    const seen: { slot: Handle; label: string; serial: string; flags: number }[] = [];
    for (const slot of slots) {
      try {
        const info = this.module.C_GetTokenInfo(slot);
        seen.push({
          slot,
          label: trimPadded(info.label),
          serial: trimPadded(info.serialNumber),
          flags: info.flags,
        });
      } catch {
        // a token that vanished between the two calls is simply not there
      }
    }
    const matches = seen.filter((t) =>
      'label' in this.want ? t.label === this.want.label : t.serial === this.want.serial,
    );
    const [match] = matches;
    if (!match) {
      const present = seen.map((t) => `"${t.label}" (serial ${t.serial})`).join(', ');
      throw new SignerdError(
        'ERR_TOKEN_NOT_FOUND',
        `no token ${this.describeWanted()} in ${this.modulePath}; ${present ? `tokens present: ${present}` : 'no tokens present'}`,
        { field: 'hsm.token' },
      );
    }
    if (matches.length > 1) {
      throw new SignerdError(
        'ERR_TOKEN_NOT_FOUND',
        `${matches.length} tokens match ${this.describeWanted()} (serials ${matches.map((t) => t.serial).join(', ')}); name the token by serial`,
        { field: 'hsm.token' },
      );
    }
    if ((match.flags & p11.CKF_TOKEN_INITIALIZED) === 0) {
      throw new SignerdError('ERR_TOKEN_NOT_FOUND', `token ${this.describeWanted()} is not initialized`, {
        field: 'hsm.token',
      });
    }
    if ((match.flags & p11.CKF_USER_PIN_LOCKED) !== 0) {
      throw new SignerdError(
        'ERR_PIN_LOCKED',
        `the user PIN of token "${match.label}" is locked; the security officer must reset it`,
      );
    }
    this.slot = match.slot;
    this.label = match.label;
    this.serial = match.serial;
  }

  private markUnavailable(): void {
    if (!this.present) return;
    this.present = false;
    this.handles.clear();
    this.mechanismCache = undefined;
    this.pool.reset();
    this.log.warn({ token: this.label }, 'token unavailable; reconnecting in the background');
    this.reconnectAttempts = 0;
    this.scheduleReconnect(this.reconnectOptions.initialDelayMs);
  }

  /** One reconnect attempt at a time; concurrent callers share it. */
  private reconnect(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.present) return Promise.resolve(true);
    this.reconnecting ??= this.tryReconnect().finally(() => {
      this.reconnecting = undefined;
    });
    return this.reconnecting;
  }

  private tryReconnect(): Promise<boolean> {
    return Promise.resolve().then(() => this.reconnectNow());
  }

  private reconnectNow(): boolean {
    try {
      const reinitialized = initialize(this.module);
      this.findSlot();
      this.pool.reset(reinitialized);
      this.handles.clear();
      this.mechanismCache = undefined;
      // Prove the token is back: a fresh, logged-in session, kept for the next request.
      const probe = this.openSession();
      if (this.closed) {
        this.closeSessionQuietly(probe);
        return false;
      }
      this.pool.offer(probe);
      this.present = true;
      this.stopReconnectTimer();
      this.log.info({ token: this.label, serial: this.serial }, 'token available again');
      return true;
    } catch (err) {
      this.log.warn({ token: this.label, ...describeForLog(err) }, 'token still unavailable');
      return false;
    }
  }

  private scheduleReconnect(delay: number): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.present || this.closed) return;
      void this.reconnect().then((ok) => {
        if (ok || this.present || this.closed) return;
        this.reconnectAttempts++;
        if (this.reconnectAttempts >= this.reconnectOptions.maxAttempts) {
          this.log.error(
            { token: this.label, attempts: this.reconnectAttempts },
            'token still unavailable; background reconnect stopped (requests will keep trying)',
          );
          return;
        }
        this.scheduleReconnect(Math.min(delay * 2, this.reconnectOptions.maxDelayMs));
      });
    }, delay);
    this.reconnectTimer.unref();
  }

  private stopReconnectTimer(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  private unavailable(context: string, cause?: unknown): SignerdError {
    const what = this.label ? `token "${this.label}"` : `token ${this.describeWanted()}`;
    return new SignerdError(
      'ERR_HSM_UNAVAILABLE',
      `${context}: ${what} is not available`,
      cause === undefined ? {} : { cause },
    );
  }

  private describeWanted(): string {
    return 'label' in this.want ? `labelled "${this.want.label}"` : `with serial "${this.want.serial}"`;
  }

  // ---- keys -------------------------------------------------------------------------------

  /** The private key's handle, from the cache or found once. */
  private privateHandle(session: Handle, ref: KeyRef): Handle {
    const cacheKey = handleKey(ref);
    const cached = this.handles.get(cacheKey);
    if (cached) return cached;
    const handle = this.findPrivate(session, ref);
    this.handles.set(cacheKey, handle);
    return handle;
  }

  /**
   * findPrivateKey, except that "not found" on a session that lost its login (private objects are
   * invisible then) is reported as the session problem it is, so run() logs in again and retries.
   */
  private findPrivate(session: Handle, ref: KeyRef): Handle {
    try {
      const handle = findPrivateKey(this.module, session, ref, this.label);
      if (needsContextLogin(this.module, session, handle)) this.contextLoginKeys.add(handle);
      return handle;
    } catch (err) {
      if (isSignerdError(err) && err.code === 'ERR_KEY_NOT_FOUND' && !this.sessionAlive(session)) {
        throw new p11.Pkcs11Error('CKR_USER_NOT_LOGGED_IN:257', CKR_USER_NOT_LOGGED_IN, 'C_FindObjects');
      }
      throw err;
    }
  }

  /** One signature on a session the caller holds. */
  private async signOn(session: Handle, key: Handle, alg: Alg, input: Buffer): Promise<Uint8Array> {
    const signature = await this.gate.run('signing', () => {
      this.module.C_SignInit(session, { mechanism: signMechanism(alg) }, key);
      if (this.contextLoginKeys.has(key)) contextLogin(this.module, session, this.#pin);
      return this.module.C_SignAsync(session, input, Buffer.alloc(SIGNATURE_LENGTH));
    });
    if (signature.length !== SIGNATURE_LENGTH) {
      throw new SignerdError(
        'ERR_HSM',
        `the token returned a ${signature.length}-byte ${alg} signature, expected ${SIGNATURE_LENGTH}`,
      );
    }
    return new Uint8Array(signature.buffer, signature.byteOffset, signature.length);
  }

  /** Refuses a label (or an explicitly chosen id) that any object on the token already has. */
  private refuseExisting(session: Handle, label: string, id: Buffer | undefined): void {
    if (
      findObjects(this.module, session, [{ type: p11.CKA_LABEL, value: Buffer.from(label, 'utf8') }], 1)
        .length > 0
    ) {
      throw new SignerdError(
        'ERR_KEY_EXISTS',
        `token "${this.label}" already has an object labelled "${label}"`,
      );
    }
    if (id && findObjects(this.module, session, [{ type: p11.CKA_ID, value: id }], 1).length > 0) {
      throw new SignerdError(
        'ERR_KEY_EXISTS',
        `token "${this.label}" already has an object with id ${id.toString('hex')}`,
      );
    }
  }

  /** Ed25519: the OID form of CKA_EC_PARAMS first, the "edwards25519" name if the token wants it. */
  private async withCurveFallback<T>(alg: Alg, create: (params: Buffer) => Promise<T>): Promise<T> {
    if (alg === 'ES256') return create(P256_PARAMS);
    try {
      return await create(ED25519_PARAMS_OID);
    } catch (err) {
      if (!CURVE_FORM_REJECTED.has(ckrOf(err) ?? 0)) throw err;
      this.log.info({ token: this.label }, 'token rejects the Ed25519 OID; using the curve name');
      return create(ED25519_PARAMS_NAME);
    }
  }

  private storedEcParams(session: Handle, handle: Handle): Buffer {
    const [params] = this.module.C_GetAttributeValue(session, handle, [{ type: p11.CKA_EC_PARAMS }]);
    if (!params) throw new SignerdError('ERR_HSM', 'the token did not keep the key curve');
    return params.value;
  }

  /**
   * Signs a random challenge with the new private key and checks it against the public key the
   * import was given: a mismatched pair never stays on the token.
   */
  private async proveKeyPair(
    session: Handle,
    handle: Handle,
    alg: Alg,
    publicRaw: Uint8Array,
    label: string,
  ): Promise<void> {
    const challenge = randomBytes(32);
    const input = alg === 'ES256' ? createHash('sha256').update(challenge).digest() : challenge;
    const signature = await this.signOn(session, handle, alg, input);
    const key = publicKeyObject(alg, publicRaw);
    const ok =
      alg === 'ES256'
        ? cryptoVerify('sha256', challenge, { key, dsaEncoding: 'ieee-p1363' }, signature)
        : cryptoVerify(null, challenge, key, signature);
    if (!ok) {
      throw new SignerdError(
        'ERR_KEY_FORMAT',
        `key "${label}": the public key does not belong to the private key`,
      );
    }
  }

  private destroyQuietly(session: Handle, handle: Handle): void {
    try {
      this.module.C_DestroyObject(session, handle);
    } catch (err) {
      this.log.error(
        { token: this.label, ...describeForLog(err) },
        'could not remove a half-imported key object',
      );
    }
  }

  private ceremony<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.ceremonyQueue.then(fn);
    this.ceremonyQueue = result.catch(() => undefined);
    return result;
  }
}

function signMechanism(alg: Alg): number {
  return alg === 'ES256' ? p11.CKM_ECDSA : CKM_EDDSA;
}

function handleKey(ref: KeyRef): string {
  return `${ref.label ?? ''}\u0000${ref.id ?? ''}`;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Token info strings are blank-padded fixed-width fields. */
function trimPadded(value: string): string {
  let end = value.length;
  while (end > 0 && (value[end - 1] === ' ' || value[end - 1] === '\0' || value[end - 1] === '\t')) end--;
  return value.slice(0, end);
}

function checkLabel(label: string): void {
  if (label.length === 0 || Buffer.byteLength(label, 'utf8') > 128) {
    throw new SignerdError('ERR_BAD_REQUEST', 'a key label must be 1 to 128 bytes', { field: 'label' });
  }
}

function checkMaterial(key: PrivateKeyMaterial): void {
  const secret = key.alg === 'ES256' ? key.d : key.seed;
  if (secret.length !== 32) {
    throw new SignerdError(
      'ERR_KEY_FORMAT',
      `a ${key.alg === 'ES256' ? 'P-256 private scalar' : 'Ed25519 seed'} is 32 bytes`,
    );
  }
  if (key.publicRaw.length !== PUBLIC_RAW_LENGTH[key.alg]) {
    throw new SignerdError(
      'ERR_KEY_FORMAT',
      `a ${key.alg} public key is ${PUBLIC_RAW_LENGTH[key.alg]} bytes`,
    );
  }
}
