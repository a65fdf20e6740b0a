#!/usr/bin/env python3
"""PNG plots of `paligemma bench` results, drawn with gnuplot (Debian: gnuplot-nox).

    python3 bench/plot.py DIR [--batch B] [--vit leader]

Reads DIR/bench.csv and DIR/collectives.csv and/or DIR/projection.csv and writes into DIR,
for every model in bench.csv:

  <model>_strong_scaling.png   images/s vs ranks at a fixed image count: pure DP (tp 1),
                               pure TP (dp 1), mixed layouts, and linear scaling from 1 rank
  <model>_weak_scaling.png     images/s per rank vs ranks at a fixed image count per rank
  <model>_efficiency.png       parallel efficiency, strong and weak, DP and TP
  <model>_phases.png           per-phase seconds per iteration (max over ranks), stacked, per layout
  collectives.png              MPI all-reduce time vs message size per layout
  projection_<model>.png       bench/projection.py's predicted images/s vs GPUs per TP size

Rows with the same layout and case (repeated runs appended with --append) are combined: the
median is plotted with min-max error bars. Standard library only. Exit status 3 if gnuplot
is missing (nothing is drawn), 2 if DIR has neither bench.csv rows nor projection.csv.
"""
import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

PHASES = [  # (label, function of a row)
    ("image decode+preprocess", lambda r: r["image_s"]),
    ("ViT", lambda r: r["vit_s"]),
    ("image-token bcast", lambda r: r["bcast_s"]),
    ("prefill compute", lambda r: max(0.0, r["prefill_s"] - r["prefill_allreduce_s"])),
    ("prefill all-reduce", lambda r: r["prefill_allreduce_s"]),
    ("decode compute", lambda r: max(0.0, r["decode_s"] - r["decode_allreduce_s"])),
    ("decode all-reduce", lambda r: r["decode_allreduce_s"]),
]
INTS = {"ranks", "tp", "dp", "batch", "images", "prompt_len", "new_tokens", "threads", "nproc", "oversubscribed",
        "warmup", "iters", "bytes"}
TEXT = {"model", "dtype", "backend", "vit", "scaling", "date_utc", "op", "kind", "placement", "fits"}


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        rows = []
        for raw in csv.DictReader(f):
            row = {}
            for k, v in raw.items():
                if k in TEXT:
                    row[k] = v
                elif k in INTS:
                    row[k] = int(float(v))
                else:
                    try:
                        row[k] = float(v)
                    except (TypeError, ValueError):
                        row[k] = v
            rows.append(row)
        return rows


def group(rows, keys):
    out = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def summarize(rows, field):
    vals = [r[field] for r in rows]
    return statistics.median(vals), min(vals), max(vals)


def write_dat(tmp, name, lines):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def run_gnuplot(script, tmp):
    path = os.path.join(tmp, "plot.gp")
    with open(path, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", path], check=True)


HEADER = 'set terminal pngcairo size 900,560 noenhanced font ",10"\nset grid\nset key top left\n'


def layout_series(rows, value, per_rank=False):
    """Returns {series: [(ranks, median, min, max, label)]} for pure DP, pure TP and mixed."""
    series = {"DP (tp 1)": [], "TP (dp 1)": [], "TP x DP": []}
    for (ranks, tp, dp), rs in sorted(group(rows, ["ranks", "tp", "dp"]).items()):
        med, lo, hi = summarize(rs, value)
        if per_rank:
            med, lo, hi = med / ranks, lo / ranks, hi / ranks
        label = f"tp{tp}xdp{dp}"
        if ranks == 1:
            for s in ("DP (tp 1)", "TP (dp 1)"):
                series[s].append((ranks, med, lo, hi, label))
        elif tp == 1:
            series["DP (tp 1)"].append((ranks, med, lo, hi, label))
        elif dp == 1:
            series["TP (dp 1)"].append((ranks, med, lo, hi, label))
        else:
            series["TP x DP"].append((ranks, med, lo, hi, label))
    return series


def plot_scaling(tmp, out, model, rows, weak, batch, oversub_from):
    value = "images_per_s"
    series = layout_series(rows, value, per_rank=weak)
    base = [p for p in series["DP (tp 1)"] if p[0] == 1]
    plots = []
    for i, (name, pts) in enumerate(series.items()):
        if not pts:
            continue
        dat = write_dat(tmp, f"s{i}.dat", [f"{p[0]} {p[1]:.6g} {p[2]:.6g} {p[3]:.6g} {p[4]}" for p in pts])
        style = "points pt 7 ps 1.5" if name == "TP x DP" else "linespoints pt 7"
        plots.append(f"'{dat}' using 1:2:3:4 with yerrorbars notitle lc {i + 1}, "
                     f"'{dat}' using 1:2 with {style} lc {i + 1} title '{name}', "
                     f"'{dat}' using 1:2:5 with labels offset 0,1 font ',8' notitle")
    ranks = sorted({r["ranks"] for r in rows})
    if base:
        b = base[0][1]
        ideal = [f"{r} {b if weak else b * r:.6g}" for r in ranks]
        dat = write_dat(tmp, "ideal.dat", ideal)
        plots.append(f"'{dat}' using 1:2 with lines dt 2 lc rgb 'grey' title 'linear from 1 rank'")
    kind = "weak" if weak else "strong"
    ylabel = "images/s per rank" if weak else "images/s (whole job)"
    count = rows[0]["images"] // rows[0]["ranks"] if weak else rows[0]["images"]
    title = (f"{model}: {kind} scaling, batch {batch}, {count} {'images per rank' if weak else 'images'}, "
             f"{rows[0]['new_tokens']} new tokens")
    note = ""
    if oversub_from is not None:
        note = (f"set arrow from {oversub_from - 0.5},graph 0 to {oversub_from - 0.5},graph 1 nohead dt 3 lc rgb 'red'\n"
                f"set label 'more ranks than cores ->' at {oversub_from - 0.45},graph 0.95 tc rgb 'red'\n")
    script = (HEADER + f"set output '{out}'\nset title '{title}'\nset xlabel 'MPI ranks'\nset ylabel '{ylabel}'\n"
              f"set xtics ({', '.join(str(r) for r in ranks)})\nset xrange [0.5:{max(ranks) + 0.5}]\n"
              f"set yrange [0:*]\n{note}plot " + ", ".join(plots) + "\n")
    run_gnuplot(script, tmp)


def plot_efficiency(tmp, out, model, strong, weak):
    lines, plots = [], []
    for kind, rows in (("strong", strong), ("weak", weak)):
        if not rows:
            continue
        series = layout_series(rows, "images_per_s", per_rank=(kind == "weak"))
        base = [p[1] for p in series["DP (tp 1)"] if p[0] == 1]
        if not base:
            continue
        for name in ("DP (tp 1)", "TP (dp 1)"):
            pts = series[name]
            if kind == "strong":
                eff = [(p[0], p[1] / (p[0] * base[0])) for p in pts]
            else:
                eff = [(p[0], p[1] / base[0]) for p in pts]
            dat = write_dat(tmp, f"eff_{kind}_{len(plots)}.dat", [f"{r} {e:.6g}" for r, e in eff])
            plots.append(f"'{dat}' using 1:2 with linespoints pt 7 title '{name}, {kind}'")
    if not plots:
        return False
    ranks = sorted({r["ranks"] for r in strong + weak})
    script = (HEADER + f"set output '{out}'\nset title '{model}: parallel efficiency (1.0 = linear)'\n"
              "set xlabel 'MPI ranks'\nset ylabel 'efficiency'\n"
              f"set xtics ({', '.join(str(r) for r in ranks)})\nset xrange [0.5:{max(ranks) + 0.5}]\n"
              "set yrange [0:1.5]\nplot " + ", ".join(plots) + ", 1 with lines dt 2 lc rgb 'grey' notitle\n")
    run_gnuplot(script, tmp)
    return True


def plot_phases(tmp, out, model, rows, batch):
    lines = []
    for (ranks, tp, dp), rs in sorted(group(rows, ["ranks", "tp", "dp"]).items()):
        vals = [statistics.median([f(r) for r in rs]) for _, f in PHASES]
        lines.append(f"{ranks}r-tp{tp}xdp{dp} " + " ".join(f"{v:.6g}" for v in vals))
    dat = write_dat(tmp, "phases.dat", lines)
    cols = ", ".join(f"'{dat}' using {i + 2}{':xtic(1)' if i == 0 else ''} title '{name}'"
                     for i, (name, _) in enumerate(PHASES))
    script = (HEADER + f"set output '{out}'\n"
              f"set title '{model}: time per iteration by phase (max over ranks), strong scaling, batch {batch}'\n"
              "set style data histograms\nset style histogram rowstacked\nset style fill solid 0.8 border -1\n"
              "set boxwidth 0.7\nset key outside right top\nset ylabel 'seconds'\nset yrange [0:*]\n"
              f"plot {cols}\n")
    run_gnuplot(script, tmp)


def plot_collectives(tmp, out, rows):
    plots = []
    for i, ((ranks, tp, dp, op), rs) in enumerate(sorted(group(rows, ["ranks", "tp", "dp", "op"]).items())):
        if op != "allreduce_f32":
            continue
        pts = sorted((r["bytes"], statistics.median([x["seconds"] for x in rs if x["bytes"] == r["bytes"]]))
                     for r in rs)
        pts = sorted(set(pts))
        dat = write_dat(tmp, f"coll{i}.dat", [f"{b} {s * 1e6:.6g}" for b, s in pts])
        plots.append(f"'{dat}' using 1:2 with linespoints pt 7 title 'tp {tp} (x dp {dp}, {ranks} ranks)'")
    if not plots:
        return False
    script = (HEADER + f"set output '{out}'\nset title 'MPI all-reduce (fp32, sum) per call, median, max over ranks'\n"
              "set logscale xy\nset xlabel 'message bytes'\nset ylabel 'microseconds'\nplot " + ", ".join(plots) + "\n")
    run_gnuplot(script, tmp)
    return True


def plot_projection(tmp, out, model, rows):
    rows = [r for r in rows if r["tp_fabric"] == "nvlink"]
    batches = sorted({int(r["batch"]) for r in rows})
    if not batches:
        return False
    batch = 128 if 128 in batches else batches[-1]
    plots = []
    for i, ((tp,), rs) in enumerate(sorted(group([r for r in rows if int(r["batch"]) == batch], ["tp"]).items())):
        pts = sorted((int(r["gpus"]), r["images_per_s"]) for r in rs if r["fits"] == "yes")
        if not pts:
            continue
        dat = write_dat(tmp, f"proj{i}.dat", [f"{g} {v:.6g}" for g, v in pts])
        plots.append(f"'{dat}' using 1:2 with linespoints pt 7 title 'TP {tp} x DP (NVLink)'")
    if not plots:
        return False
    script = (HEADER + f"set output '{out}'\nset title 'Projected {model} on H100: images/s vs GPUs (batch {batch}, "
              "bench/projection.py)'\nset logscale xy 2\nset xlabel 'GPUs (TP x DP)'\nset ylabel 'images/s'\n"
              "plot " + ", ".join(plots) + "\n")
    run_gnuplot(script, tmp)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--batch", type=int, help="batch to plot (default: the largest measured per model)")
    ap.add_argument("--vit", default="leader")
    a = ap.parse_args()
    if shutil.which("gnuplot") is None:
        print("plot.py: gnuplot is not installed (Debian: apt-get install gnuplot-nox); no plots drawn",
              file=sys.stderr)
        return 3
    rows = read_csv(os.path.join(a.dir, "bench.csv"))
    proj = read_csv(os.path.join(a.dir, "projection.csv"))
    if not rows and not proj:
        print(f"plot.py: {a.dir} has neither bench.csv rows nor projection.csv", file=sys.stderr)
        return 2
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, mrows in sorted(group(rows, ["model"]).items()):
            model = model[0]
            mrows = [r for r in mrows if r["vit"] == a.vit or r["tp"] == 1]
            batches = sorted({r["batch"] for r in mrows})
            batch = a.batch if a.batch in batches else batches[-1]
            sel = [r for r in mrows if r["batch"] == batch]
            strong = [r for r in sel if r["scaling"] == "strong"]
            weak = [r for r in sel if r["scaling"] == "weak"]
            over = min((r["ranks"] for r in sel if r["oversubscribed"]), default=None)
            for kind, rs in (("strong", strong), ("weak", weak)):
                if rs:
                    out = os.path.join(a.dir, f"{model}_{kind}_scaling.png")
                    plot_scaling(tmp, out, model, rs, kind == "weak", batch, over)
                    written.append(out)
            out = os.path.join(a.dir, f"{model}_efficiency.png")
            if plot_efficiency(tmp, out, model, strong, weak):
                written.append(out)
            if strong:
                out = os.path.join(a.dir, f"{model}_phases.png")
                plot_phases(tmp, out, model, strong, batch)
                written.append(out)
        out = os.path.join(a.dir, "collectives.png")
        if plot_collectives(tmp, out, read_csv(os.path.join(a.dir, "collectives.csv"))):
            written.append(out)
        for model, prow in sorted(group(proj, ["model"]).items()):
            out = os.path.join(a.dir, f"projection_{model[0]}.png")
            if plot_projection(tmp, out, model[0], prow):
                written.append(out)
    for w in written:
        print(f"wrote {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
