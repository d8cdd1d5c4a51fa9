#!/usr/bin/env bash
# The README's test command: install everything, lint, type-check, run every test (CPU; GPU tests skip without
# CUDA), build and test the VS Code extension, and run it end to end in a real VS Code (code-server + Chromium).
#   SKIP_E2E=1 bash scripts/test.sh    # everything but the browser end-to-end test
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo; echo "== $*"; }

step "python: install"
bash scripts/install_python.sh
PY=.venv/bin/python

step "python: ruff, mypy"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy

step "extension: install, lint, type-check, unit tests, package"
npm ci --no-audit --no-fund
npm run lint
npm run typecheck
npm test
npm run package

step "python: pytest"
$PY -m pytest -q -ra

if [ "${SKIP_E2E:-0}" != 1 ]; then
  step "end to end in a real VS Code"
  E2E_SKIP_PACKAGE=1 bash scripts/e2e.sh  # packaged above
fi
