/** The `signer` CLI (contract §5), as a function: argv and IO in, exit status out. */

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { DEFAULT_SOCKET_PATH, SignerdClient, SignerdClientError } from '../../client/index.js';
import type { HeadersRequest, JwtRequest } from '../../client/index.js';
import { curlArgs, exportLine, json, keysTable } from './format.js';
import { COMMAND_HELP, GLOBAL_HELP } from './help.js';
import type { CommandName } from './help.js';

export interface SignerIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
  /** Read for `--body @-`. */
  stdin?: AsyncIterable<Uint8Array | string>;
}

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

const GLOBAL_OPTIONS: Options = {
  socket: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
};

const FORMAT = { type: 'string' } as const;
const COMMAND_OPTIONS: Record<CommandName, Options> = {
  jwt: {
    method: { type: 'string' },
    url: { type: 'string' },
    claims: { type: 'string' },
    ttl: { type: 'string' },
    export: { type: 'boolean' },
  },
  headers: { method: { type: 'string' }, url: { type: 'string' }, body: { type: 'string' }, format: FORMAT },
  keys: { json: { type: 'boolean' } },
  pubkey: { format: FORMAT },
  health: { json: { type: 'boolean' } },
};

/** Options of every command together: enough to tell option values from the command word. */
const ALL_OPTIONS: Options = Object.assign({}, GLOBAL_OPTIONS, ...Object.values(COMMAND_OPTIONS)) as Options;

class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: CommandName,
  ) {
    super(message);
  }
}

interface Invocation {
  command: CommandName;
  values: Values;
  positionals: string[];
}

export async function runSigner(argv: readonly string[], io: SignerIo): Promise<number> {
  let invocation: Invocation | number;
  try {
    invocation = parseInvocation([...argv], io);
  } catch (err) {
    return usage(err, io);
  }
  if (typeof invocation === 'number') return invocation;

  const { command, values, positionals } = invocation;
  let client: SignerdClient | undefined;
  try {
    const socketPath = socketFrom(values, io.env);
    // Everything the user typed is checked before the daemon is asked anything.
    const action = prepare(command, values, positionals, io);
    client = new SignerdClient({ socketPath });
    return await (
      await action
    )(client);
  } catch (err) {
    if (err instanceof UsageError) return usage(err, io);
    if (err instanceof SignerdClientError) {
      io.stderr.write(`signer: ${err.code}: ${err.message}\n`);
      return err.code === 'ERR_DAEMON_UNREACHABLE' ? EXIT_UNREACHABLE : EXIT_REFUSED;
    }
    io.stderr.write(`signer: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_REFUSED;
  } finally {
    client?.close();
  }
}

/** Splits argv into the command and its options; a number when it was only `--help`/`--version`. */
function parseInvocation(argv: string[], io: SignerIo): Invocation | number {
  const { tokens } = parseArgs({
    args: argv,
    options: ALL_OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const first = tokens.find((t) => t.kind === 'positional');
  const word = first?.kind === 'positional' ? first.value : undefined;
  const rest = first === undefined ? argv : argv.filter((_, i) => i !== first.index);
  const wantsHelp = tokens.some((t) => t.kind === 'option' && t.name === 'help');

  if (word === undefined || word === 'help') {
    const { values, positionals } = strictParse(rest, GLOBAL_OPTIONS, undefined);
    if (word === 'help') {
      const topic = positionals[0];
      if (positionals.length > 1) throw new UsageError('help takes at most one command');
      if (topic === undefined) return print(io, GLOBAL_HELP);
      if (!isCommand(topic)) throw new UsageError(`unknown command '${topic}'`);
      return print(io, COMMAND_HELP[topic]);
    }
    if (values.help === true) return print(io, GLOBAL_HELP);
    if (values.version === true) return print(io, `signer ${version()}\n`);
    throw new UsageError('missing command');
  }
  if (!isCommand(word)) throw new UsageError(`unknown command '${word}'`);
  if (wantsHelp) return print(io, COMMAND_HELP[word]);
  const { values, positionals } = strictParse(rest, { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS[word] }, word);
  if (values.version === true) return print(io, `signer ${version()}\n`);
  return { command: word, values, positionals };
}

function strictParse(args: string[], options: Options, command: CommandName | undefined) {
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    return { values: values as Values, positionals };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), command);
  }
}

function socketFrom(values: Values, env: SignerIo['env']): string {
  const flag = values.socket;
  if (typeof flag === 'string') {
    if (flag === '') throw new UsageError('--socket needs a path');
    return flag;
  }
  const fromEnv = env.SIGNERD_SOCKET;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_SOCKET_PATH;
}

type Action = (client: SignerdClient) => Promise<number>;

/** Validates the command line and returns what to ask the daemon (reading a --body file first). */
async function prepare(
  command: CommandName,
  values: Values,
  positionals: string[],
  io: SignerIo,
): Promise<Action> {
  const out = (text: string): number => print(io, `${text}\n`);
  switch (command) {
    case 'jwt': {
      const key = oneKey(command, positionals);
      const request: JwtRequest = { ...requestTarget(command, values, false) };
      if (typeof values.claims === 'string') request.claims = parseClaims(values.claims);
      if (typeof values.ttl === 'string') request.ttl = parseTtl(values.ttl);
      const asExport = values.export === true;
      return async (client) => {
        const { jwt } = await client.jwt(key, request);
        return out(asExport ? exportLine(jwt) : jwt);
      };
    }
    case 'headers': {
      const key = oneKey(command, positionals);
      const format = oneOf(command, 'format', values.format, ['json', 'curl']);
      const target = requestTarget(command, values, true);
      if (target.method === undefined || target.url === undefined) {
        throw new UsageError('headers needs --method and --url', command);
      }
      const request: HeadersRequest = { method: target.method, url: target.url };
      if (typeof values.body === 'string') request.body = await readBody(values.body, io);
      return async (client) => {
        const { headers } = await client.headers(key, request);
        return out(format === 'curl' ? curlArgs(headers) : json(headers));
      };
    }
    case 'keys': {
      noPositionals(command, positionals);
      const asJson = values.json === true;
      return async (client) => {
        const keys = await client.keys();
        if (asJson) return out(json(keys));
        if (keys.length === 0) {
          io.stderr.write('signer: no keys available to this caller\n');
          return EXIT_OK;
        }
        return out(keysTable(keys));
      };
    }
    case 'pubkey': {
      const key = oneKey(command, positionals);
      const format = oneOf(command, 'format', values.format, ['hex', 'pem', 'jwk']);
      return async (client) => {
        const { publicKey } = await client.key(key);
        if (format === 'jwk') return out(json(publicKey.jwk));
        return out(format === 'pem' ? publicKey.pem.trimEnd() : publicKey.hex);
      };
    }
    case 'health': {
      noPositionals(command, positionals);
      const asJson = values.json === true;
      return async (client) => {
        const health = await client.health();
        const ok = health.status === 'ok';
        if (asJson) out(json(health));
        else if (ok) out(`ok: ${describeHealth(health)}`);
        if (!ok) {
          io.stderr.write(
            `signer: signerd at ${client.socketPath} is unavailable: ${describeHealth(health)}\n`,
          );
          return EXIT_REFUSED;
        }
        return EXIT_OK;
      };
    }
  }
}

function describeHealth(health: Awaited<ReturnType<SignerdClient['health']>>): string {
  const parts: string[] = [];
  if (health.token !== undefined) {
    parts.push(`token "${health.token.label}" ${health.token.present ? 'present' : 'not present'}`);
  }
  if (health.keys !== undefined)
    parts.push(`${health.keys.loaded} key${health.keys.loaded === 1 ? '' : 's'} loaded`);
  return parts.length > 0 ? parts.join(', ') : `status ${health.status}`;
}

function oneKey(command: CommandName, positionals: string[]): string {
  const [key, ...extra] = positionals;
  if (key === undefined || key === '') throw new UsageError(`${command} needs a KEY`, command);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`, command);
  return key;
}

function noPositionals(command: CommandName, positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, command);
}

/** --method and --url go together; --method alone signs nothing meaningful. */
function requestTarget(
  command: CommandName,
  values: Values,
  required: boolean,
): { method?: string; url?: string } {
  const method = values.method;
  const url = values.url;
  if (typeof method === 'string' && typeof url === 'string') {
    if (method === '' || url === '') throw new UsageError('--method and --url must not be empty', command);
    return { method, url };
  }
  if (typeof method === 'string') throw new UsageError('--method needs --url', command);
  if (typeof url === 'string') throw new UsageError('--url needs --method', command);
  if (required) throw new UsageError(`${command} needs --method and --url`, command);
  return {};
}

function oneOf<T extends string>(
  command: CommandName,
  flag: string,
  value: unknown,
  allowed: readonly [T, ...T[]],
): T {
  if (value === undefined) return allowed[0];
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}`, command);
}

function parseClaims(text: string): Record<string, unknown> {
  let claims: unknown;
  try {
    claims = JSON.parse(text);
  } catch {
    throw new UsageError('--claims is not valid JSON', 'jwt');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new UsageError('--claims must be a JSON object', 'jwt');
  }
  return claims as Record<string, unknown>;
}

function parseTtl(text: string): number {
  const ttl = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(ttl) || ttl <= 0)
    throw new UsageError('--ttl must be a positive integer (seconds)', 'jwt');
  return ttl;
}

/** `--body STRING` as is; `@FILE` the file's exact bytes, `@-` stdin's, which must be UTF-8. */
async function readBody(spec: string, io: SignerIo): Promise<string> {
  if (!spec.startsWith('@')) return spec;
  const source = spec.slice(1);
  let bytes: Uint8Array;
  if (source === '-') {
    if (io.stdin === undefined) throw new UsageError('--body @-: no stdin to read', 'headers');
    const chunks: Uint8Array[] = [];
    for await (const chunk of io.stdin)
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    bytes = Buffer.concat(chunks);
  } else {
    if (source === '') throw new UsageError('--body @FILE needs a file name', 'headers');
    try {
      bytes = await readFile(source);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new UsageError(`--body: cannot read ${source} (${code})`, 'headers');
    }
  }
  try {
    // fatal: no silent U+FFFD; ignoreBOM: keep a BOM, it is part of the bytes that get signed.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new UsageError(`--body: ${source === '-' ? 'stdin' : source} is not valid UTF-8`, 'headers');
  }
}

function isCommand(word: string): word is CommandName {
  return Object.hasOwn(COMMAND_OPTIONS, word);
}

function print(io: SignerIo, text: string): number {
  io.stdout.write(text);
  return EXIT_OK;
}

function usage(err: unknown, io: SignerIo): number {
  const message = err instanceof Error ? err.message : String(err);
  const command = err instanceof UsageError ? err.command : undefined;
  io.stderr.write(`signer: ${message}\nTry 'signer ${command === undefined ? '' : `${command} `}--help'.\n`);
  return EXIT_USAGE;
}

let cachedVersion: string | undefined;
function version(): string {
  if (cachedVersion === undefined) {
    // src/cli/signer/run.ts and dist/cli/signer/run.js both sit three levels below package.json.
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    cachedVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  }
  return cachedVersion;
}
