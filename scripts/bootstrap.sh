#!/usr/bin/env bash
# The one entry point behind `npm start`, `npm test` and `npm run bench`:
# installs what is missing (Debian's softhsm2 and opensc, npm packages, the native addon),
# builds, then runs what was asked. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'signerd: %s\n' "$*" >&2; }

have_softhsm() {
  command -v softhsm2-util >/dev/null 2>&1 || return 1
  for dir in /usr/lib/softhsm /usr/lib/*/softhsm /usr/local/lib/softhsm; do
    [ -e "$dir/libsofthsm2.so" ] && return 0
  done
  return 1
}

ensure_system() {
  local need=()
  have_softhsm || need+=(softhsm2)
  command -v pkcs11-tool >/dev/null 2>&1 || need+=(opensc)
  command -v make >/dev/null 2>&1 || need+=(make)
  command -v g++ >/dev/null 2>&1 || need+=(g++)
  command -v python3 >/dev/null 2>&1 || need+=(python3)
  command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)      # unit checks, socket activation
  command -v setpriv >/dev/null 2>&1 || need+=(util-linux)           # tests as other uids
  [ ${#need[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    say "missing ${need[*]} and no apt-get here: install them with your package manager"
    exit 1
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
      say "missing ${need[*]}: run as root or install sudo"; exit 1
    fi
  fi
  say "installing ${need[*]} (Debian packages)"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# The TPM half of the conformance suite (test/conformance): a software TPM, the tpm2-abrmd resource
# manager on a private D-Bus bus, tpm2-pkcs11 and its tpm2_ptool. Best effort, for `test` only: when
# apt cannot get them the run goes on and the TPM tests skip with a warning saying why.
TPM_PACKAGES=(swtpm swtpm-tools tpm2-tools tpm2-abrmd libtss2-tcti-tabrmd0 libtpm2-pkcs11-1 libtpm2-pkcs11-tools dbus)

ensure_tpm() {
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    say "no dpkg/apt-get here: the TPM conformance tests need ${TPM_PACKAGES[*]} (they skip without them)"
    return 0
  fi
  local need=() pkg
  for pkg in "${TPM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); else
      say "not installing ${need[*]} (needs root): the TPM conformance tests will be skipped"
      return 0
    fi
  fi
  say "installing ${need[*]} (Debian packages, for the TPM conformance tests)"
  if ! { "${sudo[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; then
    say "could not install ${need[*]}: the TPM conformance tests will be skipped (their warning says so)"
  fi
  return 0
}

ensure_node_modules() {
  local stamp=node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ ! -f node_modules/pkcs11js/build/Release/pkcs11.node ]; then
    say "installing npm packages (npm ci)"
    npm ci --no-fund --no-audit
  fi
  if [ ! -f build/Release/signerd_native.node ]; then
    say "building the peer-credential addon"
    npm run --silent install
  fi
}

build() {
  # Skipped when nothing the build reads changed since the last one.
  if [ -f dist/.built ] && [ -z "$(find src tsconfig.json tsconfig.build.json package-lock.json -newer dist/.built -print -quit)" ]; then
    return 0
  fi
  say "building (tsc)"
  npx --no-install tsc -p tsconfig.build.json
  touch dist/.built
}

cmd=${1:-}
shift || true
case "$cmd" in
  start)
    ensure_system; ensure_node_modules; build
    exec node dist/cli/signerd.js dev "$@"
    ;;
  test)
    ensure_system; ensure_tpm; ensure_node_modules; build
    say "type check"; npx --no-install tsc -p tsconfig.json --noEmit
    say "lint"; npx --no-install eslint .
    say "tests"
    exec npx --no-install vitest run --reporter=default --reporter=json --outputFile.json=.vitest-report.json "$@"
    ;;
  bench)
    ensure_system; ensure_node_modules; build
    exec node scripts/bench/run.mjs "$@"
    ;;
  prepare)
    ensure_system; ensure_node_modules; build
    ;;
  *)
    say "usage: scripts/bootstrap.sh start|test|bench|prepare"; exit 2
    ;;
esac
