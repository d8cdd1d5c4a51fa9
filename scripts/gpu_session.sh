#!/usr/bin/env bash
# Run on the lent GPU machine (no registry there): install the carried wheels, then run what is asked.
#   bash scripts/gpu_session.sh smoke   -> the two original commands, failure cases, benchmarks/warm_vs_cold.py
#   bash scripts/gpu_session.sh tests   -> GPU-marked tests of the engine, CLI and diagnostics
#   bash scripts/gpu_session.sh daemon  -> GPU-marked daemon tests, benchmarks/daemon_latency.py
#   bash scripts/gpu_session.sh all     -> smoke, tests, daemon (over 10 minutes cold: split it across calls)
#   bash scripts/gpu_session.sh batch   -> benchmarks/batch_throughput.py: batch on GPU 0, on GPUs 0,1, vs a CLI loop (< 8 min;
#                                          BATCH_ARGS="--copies 2" doubles the pairs)
#   bash scripts/gpu_session.sh timing  -> GPU-marked timing tests, then benchmarks/timing_truth.py (issue 9, ~9 min)
#   bash scripts/gpu_session.sh timing-tests / timing-truth -> either half alone
#   bash scripts/gpu_session.sh build   -> benchmarks/build_time.py: cold / edit / unchanged to verdict, all levers
#   bash scripts/gpu_session.sh verify  -> every GPU-marked test (engine, CLI, LSP), then benchmarks/warm_vs_cold.py
#   bash scripts/gpu_session.sh sandbox -> the sandbox tests (CPU and GPU) and benchmarks/sandbox_cost.py
#   bash scripts/gpu_session.sh exploits -> the exploit catalogue and the timing tests on the GPU (issue 19)
#   bash scripts/gpu_session.sh online  -> benchmarks/candidate_start.py: a forked candidate vs a fresh one, recovery after a fault
#   bash scripts/gpu_session.sh scaling -> batch_throughput --copies 2 (1 GPU, 2 GPUs, the API async), warm_vs_cold
#   bash scripts/gpu_session.sh before-after [latency|batch] -> warm_vs_cold and daemon_latency (latency) or
#                                          batch_throughput on one GPU (batch), on the tree in $BEFORE (a `git archive`
#                                          of the older commit, default .gpu/before) and on this one, in turns
set -uo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/daemon PYTHONUNBUFFERED=1
export KERNEL_EVAL_TEST_BUILD_PREFIX=${KERNEL_EVAL_TEST_BUILD_PREFIX:-$HOME/.cache/kernel-eval/builds}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__, torch.cuda.get_device_name(0))'
RC="python3 scripts/run_and_check.py"
case "${1:-smoke}" in
smoke)
  $RC --ref_src tests/test_data/cuda/model_ex_add.py --custom_src tests/test_data/cuda/model_new_ex_add.py; echo "rc=$?"
  $RC --ref_src tests/test_data/triton/embed_code.py --custom_src tests/test_data/triton/embed_triton.py \
    --ref_entry_point LinearEmbedding --custom_entry_point LinearEmbeddingNew --measure_performance; echo "rc=$?"
  $RC --ref_src tests/test_data/cuda/model_ex_add.py --custom_src tests/test_data/cuda/model_new_ex_add.py --measure_performance; echo "rc=$?"
  $RC --ref_src tests/test_data/cuda/model_ex_add.py --custom_src tests/test_data/cuda/model_new_ex_add_illegal.py; echo "rc=$?"
  $RC --ref_src tests/test_data/cuda/model_ex_add.py --custom_src tests/test_data/cuda/model_new_ex_add_compile_error.py; echo "rc=$?"
  python3 benchmarks/warm_vs_cold.py --repeats 8 --cold_repeats 2
  ;;
all)
  bash "$0" smoke 2>&1 | tee "$OUT/smoke.log"
  bash "$0" tests
  bash "$0" daemon
  ;;
online)
  # issue 22: a new candidate forked vs fresh, and the evaluation after an illegal memory access
  python3 benchmarks/candidate_start.py --repeats 5 2>&1 | tee "$OUT/candidate_start.log"
  ;;
scaling)
  # issue 22: batch on 1 GPU vs 2 (or GPUS=0,1,2,3), the API's async form on the same pairs; then warm_vs_cold
  KERNEL_EVAL_HISTORY=0 python3 benchmarks/batch_throughput.py --copies 2 --loop false ${GPUS:+--gpus $GPUS} \
    2>&1 | tee "$OUT/batch_throughput.log"
  python3 benchmarks/warm_vs_cold.py --repeats 8 --cold_repeats 2 2>&1 | tee "$OUT/warm_vs_cold.log"
  ;;
tests)
  python3 -m pytest -m gpu -q -p no:cacheprovider -rs tests --ignore=tests/daemon 2>&1 | tee "$OUT/gpu-tests.log"
  ;;
batch)
  KERNEL_EVAL_HISTORY=0 python3 benchmarks/batch_throughput.py --loop_limit_s 100 ${BATCH_ARGS:-} 2>&1 | tee "$OUT/batch_throughput.log"
  ;;
timing)
  bash "$0" timing-tests
  bash "$0" timing-truth
  ;;
timing-tests)
  python3 -m pytest -m gpu -q -p no:cacheprovider -rs tests/test_timing.py tests/test_engine_timing.py 2>&1 | tee "$OUT/gpu-timing-tests.log"
  ;;
timing-truth)
  python3 benchmarks/timing_truth.py --deadline_s 530 2>&1 | tee "$OUT/timing_truth.log"
  ;;
build)
  # all levers on the eleven cases, four at once (~4 min on 32 cores); BUILD_CONFIGS adds e.g. none:2,stable:2
  timeout "${BUILD_TIME_LIMIT_S:-560}" python3 benchmarks/build_time.py --configs "${BUILD_CONFIGS:-all}" --parallel 4 \
    2>&1 | tee "$OUT/build_time.log"
  ;;
verify)
  KERNEL_EVAL_HISTORY=0 python3 -m pytest -m gpu -q -p no:cacheprovider -rs tests 2>&1 | tee "$OUT/gpu-tests.log"
  python3 benchmarks/warm_vs_cold.py --repeats 8 --cold_repeats 1 2>&1 | tee "$OUT/warm_vs_cold.log"
  ;;
sandbox)
  uname -r; id -u
  python3 -c 'import sys; sys.path.insert(0, "daemon"); from kernel_eval.sandbox import landlock; print("landlock abi", landlock.abi_version(), landlock.unavailable_reason())'
  KERNEL_EVAL_HISTORY=0 python3 -m pytest -q -p no:cacheprovider -rs tests/test_sandbox.py 2>&1 | tee "$OUT/sandbox-tests.log"
  python3 benchmarks/sandbox_cost.py ${SANDBOX_ARGS:-} 2>&1 | tee "$OUT/sandbox_cost.log"
  ;;
exploits)
  KERNEL_EVAL_HISTORY=0 python3 -m pytest -m gpu -q -p no:cacheprovider -rs tests/exploits tests/test_timing.py \
    tests/test_engine_timing.py 2>&1 | tee "$OUT/gpu-exploits.log"
  ;;
before-after)
  for round in 1 2; do
    for tree in "${BEFORE:-.gpu/before}" .; do
      label=$([ "$tree" = . ] && echo after || echo before)
      if [ "${2:-latency}" = latency ]; then
        (cd "$tree" && python3 benchmarks/warm_vs_cold.py --repeats 8 --cold_repeats 1) 2>&1 | tee -a "$OUT/warm_vs_cold.$label.log"
        (cd "$tree" && python3 benchmarks/daemon_latency.py --runs 15 --saves 6) 2>&1 | tee -a "$OUT/daemon_latency.$label.log"
      else
        [ "$round" = 2 ] && break 2
        (cd "$tree" && KERNEL_EVAL_HISTORY=0 python3 benchmarks/batch_throughput.py --loop false) 2>&1 | tee -a "$OUT/batch_throughput.$label.log"
      fi
    done
  done
  ;;
daemon)
  python3 -m pytest -m gpu -q -p no:cacheprovider -rs tests/daemon 2>&1 | tee "$OUT/gpu-daemon-tests.log"
  python3 benchmarks/daemon_latency.py 2>&1 | tee "$OUT/daemon_latency.log"
  ;;
esac
