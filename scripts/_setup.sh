# Shared set-up for scripts/test, scripts/demo and scripts/bench. Source it; it is idempotent.
# It installs, project-locally: a venv with skclaw (and test tools when SKCLAW_SETUP_TEST=1)
# and the pinned wrangler under .tools/ (both git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WRANGLER_VERSION="${SKCLAW_TEST_WRANGLER_VERSION:-4.86.0}"
WRANGLER_DIR="$ROOT/.tools/wrangler-$WRANGLER_VERSION"
VENV="$ROOT/.venv"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

need() { command -v "$1" >/dev/null 2>&1 || { log "missing '$1': $2"; exit 1; }; }
need python3 "install Python 3.11+"
need node "install Node.js 20+"
need npm "install npm (comes with Node.js)"

setup_apt() {
  # Real Secret Service for the keyring tests: gnome-keyring inside dbus-run-session.
  local missing=()
  command -v gnome-keyring-daemon >/dev/null 2>&1 || missing+=(gnome-keyring)
  command -v dbus-run-session >/dev/null 2>&1 || missing+=(dbus-x11)
  command -v dbus-launch >/dev/null 2>&1 || missing+=(dbus-x11)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      log "apt-get install ${missing[*]}"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        gnome-keyring dbus-x11 dbus libsecret-1-0 >/dev/null
    else
      log "gnome-keyring/dbus-x11 missing and not root: run 'sudo apt-get install gnome-keyring dbus-x11'"
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
    (cd "$WRANGLER_DIR" && npm install --no-audit --no-fund --loglevel=error \
      "wrangler@$WRANGLER_VERSION" >/dev/null)
  fi
  export SKCLAW_TEST_WRANGLER="$WRANGLER_DIR/node_modules/.bin/wrangler"
}
