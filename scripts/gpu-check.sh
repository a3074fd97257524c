#!/usr/bin/env bash
# One-shot GPU check of the CUDA backend, in two halves.
#
#   scripts/gpu-check.sh build   (here, where Rust is) builds the CUDA test
#       binary and the GPU benchmark in release mode and copies them to
#       .gpu-bin/ (git-ignored through info/exclude), ready to be carried.
#   scripts/gpu-check.sh run     (on the device machine, which has no Rust)
#       runs them and the PyTorch baseline, writing logs to $OUT
#       (default /tmp/gpu-check): env.txt, tests.log, bench.log, torch.log,
#       summary.txt.
#
# Device session, one call (carry .gpu-bin; about 3-5 minutes of device time):
#   bash scripts/gpu-check.sh run
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
    cp "$test_bin" "$BIN/cuda-tests"
    cp "$bench_bin" "$BIN/gpu-bench"
    git rev-parse HEAD >"$BIN/commit"
    ls -la "$BIN"
    echo "built from $(cat "$BIN/commit"); carry: $BIN"
}

add_lib_dirs() {
    local dirs=(/usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu)
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

step() { # name timeout_s command...  (logs to $OUT/name.log, status to summary)
    local name=$1 limit=$2
    shift 2
    echo "=== $name: $*" | tee -a "$OUT/summary.txt"
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    tail -40 "$OUT/$name.log"
    echo "=== $name exit status $rc" | tee -a "$OUT/summary.txt"
}

run() {
    OUT=${OUT:-/tmp/gpu-check}
    mkdir -p "$OUT"
    : >"$OUT/summary.txt"
    if [ ! -x "$BIN/cuda-tests" ] || [ ! -x "$BIN/gpu-bench" ]; then
        echo "missing $BIN binaries: run 'scripts/gpu-check.sh build' first and carry $BIN" | tee -a "$OUT/summary.txt"
        exit 2
    fi
    add_lib_dirs
    {
        echo "commit: $(cat "$BIN/commit" 2>/dev/null)"
        echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
        nvidia-smi
        nvcc --version
        ldconfig -p | grep -E 'libcuda\.so|libcublas\.so|libnvrtc\.so'
    } >"$OUT/env.txt" 2>&1
    head -30 "$OUT/env.txt"
    export RUST_BACKTRACE=1
    step tests 300 "$BIN/cuda-tests" --test-threads=1 --nocapture
    step bench 180 "$BIN/gpu-bench"
    step torch 150 env PYTHONUNBUFFERED=1 python3 benches/gpu/torch_gv.py
    cat "$OUT/summary.txt"
}

case "${1:-}" in
build) build ;;
run) run ;;
*)
    echo "usage: $0 build|run" >&2
    exit 2
    ;;
esac
