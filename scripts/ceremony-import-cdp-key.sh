#!/usr/bin/env bash
# Key ceremony: import a Coinbase CDP API key (the JSON file the CDP portal downloads) into the token.
#
#   scripts/ceremony-import-cdp-key.sh --config F --label L --key-file F --transcript OUT
#
# 1. imports the key (non-extractable), then overwrites and deletes the key file (--shred), and
#    writes a signed transcript: the key, now in the token, signs it (proof of possession);
# 2. checks the transcript offline;
# 3. prints the config lines for the key (profile cdp, with the key name from the file).
set -euo pipefail

SIGNERD=(node "$(dirname "$0")/../dist/cli/signerd.js")

usage() {
  echo "usage: $0 --config F --label L --key-file F --transcript OUT" >&2
  exit 2
}

config='' label='' keyfile='' transcript=''
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) config="${2:-}"; shift 2 || usage ;;
    --label) label="${2:-}"; shift 2 || usage ;;
    --key-file) keyfile="${2:-}"; shift 2 || usage ;;
    --transcript) transcript="${2:-}"; shift 2 || usage ;;
    -h | --help) usage ;;
    *) echo "$0: unknown argument: $1" >&2; usage ;;
  esac
done
[[ -n "$config" && -n "$label" && -n "$keyfile" && -n "$transcript" ]] || usage
if [[ ! -f "$(dirname "$0")/../dist/cli/signerd.js" ]]; then
  echo "$0: dist/cli/signerd.js is missing: build first (npm run build)" >&2
  exit 1
fi
if [[ ! -f "$keyfile" ]]; then
  echo "$0: $keyfile: no such file" >&2
  exit 1
fi

echo "== 1/3 importing $keyfile as \"$label\" (the file is shredded once the key is in the token)"
"${SIGNERD[@]}" keys import --config "$config" --label "$label" --cdp-key-file "$keyfile" --shred --transcript "$transcript"

echo
echo "== 2/3 checking the transcript $transcript: the imported key signed it"
"${SIGNERD[@]}" keys verify-transcript "$transcript"

echo
echo "== 3/3 done"
echo "Add the key to signerd.yaml with the config lines printed above (profile cdp, cdp.keyName),"
echo "then check with: signerd config check --config $config"
echo "Keep $transcript with your ceremony records."
