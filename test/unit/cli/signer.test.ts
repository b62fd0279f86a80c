import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runSigner } from '../../../src/cli/signer/run.js';
import { errorAnswer, FAKE_KEYS, FakeSignerd } from '../../helpers/fake-signerd.js';

const run$ = promisify(execFile);

let daemon: FakeSignerd;
let scratch: string;

beforeAll(async () => {
  daemon = await FakeSignerd.start();
  scratch = await mkdtemp(join(tmpdir(), 'signer-cli-'));
});

afterEach(() => daemon.reset());

afterAll(async () => {
  await daemon.stop();
  await rm(scratch, { recursive: true, force: true });
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `signer ARGS` in-process against the fake daemon (via $SIGNERD_SOCKET unless `env` says otherwise). */
async function signer(
  args: string[],
  options: { env?: Record<string, string | undefined>; stdin?: AsyncIterable<Uint8Array | string> } = {},
): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const code = await runSigner(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: options.env ?? { SIGNERD_SOCKET: daemon.socketPath },
    ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
  });
  return { code, stdout, stderr };
}

function sent(): { method: string; path: string; body: unknown }[] {
  return daemon.requests.map((r) => ({
    method: r.method,
    path: r.path,
    body: r.body === '' ? undefined : (JSON.parse(r.body) as unknown),
  }));
}

/** What bash makes of a line: `eval "set -- LINE"` then each word. */
async function bashWords(line: string): Promise<string[]> {
  const { stdout } = await run$('bash', ['-c', 'eval "set -- $1"; printf "%s\\0" "$@"', 'bash', line]);
  return stdout.split('\0').slice(0, -1);
}

describe('signer jwt', () => {
  it('prints the JWT and a newline; the request is an empty object', async () => {
    const r = await signer(['jwt', 'demo-cdp']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(sent()).toEqual([{ method: 'POST', path: '/v1/keys/demo-cdp/jwt', body: {} }]);
  });

  it('passes --method, --url, --claims and --ttl', async () => {
    const url = 'https://api.coinbase.com/api/v3/brokerage/accounts?limit=5';
    const r = await signer([
      'jwt',
      'demo-cdp',
      '--method',
      'GET',
      '--url',
      url,
      '--claims',
      '{"aud":"billing","n":[1]}',
      '--ttl',
      '60',
    ]);
    expect(r.code).toBe(0);
    expect(sent()[0]!.body).toEqual({ method: 'GET', url, claims: { aud: 'billing', n: [1] }, ttl: 60 });
  });

  it('--export prints `export JWT=<jwt>`', async () => {
    const r = await signer(['jwt', 'demo-cdp', '--export']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^export JWT=eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });

  it('--export quotes anything the shell would not read back unchanged', async () => {
    const nasty = `a'b $(touch x) "c"`;
    daemon.on('POST /v1/keys/demo-cdp/jwt', { status: 200, body: { jwt: nasty, expiresAt: null } });
    const r = await signer(['jwt', 'demo-cdp', '--export']);
    expect(r.stdout).toBe(`export JWT='a'\\''b $(touch x) "c"'\n`);
    const { stdout } = await run$('bash', ['-c', 'eval "$1"; printf %s "$JWT"', 'bash', r.stdout]);
    expect(stdout).toBe(nasty);
  });

  it('a daemon refusal is exit 1 with the daemon’s code and message on stderr', async () => {
    daemon.on(
      'POST /v1/keys/demo-cdp/jwt',
      errorAnswer(403, 'ERR_POLICY_DENIED', 'DELETE api.coinbase.com/x is not allowed'),
    );
    const r = await signer(['jwt', 'demo-cdp', '--method', 'DELETE', '--url', 'https://api.coinbase.com/x']);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: 'signer: ERR_POLICY_DENIED: DELETE api.coinbase.com/x is not allowed\n',
    });
  });

  it.each([
    ['no KEY', ['jwt'], /needs a KEY/],
    ['two KEYs', ['jwt', 'a', 'b'], /unexpected argument 'b'/],
    ['--method without --url', ['jwt', 'k', '--method', 'GET'], /--method needs --url/],
    ['--url without --method', ['jwt', 'k', '--url', 'https://x/'], /--url needs --method/],
    ['--claims not JSON', ['jwt', 'k', '--claims', '{aud:1}'], /--claims is not valid JSON/],
    ['--claims not an object', ['jwt', 'k', '--claims', '[1]'], /--claims must be a JSON object/],
    ['--ttl not a number', ['jwt', 'k', '--ttl', 'ten'], /--ttl must be a positive integer/],
    ['--ttl fractional', ['jwt', 'k', '--ttl', '1.5'], /--ttl must be a positive integer/],
    ['--ttl zero', ['jwt', 'k', '--ttl', '0'], /--ttl must be a positive integer/],
    ['--ttl without a value', ['jwt', 'k', '--ttl'], /--ttl/],
    ['an unknown flag', ['jwt', 'k', '--nope'], /Unknown option '--nope'/],
    ['a flag of another command', ['jwt', 'k', '--format', 'json'], /Unknown option '--format'/],
    ['a value for a boolean flag', ['jwt', 'k', '--export=yes'], /--export/],
  ])('usage error (exit 2, nothing sent): %s', async (_, args, message) => {
    const r = await signer(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^signer: .*\nTry 'signer jwt --help'\.\n$/);
    expect(daemon.requests).toHaveLength(0);
  });
});

describe('signer headers', () => {
  const url = 'https://api.dev.cobo.com/v2/wallets?chain_id=ETH&b=1';

  it('prints the headers as JSON by default', async () => {
    const r = await signer(['headers', 'demo-cobo', '--method', 'GET', '--url', url]);
    expect(r.code).toBe(0);
    const headers = JSON.parse(r.stdout) as Record<string, string>;
    expect(Object.keys(headers)).toEqual(['Biz-Api-Key', 'Biz-Api-Nonce', 'Biz-Api-Signature']);
    expect(r.stdout.endsWith('}\n')).toBe(true);
    expect(sent()).toEqual([
      { method: 'POST', path: '/v1/keys/demo-cobo/headers', body: { method: 'GET', url } },
    ]);
  });

  it('--format json is the same', async () => {
    const r = await signer(['headers', 'demo-cdp', '--method', 'GET', '--url', url, '--format', 'json']);
    expect(JSON.parse(r.stdout)).toEqual({
      Authorization: expect.stringMatching(/^Bearer jwt-\d+$/) as unknown,
    });
  });

  it('--body STRING sends the string as is', async () => {
    const body = '{"request_id":"r1", "amount": "1.0"}';
    const r = await signer(['headers', 'demo-cobo', '--method', 'POST', '--url', url, '--body', body]);
    expect(r.code).toBe(0);
    expect(sent()[0]!.body).toEqual({ method: 'POST', url, body });
  });

  it('--body @FILE sends the file’s exact bytes (BOM, CRLF, non-ASCII, trailing newline)', async () => {
    const content = '\uFEFF{"memo":"café ✓",\r\n "x":1}\n';
    const file = join(scratch, 'body.json');
    await writeFile(file, content, 'utf8');
    const r = await signer(['headers', 'demo-cobo', '--method', 'POST', '--url', url, '--body', `@${file}`]);
    expect(r.code).toBe(0);
    const raw = daemon.requests[0]!.body;
    const sentBody = (JSON.parse(raw) as { body: string }).body;
    expect(sentBody).toBe(content);
    expect(Buffer.from(sentBody, 'utf8').equals(await readFile(file))).toBe(true);
  });

  it('--body @- reads stdin', async () => {
    const r = await signer(['headers', 'demo-cobo', '--method', 'POST', '--url', url, '--body', '@-'], {
      env: { SIGNERD_SOCKET: daemon.socketPath },
      stdin: Readable.from([Buffer.from('{"a":'), Buffer.from('"é"}')]),
    });
    expect(r.code).toBe(0);
    expect((sent()[0]!.body as { body: string }).body).toBe('{"a":"é"}');
  });

  it('--body @FILE that does not exist, or is not UTF-8, is a usage error', async () => {
    const missing = await signer([
      'headers',
      'k',
      '--method',
      'POST',
      '--url',
      url,
      '--body',
      `@${join(scratch, 'none')}`,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*none \(ENOENT\)/);
    const binary = join(scratch, 'binary');
    await writeFile(binary, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    const bad = await signer(['headers', 'k', '--method', 'POST', '--url', url, '--body', `@${binary}`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not valid UTF-8/);
    expect(daemon.requests).toHaveLength(0);
  });

  it('--format curl prints single-quoted -H arguments on one line', async () => {
    daemon.on('POST /v1/keys/demo-cobo/headers', {
      status: 200,
      body: { headers: { 'Biz-Api-Key': 'abc', 'X-Odd': `it's "odd" $HOME` }, expiresAt: null },
    });
    const r = await signer(['headers', 'demo-cobo', '--method', 'GET', '--url', url, '--format', 'curl']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`-H 'Biz-Api-Key: abc' -H 'X-Odd: it'\\''s "odd" $HOME'\n`);
    expect(await bashWords(r.stdout.trimEnd())).toEqual([
      '-H',
      'Biz-Api-Key: abc',
      '-H',
      `X-Odd: it's "odd" $HOME`,
    ]);
  });

  it.each([
    ['no --method/--url', ['headers', 'k'], /headers needs --method and --url/],
    ['no --url', ['headers', 'k', '--method', 'GET'], /--method needs --url/],
    ['no --method', ['headers', 'k', '--url', url], /--url needs --method/],
    ['no KEY', ['headers', '--method', 'GET', '--url', url], /needs a KEY/],
    [
      'a bad --format',
      ['headers', 'k', '--method', 'GET', '--url', url, '--format', 'yaml'],
      /--format must be one of json, curl/,
    ],
    [
      '--body without a file name',
      ['headers', 'k', '--method', 'GET', '--url', url, '--body', '@'],
      /needs a file name/,
    ],
  ])('usage error (exit 2): %s', async (_, args, message) => {
    const r = await signer(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/Try 'signer headers --help'/);
    expect(daemon.requests).toHaveLength(0);
  });

  it('a refusal is exit 1', async () => {
    const r = await signer(['headers', 'missing', '--method', 'GET', '--url', url]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'signer: ERR_KEY_NOT_FOUND: no such key\n' });
  });
});

describe('signer keys', () => {
  it('prints a table by default', async () => {
    const r = await signer(['keys']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]!.split(/\s+/)).toEqual(['NAME', 'PROFILE', 'ALG', 'ORIGIN', 'KID']);
    expect(lines[1]!.split(/\s+/)).toEqual([
      'demo-cdp',
      'cdp',
      'ES256',
      'imported',
      'organizations/demo/apiKeys/demo-cdp',
    ]);
    expect(lines[2]!.split(/\s+/)).toEqual([
      'demo-cobo',
      'cobo',
      'EdDSA',
      'generated',
      'kid-demo-cobo-thumbprint',
    ]);
    expect(lines[1]!.indexOf(' cdp ') + 1).toBe(lines[0]!.indexOf('PROFILE'));
    expect(sent()).toEqual([{ method: 'GET', path: '/v1/keys', body: undefined }]);
  });

  it('--json prints the keys array', async () => {
    const r = await signer(['keys', '--json']);
    expect(JSON.parse(r.stdout)).toEqual(FAKE_KEYS);
  });

  it('says so on stderr when there are no keys', async () => {
    daemon.on('GET /v1/keys', { status: 200, body: { keys: [] } });
    const r = await signer(['keys']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: 'signer: no keys available to this caller\n' });
  });

  it('takes no argument', async () => {
    expect((await signer(['keys', 'x'])).code).toBe(2);
  });
});

describe('signer pubkey', () => {
  it('prints hex by default', async () => {
    const r = await signer(['pubkey', 'demo-cobo']);
    expect(r).toEqual({ code: 0, stdout: `${FAKE_KEYS[1].publicKey.hex}\n`, stderr: '' });
    expect(sent()).toEqual([{ method: 'GET', path: '/v1/keys/demo-cobo', body: undefined }]);
  });

  it('--format hex, pem, jwk', async () => {
    expect((await signer(['pubkey', 'demo-cdp', '--format', 'hex'])).stdout).toBe(
      `${FAKE_KEYS[0].publicKey.hex}\n`,
    );
    expect((await signer(['pubkey', 'demo-cdp', '--format', 'pem'])).stdout).toBe(FAKE_KEYS[0].publicKey.pem);
    const jwk = await signer(['pubkey', 'demo-cdp', '--format', 'jwk']);
    expect(JSON.parse(jwk.stdout)).toEqual(FAKE_KEYS[0].publicKey.jwk);
  });

  it('encodes the key name in the path', async () => {
    const r = await signer(['pubkey', 'a/b c']);
    expect(r.code).toBe(1);
    expect(daemon.requests[0]!.path).toBe('/v1/keys/a%2Fb%20c');
  });

  it('a bad --format or no KEY is a usage error', async () => {
    expect((await signer(['pubkey', 'demo-cdp', '--format', 'der'])).code).toBe(2);
    expect((await signer(['pubkey'])).code).toBe(2);
    expect(daemon.requests).toHaveLength(0);
  });
});

describe('signer health', () => {
  it('prints a summary', async () => {
    const r = await signer(['health']);
    expect(r).toEqual({ code: 0, stdout: 'ok: token "signerd" present, 2 keys loaded\n', stderr: '' });
    expect(sent()).toEqual([{ method: 'GET', path: '/v1/health', body: undefined }]);
  });

  it('--json prints the report', async () => {
    const r = await signer(['health', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({
      status: 'ok',
      token: { label: 'signerd', present: true },
      keys: { loaded: 2 },
    });
  });

  it('an unavailable token is exit 1', async () => {
    const report = {
      status: 'unavailable',
      token: { label: 'signerd', present: false },
      keys: { loaded: 0 },
    };
    daemon.on('GET /v1/health', { status: 503, body: report });
    const r = await signer(['health']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('unavailable: token "signerd" not present, 0 keys loaded');
    const asJson = await signer(['health', '--json']);
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stdout)).toEqual(report);
  });
});

describe('the socket', () => {
  it('no daemon is exit 3, naming the socket', async () => {
    const socketPath = join(scratch, 'nobody.sock');
    for (const args of [
      ['health'],
      ['jwt', 'k'],
      ['keys'],
      ['pubkey', 'k'],
      ['headers', 'k', '--method', 'GET', '--url', 'https://x/'],
    ]) {
      const r = await signer([...args, '--socket', socketPath]);
      expect(r.code).toBe(3);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^signer: ERR_DAEMON_UNREACHABLE: cannot reach signerd at /);
      expect(r.stderr).toContain(socketPath);
    }
  });

  it('--socket wins over $SIGNERD_SOCKET, before or after the command, = form too', async () => {
    const env = { SIGNERD_SOCKET: join(scratch, 'wrong.sock') };
    expect((await signer(['--socket', daemon.socketPath, 'health'], { env })).code).toBe(0);
    expect((await signer(['health', '--socket', daemon.socketPath], { env })).code).toBe(0);
    expect((await signer([`--socket=${daemon.socketPath}`, 'jwt', 'demo-cdp'], { env })).code).toBe(0);
    expect((await signer(['health'], { env })).code).toBe(3);
  });

  it('defaults to /run/signerd/signerd.sock without flag or environment', async () => {
    const r = await signer(['health'], { env: {} });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('/run/signerd/signerd.sock');
  });

  it('an empty --socket is a usage error', async () => {
    expect((await signer(['health', '--socket', ''])).code).toBe(2);
  });
});

describe('help, version and usage', () => {
  it('--help and -h print the overview on stdout', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = await signer(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: signer \[--socket PATH\] COMMAND/);
      expect(r.stdout).toContain('Exit status: 0 ok, 1 the daemon refused');
    }
  });

  it.each(['jwt', 'headers', 'keys', 'pubkey', 'health'])('%s: --help, -h, help COMMAND', async (command) => {
    for (const args of [
      [command, '--help'],
      [command, '-h'],
      ['help', command],
      ['--help', command],
      [command, 'K', '--bogus', '-h'],
    ]) {
      const r = await signer(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: signer ${command}`));
    }
    expect(daemon.requests).toHaveLength(0);
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(await signer(['--version'])).toEqual({ code: 0, stdout: `signer ${pkg.version}\n`, stderr: '' });
  });

  it.each([
    ['no command', [], /missing command/],
    ['an unknown command', ['sign', 'k'], /unknown command 'sign'/],
    ['help for an unknown command', ['help', 'sign'], /unknown command 'sign'/],
  ])('%s is exit 2', async (_, args, message) => {
    const r = await signer(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("Try 'signer --help'.");
  });

  it('an unknown flag before the command is exit 2', async () => {
    const r = await signer(['--verbose', 'health']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^signer: Unknown option '--verbose'/);
    expect(daemon.requests).toHaveLength(0);
  });

  it('the bin is a node script that only wraps runSigner', async () => {
    const bin = await readFile(new URL('../../../src/cli/signer.ts', import.meta.url), 'utf8');
    expect(bin.split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(bin).toContain('process.exitCode = await runSigner(process.argv.slice(2)');
  });
});
