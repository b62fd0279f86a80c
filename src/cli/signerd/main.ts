/** `signerd`: the daemon, and the commands that talk to the token directly. */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isSignerdError, SignerdError } from '../../errors.js';
import type { CliIo } from '../io.js';
import { SIGNERD_USAGE } from './usage.js';

export type Command = (args: string[], io: CliIo) => Promise<number>;

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends Options> = ReturnType<
  typeof parseArgs<{ options: T; strict: true; allowPositionals: boolean }>
>;

/** parseArgs with the project's conventions: strict, and a usage error names the flag. */
export function parseFlags<T extends Options>(
  args: string[],
  options: T,
  allowPositionals = true,
): Parsed<T> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (err) {
    throw new SignerdError('ERR_USAGE', (err as Error).message);
  }
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function commandFor(name: string, sub: string | undefined): Promise<Command | undefined> {
  switch (name) {
    case 'serve':
      return (await import('./serve.js')).serve;
    case 'dev':
      return (await import('./dev.js')).dev;
    case 'keys':
      return (await import('./keys.js')).keys;
    case 'token':
      return sub === 'init' || sub === undefined ? (await import('./token.js')).token : undefined;
    case 'config':
      return (await import('./config-check.js')).configCommand;
    case 'audit':
      return (await import('./audit.js')).audit;
    default:
      return undefined;
  }
}

export async function runSignerd(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(SIGNERD_USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`signerd ${version()}\n`);
    return 0;
  }
  const command = await commandFor(name, rest[0]);
  if (!command) {
    io.stderr.write(`signerd: unknown command "${name}"\n\n${SIGNERD_USAGE}`);
    return 2;
  }
  try {
    return await command(rest, io);
  } catch (err) {
    if (isSignerdError(err)) {
      io.stderr.write(`signerd: ${err.message}\n`);
      return err.code === 'ERR_USAGE' ? 2 : 1;
    }
    io.stderr.write(`signerd: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
