#!/usr/bin/env bash
# One-command CPU benchmark of hessfree against the peers a user would pick:
# the PyPI package `hessianfree` and first-order baselines on our backend.
#
#   bash benches/compare/run.sh            # everything (about 10 min on 2 idle cores, 20-30 busy)
#   bash benches/compare/run.sh ops        # per-operation table only
#   bash benches/compare/run.sh methods    # time-to-target table only
#   RUNS=1 bash benches/compare/run.sh     # one run per method instead of 5
#   ROUNDS=1 bash benches/compare/run.sh   # one per-operation round per side instead of 3
#
# Output: target/compare/ (raw logs), target/compare/tables.md (Markdown
# tables), docs/bench-ops.csv, docs/bench-methods.csv, docs/bench-sweep.csv,
# docs/bench-compare.png. See docs/benchmarks.md for what each number means.
#
# Environment: HF_VENV (default /tmp/hfvenv; created with `pip install
# hessianfree numpy matplotlib` if missing), RUNS (default 5: one HF trajectory differs from the next by up
# to 1.7x in passes, so 3 seeds left the median to luck), ROUNDS (default 3:
# alternating per-operation rounds of hessfree and the package), TRAIN_SIZE
# (default 1000), ENCODER (default 784,200,50,6), TARGET (default 20),
# MAX_SECONDS (per training run, default 300).
set -euo pipefail

cd "$(dirname "$0")/../.."
PART=${1:-all}
VENV=${HF_VENV:-/tmp/hfvenv}
RUNS=${RUNS:-5}
ROUNDS=${ROUNDS:-3}
TRAIN_SIZE=${TRAIN_SIZE:-1000}
ENCODER=${ENCODER:-784,200,50,6}
TARGET=${TARGET:-20}
MAX_SECONDS=${MAX_SECONDS:-300}
OUT=target/compare
mkdir -p "$OUT"
PY="$VENV/bin/python"
BIN=target/release/examples/compare
TIMEFORMAT='%R %U %S'

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
load() { echo "$(date +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/load-$PART.txt"; }

if [ ! -x "$PY" ]; then
    log "creating $VENV with hessianfree, numpy, matplotlib"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q hessianfree numpy matplotlib
fi

{
    echo "model: $(lscpu | sed -n 's/^Model name: *//p')"
    echo "cpus: $(nproc)"
    echo "uptime: $(uptime)"
    echo "rustc: $(rustc --version)"
    echo "python: $("$PY" -c 'import sys, numpy, hessianfree; print(sys.version.split()[0], "numpy", numpy.__version__, "hessianfree", hessianfree.__version__)')"
} >"$OUT/machine-$PART.txt"
: >"$OUT/load-$PART.txt"
# A full run supersedes the machine and load notes of earlier partial runs
# (report.py prints every one it finds); a partial run keeps the others',
# which describe the part of the tables it did not redo.
if [ "$PART" = all ]; then rm -f "$OUT"/machine-{ops,methods}.txt "$OUT"/load-{ops,methods}.txt; fi

log "building (release)"
cargo build --release --example compare -q
if [ "$PART" != methods ]; then cargo bench --bench ops --no-run -q 2>/dev/null; fi

# --- 1. per operation -------------------------------------------------------
if [ "$PART" != methods ]; then
    log "per-operation: hessfree (cargo bench --bench ops)"
    load
    { time cargo bench -q --bench ops >"$OUT/ops-hessfree.md"; } 2>"$OUT/ops-hessfree.time"
    load
    # The two sides take turns, ROUNDS times: this VM's speed drifts by
    # 10-30 % over minutes, and one window per side let that drift decide
    # the ratio. report.py combines the rounds (minimum of the minimums,
    # median of the medians).
    : >"$OUT/ops-hessfree.jsonl"
    : >"$OUT/ops-hessianfree.jsonl"
    : >"$OUT/ops-hessfree-cpu.time"
    : >"$OUT/ops-hessianfree.time"
    for round in $(seq 1 "$ROUNDS"); do
        log "per-operation, round $round of $ROUNDS: hessfree wall and CPU time (compare ops)"
        { time "$BIN" ops | sed -n "s/^OPS //p" >>"$OUT/ops-hessfree.jsonl"; } 2>>"$OUT/ops-hessfree-cpu.time"
        load
        log "per-operation, round $round of $ROUNDS: hessianfree package"
        { time "$PY" benches/compare/hf_pkg.py ops | sed -n "s/^OPS //p" >>"$OUT/ops-hessianfree.jsonl"; } 2>>"$OUT/ops-hessianfree.time"
        load
    done
fi

# --- 2. time to target ------------------------------------------------------
if [ "$PART" != ops ]; then
    PROBLEM=(--train-size "$TRAIN_SIZE" --encoder "$ENCODER")
    CHUNK4=$((TRAIN_SIZE / 4))
    : >"$OUT/sweep.jsonl"
    : >"$OUT/methods.jsonl"
    fo() { # method lr seed -> one RESULT line
        "$BIN" train "${PROBLEM[@]}" --init-seed "$3" --seed "$3" --method "$1" --lr "$2" \
            --target "$TARGET" --max-budget 150 --max-seconds "$MAX_SECONDS" | sed -n 's/^RESULT //p'
    }
    log "learning-rate sweep (seed 1, budget 150 passes)"
    for lr in 0.003 0.01 0.03 0.1 0.3; do load; fo sgd "$lr" 1 >>"$OUT/sweep.jsonl"; done
    for lr in 0.0003 0.001 0.003 0.01 0.03; do load; fo adam "$lr" 1 >>"$OUT/sweep.jsonl"; done
    best() { # method -> the lr that reached the target in the fewest passes
        "$PY" - "$OUT/sweep.jsonl" "$1" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if r["method"] == "hessfree-" + sys.argv[2]]
ok = [r for r in rows if r["reached"]] or rows
print(min(ok, key=lambda r: (not r["reached"], r["passes"], r["cpu_s"]))["lr"])
EOF
    }
    SGD_LR=$(best sgd)
    ADAM_LR=$(best adam)
    log "best: sgd lr $SGD_LR, adam lr $ADAM_LR"
    for seed in $(seq 1 "$RUNS"); do
        load
        "$BIN" export "${PROBLEM[@]}" --init-seed "$seed" --out "$OUT/data-$seed" >/dev/null
        log "seed $seed: hessianfree package HF"
        "$PY" benches/compare/hf_pkg.py train --data "$OUT/data-$seed" --encoder "$ENCODER" \
            --target "$TARGET" --seed "$seed" --max-seconds "$MAX_SECONDS" | sed -n 's/^RESULT //p' >>"$OUT/methods.jsonl"
        load
        for chunk in "$CHUNK4" 0; do
            log "seed $seed: hessfree HF chunk $chunk"
            "$BIN" train "${PROBLEM[@]}" --init-seed "$seed" --seed "$seed" --method hf --chunk "$chunk" \
                --target "$TARGET" --max-budget 200 --max-seconds "$MAX_SECONDS" | sed -n 's/^RESULT //p' >>"$OUT/methods.jsonl"
        done
        log "seed $seed: SGD and Adam"
        fo sgd "$SGD_LR" "$seed" >>"$OUT/methods.jsonl"
        fo adam "$ADAM_LR" "$seed" >>"$OUT/methods.jsonl"
    done
    load
fi

uptime >>"$OUT/machine-$PART.txt"
log "writing tables and plot"
"$PY" benches/compare/report.py "$OUT" docs
cat "$OUT/tables.md"
