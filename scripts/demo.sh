#!/usr/bin/env bash
# The main job: install, then evaluate the examples — on the GPU when there is one, else on the CPU
# (Triton kernels through the Triton interpreter; CUDA extensions need a GPU and are skipped).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_python.sh
KE=.venv/bin/kernel-eval
status=0
if .venv/bin/python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "== CUDA load_inline example (GPU)"
  $KE --ref_src tests/test_data/cuda/model_ex_add.py --custom_src tests/test_data/cuda/model_new_ex_add.py \
    --measure_performance || status=1
fi
echo "== Triton example (GPU if present, else CPU through the Triton interpreter)"
$KE --ref_src examples/triton_add/model_add.py --custom_src examples/triton_add/model_new_add.py \
  --measure_performance || status=1
echo "== TorchInductor-style (KernelBook) Triton example"
$KE --ref_src tests/test_data/triton/embed_code.py --custom_src tests/test_data/triton/embed_triton.py \
  --ref_entry_point LinearEmbedding --custom_entry_point LinearEmbeddingNew --measure_performance || status=1
exit $status
