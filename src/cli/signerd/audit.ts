/** `signerd audit verify FILE`: checks the audit log's hash chain. */
import { verifyAuditLog } from '../../audit/verify.js';
import { SignerdError } from '../../errors.js';
import type { CliIo } from '../io.js';
import { parseFlags } from './main.js';

const USAGE = `Usage: signerd audit verify FILE

Checks the audit log's hash chain line by line.
Exit 0: every line links to the one before.
Exit 1: the chain is broken (an edited, removed or inserted line); the first bad line is named.
Exit 3: the chain is intact but a line was cut short by a crash (kill -9, power loss); the lines
        around it verify, the torn one is named. Not silently accepted, not a broken chain.
`;

export async function audit(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(args, { help: { type: 'boolean', short: 'h', default: false } });
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const [sub, file, ...extra] = positionals;
  if (sub !== 'verify' || file === undefined || extra.length > 0) {
    throw new SignerdError('ERR_USAGE', 'usage: signerd audit verify FILE');
  }
  const result = await verifyAuditLog(file);
  if (result.ok) {
    io.stdout.write(`${file}: ok, ${result.lines} line(s), hash chain intact\n`);
    return 0;
  }
  if (!result.chainBroken) {
    const torn = [...result.tornLines, ...(result.tornTail ? [result.lines] : [])];
    io.stdout.write(
      `${file}: hash chain intact over ${result.lines} line(s), but line(s) ${torn.join(', ')} were cut short by a crash: ${result.reason ?? ''}\n`,
    );
    return 3;
  }
  io.stdout.write(
    `${file}: BROKEN at line ${result.badLine ?? '?'}: ${result.reason ?? 'unknown'}` +
      `${result.tornTail ? ' (torn last line)' : ''}; ${result.lines} line(s) read\n`,
  );
  return 1;
}
