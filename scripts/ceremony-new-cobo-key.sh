#!/usr/bin/env bash
# Key ceremony: a new Ed25519 key for Cobo WaaS 2.0, generated inside the token.
#
#   scripts/ceremony-new-cobo-key.sh --config F --label L --transcript OUT
#
# 1. generates an EdDSA key pair on the token (non-extractable) and writes a signed transcript;
# 2. checks the transcript offline (proof of possession by the new key);
# 3. prints the 64-hex public key to paste into Cobo Portal, and the config lines for the key.
set -euo pipefail

SIGNERD=(node "$(dirname "$0")/../dist/cli/signerd.js")

usage() {
  echo "usage: $0 --config F --label L --transcript OUT" >&2
  exit 2
}

config='' label='' transcript=''
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) config="${2:-}"; shift 2 || usage ;;
    --label) label="${2:-}"; shift 2 || usage ;;
    --transcript) transcript="${2:-}"; shift 2 || usage ;;
    -h | --help) usage ;;
    *) echo "$0: unknown argument: $1" >&2; usage ;;
  esac
done
[[ -n "$config" && -n "$label" && -n "$transcript" ]] || usage
if [[ ! -f "$(dirname "$0")/../dist/cli/signerd.js" ]]; then
  echo "$0: dist/cli/signerd.js is missing: build first (npm run build)" >&2
  exit 1
fi

echo "== 1/3 generating an Ed25519 key \"$label\" on the token"
"${SIGNERD[@]}" keys generate --config "$config" --label "$label" --alg EdDSA --transcript "$transcript"

echo
echo "== 2/3 checking the transcript $transcript (offline)"
"${SIGNERD[@]}" keys verify-transcript "$transcript"

pubkey="$("${SIGNERD[@]}" keys pubkey "$label" --config "$config" --format hex)"
echo
echo "== 3/3 register the key in Cobo Portal"
echo "Paste this public key (64 hex digits) into Cobo Portal as the API key:"
echo
echo "    $pubkey"
echo
echo "Then add the key to signerd.yaml:"
echo
echo "keys:"
echo "  $label:"
echo "    label: $label"
echo "    profile: cobo"
echo
echo "Keep $transcript with your ceremony records; anyone can check it with"
echo "  signerd keys verify-transcript $transcript"
