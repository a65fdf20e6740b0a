#!/usr/bin/env bash
# First contact with a GPU, in one call of at most ~8 minutes (PG_FC_BUDGET seconds, default 470):
#   bash scripts/gpu_first_contact.sh OUT_DIR
# run in the repository root of the GPU machine after carrying .device (scripts/device_bundle.sh
# made .device/bundle.tgz here). In order, each step under its own time cap and the overall
# budget, going on past a failed step:
#   1 environment: GPU (nvidia-smi), driver, toolkit, python/torch/transformers, the bundle,
#     library lookup (scripts/device_env.sh) and `ldd` of every bundle program
#   2 cuda_backend_test on the GPU (PG_CUDA_SYNC=1, then asynchronous), PG_REQUIRE_CUDA=1
#   3 compute-sanitizer memcheck (all tests), racecheck and synccheck (the block-level kernels)
#   4 NCCL collectives at np 1 (dist_nccl_mpitest)
#   5 whole-model CUDA-vs-CPU parity on bf16 weights (cuda_model_parity_test, HF fixtures)
#   6 paligemma bench --backend cuda on configs/mid.json (random bf16 weights), with the decode
#     step as CUDA graphs (the default, PG_CUDA_GRAPHS=1) and then without (PG_CUDA_GRAPHS=0)
#   7 a random 3B checkpoint (convert --random --config configs/paligemma-3b-pt-224.json --dtype
#     bf16) and bench on it
#   8 two data-parallel ranks sharing the GPU (mpirun -np 2 bench --tp 1 on the 3B checkpoint)
#   9 HF transformers captioning the same 3B shape on the same GPU (scripts/hf_gpu_caption.py,
#     bf16, sdpa), and the engine / HF images-per-second ratio
# Everything goes to OUT_DIR/first_contact_report.txt (a summary table first, then each step's
# command, status, time and output tail); full logs in OUT_DIR/<step>.log. Without a GPU it
# writes the environment section and a clear NO GPU line, skips the rest, and exits 2.
# Exit status: 0 all steps passed, 1 some step failed, 2 no GPU / no bundle.
set -u
out="${1:?usage: scripts/gpu_first_contact.sh OUT_DIR}"
cd "$(dirname "$0")/.."
root="$PWD"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
report="$out/first_contact_report.txt"
budget="${PG_FC_BUDGET:-470}"
start=$(date +%s)
work="${PG_FC_WORK:-/tmp/pg_first_contact}"
mkdir -p "$work"
summary=()
failures=0
: > "$report.body"

elapsed() { echo $(( $(date +%s) - start )); }
note() { echo "$*" | tee -a "$report.body"; }

# step NAME CAP_SECONDS COMMAND...: runs COMMAND (a shell string) under min(CAP, budget left).
step() {
  local name="$1" cap="$2" cmd="$3"
  local left=$(( budget - $(elapsed) ))
  local t=$(( cap < left ? cap : left ))
  if [ "$t" -lt 5 ]; then
    summary+=("$(printf '%-22s %-8s %6s  %s' "$name" SKIPPED - "out of the ${budget}s budget")")
    note "== $name: SKIPPED (out of the ${budget}s budget)"
    return 1
  fi
  note ""
  note "== $name (cap ${t}s): $cmd"
  local t0=$(date +%s)
  timeout --kill-after=10 "$t" bash -c "$cmd" > "$out/$name.log" 2>&1
  local rc=$? dt=$(( $(date +%s) - t0 ))
  local status=PASS
  [ $rc -ne 0 ] && status=FAIL && failures=$((failures + 1))
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && status=TIMEOUT
  summary+=("$(printf '%-22s %-8s %5ss  rc %s' "$name" "$status" "$dt" "$rc")")
  note "-- $name: $status (rc $rc, ${dt}s); last lines of $name.log:"
  tail -n "${PG_FC_TAIL:-25}" "$out/$name.log" | sed 's/^/   /' >> "$report.body"
  return $rc
}

finish() {
  local code="$1"
  {
    echo "# GPU first contact: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(elapsed)s of ${budget}s"
    echo "# checkout $root ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo ""
    printf '%-22s %-8s %6s\n' STEP STATUS TIME
    for s in "${summary[@]}"; do echo "$s"; done
    echo ""
    cat "$report.body"
  } > "$report"
  rm -f "$report.body"
  echo ""
  echo "gpu_first_contact: report in $report (exit $code)"
  exit "$code"
}

# ---- 1. environment --------------------------------------------------------------------------
note "== environment"
note "uname: $(uname -srm); cpus $(nproc); mem $(free -g 2>/dev/null | awk '/Mem:/{print $2 " GiB"}')"
if command -v nvidia-smi > /dev/null; then gpu_list=$(nvidia-smi -L 2>&1); gpu_rc=$?; else gpu_list="nvidia-smi not found (no NVIDIA driver installed)"; gpu_rc=127; fi
note "nvidia-smi -L (rc $gpu_rc): $gpu_list"
[ $gpu_rc -eq 0 ] && note "$(nvidia-smi --query-gpu=name,driver_version,memory.total,mig.mode.current --format=csv 2>&1)"
note "nvcc: $( (/usr/local/cuda/bin/nvcc --version 2>/dev/null || nvcc --version 2>/dev/null) | tail -1 || echo none)"
note "compute-sanitizer: $(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || echo none)"
note "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-<unset>}"
note "python3: $(python3 -c 'import sys, torch, transformers; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), "transformers", transformers.__version__)' 2>&1 | tail -1)"
if ! [ $gpu_rc -eq 0 ] || ! echo "$gpu_list" | grep -q '^GPU '; then
  note ""
  note "NO GPU: nvidia-smi sees no GPU on this machine (rc $gpu_rc: $(echo "$gpu_list" | head -1))."
  note "Every GPU step is skipped; nothing was measured. Run this on the GPU machine."
  for s in cuda_backend_test sanitizer_memcheck sanitizer_racecheck sanitizer_synccheck nccl_np1 model_parity \
           bench_mid bench_mid_nographs convert_3b bench_3b dp2_shared_gpu hf_3b; do
    summary+=("$(printf '%-22s %-8s %6s  %s' "$s" SKIPPED - 'no GPU')")
  done
  finish 2
fi
if [ ! -f "$root/.device/bundle.tgz" ]; then
  note "NO BUNDLE: $root/.device/bundle.tgz is missing (run scripts/device_bundle.sh where it builds, carry .device)."
  finish 2
fi
# shellcheck source=scripts/device_env.sh
source "$root/scripts/device_env.sh" > "$out/device_env.log" 2>&1
cat "$out/device_env.log" >> "$report.body"
step ldd 30 'for p in /opt/pg/bin/*; do m=$(LD_LIBRARY_PATH="$PG_LD_LIBRARY_PATH" ldd "$p" | grep "not found"); [ -n "$m" ] && { echo "$p:"; echo "$m"; bad=1; }; done; LD_LIBRARY_PATH="$PG_LD_LIBRARY_PATH" ldd /opt/pg/bin/paligemma | grep -E "cuda|cublas|nccl|mpi"; exit ${bad:-0}'

# ---- 2. the CUDA unit test ------------------------------------------------------------------
step cuda_backend_test 60 'PG_REQUIRE_CUDA=1 PG_CUDA_SYNC=1 cuda_backend_test && PG_REQUIRE_CUDA=1 PG_CUDA_SYNC=0 cuda_backend_test --gtest_brief=1'

# ---- 3. compute-sanitizer ---------------------------------------------------------------------
san="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"
blockwise='--gtest_filter=CudaVsCpu.Attention*:CudaVsCpu.Norms:CudaVsCpu.TopK'
step sanitizer_memcheck 90 "PG_REQUIRE_CUDA=1 pg_env $san --tool memcheck --leak-check full --error-exitcode 9 /opt/pg/bin/cuda_backend_test --gtest_brief=1"
step sanitizer_racecheck 60 "PG_REQUIRE_CUDA=1 pg_env $san --tool racecheck --error-exitcode 9 /opt/pg/bin/cuda_backend_test --gtest_brief=1 $blockwise"
step sanitizer_synccheck 45 "PG_REQUIRE_CUDA=1 pg_env $san --tool synccheck --error-exitcode 9 /opt/pg/bin/cuda_backend_test --gtest_brief=1 $blockwise"

# ---- 4. NCCL ------------------------------------------------------------------------------------
step nccl_np1 30 'mpirun -np 1 --bind-to none dist_nccl_mpitest'

# ---- 5. whole model, CUDA vs CPU on bf16 weights ----------------------------------------------
step model_parity 60 'PG_REQUIRE_CUDA=1 cuda_model_parity_test'

# ---- 6-8. bench: mid, 3B, two ranks on one GPU ------------------------------------------------
bench_common='--backend cuda --new-tokens 20 --prompt-len 8 --warmup 1 --iters 2'
step bench_mid 45 "PG_CUDA_GRAPHS=1 mpirun -np 1 --bind-to none -x PG_CUDA_GRAPHS paligemma bench --config $root/configs/mid.json --dtype bf16 --batch 32 --images 128 $bench_common --out $out/bench_mid"
# The same without CUDA graphs (docs/CUDA_BACKEND.md, "CUDA graphs"): compare the decode times.
step bench_mid_nographs 35 "PG_CUDA_GRAPHS=0 mpirun -np 1 --bind-to none -x PG_CUDA_GRAPHS paligemma bench --config $root/configs/mid.json --dtype bf16 --batch 32 --images 128 $bench_common --out $out/bench_mid_nographs"
ckpt3b="$work/paligemma-3b-random-bf16.h5"
step convert_3b 100 "[ -s $ckpt3b ] || paligemma convert --random --config $root/configs/paligemma-3b-pt-224.json --dtype bf16 --output $ckpt3b; ls -l $ckpt3b"
step bench_3b 70 "mpirun -np 1 --bind-to none paligemma bench --model $ckpt3b --batch 64 --images 256 $bench_common --out $out/bench_3b"
step dp2_shared_gpu 70 "mpirun -np 2 --oversubscribe --bind-to none paligemma bench --model $ckpt3b --ranks 2 --tp 1 --batch 64 --images 256 $bench_common --out $out/bench_dp2"

# ---- 9. HF transformers, same shape, same GPU ---------------------------------------------------
step hf_3b 100 "python3 $root/scripts/hf_gpu_caption.py --config $root/configs/paligemma-3b-pt-224.json --batch 64 --images 256 --new-tokens 20 --prompt-len 8"
engine=$(python3 - "$out/bench_3b/bench.json" <<'PY' 2>/dev/null
import json, sys
def find(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k in ("images_per_s", "images_per_sec", "img_per_s") and isinstance(v, (int, float)):
                return v
            r = find(v)
            if r is not None:
                return r
    if isinstance(o, list):
        for v in o:
            r = find(v)
            if r is not None:
                return r
print(find(json.load(open(sys.argv[1]))) or "")
PY
)
hf=$(grep -o '"images_per_s": [0-9.]*' "$out/hf_3b.log" 2>/dev/null | awk '{print $2}' | tail -1)
note ""
if [ -n "$engine" ] && [ -n "$hf" ]; then
  note "== side by side (3B-224, bf16, batch 64, 20 new tokens): engine $engine images/s, HF $hf images/s, ratio engine/HF $(python3 -c "print(round($engine / $hf, 3))")"
else
  note "== side by side: not available (engine '${engine:-?}' from bench_3b/bench.json, HF '${hf:-?}' from hf_3b.log)"
fi
finish $(( failures > 0 ? 1 : 0 ))
