/**
 * The daemon's lifecycle: config → PIN → token → keys → policy → audit → app → socket.
 * SIGHUP swaps keys and policy as one; SIGTERM drains and closes the token cleanly.
 */
import { isDeepStrictEqual } from 'node:util';
import { buildApp, type DaemonState, type SignerdApp } from '../api/app.js';
import { listen } from '../api/server.js';
import { AuditLog } from '../audit/log.js';
import { loadConfig, readPin } from '../config/index.js';
import type { Config } from '../config/types.js';
import { openToken, type Pkcs11Token } from '../hsm/token.js';
import { SignerdError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { Policy } from '../policy/policy.js';
import { loadKeys } from './keys.js';
import { checkFilePermissions } from './permissions.js';

export interface DaemonOptions {
  configPath: string;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
}

export interface Daemon {
  readonly address: string;
  readonly app: SignerdApp;
  readonly token: Pkcs11Token;
  readonly logger: Logger;
  /** Re-reads the config; keeps the running one (and says why) when the new one is invalid. */
  reload(): Promise<boolean>;
  /** Stops accepting, lets in-flight requests finish, closes sessions, logs out, finalizes. */
  close(): Promise<void>;
}

/**
 * The per-signature deadline: the token layer's default (5 s), or SIGNERD_SIGN_TIMEOUT_MS (tests,
 * and operators of a slow network HSM) — not a config field: the config's shape is the contract's.
 */
function signTimeout(env: NodeJS.ProcessEnv): { signTimeoutMs?: number } {
  const raw = env['SIGNERD_SIGN_TIMEOUT_MS'];
  if (raw === undefined || raw === '') return {};
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1 || ms > 600_000) {
    throw new SignerdError(
      'ERR_CONFIG',
      `SIGNERD_SIGN_TIMEOUT_MS must be 1 to 600000 (ms), not "${raw.slice(0, 20)}"`,
    );
  }
  return { signTimeoutMs: ms };
}

async function buildState(config: Config, token: Pkcs11Token): Promise<DaemonState> {
  return { keys: await loadKeys(token, config.keys), policy: new Policy(config) };
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const env = options.env ?? process.env;
  const config = await loadConfig(options.configPath);
  const logger = options.logger ?? createLogger(config.log.level);
  await checkFilePermissions(options.configPath, 'config', logger);
  if ('file' in config.hsm.pin) await checkFilePermissions(config.hsm.pin.file, 'pin', logger);
  const pin = await readPin(config.hsm.pin, env);
  // Read once; nothing the daemon might ever start inherits it.
  if ('env' in config.hsm.pin) delete env[config.hsm.pin.env];

  const token = await openToken({
    module: config.hsm.module,
    token: config.hsm.token,
    pin,
    sessions: config.hsm.sessions,
    logger,
    ...signTimeout(env),
  });
  let audit: AuditLog | undefined;
  try {
    let running = config;
    let state = await buildState(config, token);
    audit = await AuditLog.open(config.audit.path);
    const app = buildApp({ state: () => state, token: () => token.status(), audit, logger });
    const { address } = await listen(app, config.socket, env);
    logger.info(
      { socket: address, keys: [...state.keys.keys()], token: token.status().label },
      'signerd serving',
    );

    const auditLog = audit;
    let closing: Promise<void> | undefined;
    return {
      address,
      app,
      token,
      logger,
      async reload() {
        try {
          const next = await loadConfig(options.configPath);
          for (const section of ['hsm', 'socket', 'audit'] as const) {
            if (!isDeepStrictEqual(next[section], running[section])) {
              logger.warn({ section }, `reload: changes to "${section}" take effect only after a restart`);
            }
          }
          state = await buildState(next, token);
          running = next;
          logger.info({ keys: [...state.keys.keys()] }, 'configuration reloaded');
          return true;
        } catch (err) {
          logger.error({ err }, 'reload failed: keeping the running configuration');
          return false;
        }
      },
      close() {
        closing ??= (async () => {
          await app.close();
          await token.close();
          await auditLog.close();
          logger.info('signerd stopped');
        })();
        return closing;
      },
    };
  } catch (err) {
    await token.close().catch(() => undefined);
    await audit?.close().catch(() => undefined);
    throw err;
  }
}
