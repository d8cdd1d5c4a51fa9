#!/usr/bin/env bash
# The main job: install, then evaluate the examples — on the GPU when there is one, else on the CPU
# (Triton kernels through the Triton interpreter; CUDA extensions need a GPU and are skipped, with a line saying so).
# KERNEL_EVAL_DEMO_SKIP_INSTALL=1 leaves .venv as it is (the tests use it).
set -uo pipefail
cd "$(dirname "$0")/.."
KE=.venv/bin/kernel-eval
summary=()
status=0

# Run "$@" in the background, printing how long it has taken every 15 s until it ends; returns its status.
with_ticker() {
  local label=$1 started=$SECONDS pid
  shift
  "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -0 "$pid" 2>/dev/null && echo "   … $label: still running ($((SECONDS - started)) s)"
  done
  wait "$pid"
}

# example NAME EXPECTED_TIME ARGS...: evaluate one example and remember how it went for the summary.
example() {
  local name=$1 expect=$2 started=$SECONDS rc
  shift 2
  echo
  echo "== $name (takes $expect)"
  echo "   \$ kernel-eval $*"
  $KE "$@"
  rc=$?
  local took=$((SECONDS - started))
  case $rc in
    0) summary+=("ok       $name: correct (${took} s)") ;;
    1) summary+=("FAILED   $name: incorrect or flagged (${took} s)") && status=1 ;;
    *) summary+=("FAILED   $name: could not evaluate, exit $rc (${took} s)") && status=1 ;;
  esac
}

if [ "${KERNEL_EVAL_DEMO_SKIP_INSTALL:-0}" = 1 ] && [ -x "$KE" ]; then
  echo "== 1. install: skipped (KERNEL_EVAL_DEMO_SKIP_INSTALL=1; using .venv as it is)"
else
  echo "== 1. install: .venv with kernel-eval, torch, triton, ninja (the first time takes a few minutes)"
  started=$SECONDS
  if ! with_ticker "installing" bash scripts/install_python.sh; then
    echo "install failed: see the pip output above (scripts/install_python.sh)"
    exit 2
  fi
  echo "   installed in $((SECONDS - started)) s"
fi

if .venv/bin/python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  where="GPU" expect="a minute the first time (the CUDA build), seconds after" device=cuda:0
  echo "== 2. examples, on the GPU"
  example "CUDA load_inline example" "$expect" --ref-src tests/test_data/cuda/model_ex_add.py \
    --custom-src tests/test_data/cuda/model_new_ex_add.py --measure-performance
else
  where="CPU" expect="15-30 s on a CPU" device=cpu
  echo "== 2. examples, on the CPU (no CUDA GPU here: Triton kernels run in Triton's interpreter)"
  echo "   skipped: the CUDA load_inline example (it builds a CUDA extension, which needs an NVIDIA GPU)"
  summary+=("skipped  CUDA load_inline example: no CUDA GPU on this machine")
fi
example "Triton example" "$expect" --ref-src examples/triton_add/model_add.py \
  --custom-src examples/triton_add/model_new_add.py --device "$device" --measure-performance
example "TorchInductor-style (KernelBook) Triton example" "$expect" \
  --ref-src tests/test_data/triton/embed_code.py --custom-src tests/test_data/triton/embed_triton.py \
  --ref-entry-point LinearEmbedding --custom-entry-point LinearEmbeddingNew --device "$device" --measure-performance

echo
echo "== Summary ($where)"
printf '   %s\n' "${summary[@]}"
if [ "$where" = CPU ]; then
  echo "   (CPU timings say little about GPU kernels: on a GPU machine the speedups are the real ones)"
fi
cat <<'EOF'

== Next steps
   source .venv/bin/activate          # puts kernel-eval on your PATH (or run .venv/bin/kernel-eval)
   kernel-eval --ref-src examples/triton_add/model_add.py --custom-src examples/triton_add/model_new_add.py
   kernel-eval --help                 # every flag; README.md "The CLI" explains the output
   Edit examples/triton_add/model_new_add.py (or add your own model_new_X.py next to a model_X.py) and run again.
EOF
exit $status
