/**
 * `signerd keys …`: key ceremonies, straight to the token (contract §5).
 *
 * Secrets come only from files or stdin, never from argv: no flag takes a secret, and parseArgs is
 * strict, so `--seed abc` is a usage error. Buffers that held a secret are zeroed after use.
 */
import { randomFillSync } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, lstat, open, readFile, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { fsReason, loadConfig, readPin, resolveConfigPath } from '../../config/index.js';
import { isSignerdError, SignerdError } from '../../errors.js';
import { isPkcs11Uri, parsePkcs11Uri } from '../../hsm/pkcs11-uri.js';
import { openToken } from '../../hsm/token.js';
import type { Pkcs11Token } from '../../hsm/token.js';
import {
  parseCdpKeyFile,
  parseEd25519Seed,
  parsePemPrivateKey,
  parseWalletSecret,
} from '../../keys/import-formats.js';
import type { PrivateKeyMaterial } from '../../keys/store.js';
import {
  buildTranscriptBody,
  serializeTranscript,
  signTranscript,
  verifyTranscript,
} from '../../keys/transcript.js';
import type { ImportSourceKind } from '../../keys/transcript.js';
import type { Alg, KeyInfo, KeyRef } from '../../keys/types.js';
import type { CliIo } from '../io.js';
import { parseFlags, version } from './main.js';

/** No key file is this large; a bigger one is the wrong file (and is not read into memory). */
const MAX_SECRET_FILE = 64 * 1024;

const USAGE = `Usage: signerd keys COMMAND [options]

Key ceremonies, straight to the token (the daemon need not run). Every command takes
--config F (else $SIGNERD_CONFIG, else /etc/signerd/signerd.yaml); only its hsm section is used.

  list [--json]                         private keys on the token: label, id, alg, sensitive,
                                        extractable, origin
  generate --label L --alg ES256|EdDSA [--id HEX] [--transcript FILE] [--json]
                                        generate a non-extractable key pair on the token
  import --label L SOURCE [--shred] [--id HEX] [--transcript FILE] [--json]
                                        import a private key; SOURCE is exactly one of
                                        --cdp-key-file F | --ed25519-seed-file F | --pem-file F |
                                        --wallet-secret-file F   (F may be - for stdin)
  pubkey KEY [--format hex|pem|jwk]     the public key (default hex)
  destroy KEY [--yes]                   delete the key pair from the token
  verify-transcript FILE                check a ceremony transcript offline (no token)

KEY is a label, or a pkcs11: URI with object= and/or id= (e.g. pkcs11:id=%01).
Run \`signerd keys COMMAND --help\` for details.
`;

const LIST_USAGE = `Usage: signerd keys list [--config F] [--json]

Lists the private keys on the token: label, CKA_ID, algorithm, CKA_SENSITIVE, CKA_EXTRACTABLE and
origin (generated on the token, or imported). --json prints {"token":…,"keys":[…]} with the public keys.
`;

const GENERATE_USAGE = `Usage: signerd keys generate --label L --alg ES256|EdDSA [--id HEX] [--transcript FILE] [--json] [--config F]

Generates a key pair on the token (private half sensitive and non-extractable) and prints its public
key in every form needed to register it: hex (for EdDSA the 64 hex digits Cobo Portal asks for),
JWK, PEM, the RFC 7638 thumbprint, and the CKA_ID. Refuses a label (or --id) already on the token.

  --label L           CKA_LABEL of the new key pair
  --alg A             ES256 (P-256) or EdDSA (Ed25519)
  --id HEX            CKA_ID (default: 16 random bytes); on a YubiKey it selects the PIV slot
  --transcript FILE   write a signed ceremony transcript (must not exist yet); check it with
                      \`signerd keys verify-transcript FILE\`
  --json              print the result as JSON
`;

const IMPORT_USAGE = `Usage: signerd keys import --label L SOURCE [--shred] [--id HEX] [--transcript FILE] [--json] [--config F]

Imports a private key into the token (sensitive, non-extractable) and prints its public key forms.
The secret is read from a file, or from stdin when F is "-"; never from the command line.
SOURCE is exactly one of:
  --cdp-key-file F        the JSON the CDP portal downloads: {"name"|"id", "privateKey"} with a SEC1
                          or PKCS#8 PEM, or base64 of the Ed25519 seed‖public key; the key name it
                          holds is printed (it is the config's cdp.keyName)
  --ed25519-seed-file F   a 32-byte Ed25519 seed: 64 hex digits (Cobo's API secret), or 32 raw bytes
  --pem-file F            a P-256 or Ed25519 private key PEM (unencrypted)
  --wallet-secret-file F  a CDP wallet secret: base64 DER PKCS#8 (P-256)

  --shred             after a successful import, overwrite F with random bytes, fsync and delete it
                      (on copy-on-write or journaling file systems and SSDs the old blocks may
                      survive: keep such files on tmpfs)
  --id HEX            CKA_ID (default: 16 random bytes)
  --transcript FILE   write a signed ceremony transcript (must not exist yet)
  --json              print the result as JSON
`;

const PUBKEY_USAGE = `Usage: signerd keys pubkey KEY [--format hex|pem|jwk] [--config F]

Prints the public key: hex (raw: 32 bytes for Ed25519, the 65-byte uncompressed point for P-256),
pem (SPKI) or jwk. KEY is a label or a pkcs11: URI (object=, id=).
`;

const DESTROY_USAGE = `Usage: signerd keys destroy KEY [--yes] [--config F]

Deletes the private key and its public key from the token. This cannot be undone.
Without --yes it asks you to type the key's label (only on a terminal; otherwise --yes is required).
`;

const VERIFY_USAGE = `Usage: signerd keys verify-transcript FILE

Checks a ceremony transcript offline: the file is unaltered, its public key forms agree (hex, JWK,
RFC 7638 thumbprint), and the proof of possession verifies against the public key.
Prints "ok" (exit 0), or the reason it fails (exit 1).
`;

const CONFIG_FLAG = { config: { type: 'string' } } as const;
const HELP_FLAG = { help: { type: 'boolean', short: 'h', default: false } } as const;

export async function keys(args: string[], io: CliIo): Promise<number> {
  // `signerd keys --config F list` reads as well as `signerd keys list --config F`.
  const leading =
    args[0] === '--config' ? args.slice(0, 2) : args[0]?.startsWith('--config=') ? args.slice(0, 1) : [];
  const [sub, ...after] = args.slice(leading.length);
  const rest = [...after, ...leading];
  switch (sub) {
    case undefined:
      io.stderr.write(USAGE);
      return 2;
    case '--help':
    case '-h':
    case 'help':
      io.stdout.write(USAGE);
      return 0;
    case 'list':
      return list(rest, io);
    case 'generate':
      return generate(rest, io);
    case 'import':
      return importKey(rest, io);
    case 'pubkey':
      return pubkey(rest, io);
    case 'destroy':
      return destroy(rest, io);
    case 'verify-transcript':
      return verifyTranscriptCommand(rest, io);
    default:
      throw new SignerdError(
        'ERR_USAGE',
        `unknown keys command "${sub}" (expected list, generate, import, pubkey, destroy, verify-transcript)`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// list

async function list(args: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(
    args,
    { ...CONFIG_FLAG, ...HELP_FLAG, json: { type: 'boolean', default: false } },
    false,
  );
  if (values.help) return help(io, LIST_USAGE);
  return withToken(values.config, io, async (token) => {
    const found = await token.listKeys();
    const status = token.status();
    if (values.json) {
      const doc = {
        token: { label: status.label, serial: status.serial },
        keys: found.map((k) => ({
          label: k.label,
          id: k.id,
          alg: k.alg,
          sensitive: k.sensitive,
          extractable: k.extractable,
          origin: k.origin,
          alwaysSensitive: k.alwaysSensitive,
          neverExtractable: k.neverExtractable,
          thumbprint: k.publicKey.thumbprint,
          publicKey: { hex: k.publicKey.hex, jwk: k.publicKey.jwk },
        })),
      };
      io.stdout.write(JSON.stringify(doc, null, 2) + '\n');
      return 0;
    }
    const yesNo = (b: boolean) => (b ? 'yes' : 'no');
    io.stdout.write(
      table([
        ['LABEL', 'ID', 'ALG', 'SENSITIVE', 'EXTRACTABLE', 'ORIGIN'],
        ...found.map((k) => [k.label, k.id, k.alg, yesNo(k.sensitive), yesNo(k.extractable), k.origin]),
      ]),
    );
    if (found.length === 0) io.stderr.write(`(no private keys on token "${status.label}")\n`);
    return 0;
  });
}

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return (
    rows
      .map((row) =>
        row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
      )
      .join('\n') + '\n'
  );
}

// ---------------------------------------------------------------------------------------------
// generate

async function generate(args: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      ...CONFIG_FLAG,
      ...HELP_FLAG,
      label: { type: 'string' },
      alg: { type: 'string' },
      id: { type: 'string' },
      transcript: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    false,
  );
  if (values.help) return help(io, GENERATE_USAGE);
  const label = requireLabel(values.label, 'generate');
  const alg = parseAlg(values.alg);
  const id = parseId(values.id);
  const transcript = await TranscriptFile.reserve(values.transcript);
  try {
    return await withToken(values.config, io, async (token) => {
      await refuseExistingLabel(token, label);
      const info = await token.generateKey({ label, alg, ...(id === undefined ? {} : { id }) });
      const written = await transcript?.write(token, info, { action: 'generate' });
      printResult(io, 'generated', token, info, { json: values.json, transcript: written });
      return 0;
    });
  } finally {
    await transcript?.abandon();
  }
}

// ---------------------------------------------------------------------------------------------
// import

const SOURCES: ReadonlyArray<{
  flag: ImportSourceKind;
  parse: (bytes: Buffer) => { material: PrivateKeyMaterial; keyName?: string };
}> = [
  {
    flag: 'cdp-key-file',
    parse: (bytes) => {
      const { keyName, material } = parseCdpKeyFile(bytes.toString('utf8'));
      return { keyName, material };
    },
  },
  { flag: 'ed25519-seed-file', parse: (bytes) => ({ material: parseEd25519Seed(bytes) }) },
  { flag: 'pem-file', parse: (bytes) => ({ material: parsePemPrivateKey(bytes) }) },
  { flag: 'wallet-secret-file', parse: (bytes) => ({ material: parseWalletSecret(bytes) }) },
];

async function importKey(args: string[], io: CliIo): Promise<number> {
  const { values } = withoutEchoedValues(() =>
    parseFlags(
      args,
      {
        ...CONFIG_FLAG,
        ...HELP_FLAG,
        label: { type: 'string' },
        'cdp-key-file': { type: 'string' },
        'ed25519-seed-file': { type: 'string' },
        'pem-file': { type: 'string' },
        'wallet-secret-file': { type: 'string' },
        shred: { type: 'boolean', default: false },
        id: { type: 'string' },
        transcript: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      false,
    ),
  );
  if (values.help) return help(io, IMPORT_USAGE);
  const label = requireLabel(values.label, 'import');
  const given = SOURCES.filter((s) => values[s.flag] !== undefined);
  const flags = SOURCES.map((s) => `--${s.flag}`).join(' | ');
  if (given.length === 0)
    throw new SignerdError('ERR_USAGE', `import: give the key with exactly one of ${flags}`);
  if (given.length > 1) {
    throw new SignerdError(
      'ERR_USAGE',
      `import: give exactly one key source, not ${given.map((s) => `--${s.flag}`).join(' and ')}`,
    );
  }
  const source = given[0]!;
  const path = values[source.flag]!;
  if (path === '')
    throw new SignerdError('ERR_USAGE', `import: --${source.flag} needs a file name (or - for stdin)`);
  if (values.shred && path === '-')
    throw new SignerdError('ERR_USAGE', 'import: --shred needs a file, not stdin');
  const id = parseId(values.id);
  if (values.shred) await checkShreddable(path);
  const transcript = await TranscriptFile.reserve(values.transcript);
  try {
    return await withToken(values.config, io, async (token) => {
      // Before the secret is read: a refused label must not cost a pasted secret or a shredded file.
      await refuseExistingLabel(token, label);
      const bytes = await readSecret(path, io, source.flag);
      let parsed: { material: PrivateKeyMaterial; keyName?: string };
      try {
        parsed = source.parse(bytes);
      } finally {
        bytes.fill(0);
      }
      const { material, keyName } = parsed;
      let info: KeyInfo;
      try {
        await warnIfAlreadyPresent(token, material, io);
        info = await token.importKey({ label, key: material, ...(id === undefined ? {} : { id }) });
      } finally {
        (material.alg === 'ES256' ? material.d : material.seed).fill(0);
      }
      const written = await transcript?.write(token, info, {
        action: 'import',
        source: source.flag,
        ...(keyName === undefined || source.flag !== 'cdp-key-file' ? {} : { cdpKeyName: keyName }),
      });
      let shredError: unknown;
      if (values.shred) {
        try {
          await shred(path);
        } catch (err) {
          shredError = err;
        }
      }
      printResult(io, 'imported', token, info, {
        json: values.json,
        transcript: written,
        keyName: source.flag === 'cdp-key-file' ? keyName : undefined,
        shredded: values.shred && shredError === undefined ? path : undefined,
      });
      if (shredError !== undefined) {
        throw new SignerdError(
          'ERR_KEY_FILE',
          `key "${label}" was imported, but shredding ${path} failed (${fsReason(shredError)}): delete the file by hand`,
          { cause: shredError },
        );
      }
      return 0;
    });
  } finally {
    await transcript?.abandon();
  }
}

/**
 * parseArgs quotes a stray positional in its message; on `import` that could be a secret pasted
 * on the command line, so the message says what is wrong without repeating it.
 */
function withoutEchoedValues<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (isSignerdError(err) && /^Unexpected argument/.test(err.message)) {
      throw new SignerdError(
        'ERR_USAGE',
        'import: unexpected argument (not repeated here); import takes no positional arguments: a secret is read from a file or stdin, never from the command line',
      );
    }
    throw err;
  }
}

/** Reads the whole secret into one Buffer (the caller zeroes it); intermediate chunks are zeroed. */
async function readSecret(path: string, io: CliIo, flag: string): Promise<Buffer> {
  if (path === '-') {
    const stdin = io.stdin ?? process.stdin;
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of stdin) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        chunks.push(buf);
        size += buf.length;
        if (size > MAX_SECRET_FILE)
          throw new SignerdError(
            'ERR_KEY_FORMAT',
            `--${flag} -: more than ${MAX_SECRET_FILE} bytes on stdin: not a key`,
          );
      }
      if (size === 0) throw new SignerdError('ERR_KEY_FORMAT', `--${flag} -: nothing on stdin`);
      return Buffer.concat(chunks, size);
    } finally {
      for (const c of chunks) c.fill(0);
    }
  }
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw new SignerdError('ERR_KEY_FILE', `cannot read --${flag} ${path}: ${fsReason(cause)}`, {
      cause,
    });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new SignerdError('ERR_KEY_FILE', `--${flag} ${path} is not a regular file`);
    if (stat.size > MAX_SECRET_FILE)
      throw new SignerdError(
        'ERR_KEY_FORMAT',
        `--${flag} ${path} is larger than ${MAX_SECRET_FILE} bytes: not a key`,
      );
    const buffer = Buffer.alloc(stat.size);
    let offset = 0;
    while (offset < buffer.length) {
      const { bytesRead } = await handle.read(buffer, offset, buffer.length - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    if (offset === 0) throw new SignerdError('ERR_KEY_FORMAT', `--${flag} ${path} is empty`);
    return offset === buffer.length ? buffer : buffer.subarray(0, offset);
  } finally {
    await handle.close();
  }
}

/** Before the import: the file must be a regular file we may overwrite and delete. */
async function checkShreddable(path: string): Promise<void> {
  try {
    if (!(await lstat(path)).isFile()) {
      throw new SignerdError(
        'ERR_KEY_FILE',
        `--shred: ${path} is not a regular file (a symbolic link or device is not shredded)`,
      );
    }
    await access(path, fsConstants.R_OK | fsConstants.W_OK);
    await access(dirname(path), fsConstants.W_OK | fsConstants.X_OK);
  } catch (cause) {
    if (isSignerdError(cause)) throw cause;
    throw new SignerdError(
      'ERR_KEY_FILE',
      `--shred: cannot overwrite and delete ${path}: ${fsReason(cause)}`,
      { cause },
    );
  }
}

/** Overwrites the file with random bytes of its length, fsyncs, then unlinks it. */
async function shred(path: string): Promise<void> {
  const handle = await open(path, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW);
  try {
    const { size } = await handle.stat();
    const noise = Buffer.alloc(Math.min(size, 64 * 1024));
    let offset = 0;
    while (offset < size) {
      const n = Math.min(noise.length, size - offset);
      randomFillSync(noise, 0, n);
      const { bytesWritten } = await handle.write(noise, 0, n, offset);
      offset += bytesWritten;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  await unlink(path);
}

/** The same key under another label is legal but rarely meant: say so. */
async function warnIfAlreadyPresent(
  token: Pkcs11Token,
  material: PrivateKeyMaterial,
  io: CliIo,
): Promise<void> {
  const hex = Buffer.from(material.publicRaw).toString('hex');
  const same = (await token.listKeys()).filter((k) => k.publicKey.hex === hex);
  for (const k of same)
    io.stderr.write(`signerd: warning: this key is already on the token as "${k.label}" (id ${k.id})\n`);
}

// ---------------------------------------------------------------------------------------------
// pubkey, destroy

async function pubkey(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    ...CONFIG_FLAG,
    ...HELP_FLAG,
    format: { type: 'string', default: 'hex' },
  });
  if (values.help) return help(io, PUBKEY_USAGE);
  const ref = keyRefOf(positionals, 'pubkey');
  const format = values.format;
  if (format !== 'hex' && format !== 'pem' && format !== 'jwk') {
    throw new SignerdError('ERR_USAGE', `pubkey: --format must be hex, pem or jwk, not "${format}"`);
  }
  return withToken(values.config, io, async (token) => {
    const { publicKey } = await token.getKey(ref);
    if (format === 'hex') io.stdout.write(publicKey.hex + '\n');
    else if (format === 'pem')
      io.stdout.write(publicKey.pem.endsWith('\n') ? publicKey.pem : publicKey.pem + '\n');
    else io.stdout.write(JSON.stringify(publicKey.jwk) + '\n');
    return 0;
  });
}

async function destroy(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    ...CONFIG_FLAG,
    ...HELP_FLAG,
    yes: { type: 'boolean', default: false },
  });
  if (values.help) return help(io, DESTROY_USAGE);
  const ref = keyRefOf(positionals, 'destroy');
  const stdin = (io.stdin ?? process.stdin) as NodeJS.ReadStream;
  if (!values.yes && !stdin.isTTY) {
    throw new SignerdError(
      'ERR_USAGE',
      'destroy: --yes is required when stdin is not a terminal (destroying a key cannot be undone)',
    );
  }
  return withToken(values.config, io, async (token) => {
    const info = await token.getKey(ref);
    if (!values.yes) {
      io.stderr.write(
        `About to destroy ${info.alg} key "${info.label}" (id ${info.id}, thumbprint ${info.publicKey.thumbprint}) on token "${token.status().label}".\n` +
          'This cannot be undone.\n',
      );
      const answer = await askLine(stdin, io, `Type the key's label (${info.label}) to confirm: `);
      if (answer !== info.label) {
        io.stderr.write('signerd: not confirmed; nothing destroyed\n');
        return 1;
      }
    }
    await token.destroyKey({ label: info.label, id: info.id });
    io.stdout.write(`destroyed key "${info.label}" (id ${info.id}) on token "${token.status().label}"\n`);
    return 0;
  });
}

async function askLine(stdin: NodeJS.ReadStream, io: CliIo, question: string): Promise<string> {
  const rl = createInterface({ input: stdin, output: io.stderr, terminal: false });
  try {
    io.stderr.write(question);
    for await (const line of rl) return line.trim();
    return '';
  } finally {
    rl.close();
  }
}

// ---------------------------------------------------------------------------------------------
// verify-transcript

async function verifyTranscriptCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...HELP_FLAG, ...CONFIG_FLAG });
  if (values.help) return help(io, VERIFY_USAGE);
  if (positionals.length !== 1)
    throw new SignerdError('ERR_USAGE', 'usage: signerd keys verify-transcript FILE');
  const path = positionals[0]!;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new SignerdError('ERR_TRANSCRIPT', `cannot read transcript ${path}: ${fsReason(cause)}`, {
      cause,
    });
  }
  const t = verifyTranscript(text);
  io.stdout.write('ok\n');
  io.stderr.write(
    `${path}: ${t.action} of ${t.key.alg} key "${t.key.label}" (id ${t.key.id}, thumbprint ${t.key.thumbprint}) ` +
      `on token "${t.token.label}" (serial ${t.token.serial}), ${t.time}, uid ${t.operator.uid}${t.operator.user ? ` (${t.operator.user})` : ''} on ${t.host}\n`,
  );
  return 0;
}

// ---------------------------------------------------------------------------------------------
// transcripts

interface TranscriptWhat {
  action: 'generate' | 'import';
  source?: ImportSourceKind;
  cdpKeyName?: string;
}

/**
 * The transcript file is created (exclusively) before the ceremony, so a bad path or an existing
 * file fails before the token is touched; it is filled in after, or removed if the ceremony fails.
 */
class TranscriptFile {
  private done = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  static async reserve(path: string | undefined): Promise<TranscriptFile | undefined> {
    if (path === undefined) return undefined;
    if (path === '' || path === '-') throw new SignerdError('ERR_USAGE', '--transcript needs a file name');
    try {
      return new TranscriptFile(path, await open(path, 'wx', 0o644));
    } catch (cause) {
      const exists = (cause as { code?: unknown }).code === 'EEXIST';
      throw new SignerdError(
        exists ? 'ERR_USAGE' : 'ERR_TRANSCRIPT',
        exists
          ? `--transcript ${path} already exists; choose a new file`
          : `cannot create transcript ${path}: ${fsReason(cause)}`,
        { cause },
      );
    }
  }

  async write(token: Pkcs11Token, info: KeyInfo, what: TranscriptWhat): Promise<string> {
    const status = token.status();
    const body = buildTranscriptBody({
      ...what,
      key: info,
      token: { label: status.label, serial: status.serial },
      operator: operator(),
      host: hostname(),
      version: version(),
    });
    const transcript = await signTranscript(body, token.signer(info));
    const text = serializeTranscript(transcript);
    verifyTranscript(text); // the token's signature must check out before we call it a proof
    await this.handle.writeFile(text, 'utf8');
    await this.handle.sync();
    await this.handle.close();
    this.done = true;
    return this.path;
  }

  /** After a failed ceremony: remove the empty file. */
  async abandon(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.handle.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }
}

function operator(): { uid: number; user?: string } {
  const uid = process.getuid?.() ?? -1;
  try {
    return { uid, user: userInfo().username };
  } catch {
    return { uid };
  }
}

// ---------------------------------------------------------------------------------------------
// shared

async function withToken<T>(
  configFlag: string | undefined,
  io: CliIo,
  fn: (token: Pkcs11Token) => Promise<T>,
): Promise<T> {
  const config = await loadConfig(resolveConfigPath(configFlag, io.env));
  const pin = await readPin(config.hsm.pin, io.env);
  const token = await openToken({ module: config.hsm.module, token: config.hsm.token, pin, sessions: 1 });
  try {
    return await fn(token);
  } finally {
    await token.close();
  }
}

async function refuseExistingLabel(token: Pkcs11Token, label: string): Promise<void> {
  try {
    await token.getKey({ label });
  } catch (err) {
    if (isSignerdError(err) && err.code === 'ERR_KEY_NOT_FOUND') return;
    if (isSignerdError(err) && err.code === 'ERR_KEY_AMBIGUOUS') throw existing(token, label);
    throw err;
  }
  throw existing(token, label);
}

function existing(token: Pkcs11Token, label: string): SignerdError {
  return new SignerdError(
    'ERR_KEY_EXISTS',
    `token "${token.status().label}" already has a key labelled "${label}"; choose another label (or destroy the old key first)`,
  );
}

function help(io: CliIo, text: string): number {
  io.stdout.write(text);
  return 0;
}

function requireLabel(label: string | undefined, command: string): string {
  if (label === undefined || label === '')
    throw new SignerdError('ERR_USAGE', `${command}: --label is required`);
  if (Buffer.byteLength(label, 'utf8') > 128)
    throw new SignerdError('ERR_USAGE', `${command}: --label must be at most 128 bytes`);
  return label;
}

function parseAlg(alg: string | undefined): Alg {
  if (alg === 'ES256' || alg === 'EdDSA') return alg;
  throw new SignerdError(
    'ERR_USAGE',
    alg === undefined
      ? 'generate: --alg ES256|EdDSA is required'
      : `generate: --alg must be ES256 or EdDSA, not "${alg}"`,
  );
}

function parseId(id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(id))
    throw new SignerdError('ERR_USAGE', `--id must be an even number of hex digits, not "${id}"`);
  return id.toLowerCase();
}

/** KEY: a label, or a pkcs11: URI naming the object by label and/or id. */
function keyRefOf(positionals: string[], command: string): KeyRef {
  if (positionals.length !== 1 || positionals[0] === '') {
    throw new SignerdError('ERR_USAGE', `${command}: name exactly one key (its label, or a pkcs11: URI)`);
  }
  const key = positionals[0]!;
  if (!isPkcs11Uri(key)) return { label: key };
  let uri;
  try {
    uri = parsePkcs11Uri(key);
  } catch (err) {
    throw new SignerdError('ERR_USAGE', `${command}: ${(err as Error).message}`);
  }
  if (uri.pinValue !== undefined)
    throw new SignerdError('ERR_USAGE', `${command}: a pkcs11: URI here must not carry a PIN`);
  const ref: KeyRef = {};
  if (uri.object !== undefined) ref.label = uri.object;
  if (uri.id !== undefined) ref.id = uri.id;
  if (!ref.label && !ref.id)
    throw new SignerdError('ERR_USAGE', `${command}: the pkcs11: URI must name the key (object= or id=)`);
  return ref;
}

interface PrintOptions {
  json: boolean;
  transcript: string | undefined;
  keyName?: string | undefined;
  shredded?: string | undefined;
}

function printResult(
  io: CliIo,
  verb: 'generated' | 'imported',
  token: Pkcs11Token,
  info: KeyInfo,
  options: PrintOptions,
): void {
  const status = token.status();
  const pk = info.publicKey;
  if (options.json) {
    const doc: Record<string, unknown> = {
      action: verb === 'generated' ? 'generate' : 'import',
      token: { label: status.label, serial: status.serial },
      label: info.label,
      id: info.id,
      alg: info.alg,
      origin: info.origin,
      sensitive: info.sensitive,
      extractable: info.extractable,
      publicKey: { hex: pk.hex, jwk: pk.jwk, pem: pk.pem },
      thumbprint: pk.thumbprint,
    };
    if (options.keyName !== undefined) doc.cdpKeyName = options.keyName;
    if (options.transcript !== undefined) doc.transcript = options.transcript;
    if (options.shredded !== undefined) doc.shredded = options.shredded;
    io.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  const curve = info.alg === 'ES256' ? 'P-256' : 'Ed25519';
  const hexWhat =
    info.alg === 'EdDSA'
      ? 'hex, 32 bytes — what Cobo Portal asks for when you register an API key'
      : 'hex, the 65-byte uncompressed point';
  const lines = [
    `${verb} ${info.alg} (${curve}) key "${info.label}" on token "${status.label}" (serial ${status.serial})`,
    `  CKA_ID:      ${info.id}`,
    `  origin:      ${info.origin}; ${info.sensitive ? 'sensitive' : 'NOT SENSITIVE'}, ${info.extractable ? 'EXTRACTABLE' : 'not extractable'}`,
    `  thumbprint:  ${pk.thumbprint}   (RFC 7638, SHA-256; the default kid)`,
  ];
  if (options.keyName !== undefined)
    lines.push(`  CDP key name: ${options.keyName}   (the config's cdp.keyName)`);
  if (options.shredded !== undefined) lines.push(`  shredded:    ${options.shredded}`);
  if (options.transcript !== undefined) lines.push(`  transcript:  ${options.transcript}`);
  lines.push(
    '',
    `Public key (${hexWhat}):`,
    pk.hex,
    '',
    'Public key (JWK):',
    JSON.stringify(pk.jwk),
    '',
    'Public key (PEM):',
    pk.pem.trimEnd(),
    '',
  );
  if (options.keyName !== undefined) {
    lines.push(
      'Config for this key (signerd.yaml):',
      'keys:',
      `  ${JSON.stringify(info.label)}:`,
      `    label: ${JSON.stringify(info.label)}`,
      '    profile: cdp',
      `    cdp: { keyName: ${JSON.stringify(options.keyName)} }`,
      '',
    );
  }
  io.stdout.write(lines.join('\n'));
}
