/**
 * Throwaway TPM 2.0 tokens through tpm2-pkcs11, for the tests (test/helpers/tpm.ts is the typed
 * wrapper; types in tpm.d.mts) and the bench: a software TPM (swtpm) on free loopback ports, a
 * private D-Bus session bus, the tpm2-abrmd resource manager on it (without one the TPM runs out of
 * object contexts), and a tpm2-pkcs11 store with one token, all in a temp dir. Everything started
 * here is stopped by remove() (process groups, bounded waits), or at exit if the caller crashes.
 *
 * The returned token has the fields of a SoftHSM TestToken (module, label, pin, env, dir), so a suite
 * can run the same checks on both. Plain JS with no dependency on dist/, so both can import it.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';

/** The commands the harness runs, and the Debian package each comes from. */
const TOOLS = [
  ['swtpm', 'swtpm'],
  ['tpm2-abrmd', 'tpm2-abrmd'],
  ['tpm2_ptool', 'libtpm2-pkcs11-tools'],
  ['dbus-daemon', 'dbus'],
  ['dbus-send', 'dbus'],
];

const MODULE_CANDIDATES = [
  `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/pkcs11/libtpm2_pkcs11.so`,
  `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/libtpm2_pkcs11.so.1`,
  '/usr/lib/pkcs11/libtpm2_pkcs11.so',
  '/usr/lib64/pkcs11/libtpm2_pkcs11.so',
  '/usr/local/lib/libtpm2_pkcs11.so',
];

/** The variables use() sets in process.env. */
export const TPM_ENV = Object.freeze([
  'DBUS_SESSION_BUS_ADDRESS',
  'TPM2_PKCS11_TCTI',
  'TPM2TOOLS_TCTI',
  'TPM2_PKCS11_STORE',
  'TPM2_PKCS11_LOG_LEVEL',
  'TSS2_LOG',
]);

const TABRMD_NAME = 'com.intel.tss2.Tabrmd';
const STEP_TIMEOUT_MS = 60_000;

/** libtpm2_pkcs11.so: `$TPM2_PKCS11_MODULE`, else what dpkg says, else the usual paths. */
export function findTpmModule() {
  const fromEnv = process.env['TPM2_PKCS11_MODULE'];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  try {
    const listed = execFileSync('dpkg', ['-L', 'libtpm2-pkcs11-1'], { encoding: 'utf8', stdio: 'pipe' })
      .split('\n')
      .filter((p) => /libtpm2_pkcs11\.so(\.1)?$/.test(p))
      .sort((a, b) => Number(b.includes('/pkcs11/')) - Number(a.includes('/pkcs11/')));
    const found = listed.find((p) => existsSync(p));
    if (found) return found;
  } catch {
    // no dpkg, or the package is not installed: try the usual paths
  }
  return MODULE_CANDIDATES.find((p) => existsSync(p));
}

function onPath(command) {
  const dirs = (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((dir) => dir !== '' && existsSync(join(dir, command)));
}

/**
 * What is missing to start a TPM token here ("swtpm, … not found (Debian packages: …; …)"), or
 * undefined when everything is installed.
 */
export function tpmMissing() {
  const missing = TOOLS.filter(([command]) => !onPath(command));
  const module = findTpmModule();
  const packages = new Set(missing.map(([, pkg]) => pkg));
  if (!module) packages.add('libtpm2-pkcs11-1');
  if (packages.size === 0) return undefined;
  const what = [...missing.map(([command]) => command), ...(module ? [] : ['libtpm2_pkcs11.so'])];
  return `${what.join(', ')} not found (Debian packages: ${[...packages].join(' ')}; scripts/bootstrap.sh test installs them)`;
}

/** Why the TPM tests cannot run here, or undefined when everything is installed. */
export function tpmUnavailableReason() {
  const missing = tpmMissing();
  return missing === undefined ? undefined : `TPM tests skipped: ${missing}`;
}

/** Two consecutive free TCP ports on loopback (swtpm's server port and its control port). */
async function freePortPair() {
  const listen = (port) =>
    new Promise((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  const close = (server) => new Promise((resolve) => server.close(() => resolve()));
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await listen(0);
    if (!first) continue;
    const address = first.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const second = port > 0 && port < 65535 ? await listen(port + 1) : undefined;
    await close(first);
    if (second) {
      await close(second);
      return port;
    }
  }
  throw new Error('no two consecutive free loopback ports');
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function until(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`TPM harness: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function run(command, args, env) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env, timeout: STEP_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err)
        reject(new Error(`TPM harness: ${command} ${args[0] ?? ''} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Every process group started by any harness in this process, killed at exit if still running. */
const started = new Set();
let exitHookInstalled = false;

function killGroup(child, signal) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

function startDetached(command, args, env, log) {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const child of started) killGroup(child, 'SIGKILL');
    });
  }
  const fd = openSync(log, 'a');
  try {
    const child = spawn(command, args, { env, detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    started.add(child);
    child.once('exit', () => started.delete(child));
    return child;
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the process has exited (bounded). */
async function stopGroup(child, graceMs = 3_000) {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    started.delete(child);
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, graceMs + 2_000))]);
  clearTimeout(timer);
  started.delete(child);
}

function logTail(dir) {
  return ['swtpm.log', 'dbus.log', 'abrmd.log']
    .map((name) => {
      try {
        return `--- ${name}\n${readFileSync(join(dir, name), 'utf8').slice(-2_000)}`;
      } catch {
        return '';
      }
    })
    .join('\n');
}

/**
 * Starts a software TPM with a tpm2-pkcs11 token on it. Check tpmUnavailableReason() first.
 * @param {{ label?: string, pin?: string }} [options]
 */
export async function startTpmToken(options = {}) {
  const module = findTpmModule();
  if (!module) throw new Error(tpmUnavailableReason() ?? 'libtpm2_pkcs11.so not found');
  const label = options.label ?? 'signerd-tpm';
  const pin = options.pin ?? '1234-test-pin';
  const soPin = `so-${pin}`;
  const dir = mkdtempSync(join(tmpdir(), 'signerd-tpm-'));
  const state = join(dir, 'tpm-state');
  const store = join(dir, 'store');
  mkdirSync(state, { mode: 0o700 });
  mkdirSync(store, { mode: 0o700 });
  const children = [];
  const stopAll = async () => {
    // The resource manager first (it talks to both), then the bus, then the TPM.
    for (const child of [...children].reverse()) await stopGroup(child);
  };

  try {
    // The ports are free when picked but not reserved: if swtpm loses the race for them, try again.
    let port = 0;
    for (let attempt = 1; port === 0; attempt++) {
      const candidate = await freePortPair();
      const swtpm = startDetached(
        'swtpm',
        [
          'socket',
          '--tpmstate',
          `dir=${state}`,
          '--tpm2',
          '--server',
          `type=tcp,port=${candidate},bindaddr=127.0.0.1`,
          '--ctrl',
          `type=tcp,port=${candidate + 1},bindaddr=127.0.0.1`,
          '--flags',
          'not-need-init,startup-clear',
        ],
        process.env,
        join(dir, 'swtpm.log'),
      );
      children.push(swtpm);
      try {
        await until(
          'swtpm to listen',
          () => {
            if (swtpm.exitCode !== null) throw new Error(`TPM harness: swtpm exited (${swtpm.exitCode})`);
            return canConnect(candidate + 1);
          },
          10_000,
        );
        port = candidate;
      } catch (err) {
        await stopGroup(swtpm);
        children.pop();
        if (attempt >= 3) throw err;
      }
    }

    const busPath = join(dir, 'bus');
    const bus = startDetached(
      'dbus-daemon',
      ['--session', '--nofork', '--nopidfile', `--address=unix:path=${busPath}`],
      process.env,
      join(dir, 'dbus.log'),
    );
    children.push(bus);
    await until('the D-Bus session bus', () => existsSync(busPath), 10_000);
    const busAddress = `unix:path=${busPath}`;

    const baseEnv = { ...process.env, DBUS_SESSION_BUS_ADDRESS: busAddress };
    const abrmd = startDetached(
      'tpm2-abrmd',
      ['--session', `--tcti=swtpm:host=127.0.0.1,port=${port}`, '--allow-root'],
      baseEnv,
      join(dir, 'abrmd.log'),
    );
    children.push(abrmd);
    await until(
      'tpm2-abrmd on the bus',
      async () => {
        if (abrmd.exitCode !== null) throw new Error('tpm2-abrmd exited');
        const answer = await run(
          'dbus-send',
          [
            '--session',
            '--print-reply',
            '--dest=org.freedesktop.DBus',
            '/org/freedesktop/DBus',
            'org.freedesktop.DBus.NameHasOwner',
            `string:${TABRMD_NAME}`,
          ],
          baseEnv,
        ).catch(() => '');
        return /boolean true/.test(answer);
      },
      15_000,
    );

    const tcti = 'tabrmd:bus_type=session';
    // tpm2-pkcs11 and the TSS print every refused call (a wrong PIN in a test, say) on stderr:
    // quieter (tpm2-pkcs11's error lines stay) unless SIGNERD_TPM_DEBUG=1.
    const quiet = process.env['SIGNERD_TPM_DEBUG']
      ? {}
      : { TPM2_PKCS11_LOG_LEVEL: '0', TSS2_LOG: 'all+NONE' };
    const env = {
      ...baseEnv,
      ...quiet,
      TPM2_PKCS11_TCTI: tcti,
      TPM2TOOLS_TCTI: tcti,
      TPM2_PKCS11_STORE: store,
    };
    const init = await run('tpm2_ptool', ['init'], env);
    const pid = /id:\s*(\d+)/.exec(init)?.[1] ?? '1';
    await run(
      'tpm2_ptool',
      ['addtoken', `--pid=${pid}`, `--label=${label}`, `--userpin=${pin}`, `--sopin=${soPin}`],
      env,
    );

    let removed;
    return {
      provider: 'tpm',
      dir,
      store,
      module,
      label,
      pin,
      soPin,
      env,
      use() {
        for (const name of TPM_ENV) {
          const value = env[name];
          if (value !== undefined) process.env[name] = value;
        }
      },
      remove() {
        removed ??= stopAll().then(() => rmSync(dir, { recursive: true, force: true }));
        return removed;
      },
    };
  } catch (err) {
    const tail = logTail(dir);
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${err.message}\n${tail}`, { cause: err });
  }
}
