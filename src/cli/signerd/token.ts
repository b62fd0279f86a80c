/** `signerd token init --label L`: initialise a SoftHSM2 token (SO PIN and user PIN from files or a prompt). */
import { existsSync } from 'node:fs';
import { loadConfig, readPin, resolveConfigPath } from '../../config/index.js';
import { SignerdError } from '../../errors.js';
import { initToken } from '../../hsm/init-token.js';
import { findSoftHsmModule } from '../../hsm/softhsm.js';
import type { CliIo } from '../io.js';
import { promptNewSecret } from '../prompt.js';
import { parseFlags } from './main.js';

const USAGE = `Usage: signerd token init --label L [--so-pin-file F] [--pin-file F] [--module PATH] [--config F]

Initialises a SoftHSM2 token and sets its user PIN through PKCS#11 (no PIN on any command line).
PINs come from the files given (one line, a trailing newline ignored), or are asked for on the terminal.
The module is --module, else the config's hsm.module, else SoftHSM2 from its usual install path.
`;

export async function token(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    label: { type: 'string' },
    'so-pin-file': { type: 'string' },
    'pin-file': { type: 'string' },
    module: { type: 'string' },
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (positionals[0] !== 'init' || positionals.length > 1)
    throw new SignerdError('ERR_USAGE', 'usage: signerd token init --label L');
  if (!values.label) throw new SignerdError('ERR_USAGE', 'token init: --label is required');
  let module = values.module;
  if (!module) {
    const path = resolveConfigPath(values.config, io.env);
    module =
      values.config || existsSync(path) ? (await loadConfig(path)).hsm.module : findSoftHsmModule(io.env);
  }
  const soPin = values['so-pin-file']
    ? await readPin({ file: values['so-pin-file'] })
    : await promptNewSecret(io, 'SO PIN');
  const userPin = values['pin-file']
    ? await readPin({ file: values['pin-file'] })
    : await promptNewSecret(io, 'user PIN');
  const result = initToken({ module, label: values.label, soPin, userPin });
  io.stdout.write(`token "${result.label}" initialised (serial ${result.serial})\n`);
  return 0;
}
