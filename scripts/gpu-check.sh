#!/usr/bin/env bash
# One-shot GPU check of the CUDA backend, in two halves.
#
#   scripts/gpu-check.sh build   (here, where Rust is) builds, in release mode
#       with the `cuda` feature, the CUDA test binary, the GPU benchmark and
#       the `train` and `compare` examples, strips them and copies them to .gpu-bin/
#       (git-ignored through info/exclude), ready to be carried.
#   scripts/gpu-check.sh run     (on the device machine, which has no Rust)
#       runs, each under its own time cap and all within one total budget
#       ($GPU_CHECK_BUDGET seconds, default 540):
#         tests   tests/cuda.rs: every product and gradient against the CPU
#                 backend, the memory check, a short HF trajectory;
#         bench   benches/gpu.rs: G·v (and H·v, F·v, passes) FP32 and TF32 on
#                 the MNIST (chunk 7500) and CURVES (chunk 5000) autoencoders,
#                 and the host CG vector work per iteration;
#         torch   the PyTorch baseline (benches/gpu/torch_gv.py: cached
#                 activations, torch.func jvp+vjp, GEMMs alone), only where
#                 `import torch` works and sees the GPU;
#         methods the issue-9 comparison on the GPU: `compare train` to
#                 training error 20 (1000 CURVES-like images, 784-200-50-6,
#                 seed 1) for HF (chunk 250), SGD+momentum (lr 0.01) and Adam
#                 (lr 0.01) on `--backend cuda` (HF twice: CG on the device,
#                 then on the host with HESSFREE_CUDA_HOST_CG=1), and HF on the
#                 device machine's CPU for reference; RESULT lines in methods.log;
#         curves  the CURVES reproduction (20000 CURVES-like training / 10000
#                 test images, the paper's settings, random init) on the GPU,
#                 with a time limit taken from what is left of the budget;
#                 train/test error against Table 2 (0.11 / 0.20) and wall time.
#       Logs go to $OUT (default /tmp/gpu-check): env.txt, tests.log,
#       bench.log, torch.log, methods.log, curves.log, curves.csv, summary.txt.
#       `run STEP...` runs only the named steps. Exit status: 0 when every
#       step ran and passed; 3 when no GPU is usable here (reported at once);
#       1 when a step failed, timed out or its tests skipped themselves.
#       GPU_CHECK_FORCE=1 skips the device check (to exercise the script
#       itself on a machine without a GPU: every step then fails cleanly).
#
# Device session, one call (carry .gpu-bin; about 9 minutes at most plus the
# machine's start):
#   run(command="bash scripts/gpu-check.sh run", carry=[".gpu-bin"], timeout_s=590)
#
# Library lookup: cudarc loads libcuda.so(.1), libnvrtc.so(.13/.12) and
# libcublas.so(.13/.12) by name; `run` adds the usual CUDA folders (and the
# pip nvidia-* wheels' folders) to LD_LIBRARY_PATH when it finds them there.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.gpu-bin

executables() { # cargo JSON messages on stdin -> executable paths
    python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])'
}

build() {
    set -e
    mkdir -p "$BIN"
    exclude=$(git rev-parse --git-path info/exclude)
    mkdir -p "$(dirname "$exclude")"
    grep -qxF "/$BIN/" "$exclude" 2>/dev/null || echo "/$BIN/" >>"$exclude"
    test_bin=$(cargo test --release --features cuda --test cuda --no-run --message-format=json | executables | tail -1)
    bench_bin=$(cargo bench --features cuda --bench gpu --no-run --message-format=json | executables | tail -1)
    train_bin=$(cargo build --release --features cuda --example train --message-format=json | executables | tail -1)
    compare_bin=$(cargo build --release --features cuda --example compare --message-format=json | executables | tail -1)
    cp "$test_bin" "$BIN/cuda-tests"
    cp "$bench_bin" "$BIN/gpu-bench"
    cp "$train_bin" "$BIN/train"
    cp "$compare_bin" "$BIN/compare"
    # Debug info would take most of the 64 MiB the device call may carry.
    strip --strip-debug "$BIN/cuda-tests" "$BIN/gpu-bench" "$BIN/train" "$BIN/compare"
    git rev-parse HEAD >"$BIN/commit"
    ls -la "$BIN"
    echo "built from $(cat "$BIN/commit"); carry: $BIN"
}

add_lib_dirs() {
    LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}
    local dirs=(/usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64)
    local py
    py=$(python3 -c 'import glob, site, os
for s in site.getsitepackages():
    for d in sorted(glob.glob(os.path.join(s, "nvidia", "*", "lib"))): print(d)' 2>/dev/null || true)
    local d
    for d in "${dirs[@]}" $py; do
        if compgen -G "$d/libcublas.so*" >/dev/null || compgen -G "$d/libnvrtc.so*" >/dev/null || compgen -G "$d/libcuda.so*" >/dev/null; then
            LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
        fi
    done
    export LD_LIBRARY_PATH
}

FAILED=0

step() { # name timeout_s command...  (logs to $OUT/name.log, status to summary)
    local name=$1 limit=$2
    shift 2
    echo "=== $name (cap ${limit}s): $*" | tee -a "$OUT/summary.txt"
    local t0=$SECONDS
    timeout -k 10 "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    tail -40 "$OUT/$name.log"
    [ "$rc" -eq 0 ] || FAILED=1
    local why=""
    [ "$rc" -eq 124 ] && why=" (timed out)"
    echo "=== $name exit status $rc$why after $((SECONDS - t0)) s" | tee -a "$OUT/summary.txt"
}

left() { # seconds left of the total budget
    echo $((BUDGET - (SECONDS - START)))
}

# Returns 0 when this machine has an NVIDIA device; else prints why not and returns 1.
gpu_present() {
    if [ -e /dev/nvidia0 ] || [ -e /dev/nvidiactl ] || [ -n "${GPU_CHECK_FORCE:-}" ]; then
        return 0
    fi
    if command -v nvidia-smi >/dev/null 2>&1 && timeout 20 nvidia-smi -L >/dev/null 2>&1; then
        return 0
    fi
    echo "no GPU: no /dev/nvidia* device node and nvidia-smi lists no device"
    return 1
}

skipped() { # name: a step whose checks skipped themselves has not passed
    if grep -q "SKIPPED" "$OUT/$1.log"; then
        echo "=== $1: skipped itself (no usable device?): counted as a failure" | tee -a "$OUT/summary.txt"
        grep "SKIPPED" "$OUT/$1.log" | sort | uniq -c | tee -a "$OUT/summary.txt"
        FAILED=1
    fi
}

wanted() {
    [ "${#STEPS[@]}" -eq 0 ] && return 0
    local s
    for s in "${STEPS[@]}"; do [ "$s" = "$1" ] && return 0; done
    return 1
}

run() {
    OUT=${OUT:-/tmp/gpu-check}
    BUDGET=${GPU_CHECK_BUDGET:-540}
    START=$SECONDS
    STEPS=("$@")
    mkdir -p "$OUT"
    : >"$OUT/summary.txt"
    local f
    for f in cuda-tests gpu-bench train compare; do
        if [ ! -x "$BIN/$f" ]; then
            echo "missing $BIN/$f: run 'scripts/gpu-check.sh build' first and carry $BIN" | tee -a "$OUT/summary.txt"
            exit 2
        fi
    done
    if ! why=$(gpu_present); then
        echo "$why" | tee -a "$OUT/summary.txt"
        exit 3
    fi
    add_lib_dirs
    {
        echo "commit: $(cat "$BIN/commit" 2>/dev/null)"
        echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
        echo "CPU: $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo)"
        uptime
        timeout 20 nvidia-smi
        nvcc --version
        ldconfig -p | grep -E 'libcuda\.so|libcublas\.so|libnvrtc\.so'
    } >"$OUT/env.txt" 2>&1
    head -30 "$OUT/env.txt"
    export RUST_BACKTRACE=1
    if wanted tests; then
        step tests 180 "$BIN/cuda-tests" --test-threads=1 --nocapture
        skipped tests
    fi
    if wanted bench; then
        step bench 110 "$BIN/gpu-bench"
        skipped bench
    fi
    if wanted torch; then
        if timeout 60 python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" >/dev/null 2>&1; then
            step torch 100 env PYTHONUNBUFFERED=1 python3 benches/gpu/torch_gv.py
        else
            echo "=== torch: not run (python3 cannot import torch or torch sees no GPU here)" | tee -a "$OUT/summary.txt"
        fi
    fi
    if wanted methods; then
        step methods 150 bash -c '
            run() { "$0" train --train-size 1000 --encoder 784,200,50,6 --init-seed 1 --seed 1 \
                --target 20 --max-seconds 25 "$@" | grep "^RESULT" \
                || echo "RESULT-FAILED ${HESSFREE_CUDA_HOST_CG:+HESSFREE_CUDA_HOST_CG=1 }$*"; }
            run --backend cuda --method hf --chunk 250 --max-budget 200
            echo "# the next HF run keeps CG on the host (HESSFREE_CUDA_HOST_CG=1)"
            HESSFREE_CUDA_HOST_CG=1 run --backend cuda --method hf --chunk 250 --max-budget 200
            run --backend cuda --method sgd --lr 0.01 --max-budget 150
            run --backend cuda --method adam --lr 0.01 --max-budget 150
            run --backend cpu --method hf --chunk 250 --max-budget 200' "$BIN/compare"
        grep -q "RESULT-FAILED" "$OUT/methods.log" && FAILED=1
    fi
    if wanted curves; then
        # Data generation, upload and the final evaluations take about a
        # minute on top of the training time limit.
        local cap=$(($(left) - 15))
        [ "$cap" -gt 360 ] && cap=360
        local limit=$((cap - 60))
        if [ "$limit" -lt 30 ]; then
            echo "=== curves: not run (only $(left) s of the ${BUDGET}s budget left)" | tee -a "$OUT/summary.txt"
            FAILED=1
        else
            step curves "$cap" "$BIN/train" --preset curves --full --backend cuda \
                --time-limit "$limit" --log "$OUT/curves.csv" --quiet
        fi
    fi
    {
        echo
        echo "--- G·v (ms: median, min) ---"
        grep -h "G·v" "$OUT/bench.log" "$OUT/torch.log" 2>/dev/null
        echo "--- host CG vector work ---"
        grep -h "host CG" "$OUT/bench.log" 2>/dev/null
        echo "--- time to error 20 (RESULT: method, backend, wall_s, cpu_s, passes) ---"
        grep -h "^RESULT" "$OUT/methods.log" 2>/dev/null
        echo "--- CURVES reproduction ---"
        grep -A3 "^Result" "$OUT/curves.log" 2>/dev/null
        echo "total $((SECONDS - START)) s of the ${BUDGET}s budget; failed=$FAILED"
    } >>"$OUT/summary.txt"
    cat "$OUT/summary.txt"
    exit "$FAILED"
}

case "${1:-}" in
build) build ;;
run)
    shift
    run "$@"
    ;;
*)
    echo "usage: $0 build | run [tests|bench|torch|methods|curves ...]" >&2
    exit 2
    ;;
esac
