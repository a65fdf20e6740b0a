"""The CPU variant of bench/projection.py, checked against `paligemma bench` measurements.

    python3 bench/projection.py --validate-cpu DIR [--cpu-share measured|dedicated] [--cpu-batch B]

From DIR/bench.csv (strong scaling, dp 1 rows) and DIR/collectives.csv of one CPU sweep:
  - per-rank compute at TP = t is the measured TP = 1 compute (prefill, decode) times the
    per-rank share of the work from the FLOP / weight counts of the real shapes
    (projection.Shapes), divided by the CPU share a rank gets (dedicated: min(1, nproc / t);
    measured: CPU seconds / wall seconds of the TP = t run, `cores_used / ranks`);
  - all-reduces: 2 per layer + 1 per forward, alpha-beta fitted to the MPI all-reduce sweep of
    the same layout (fp32 payloads: [B, T, D] in prefill, [B, D] per decode step); the image
    tokens broadcast and the logits all-gather from the broadcast sweep;
  - ViT and image decoding stay on the leader (unchanged from TP = 1).
The table puts predicted next to measured, and a decomposition check: the predicted compute
with the collective time measured inside the run.
"""
import csv
import json
import math
import os
import statistics
import sys

from projection import Shapes


def fit_alpha_beta(points):
    """t = alpha + beta * bytes from [(bytes, seconds)] (repeats allowed): the median per size;
    alpha = the median at the smallest size (latency), beta = least squares of t - alpha through
    (b0, alpha) over the larger sizes (inverse bandwidth). Robust to the few slow outliers of a
    loaded machine, which an unweighted fit of every point lets dominate the intercept."""
    by = {}
    for b, t in points:
        by.setdefault(b, []).append(t)
    med = sorted((b, statistics.median(ts)) for b, ts in by.items())
    b0, alpha = med[0]
    rest = [(b - b0, t - alpha) for b, t in med[1:]]
    sxx = sum(b * b for b, _ in rest)
    beta = max(0.0, sum(b * y for b, y in rest) / sxx) if sxx else 0.0
    return alpha, beta


def validate_cpu(a):
    d = a.validate_cpu
    with open(os.path.join(d, "bench.json")) as f:
        doc = json.load(f)
    s = Shapes(doc["runs"][0]["model_config"])
    rows = list(csv.DictReader(open(os.path.join(d, "bench.csv"))))
    colls = list(csv.DictReader(open(os.path.join(d, "collectives.csv"))))
    rows = [r for r in rows if r["scaling"] == "strong" and r["vit"] == "leader" and int(r["dp"]) == 1]
    batch = a.cpu_batch or max(int(r["batch"]) for r in rows)
    rows = [r for r in rows if int(r["batch"]) == batch]

    def med(rs, k):
        return statistics.median(float(r[k]) for r in rs)

    base = [r for r in rows if int(r["tp"]) == 1]
    if not base:
        sys.exit(f"projection.py: {d}/bench.csv has no tp 1 strong-scaling row at batch {batch}")
    nproc = int(base[0]["nproc"])
    images, new_tokens = int(base[0]["images"]), int(base[0]["new_tokens"])
    prompt_len = int(base[0]["prompt_len"])
    T = s.Np + prompt_len
    B = min(batch, images)
    chunks = math.ceil(images / batch)
    m1 = {k: med(base, k) for k in ("image_s", "vit_s", "prefill_s", "decode_s", "e2e_s")}

    def share(tp):
        """Fraction of a core each rank of the TP=tp run gets: measured (CPU seconds / wall seconds,
        `cores_used` / ranks) or, for a dedicated machine, nproc / ranks capped at 1."""
        if a.cpu_share == "dedicated":
            return min(1.0, nproc / tp)
        rs = [r for r in rows if int(r["tp"]) == tp]
        return statistics.median(float(r["cores_used"]) / int(r["ranks"]) for r in rs)

    out = []
    for tp in sorted({int(r["tp"]) for r in rows}):
        rs = [r for r in rows if int(r["tp"]) == tp]
        slow = share(1) / share(tp)  # compute slows down when each rank gets less of a core
        pts = sorted((int(c["bytes"]), float(c["seconds"])) for c in colls
                     if int(c["tp"]) == tp and int(c["dp"]) == 1 and c["op"] == "allreduce_f32")
        bpts = sorted((int(c["bytes"]), float(c["seconds"])) for c in colls
                      if int(c["tp"]) == tp and int(c["dp"]) == 1 and c["op"] == "broadcast")
        ar = fit_alpha_beta(pts) if pts else (0.0, 0.0)
        bc = fit_alpha_beta(bpts) if bpts else (0.0, 0.0)
        f_pre = s.prefill_flops(T, tp) / s.prefill_flops(T, 1)
        f_dec = s.text_params(tp) / s.text_params(1)
        steps = chunks * (new_tokens - 1)
        pre_c = m1["prefill_s"] * f_pre * slow
        dec_c = m1["decode_s"] * f_dec * slow
        n_ar = 2 * s.L + 1
        pre_ar = chunks * n_ar * (ar[0] + ar[1] * B * T * s.D * 4) if tp > 1 else 0.0
        dec_ar = steps * (n_ar * (ar[0] + ar[1] * B * s.D * 4) + 2 * (bc[0] + bc[1] * B * s.V * 4 / tp)) if tp > 1 else 0.0
        bcast = chunks * (bc[0] + bc[1] * B * s.Np * s.D * 4) if tp > 1 else 0.0
        e2e = m1["image_s"] + m1["vit_s"] + bcast + pre_c + pre_ar + dec_c + dec_ar
        meas = {k: med(rs, k) for k in ("prefill_s", "prefill_allreduce_s", "decode_s", "decode_allreduce_s", "e2e_s",
                                        "images_per_s", "allreduce_calls", "bcast_s", "allgather_s")}
        # Decomposition check: the predicted compute with the collective time measured in the run.
        check = images / (m1["image_s"] + m1["vit_s"] + meas["bcast_s"] + pre_c + dec_c + meas["prefill_allreduce_s"]
                          + meas["decode_allreduce_s"] + meas["allgather_s"])
        insitu = ((meas["prefill_allreduce_s"] + meas["decode_allreduce_s"]) / meas["allreduce_calls"]
                  if meas["allreduce_calls"] else 0.0)
        out.append(dict(tp=tp, alpha_us=ar[0] * 1e6, beta_gbs=(1 / ar[1] / 1e9) if ar[1] else float("inf"),
                        pred_prefill_s=pre_c + pre_ar, meas_prefill_s=meas["prefill_s"],
                        pred_prefill_ar_s=pre_ar, meas_prefill_ar_s=meas["prefill_allreduce_s"],
                        pred_decode_s=dec_c + dec_ar, meas_decode_s=meas["decode_s"],
                        pred_decode_ar_s=dec_ar, meas_decode_ar_s=meas["decode_allreduce_s"],
                        pred_images_per_s=images / e2e, meas_images_per_s=meas["images_per_s"],
                        insitu_us=insitu * 1e6, check_images_per_s=check, runs=len(rs)))
    lines = [f"CPU validation on {d}: model '{s.name}', batch {batch}, {images} images, {new_tokens} new tokens, "
             f"{nproc} cores, CPU share per rank: {a.cpu_share}"
             + (" (CPU seconds / wall seconds of each run, see cores_used)" if a.cpu_share == "measured" else ""),
             "", "| TP | sweep AR alpha us | sweep AR GB/s | in-run us per AR | prefill s pred / meas | "
             "prefill AR s pred / meas | decode s pred / meas | decode AR s pred / meas | images/s pred / meas | error | "
             "images/s with in-run collectives |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in out:
        err = r["pred_images_per_s"] / r["meas_images_per_s"] - 1
        lines.append(f"| {r['tp']} | {r['alpha_us']:.0f} | {r['beta_gbs']:.2f} | {r['insitu_us']:.0f} | "
                     f"{r['pred_prefill_s']:.2f} / "
                     f"{r['meas_prefill_s']:.2f} | {r['pred_prefill_ar_s']:.2f} / {r['meas_prefill_ar_s']:.2f} | "
                     f"{r['pred_decode_s']:.2f} / {r['meas_decode_s']:.2f} | {r['pred_decode_ar_s']:.2f} / "
                     f"{r['meas_decode_ar_s']:.2f} | {r['pred_images_per_s']:.3g} / {r['meas_images_per_s']:.3g} | "
                     f"{100 * err:+.0f}% | {r['check_images_per_s']:.3g} ({100 * (r['check_images_per_s'] / r['meas_images_per_s'] - 1):+.0f}%) |")
    return out, lines


