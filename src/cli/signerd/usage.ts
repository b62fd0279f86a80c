export const SIGNERD_USAGE = `signerd — hardware-backed signer daemon

Usage:
  signerd serve [--config F] [--allow-root]   run the daemon in the foreground (honours LISTEN_FDS)
  signerd dev                                 embedded SoftHSM token under ./.signerd (or $SIGNERD_HOME)
  signerd keys list|generate|import|pubkey|destroy|verify-transcript …
                                              key ceremonies, straight to the token
  signerd token init --label L                initialise a SoftHSM2 token
  signerd config check [--config F]           config valid, token reachable, keys found and non-extractable
  signerd audit verify FILE                   check the audit log's hash chain

Every command takes --config F (else $SIGNERD_CONFIG, else /etc/signerd/signerd.yaml).
Run \`signerd COMMAND --help\` for a command's options.
`;
