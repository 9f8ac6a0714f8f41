#!/usr/bin/env bash
# Test-only client libraries that come from their own registries (not Debian), at pinned versions,
# into the test cache. Tests call this script; scripts/install-deps.sh runs `fetch` so a fresh
# machine has them before the suite starts, and a test that finds them missing fetches them itself
# (a failure to do so fails the test: a client that cannot be installed is not a skip).
#
#   client-tools.sh fetch        installs every tool below (a no-op when cached)
#   client-tools.sh python       prints the path of the venv's python (installs first if needed)
#   client-tools.sh go-client    prints the path of sluice-go-client (builds first if needed)
#   client-tools.sh node-modules prints the node_modules directory of the npm packages (installs first)
#   client-tools.sh node SCRIPT [ARGS...]  runs Node.js on SCRIPT with NODE_PATH set to it
#
# Python packages: tests/clients/requirements.txt (exact pins) into a venv made by Debian's
# /usr/bin/python3 (the `python3` on PATH may be another one). The venv is rebuilt when the
# requirements change (their hash is stamped in it).
#
# The cache is $SLUICE_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/sluice), as for
# scripts/kafka-fixture.sh. Every failure is loud: a non-zero exit and a message.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${SLUICE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice}"
REQUIREMENTS="$ROOT/tests/clients/requirements.txt"
VENV="$CACHE/venv"

die() {
  echo "client-tools: $*" >&2
  exit 1
}

requirements_hash() { sha256sum "$REQUIREMENTS" | cut -d' ' -f1; }
venv_ready() { [ -f "$VENV/.requirements-$(requirements_hash)" ] && [ -x "$VENV/bin/python" ]; }

fetch_venv() {
  mkdir -p "$CACHE"
  exec 8>"$CACHE/.venv.lock"
  flock 8
  if venv_ready; then
    exec 8>&-
    return 0
  fi
  [ -x /usr/bin/python3 ] || die "no /usr/bin/python3 (Debian's python3)"
  echo "client-tools: installing $(grep -cv '^\s*\(#\|$\)' "$REQUIREMENTS") Python packages into $VENV" >&2
  local work="$VENV.new"
  rm -rf "$work"
  /usr/bin/python3 -m venv "$work" || die "could not create a venv (install python3-venv)"
  if ! "$work/bin/python" -m pip install --quiet --no-input -r "$REQUIREMENTS" >"$CACHE/pip.log" 2>&1; then
    cat "$CACHE/pip.log" >&2
    rm -rf "$work"
    die "pip could not install $REQUIREMENTS"
  fi
  touch "$work/.requirements-$(requirements_hash)"
  rm -rf "$VENV"
  mv "$work" "$VENV"
  # A venv records its own path in its scripts; the interpreter itself is found through the
  # pyvenv.cfg next to it, so `$VENV/bin/python -m ...` works after the move.
  exec 8>&-
}

# --- Go clients (franz-go, IBM sarama) -----------------------------------------------------------
# tests/clients/go is one Go module (go.mod and go.sum pin every module) built with the machine's
# `go` into $CACHE/go/bin/sluice-go-client. Modules come from the Go proxy into $CACHE/go/mod (the
# build cache is $CACHE/go/build); -mod=readonly, so a go.mod or go.sum that does not match the
# sources fails rather than being rewritten. Rebuilt when any file of the module changes (their
# hash is stamped next to the binary).
GO_SRC="$ROOT/tests/clients/go"
GO_DIR="$CACHE/go"
GO_BIN="$GO_DIR/bin/sluice-go-client"

go_sources_hash() {
  (cd "$GO_SRC" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort |
    xargs sha256sum) | sha256sum | cut -d' ' -f1
}
go_client_ready() { [ -x "$GO_BIN" ] && [ -f "$GO_DIR/bin/.sources-$(go_sources_hash)" ]; }

fetch_go_client() {
  mkdir -p "$GO_DIR/bin"
  exec 7>"$GO_DIR/.build.lock"
  flock 7
  if go_client_ready; then
    exec 7>&-
    return 0
  fi
  # The machine's Go: on PATH, else where its tarball installs (sudo's secure_path leaves it out).
  local go
  go="$(command -v go || true)"
  [ -n "$go" ] || { [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go; } ||
    die "no Go toolchain (\`go\` on PATH or /usr/local/go/bin/go) to build tests/clients/go"
  echo "client-tools: building sluice-go-client ($("$go" version | cut -d' ' -f3)) into $GO_DIR/bin" >&2
  if ! (cd "$GO_SRC" && GOMODCACHE="$GO_DIR/mod" GOCACHE="$GO_DIR/build" GOFLAGS="-mod=readonly -buildvcs=false" \
        GOTOOLCHAIN=local CGO_ENABLED=0 "$go" build -o "$GO_BIN.new" .) >"$GO_DIR/build.log" 2>&1; then
    cat "$GO_DIR/build.log" >&2
    rm -f "$GO_BIN.new"
    die "could not build tests/clients/go"
  fi
  rm -f "$GO_DIR"/bin/.sources-*
  mv "$GO_BIN.new" "$GO_BIN"
  touch "$GO_DIR/bin/.sources-$(go_sources_hash)"
  exec 7>&-
}
# --- end of Go clients ----------------------------------------------------------------------------

# --- npm packages (kafkajs; tests/clients/test_kafkajs.py) -----------------------------------------
# tests/clients/js/package.json with its committed package-lock.json (exact versions), installed by
# `npm ci` into $CACHE/npm (the source tree gets no node_modules), re-done when either file changes
# (their hash is stamped next to node_modules, as for the venv).
JS_DIR="$ROOT/tests/clients/js"
NPM_DIR="$CACHE/npm"

npm_hash() { cat "$JS_DIR/package.json" "$JS_DIR/package-lock.json" | sha256sum | cut -d' ' -f1; }
npm_ready() { [ -f "$NPM_DIR/.lock-$(npm_hash)" ] && [ -d "$NPM_DIR/node_modules" ]; }

fetch_npm() {
  mkdir -p "$CACHE"
  exec 6>"$CACHE/.npm.lock"
  flock 6
  if npm_ready; then
    exec 6>&-
    return 0
  fi
  command -v node >/dev/null || die "no node (install nodejs)"
  command -v npm >/dev/null || die "no npm (install npm)"
  echo "client-tools: installing npm packages of $JS_DIR into $NPM_DIR" >&2
  local work="$NPM_DIR.new"
  rm -rf "$work"
  mkdir -p "$work"
  cp "$JS_DIR/package.json" "$JS_DIR/package-lock.json" "$work/"
  if ! (cd "$work" && npm ci --no-audit --no-fund --ignore-scripts) >"$CACHE/npm.log" 2>&1; then
    cat "$CACHE/npm.log" >&2
    rm -rf "$work"
    die "npm ci could not install $JS_DIR/package-lock.json"
  fi
  touch "$work/.lock-$(npm_hash)"
  rm -rf "$NPM_DIR"
  mv "$work" "$NPM_DIR"
  exec 6>&-
}
# --- end of the npm packages ----------------------------------------------------------------------

cmd="${1:-}"
shift || true
case "$cmd" in
  fetch) fetch_venv; fetch_go_client; fetch_npm ;;
  python) venv_ready || fetch_venv; echo "$VENV/bin/python" ;;
  go-client) go_client_ready || fetch_go_client; echo "$GO_BIN" ;;
  node-modules) npm_ready || fetch_npm; echo "$NPM_DIR/node_modules" ;;
  node)
    npm_ready || fetch_npm
    [ $# -ge 1 ] || die "usage: client-tools.sh node SCRIPT [ARGS...]"
    NODE_PATH="$NPM_DIR/node_modules" exec node "$@"
    ;;
  *) die "usage: client-tools.sh fetch|python|go-client|node-modules|node SCRIPT [ARGS...]" ;;
esac
