#!/usr/bin/env bash
# Vendors the daemon into the extension, the way Microsoft's Python-tool extensions do:
#   vscode-extension/bundled/libs/         pinned pure-Python wheels (requirements-bundled.txt), --no-deps
#   vscode-extension/bundled/tool/kernel_eval/   a copy of daemon/kernel_eval
# so the user's interpreter only needs torch, triton and ninja. Skips pip when libs already match the pins.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EXT=$REPO/vscode-extension
LIBS=$EXT/bundled/libs
TOOL=$EXT/bundled/tool
REQUIREMENTS=$EXT/requirements-bundled.txt
PYTHON=${PYTHON:-$( [ -x "$REPO/.venv/bin/python" ] && echo "$REPO/.venv/bin/python" || echo python3 )}

stamp=$LIBS/.requirements.sha256
want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$LIBS"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile --no-deps --only-binary=:all: \
    --require-hashes --target "$LIBS" -r "$REQUIREMENTS"
  rm -rf "$LIBS/bin"
  echo "$want" >"$stamp"
fi

rm -rf "$TOOL/kernel_eval"
cp -r "$REPO/daemon/kernel_eval" "$TOOL/kernel_eval"
find "$TOOL/kernel_eval" -name __pycache__ -type d -prune -exec rm -rf {} +
echo "bundled: $(ls "$LIBS" | grep -c dist-info) libraries in bundled/libs, kernel_eval in bundled/tool"
