#!/usr/bin/env bash
# Peak resident memory of training the MNIST preset on the CPU (the full
# 60000-image set, 1 HF iteration by default), measured with GNU time, next to
# the estimate "whole data set + one curvature chunk + one pass slice + the
# optimizer's vectors" and to what the activations of all 60000 examples
# would take.
#
#   benches/peak_memory.sh [ITERS [EXTRA TRAIN ARGS...]]   (default 1 iteration)
#   e.g. benches/peak_memory.sh 1 --set cg_max_iters=10
#
# Needs /usr/bin/time (package `time`) and the MNIST files under
# $HESSFREE_DATA_DIR/mnist (default ../shared/data/mnist). Builds the `train`
# example first, in the release profile (PROFILE=dev uses the dev profile,
# which allocates the same memory and builds faster).
set -euo pipefail
cd "$(dirname "$0")/.."
iters="${1:-1}"
shift || true
profile="${PROFILE:-release}"
[ -x /usr/bin/time ] || { echo "peak_memory.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
data_dir="${HESSFREE_DATA_DIR:-../shared/data}"
[ -d "$data_dir/mnist" ] || { echo "SKIPPED: no MNIST under $data_dir/mnist" >&2; exit 0; }

if [ "$profile" = release ]; then
    cargo build --release --example train >&2
    exe=target/release/examples/train
else
    cargo build --example train >&2
    exe=target/debug/examples/train
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
/usr/bin/time -v "$exe" --preset mnist --full --iters "$iters" \
    --backend cpu --data-dir "$data_dir" --quiet "$@" >/dev/null 2>"$log" || { cat "$log" >&2; exit 1; }
peak_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")

# MNIST preset: 784-1000-500-250-30-250-500-1000-784, chunk 7500, pass slices
# of 5000 (DEFAULT_EVAL_CHUNK), Gauss-Newton.
python3 - "$peak_kb" "$wall" <<'EOF'
import sys
peak = int(sys.argv[1]) * 1024
sizes = [784, 1000, 500, 250, 30, 250, 500, 1000, 784]
widths = sum(sizes[1:])                       # 4314
params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
io = sizes[0] + sizes[-1]
data = (60000 + 10000) * 784 * 4              # train + test inputs; targets shared
chunk = 7500 * widths * 4                     # one copy of the chunk's activations
cache = 7500 * (3 * widths + sizes[-1]) * 4    # what the Gauss-Newton cache and a product keep
                                              # (inputs and targets are rows of the data set)
pass_slice = 5000 * (3 * widths + 2 * io) * 4
vectors = params * 32 * 4                     # theta, grad, stat, precond, CG vectors, kept iterates
estimate = data + max(cache, pass_slice) + min(cache, pass_slice) // 4 + vectors
all_acts = 60000 * widths * 4
MB = 1e6
print(f"peak RSS (GNU time, maximum resident set size): {peak / MB:.0f} MB  (wall {sys.argv[2]})")
print(f"  data (60000 train + 10000 test x 784 floats):  {data / MB:.0f} MB")
print(f"  one chunk's activations (7500 x {widths} floats): {chunk / MB:.0f} MB"
      f" (GN cache with temporaries: {cache / MB:.0f} MB)")
print(f"  one pass slice (5000 examples):                {pass_slice / MB:.0f} MB")
print(f"  optimizer vectors ({params} parameters x 32):   {vectors / MB:.0f} MB")
print(f"  estimate (training_estimate + data):            {estimate / MB:.0f} MB")
print(f"  activations of all 60000 examples, one copy:   {all_acts / MB:.0f} MB"
      f" (x3 with the GN cache's extras: {3 * all_acts / MB:.0f} MB)")
print(f"  peak / estimate = {peak / estimate:.2f}")
EOF
