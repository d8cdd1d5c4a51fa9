#!/usr/bin/env bash
# Create .venv with kernel-eval and everything its tests need (idempotent; fast when already installed).
# torch is pinned to the CPU build this machine kind carries; on a GPU machine install your CUDA torch instead.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check \
  "torch==${TORCH_VERSION:-2.13.0}" "triton==3.7.1" "numpy==2.4.6" "ninja==1.13.2" \
  -e ".[dev]" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -c "import torch, triton, kernel_eval; print('python env ready: torch', torch.__version__, '| triton', triton.__version__)"
