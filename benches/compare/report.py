#!/usr/bin/env python3
"""Turns the raw logs of benches/compare/run.sh into Markdown tables, CSV files
and one PNG.

    report.py RAW_DIR DOCS_DIR

Reads RAW_DIR/{ops-hessfree.md, ops-hessianfree.jsonl, sweep.jsonl,
methods.jsonl, machine-PART.txt, load-PART.txt} (whichever exist); writes
RAW_DIR/tables.md and DOCS_DIR/bench-{ops,methods,sweep}.csv and
DOCS_DIR/bench-compare.png.
"""

import csv
import json
import os
import re
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OPS = {"forward": "forward", "gradient": "gradient", "G·v": "gv"}
OP_TITLE = {"forward": "forward", "gradient": "gradient (fwd + bwd)", "gv": "G·v"}
# hessianfree times quoted in issue 9, measured earlier on this machine.
ISSUE_REF = {("curves", "gv"): 278, ("mnist", "gv"): 1245, ("curves", "gradient"): 323, ("mnist", "gradient"): 1231}


def jsonl(path):
    if not os.path.exists(path):
        return []
    rows = []
    for line in open(path):
        line = re.sub(r"^(OPS|RESULT) ", "", line.strip())
        if line.startswith("{"):
            rows.append(json.loads(line))
    return rows


def parse_ops_md(path):
    """Rows of benches/ops.rs' Markdown output, keyed by (net, op)."""
    out, net = {}, None
    if not os.path.exists(path):
        return out
    for line in open(path):
        m = re.match(r"## (\w+) autoencoder .*chunk (\d+)", line)
        if m:
            net = m.group(1).lower()
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if net and len(cells) >= 5 and cells[1].replace(".", "", 1).isdigit():
            op = next((v for k, v in OPS.items() if cells[0].startswith(k)), None)
            if op:
                out[(net, op)] = {"wall_ms": float(cells[1]), "gemm_ms": float(cells[2]), "gflops": float(cells[4])}
    return out


def time_file(path):
    """`real user sys` lines written by bash's time with TIMEFORMAT='%R %U %S'
    (one per round), summed: (wall, CPU) seconds."""
    if not os.path.exists(path):
        return None
    real = cpu = 0.0
    for line in open(path):
        fields = line.split()
        if len(fields) != 3:
            continue
        try:
            r, user, sys_ = (float(x) for x in fields)
        except ValueError:
            continue
        real, cpu = real + r, cpu + user + sys_
    return (real, cpu) if real > 0 else None


def combine_rounds(rows):
    """One row per (net, op) from the rounds of run.sh's per-operation part:
    the minimum of the rounds' minimum wall times, the median of their median
    wall and CPU times (and GEMMs-alone times), GFLOP/s recomputed from the
    combined median, and the number of rounds."""
    groups = {}
    for r in rows:
        groups.setdefault((r["net"], r["op"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        row = dict(rs[0])
        row["rounds"] = len(rs)
        row["min_wall_ms"] = min(r["min_wall_ms"] for r in rs)
        for k in ("wall_ms", "cpu_ms", "gemm_wall_ms"):
            if all(r.get(k) is not None for r in rs):
                row[k] = statistics.median(r[k] for r in rs)
        flop = rs[0]["gflops"] * rs[0]["wall_ms"] * 1e6
        row["gflops"] = flop / row["wall_ms"] / 1e6
        out[key] = row
    return out


def per_round(raw, lines):
    """The ratio hessianfree / hessfree of minimum wall times in each round
    (each side's round next to the other's in time), when there were several."""
    ours = jsonl(os.path.join(raw, "ops-hessfree.jsonl"))
    theirs = jsonl(os.path.join(raw, "ops-hessianfree.jsonl"))

    def by_round(rows):
        seen, out = {}, {}
        for r in rows:
            key = (r["net"], r["op"])
            i = seen[key] = seen.get(key, 0) + 1
            out[(key, i)] = r["min_wall_ms"]
        return out, max(seen.values(), default=0)

    a, na = by_round(ours)
    b, nb = by_round(theirs)
    n = min(na, nb)
    if n < 2:
        return
    lines.append("Per round, hessianfree / hessfree minimum wall time (the two sides' rounds alternate):")
    lines.append("")
    lines.append("| net | operation | " + " | ".join(f"round {i}" for i in range(1, n + 1)) + " |")
    lines.append("|---|---|" + "---|" * n)
    for net in ("curves", "mnist"):
        for op in ("forward", "gradient", "gv"):
            cells = [
                f"{b[((net, op), i)] / a[((net, op), i)]:.2f}× ({a[((net, op), i)]:.0f} vs {b[((net, op), i)]:.0f} ms)"
                if ((net, op), i) in a and ((net, op), i) in b
                else "–"
                for i in range(1, n + 1)
            ]
            lines.append(f"| {net.upper()} | {OP_TITLE[op]} | " + " | ".join(cells) + " |")
    lines.append("")


def ops_table(raw, docs, lines):
    gemm = parse_ops_md(os.path.join(raw, "ops-hessfree.md"))
    ours = combine_rounds(jsonl(os.path.join(raw, "ops-hessfree.jsonl")))
    theirs = combine_rounds(jsonl(os.path.join(raw, "ops-hessianfree.jsonl")))
    if not ours and not theirs:
        return None
    rounds = max([r["rounds"] for r in list(ours.values()) + list(theirs.values())], default=1)
    lines += [
        f"### CPU per operation (MNIST chunk 7500, CURVES chunk 5000; {rounds} alternating round(s) of each side, 5 timed runs each after a warm-up)",
        "",
        "Wall: median over rounds of each round's median (minimum over all runs) ms; CPU: the same median of user + system time of all threads.",
        "",
        "| net | operation | hessfree wall | hessfree CPU | hessfree GEMMs alone (ops.rs wall) | hessfree GFLOP/s | hessianfree wall | hessianfree CPU | hessianfree GEMMs alone (wall) | hessianfree GFLOP/s | hessianfree / hessfree (min wall; CPU) | issue's hessianfree ref. |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for net, n in (("curves", 5000), ("mnist", 7500)):
        for op in ("forward", "gradient", "gv"):
            a, b, g = ours.get((net, op)), theirs.get((net, op)), gemm.get((net, op))
            if not a and not b:
                continue

            def f(d, k, p=0):
                return f"{d[k]:.{p}f}" if d and d.get(k) is not None else "–"

            def wall(d):
                return f"{d['wall_ms']:.0f} ({d['min_wall_ms']:.0f})" if d else "–"

            ratio = (
                f"{b['min_wall_ms'] / a['min_wall_ms']:.2f}×; {b['cpu_ms'] / a['cpu_ms']:.2f}×" if a and b else "–"
            )
            ref = ISSUE_REF.get((net, op))
            lines.append(
                f"| {net.upper()} {n} | {OP_TITLE[op]} | {wall(a)} | {f(a, 'cpu_ms')} | {f(g, 'gemm_ms')} | {f(a, 'gflops', 1)} | "
                f"{wall(b)} | {f(b, 'cpu_ms')} | {f(b, 'gemm_wall_ms')} | {f(b, 'gflops', 1)} | {ratio} | {ref or '–'} |"
            )
            rows.append(
                {
                    "net": net,
                    "chunk": n,
                    "op": op,
                    "rounds": max(a["rounds"] if a else 0, b["rounds"] if b else 0),
                    "hessfree_wall_ms": a and a["wall_ms"],
                    "hessfree_min_wall_ms": a and a["min_wall_ms"],
                    "hessfree_cpu_ms": a and a["cpu_ms"],
                    "hessfree_ops_rs_wall_ms": g and g["wall_ms"],
                    "hessfree_ops_rs_gemm_ms": g and g["gemm_ms"],
                    "hessianfree_wall_ms": b and b["wall_ms"],
                    "hessianfree_min_wall_ms": b and b["min_wall_ms"],
                    "hessianfree_cpu_ms": b and b["cpu_ms"],
                    "hessianfree_gemm_ms": b and b["gemm_wall_ms"],
                }
            )
    lines.append("")
    per_round(raw, lines)
    if gemm:
        lines.append("`cargo bench --bench ops` in the same run (wall ms, median of 5; GEMMs alone = the same GEMMs on preallocated operands):")
        lines.append("")
        lines.append("| net | operation | ops.rs time | GEMMs alone | ratio |")
        lines.append("|---|---|---|---|---|")
        for (net, op), g in gemm.items():
            lines.append(f"| {net.upper()} | {OP_TITLE[op]} | {g['wall_ms']:.1f} | {g['gemm_ms']:.1f} | {g['wall_ms'] / g['gemm_ms']:.2f} |")
        lines.append("")
    for name, file in (
        ("`cargo bench --bench ops`", "ops-hessfree.time"),
        ("`compare ops`", "ops-hessfree-cpu.time"),
        ("`hf_pkg.py ops`", "ops-hessianfree.time"),
    ):
        t = time_file(os.path.join(raw, file))
        if t:
            lines.append(f"Whole {name} process (all rounds): {t[0]:.0f} s wall, {t[1]:.0f} s CPU (CPU/wall {t[1] / t[0]:.2f}; 2.0 = both cores busy).  ")
    lines.append("")
    write_csv(os.path.join(docs, "bench-ops.csv"), rows)
    return rows


def median(xs):
    return statistics.median(xs) if xs else float("nan")


METHOD_TITLE = {
    "hessianfree-hf": "`hessianfree` HF (PyPI 0.4.0, whole batch)",
    "hessfree-hf": "hessfree HF",
    "hessfree-sgd": "hessfree SGD + momentum 0.9",
    "hessfree-adam": "hessfree Adam",
}


def method_key(r):
    if r["method"] == "hessfree-hf":
        return f"hessfree-hf chunk {r['chunk']}"
    if r["method"] in ("hessfree-sgd", "hessfree-adam"):
        return f"{r['method']} lr {r['lr']}"
    return r["method"]


def methods_table(raw, docs, lines):
    runs = jsonl(os.path.join(raw, "methods.jsonl"))
    if not runs:
        return None
    groups = {}
    for r in runs:
        groups.setdefault(method_key(r), []).append(r)
    target = runs[0]["target"]
    lines += [
        f"### CPU per method: time to training error ≤ {target:g} (median over runs; every run counted, a run that missed the target counts at its budget)",
        "",
        "| method | settings | runs reaching target | wall (s) | CPU (s) | passes over the data | iterations / steps | CPU vs best first-order |",
        "|---|---|---|---|---|---|---|---|",
    ]
    summary = []
    for key, rs in groups.items():
        m = rs[0]
        settings = {
            "hessianfree-hf": f"λ₀ = 45, CG ≤ 250, batch = all {m['chunk']}",
            "hessfree-hf": f"reference defaults, curvature chunk {m['chunk']}",
        }.get(m["method"], f"lr {m.get('lr')}, batch {m.get('batch')}")
        s = {
            "method": m["method"],
            "settings": settings,
            "reached": sum(r["reached"] for r in rs),
            "runs": len(rs),
            "wall_s": median([r["wall_s"] for r in rs]),
            "cpu_s": median([r["cpu_s"] for r in rs]),
            "passes": median([r["passes"] for r in rs]),
            "iterations": median([r["iterations"] for r in rs]),
        }
        summary.append(s)
    fo = [s for s in summary if s["method"] in ("hessfree-sgd", "hessfree-adam") and s["reached"] == s["runs"]]
    best_fo = min((s["cpu_s"] for s in fo), default=float("nan"))
    for s in summary:
        lines.append(
            f"| {METHOD_TITLE[s['method']]} | {s['settings']} | {s['reached']}/{s['runs']} | {s['wall_s']:.1f} | "
            f"{s['cpu_s']:.1f} | {s['passes']:.1f} | {s['iterations']:.0f} | {s['cpu_s'] / best_fo:.1f}× |"
        )
    lines.append("")
    write_csv(os.path.join(docs, "bench-methods.csv"), runs)
    return summary


def sweep_table(raw, docs, lines):
    rows = jsonl(os.path.join(raw, "sweep.jsonl"))
    if not rows:
        return
    lines += [
        "### Learning rates tried (seed 1, minibatch 100, budget 150 passes; best = fewest passes to the target)",
        "",
        "| method | learning rate | reached | passes | wall (s) | CPU (s) | final error |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {METHOD_TITLE[r['method']]} | {r['lr']} | {'yes' if r['reached'] else 'no'} | {r['passes']:.0f} | "
            f"{r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['final_error']:.2f} |"
        )
    lines.append("")
    write_csv(os.path.join(docs, "bench-sweep.csv"), rows)


def write_csv(path, rows):
    if not rows:
        return
    keys = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, restval="")
        w.writeheader()
        w.writerows(rows)


def plot(path, ops, methods):
    panels = [p for p in (ops, methods) if p]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.5), squeeze=False)
    axes = list(axes[0])
    if ops:
        ax = axes.pop(0)
        labels = [f"{r['net'].upper()}\n{OP_TITLE[r['op']]}" for r in ops]
        xs = range(len(ops))
        w = 0.38
        ax.bar([x - w / 2 for x in xs], [r["hessfree_cpu_ms"] or 0 for r in ops], w, label="hessfree (Rust)")
        ax.bar([x + w / 2 for x in xs], [r["hessianfree_cpu_ms"] or 0 for r in ops], w, label="hessianfree (numpy)")
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set_ylabel("CPU ms per operation (median, all threads)")
        ax.set_title("CPU per operation (MNIST chunk 7500, CURVES chunk 5000)")
        ax.legend()
    if methods:
        ax = axes.pop(0)
        short = {"hessianfree-hf": "hessianfree HF", "hessfree-hf": "hessfree HF", "hessfree-sgd": "SGD+mom.", "hessfree-adam": "Adam"}

        def label(s):
            if s["method"].endswith("-hf"):
                return f"{short[s['method']]}\nchunk {s['settings'].split()[-1]}"
            return f"{short[s['method']]}\n{s['settings'].split(',')[0]}"

        labels = [label(s) for s in methods]
        xs = range(len(methods))
        w = 0.38
        ax.bar([x - w / 2 for x in xs], [s["wall_s"] for s in methods], w, label="wall (s)")
        ax.bar([x + w / 2 for x in xs], [s["cpu_s"] for s in methods], w, label="CPU (s)")
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set_ylabel("seconds to the target error (median)")
        ax.set_title("Time to a fixed training error (small CURVES-like autoencoder)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    raw, docs = sys.argv[1], sys.argv[2]
    lines = []
    for part in ("all", "ops", "methods"):
        machine = os.path.join(raw, f"machine-{part}.txt")
        if os.path.exists(machine):
            lines += [f"Machine (`run.sh {part}`):", "", "```", open(machine).read().strip(), "```", ""]
    ops = ops_table(raw, docs, lines)
    methods = methods_table(raw, docs, lines)
    sweep_table(raw, docs, lines)
    for part in ("all", "ops", "methods"):
        load = os.path.join(raw, f"load-{part}.txt")
        if os.path.exists(load):
            lines += [f"Load average (1, 5, 15 min) during `run.sh {part}`:", "", "```", open(load).read().strip(), "```", ""]
    open(os.path.join(raw, "tables.md"), "w").write("\n".join(lines) + "\n")
    plot(os.path.join(docs, "bench-compare.png"), ops, methods)


if __name__ == "__main__":
    main()
