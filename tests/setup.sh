#!/usr/bin/env bash
# Install everything the cross-language tests need into repo-local, git-ignored dirs:
#   tests/node/node_modules   npm ci from tests/node/package-lock.json
#                             (@modelcontextprotocol/server-everything, @modelcontextprotocol/sdk,
#                             @modelcontextprotocol/client 2.x, supergateway)
#   tests/.venv-mcp2          requirements-mcp2.txt (mcp 2.x SDK, mcp-server-time)
#   tests/.venv-mcp1          requirements-mcp1.txt (mcp 1.x SDK, mcp-proxy)
# Idempotent and fast when already done: each target keeps a stamp with the hash of its
# lock/requirements file and is only (re)installed when the stamp differs.
# Env: PYTHON (default python3), SETUP_FORCE=1 to reinstall everything.
set -euo pipefail

TESTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
FORCE="${SETUP_FORCE:-0}"

log() { printf '[tests/setup] %s\n' "$*" >&2; }
hash_of() { sha256sum "$@" | sha256sum | cut -c1-64; }

need() { command -v "$1" >/dev/null 2>&1 || { log "missing required tool: $1"; exit 1; }; }
need node
need npm
need "$PYTHON"

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then log "node >= 20 required (have $(node --version))"; exit 1; fi
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  log "python >= 3.10 required (have $("$PYTHON" --version 2>&1))"; exit 1
fi

# ---------------------------------------------------------------- node packages
setup_node() {
  local dir="$TESTS/node" stamp="$TESTS/node/node_modules/.switchboard-stamp" want
  if [ -f "$dir/package-lock.json" ]; then
    want="$(hash_of "$dir/package.json" "$dir/package-lock.json") node-$node_major"
    if [ "$FORCE" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
      log "node: up to date"
      return
    fi
    log "node: npm ci in tests/node"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  else
    log "node: no package-lock.json, npm install (creates the lock; commit it)"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    want="$(hash_of "$dir/package.json" "$dir/package-lock.json") node-$node_major"
  fi
  # Sanity: the things the tests spawn must be there.
  test -f "$dir/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
  test -x "$dir/node_modules/.bin/supergateway"
  test -f "$dir/node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js"
  test -f "$dir/node_modules/@modelcontextprotocol/client/dist/index.mjs"
  echo "$want" >"$stamp"
  log "node: installed"
}

# ---------------------------------------------------------------- python venvs
setup_venv() { # setup_venv NAME REQUIREMENTS CHECK_IMPORT
  local venv="$TESTS/$1" req="$TESTS/$2" check="$3" stamp want
  stamp="$venv/.switchboard-stamp"
  want="$(hash_of "$req") $("$PYTHON" -c 'import sys; print("py%d.%d" % sys.version_info[:2])')"
  if [ "$FORCE" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
     && "$venv/bin/python" -c "$check" >/dev/null 2>&1; then
    log "$1: up to date"
    return
  fi
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$venv"
    log "$1: creating venv with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$venv"
  fi
  log "$1: pip install -r $(basename "$req")"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  "$venv/bin/python" -c "$check"
  echo "$want" >"$stamp"
  log "$1: installed"
}

setup_node
setup_venv .venv-mcp2 requirements-mcp2.txt \
  'import importlib.metadata as m, mcp, mcp_server_time; assert m.version("mcp").startswith("2.")'
setup_venv .venv-mcp1 requirements-mcp1.txt \
  'import importlib.metadata as m, mcp, mcp_proxy; assert m.version("mcp").startswith("1.")'

log "ready: node $(node --version), $("$TESTS/.venv-mcp1/bin/python" -c 'import importlib.metadata as m; print("mcp", m.version("mcp"))') in .venv-mcp1, $("$TESTS/.venv-mcp2/bin/python" -c 'import importlib.metadata as m; print("mcp", m.version("mcp"))') in .venv-mcp2"
