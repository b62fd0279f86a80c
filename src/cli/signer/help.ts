/** Help texts of the `signer` CLI. */

export type CommandName = 'jwt' | 'headers' | 'keys' | 'pubkey' | 'health';

const SOCKET = `  --socket PATH   the daemon's socket (default: $SIGNERD_SOCKET, else /run/signerd/signerd.sock)
  -h, --help      this help`;

export const GLOBAL_HELP = `Usage: signer [--socket PATH] COMMAND [options]

Asks the local signerd daemon for API credentials.

Commands:
  jwt KEY       a JWT (CDP, generic) on stdout
  headers KEY   the authentication headers for one HTTP request (Cobo, CDP)
  keys          the keys this caller may use
  pubkey KEY    a key's public key
  health        whether the daemon and its token are up
  help [CMD]    this help, or a command's

Options:
${SOCKET}
  --version       the version

Exit status: 0 ok, 1 the daemon refused (its message on stderr), 2 usage error,
3 the daemon is unreachable.
Run 'signer COMMAND --help' for a command's options.
`;

export const COMMAND_HELP: Record<CommandName, string> = {
  jwt: `Usage: signer jwt KEY [--method M --url U] [--claims JSON] [--ttl N] [--export]

Prints a fresh JWT signed by KEY, followed by a newline.

Options:
  --method M      with --url: the request the JWT is for (CDP's uri claim);
                  without both, a CDP key gives a websocket (uri-less) JWT
  --url U         the full https URL of that request
  --claims JSON   extra claims, a JSON object (generic jwt keys)
  --ttl N         lifetime in seconds, a positive integer (the daemon caps it)
  --export        print 'export JWT=<jwt>' instead, for: eval "$(signer jwt KEY --export)"
${SOCKET}

Example (Coinbase CDP):
  export JWT=$(signer jwt cdp-main --method GET --url https://api.coinbase.com/api/v3/brokerage/accounts)
  curl -H "Authorization: Bearer $JWT" https://api.coinbase.com/api/v3/brokerage/accounts
`,
  headers: `Usage: signer headers KEY --method M --url U [--body STRING|@FILE|@-] [--format json|curl]

Prints the headers that authenticate one request (Cobo: Biz-Api-*; CDP: Authorization).

Options:
  --method M      the request's method (required)
  --url U         the request's full URL, query string exactly as it will be sent (required)
  --body STRING   the exact body that will be sent; @FILE reads it from FILE (UTF-8,
                  byte for byte), @- from stdin. A body starting with '@' must come from a file.
  --format F      json (default): the headers as a JSON object;
                  curl: -H 'Name: value' arguments on one line, single-quoted for the shell
${SOCKET}

Example (Cobo WaaS 2.0):
  eval "curl $(signer headers cobo-prod --method GET --url "$U" --format curl) '$U'"
`,
  keys: `Usage: signer keys [--json]

Lists the keys this caller may use: a table of name, profile, algorithm, origin and kid.

Options:
  --json          the daemon's answer as JSON (an array of keys) instead
${SOCKET}
`,
  pubkey: `Usage: signer pubkey KEY [--format hex|pem|jwk]

Prints KEY's public key.

Options:
  --format F      hex (default): the raw public key (32 bytes for Ed25519, what Cobo Portal
                  asks for; the 65-byte uncompressed point for P-256); pem: SPKI PEM; jwk: JSON
${SOCKET}
`,
  health: `Usage: signer health [--json]

Prints whether the daemon and its token are up; exits 1 when the token is unavailable.

Options:
  --json          the daemon's health report as JSON
${SOCKET}
`,
};
