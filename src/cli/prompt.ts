/** Reading a secret from the terminal without echo; never from argv. */
import { SignerdError } from '../errors.js';
import type { CliIo } from './io.js';

export async function promptSecret(io: CliIo, question: string): Promise<string> {
  const stdin = (io.stdin ?? process.stdin) as NodeJS.ReadStream;
  if (!stdin.isTTY) {
    throw new SignerdError(
      'ERR_USAGE',
      `${question}: no terminal to ask on; pass the secret in a file instead`,
    );
  }
  io.stderr.write(`${question}: `);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            io.stderr.write('\n');
            resolve(value);
            return;
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            reject(new SignerdError('ERR_USAGE', 'cancelled'));
            return;
          }
          if (ch === '\u007f') value = value.slice(0, -1);
          else value += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

/** Asks twice; the answers must match. */
export async function promptNewSecret(io: CliIo, what: string): Promise<string> {
  const first = await promptSecret(io, `New ${what}`);
  const second = await promptSecret(io, `Repeat ${what}`);
  if (first !== second) throw new SignerdError('ERR_USAGE', `the two ${what}s differ`);
  return first;
}
