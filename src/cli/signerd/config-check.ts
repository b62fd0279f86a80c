/** `signerd config check`: the config is valid, the token reachable, every key found and non-extractable. */
import { checkSecretFilePermissions, loadConfig, readPin, resolveConfigPath } from '../../config/index.js';
import { loadKey } from '../../daemon/keys.js';
import { SignerdError } from '../../errors.js';
import { openToken } from '../../hsm/token.js';
import type { CliIo } from '../io.js';
import { parseFlags } from './main.js';

const USAGE = `Usage: signerd config check [--config F]

Checks that the configuration is valid, the token is reachable with the PIN, and every configured
key is on the token, non-extractable, sensitive, and of an algorithm its profile can use.
`;

export async function configCommand(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h') {
    io.stdout.write(USAGE);
    return 0;
  }
  if (sub !== 'check')
    throw new SignerdError('ERR_USAGE', `unknown config command "${sub ?? ''}" (expected: check)`);
  const { values } = parseFlags(
    rest,
    {
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    false,
  );
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const path = resolveConfigPath(values.config, io.env);
  const config = await loadConfig(path);
  const warn = { onWorldReadable: (message: string) => void io.stdout.write(`warning: ${message}\n`) };
  await checkSecretFilePermissions(path, 'config', warn);
  if ('file' in config.hsm.pin) await checkSecretFilePermissions(config.hsm.pin.file, 'pin', warn);
  io.stdout.write(`config ${path}: valid\n`);
  const token = await openToken({
    module: config.hsm.module,
    token: config.hsm.token,
    pin: await readPin(config.hsm.pin, io.env),
    sessions: 1,
  });
  let failures = 0;
  try {
    const status = token.status();
    io.stdout.write(`token "${status.label}" (serial ${status.serial}): reachable, logged in\n`);
    const can = await token.capabilities();
    const yes = (ok: boolean) => (ok ? 'yes' : 'no');
    io.stdout.write(
      `token can: ES256 sign ${yes(can.ES256.sign)}, generate ${yes(can.ES256.generate)}; ` +
        `EdDSA sign ${yes(can.EdDSA.sign)}, generate ${yes(can.EdDSA.generate)}; import ${yes(can.importsPrivateKeys)}\n`,
    );
    for (const key of Object.values(config.keys)) {
      try {
        const loaded = await loadKey(token, key);
        io.stdout.write(
          `key ${key.name}: ok (${loaded.info.alg}, ${loaded.info.origin}, id ${loaded.info.id}${loaded.info.extractable ? ', EXTRACTABLE — allowed by config' : ''})\n`,
        );
      } catch (err) {
        failures++;
        io.stdout.write(`key ${key.name}: FAILED — ${(err as Error).message}\n`);
      }
    }
  } finally {
    await token.close();
  }
  io.stdout.write(failures === 0 ? 'config check: ok\n' : `config check: ${failures} key(s) failed\n`);
  return failures === 0 ? 0 : 1;
}
