import { resolveConfigPath } from '../../config/index.js';
import { startDaemon, type Daemon } from '../../daemon/daemon.js';
import { SignerdError } from '../../errors.js';
import { disableCoreDumps } from '../../native.js';
import type { CliIo } from '../io.js';
import { parseFlags } from './main.js';

export const SERVE_USAGE = `Usage: signerd serve [--config F] [--allow-root]

Runs the daemon in the foreground. Honours systemd socket activation (LISTEN_FDS).
SIGHUP reloads keys and clients; SIGTERM or SIGINT drains in-flight requests and stops.
  --config F      the configuration (else $SIGNERD_CONFIG, else /etc/signerd/signerd.yaml)
  --allow-root    serve as root (otherwise refused when SIGNERD_REFUSE_ROOT=1 or under systemd)
`;

/** Runs until SIGTERM/SIGINT; SIGHUP reloads. Shared by `serve` and `dev`. */
export async function serveUntilSignalled(daemon: Daemon): Promise<number> {
  return new Promise<number>((resolve) => {
    const onHup = () => void daemon.reload();
    const stop = (signal: NodeJS.Signals) => {
      daemon.logger.info({ signal }, 'stopping');
      process.off('SIGHUP', onHup);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      daemon.close().then(
        () => {
          const hung = daemon.token.hungCalls;
          if (hung > 0) {
            // A thread stuck in the PKCS#11 module would block a normal exit forever (libuv joins
            // its threads at exit). Everything else is closed: end by the signal's default action,
            // which systemd counts as a clean stop for SIGTERM and SIGINT.
            daemon.logger.warn({ hung }, 'token calls still hung; exiting without waiting for them');
            process.kill(process.pid, signal);
            return;
          }
          resolve(0);
        },
        (err: unknown) => {
          daemon.logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

export async function serve(args: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      config: { type: 'string' },
      'allow-root': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    false,
  );
  if (values.help) {
    io.stdout.write(SERVE_USAGE);
    return 0;
  }
  const underSystemd = Boolean(io.env['INVOCATION_ID']) || io.env['SIGNERD_REFUSE_ROOT'] === '1';
  if (process.getuid?.() === 0 && underSystemd && !values['allow-root']) {
    throw new SignerdError(
      'ERR_USAGE',
      'refusing to serve as root: run as the signerd user (see native-config/systemd), or pass --allow-root',
    );
  }
  disableCoreDumps();
  const daemon = await startDaemon({ configPath: resolveConfigPath(values.config, io.env), env: io.env });
  return serveUntilSignalled(daemon);
}
