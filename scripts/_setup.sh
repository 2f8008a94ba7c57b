# Shared set-up for scripts/test, scripts/demo and scripts/bench. Source it; it is idempotent.
# It installs, project-locally: a venv with skclaw (and test tools when SKCLAW_SETUP_TEST=1)
# and the pinned wrangler under .tools/ (both git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WRANGLER_VERSION="${SKCLAW_TEST_WRANGLER_VERSION:-4.86.0}"
WRANGLER_DIR="$ROOT/.tools/wrangler-$WRANGLER_VERSION"
VENV="$ROOT/.venv"

if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then _B=$'\033[1m' _O=$'\033[0m'; else _B= _O=; fi
log() { printf '%s[setup]%s %s\n' "$_B" "$_O" "$*" >&2; }

need() { command -v "$1" >/dev/null 2>&1 || { log "missing '$1': $2"; exit 1; }; }
need python3 "install Python 3.11+"
need node "install Node.js 20+"
need npm "install npm (comes with Node.js)"

# apt's and npm's chatter (debconf notes, progress) goes here; it is shown only when a step fails.
SETUP_LOG="$ROOT/.tools/setup.log"

quietly() {
  # Run "$@" with its output appended to $SETUP_LOG; on failure show the end of it and exit.
  mkdir -p "$(dirname "$SETUP_LOG")"
  if ! "$@" >>"$SETUP_LOG" 2>&1; then
    tail -n 30 "$SETUP_LOG" >&2
    log "failed: $* (full log: ${SETUP_LOG#$ROOT/})"
    exit 1
  fi
}

setup_apt() {
  # Real Secret Service for the keyring tests: gnome-keyring-daemon on a private dbus-daemon
  # that the test fixture starts itself (tests/backends.py).
  local missing=()
  command -v gnome-keyring-daemon >/dev/null 2>&1 || missing+=(gnome-keyring)
  command -v dbus-daemon >/dev/null 2>&1 || missing+=(dbus)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      log "apt-get install ${missing[*]}"
      quietly apt-get update -qq
      quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        gnome-keyring dbus libsecret-1-0
    else
      log "gnome-keyring/dbus missing and not root: run 'sudo apt-get install gnome-keyring dbus'"
      exit 1
    fi
  fi
}

setup_venv() {
  local extras="$1"
  local stamp="$VENV/.skclaw-stamp$extras"
  local want
  want="$(sha256sum < "$ROOT/pyproject.toml" | cut -c1-16)"
  # A venv set up for the tests already has everything the demo and bench need.
  if [ -z "$extras" ] && [ -f "$VENV/.skclaw-stamp[test]" ] && [ "$(cat "$VENV/.skclaw-stamp[test]")" = "$want" ]; then
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "pip install -e .$extras"
    local pip_log="$VENV/pip-install.log"
    if ! { "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip &&
           "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT$extras"; } \
         >"$pip_log" 2>&1; then
      tail -n 30 "$pip_log" >&2
      log "pip install failed (full log: $pip_log)"
      exit 1
    fi
    echo "$want" > "$stamp"
  fi
}

setup_wrangler() {
  if [ ! -x "$WRANGLER_DIR/node_modules/.bin/wrangler" ]; then
    log "npm install wrangler@$WRANGLER_VERSION into ${WRANGLER_DIR#$ROOT/}"
    mkdir -p "$WRANGLER_DIR"
    [ -f "$WRANGLER_DIR/package.json" ] || echo '{"name":"skclaw-tools","private":true}' > "$WRANGLER_DIR/package.json"
    (cd "$WRANGLER_DIR" && quietly npm install --no-audit --no-fund --loglevel=error \
      "wrangler@$WRANGLER_VERSION")
  fi
  export SKCLAW_TEST_WRANGLER="$WRANGLER_DIR/node_modules/.bin/wrangler"
}
