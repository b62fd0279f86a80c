/** Output forms of the `signer` CLI: shell quoting, curl arguments, the keys table. */

import type { Key } from '../../client/index.js';

const SHELL_SAFE = /^[A-Za-z0-9_.,:/=+@%-]+$/;

/** Always single-quoted, for pasting or `eval`: `'it'\''s'`. */
export function singleQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The value as is when the shell reads it back unchanged (a JWT always is), else single-quoted. */
export function shellWord(value: string): string {
  return SHELL_SAFE.test(value) ? value : singleQuote(value);
}

/** `export JWT=…`, the form `eval "$(signer jwt KEY --export)"` expects. */
export function exportLine(jwt: string): string {
  return `export JWT=${shellWord(jwt)}`;
}

/** `-H 'Name: value' -H …` on one line, each argument single-quoted. */
export function curlArgs(headers: Record<string, string>): string {
  return Object.entries(headers)
    .map(([name, value]) => `-H ${singleQuote(`${name}: ${value}`)}`)
    .join(' ');
}

/** A left-aligned table of the caller's keys, one line per key. */
export function keysTable(keys: readonly Key[]): string {
  const rows = [
    ['NAME', 'PROFILE', 'ALG', 'ORIGIN', 'KID'],
    ...keys.map((k) => [k.name, k.profile, k.alg, k.origin, k.kid]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** JSON for humans and jq alike. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
