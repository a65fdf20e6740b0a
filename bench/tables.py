#!/usr/bin/env python3
"""Markdown tables of `paligemma bench` results, for docs/BENCHMARKS.md (no figure typed by hand).

    python3 bench/tables.py DIR [--scaling strong] [--vit leader]

Prints, from DIR/bench.csv (rows of repeated runs are combined: median, and min-max over the
repeats) and DIR/collectives.csv:
  - throughput per layout and batch: images/s, tokens/s, per-rank images/s, parallel
    efficiency against the 1-rank row, the cores the job actually got (CPU s / wall s);
  - the phase breakdown (seconds per iteration, max over ranks, median over repeats);
  - the all-reduce latency per message size and layout;
  - the load average range and dates of the runs.
Standard library only.
"""
import argparse
import csv
import os
import statistics
import sys


def rows_of(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(r, k):
    return float(r[k])


def med_range(rs, k, fmt="{:.3g}"):
    v = [num(r, k) for r in rs]
    m = statistics.median(v)
    if len(v) == 1:
        return fmt.format(m)
    return f"{fmt.format(m)} ({fmt.format(min(v))}-{fmt.format(max(v))})"


def group(rs, keys):
    out = {}
    for r in rs:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def layout_key(r):
    return (int(r["ranks"]), int(r["tp"]))


def throughput_table(rs, scaling):
    rs = [r for r in rs if r["scaling"] == scaling]
    if not rs:
        return []
    lines = [f"| model | scaling | ranks | TP x DP | batch | images | images/s median (min-max) | tokens/s | "
             "images/s per rank | efficiency | cores used | oversubscribed | repeats |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    base = {}
    for (model, batch), g in group(rs, ["model", "batch"]).items():
        one = [r for r in g if r["ranks"] == "1"]
        if one:
            base[(model, batch)] = statistics.median(num(r, "images_per_s") for r in one)
    for key, g in sorted(group(rs, ["model", "ranks", "tp", "dp", "batch"]).items(),
                         key=lambda kv: (kv[0][0], int(kv[0][4]), int(kv[0][1]), int(kv[0][2]))):
        model, ranks, tp, dp, batch = key
        ips = statistics.median(num(r, "images_per_s") for r in g)
        b = base.get((model, batch))
        ranks_i = int(ranks)
        if b:
            eff = ips / (ranks_i * b) if scaling == "strong" else (ips / ranks_i) / b
            eff_s = f"{eff:.2f}"
        else:
            eff_s = "-"
        lines.append(f"| {model} | {scaling} | {ranks} | {tp} x {dp} | {batch} | {g[0]['images']} | "
                     f"{med_range(g, 'images_per_s')} | {med_range(g, 'tokens_per_s')} | {ips / ranks_i:.3g} | "
                     f"{eff_s} | {med_range(g, 'cores_used', '{:.2f}')} | {'yes' if g[0]['oversubscribed'] == '1' else 'no'} | "
                     f"{len(g)} |")
    return lines


def phase_table(rs, scaling):
    rs = [r for r in rs if r["scaling"] == scaling]
    if not rs:
        return []
    cols = [("image decode+pre", "image_s"), ("ViT", "vit_s"), ("bcast", "bcast_s"), ("prefill", "prefill_s"),
            ("prefill AR", "prefill_allreduce_s"), ("decode", "decode_s"), ("decode AR", "decode_allreduce_s"),
            ("decode ms/step", "decode_step_ms"), ("e2e", "e2e_s")]
    lines = ["| model | ranks | TP x DP | batch | " + " | ".join(c for c, _ in cols) + " |",
             "|---|---|---|---|" + "---|" * len(cols)]
    for key, g in sorted(group(rs, ["model", "ranks", "tp", "dp", "batch"]).items(),
                         key=lambda kv: (kv[0][0], int(kv[0][4]), int(kv[0][1]), int(kv[0][2]))):
        model, ranks, tp, dp, batch = key
        vals = [f"{statistics.median(num(r, k) for r in g):.3g}" for _, k in cols]
        lines.append(f"| {model} | {ranks} | {tp} x {dp} | {batch} | " + " | ".join(vals) + " |")
    return lines


def collectives_table(path):
    if not os.path.exists(path):
        return []
    cs = [c for c in rows_of(path) if c["op"] == "allreduce_f32"]
    sizes = sorted({int(c["bytes"]) for c in cs})
    lines = ["| ranks | TP x DP | " + " | ".join(f"{s} B" for s in sizes) + " |",
             "|---|---|" + "---|" * len(sizes)]
    for (ranks, tp, dp), g in sorted(group(cs, ["ranks", "tp", "dp"]).items(),
                                     key=lambda kv: (int(kv[0][0]), int(kv[0][1]))):
        cells = []
        for s in sizes:
            v = [float(c["seconds"]) * 1e6 for c in g if int(c["bytes"]) == s]
            cells.append(f"{statistics.median(v):.0f}" if v else "-")
        lines.append(f"| {ranks} | {tp} x {dp} | " + " | ".join(cells) + " |")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    a = ap.parse_args()
    path = os.path.join(a.dir, "bench.csv")
    if not os.path.exists(path):
        print(f"tables.py: {path} does not exist", file=sys.stderr)
        return 2
    rs = rows_of(path)
    loads = [num(r, k) for r in rs for k in ("load1_start", "load1_end")]
    dates = sorted(r["date_utc"] for r in rs)
    print(f"Runs from {dates[0]} to {dates[-1]} (UTC); 1-minute load average {min(loads):.1f}-{max(loads):.1f} "
          f"on {rs[0]['nproc']} cores; {len(rs)} rows.\n")
    for scaling in ("strong", "weak"):
        t = throughput_table(rs, scaling)
        if t:
            print("\n".join(t) + "\n")
    for scaling in ("strong", "weak"):
        t = phase_table(rs, scaling)
        if t:
            print(f"Phase seconds per iteration ({scaling} scaling; max over ranks, median over repeats):\n")
            print("\n".join(t) + "\n")
    t = collectives_table(os.path.join(a.dir, "collectives.csv"))
    if t:
        print("MPI all-reduce (fp32 sum) per call, microseconds (median over repeats of the max over ranks of the "
              "per-rank median):\n")
        print("\n".join(t) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
