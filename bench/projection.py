#!/usr/bin/env python3
"""Throughput projection for PaliGemma captioning with tensor (TP) and data (DP) parallelism.

    python3 bench/projection.py --out docs/bench/projection            # H100 tables + CSV
    python3 bench/projection.py --validate-cpu docs/bench/cpu-mid      # CPU variant (projection_cpu.py)
    python3 bench/projection.py --self-test

Standard library only. The model (every assumption is a flag; the defaults are printed):

  compute   FLOPs per rank from the real shapes (configs/*.json): the ViT (patch embedding,
            QKV/O and MLP GEMMs, attention 4*Np^2*Dv per layer, projector), the decoder per
            layer (q, kv, o, gate+up, down GEMMs, attention 4*T*ctx*heads*head_dim) and the
            tied LM head (last position only in prefill). TP splits query heads, MLP columns
            and vocabulary rows; KV heads are split when TP divides them, else one KV head is
            replicated per rank (as models/gemma.cc does). GEMM time = FLOPs / (peak * eff).
  decode    per step: max(weight bytes per rank + KV-cache bytes read, over HBM bw * eff;
            FLOPs / (peak * eff)) + a fixed per-layer launch/sync overhead.
  comms     ring all-reduce t(p, n) = t0 + 2(p-1)*alpha + 2(p-1)/p * n / busBW, 2 per layer +
            1 (embedding) per forward; the logits all-gather (p-1)/p * n / busBW + latency;
            image tokens broadcast (leader ViT) or all-gathered (sharded ViT). No overlap of
            compute and communication (conservative).
  pipeline  per replica and batch B: ViT -> image-token exchange -> prefill -> (new_tokens - 1)
            decode steps, in sequence (as `paligemma bench` measures). DP replicas share
            nothing: images/s = DP * B / batch time. TP groups sit inside one 8-GPU node
            (NVLink) unless --tp-fabric ib puts one rank per node (InfiniBand).
  memory    bf16 weights per rank + ViT + KV cache (B x context) + prefill activations
            (B x T x (2F/TP) x 2 bytes x 3 buffers) + fp32 logits; must fit --gpu-mem-gib * 0.9.
"""
import argparse
import csv
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(os.path.dirname(HERE), "configs")
MODELS = ["paligemma-3b-pt-224", "paligemma-3b-pt-448", "paligemma2-3b-pt-224", "paligemma2-3b-pt-448",
          "paligemma2-10b-pt-224", "paligemma2-10b-pt-448", "paligemma2-28b-pt-224", "paligemma2-28b-pt-448"]


# ---- shapes and FLOPs ------------------------------------------------------------------------

class Shapes:
    def __init__(self, cfg):
        v, t = cfg["vision"], cfg["text"]
        self.name = cfg["name"]
        self.S, self.P = v["image_size"], v["patch_size"]
        self.Np = (self.S // self.P) ** 2
        self.Dv, self.Lv, self.Fv, self.Nv = v["width"], v["depth"], v["mlp_dim"], v["num_heads"]
        self.D, self.L, self.F = t["width"], t["depth"], t["mlp_dim"]
        self.N, self.K, self.H, self.V = t["num_heads"], t["num_kv_heads"], t["head_dim"], t["vocab_size"]

    def kv_local(self, tp):
        return self.K // tp if self.K % tp == 0 else 1

    def vit_params(self):
        per_layer = 4 * self.Dv * self.Dv + 2 * self.Dv * self.Fv
        return self.Lv * per_layer + self.P * self.P * 3 * self.Dv + self.Np * self.Dv + self.Dv * self.D

    def text_params(self, tp=1):
        """Decoder weights one rank holds (embedding/LM head included)."""
        per_layer = (2 * self.D * (self.N // tp) * self.H + 2 * self.D * self.kv_local(tp) * self.H
                     + 3 * self.D * (self.F // tp))
        return self.L * per_layer + (self.V // tp) * self.D

    def vit_flops(self):
        """Per image."""
        per_layer = 2 * self.Np * (4 * self.Dv * self.Dv + 2 * self.Dv * self.Fv) + 4 * self.Np * self.Np * self.Dv
        return (2 * self.Np * self.P * self.P * 3 * self.Dv + self.Lv * per_layer + 2 * self.Np * self.Dv * self.D)

    def layer_gemm_flops(self, tokens, tp):
        n, kv, f = self.N // tp, self.kv_local(tp), self.F // tp
        return 2 * tokens * (2 * self.D * n * self.H + 2 * self.D * kv * self.H + 3 * self.D * f)

    def prefill_flops(self, T, tp):
        """One sequence of T prompt tokens (image + text), per rank: bidirectional prefix."""
        attn = 4 * T * T * (self.N // tp) * self.H
        return self.L * (self.layer_gemm_flops(T, tp) + attn) + 2 * self.D * (self.V // tp)

    def decode_flops(self, ctx, tp):
        """One new token of one sequence attending to ctx cached positions, per rank."""
        attn = 4 * ctx * (self.N // tp) * self.H
        return self.L * (self.layer_gemm_flops(1, tp) + attn) + 2 * self.D * (self.V // tp)

    def kv_bytes_per_token(self, tp, elem=2):
        return self.L * 2 * self.kv_local(tp) * self.H * elem


# ---- collectives -------------------------------------------------------------------------------

class Fabric:
    def __init__(self, name, busbw_gbs, alpha_us, t0_us):
        self.name, self.busbw, self.alpha, self.t0 = name, busbw_gbs * 1e9, alpha_us * 1e-6, t0_us * 1e-6

    def allreduce(self, p, nbytes):
        if p == 1:
            return 0.0
        return self.t0 + 2 * (p - 1) * self.alpha + 2 * (p - 1) / p * nbytes / self.busbw

    def allgather(self, p, total_bytes):
        if p == 1:
            return 0.0
        return self.t0 + (p - 1) * self.alpha + (p - 1) / p * total_bytes / self.busbw

    def broadcast(self, p, nbytes):
        if p == 1:
            return 0.0
        return self.t0 + (p - 1) * self.alpha + nbytes / self.busbw


# ---- the GPU model -----------------------------------------------------------------------------

def project(s, tp, batch, a, fabric):
    """Seconds per batch per replica and memory per GPU for TP = tp, batch B."""
    flops_s = a.peak_tflops * 1e12 * a.gemm_eff
    hbm = a.hbm_tbs * 1e12 * a.hbm_eff
    T = s.Np + a.prompt_len
    ctx_max = T + a.new_tokens
    B = batch
    over = a.layer_overhead_us * 1e-6 * s.L
    # ViT + image-token exchange (bf16 tokens)
    tok_bytes = B * s.Np * s.D * 2
    if a.vit == "sharded":
        vit = math.ceil(B / tp) * s.vit_flops() / flops_s
        xchg = fabric.allgather(tp, tok_bytes)
    else:
        vit = B * s.vit_flops() / flops_s
        xchg = fabric.broadcast(tp, tok_bytes)
    # Prefill
    n_ar = 2 * s.L
    prefill_c = B * s.prefill_flops(T, tp) / flops_s + over
    prefill_ar = (n_ar * fabric.allreduce(tp, B * T * s.D * 2) + fabric.allreduce(tp, B * a.prompt_len * s.D * 2)
                  + fabric.allgather(tp, B * s.V * 4))
    # Decode: new_tokens - 1 forward steps (the first token comes from the prefill)
    w_bytes = s.text_params(tp) * 2
    steps = a.new_tokens - 1
    decode_c = decode_ar = 0.0
    for k in range(steps):
        ctx = T + k + 1
        mem = (w_bytes + B * ctx * s.kv_bytes_per_token(tp)) / hbm
        comp = B * s.decode_flops(ctx, tp) / flops_s
        decode_c += max(mem, comp) + over
        decode_ar += ((n_ar + 1) * fabric.allreduce(tp, B * s.D * 2) + fabric.allgather(tp, B * s.V * 4)
                      + fabric.broadcast(tp, B * 4))
    batch_s = vit + xchg + prefill_c + prefill_ar + decode_c + decode_ar
    vit_on_rank = a.vit == "sharded" or tp == 1
    mem = (w_bytes + (s.vit_params() * 2 if vit_on_rank else 0) + B * ctx_max * s.kv_bytes_per_token(tp)
           + 3 * B * T * max(2 * s.F // tp, s.D) * 2 + B * s.V * 4 * 2)
    return dict(vit_ms=1e3 * vit, xchg_ms=1e3 * xchg, prefill_ms=1e3 * prefill_c, prefill_ar_ms=1e3 * prefill_ar,
                decode_ms=1e3 * decode_c, decode_ar_ms=1e3 * decode_ar,
                decode_step_ms=1e3 * (decode_c + decode_ar) / max(steps, 1), batch_s=batch_s,
                mem_gib=mem / 2**30, fits=mem <= a.gpu_mem_gib * 2**30 * 0.9)


def load_shapes(name):
    with open(os.path.join(CONFIGS, name + ".json")) as f:
        return Shapes(json.load(f))


def gpu_tables(a):
    fabrics = {"nvlink": Fabric("nvlink", a.nvlink_busbw, a.nvlink_alpha_us, a.t0_us),
               "ib": Fabric("ib", a.ib_busbw, a.ib_alpha_us, a.t0_us)}
    rows = []
    for model in a.models:
        s = load_shapes(model)
        for batch in a.batch:
            for tp in (1, 2, 4, 8):
                if s.N % tp or s.F % tp or s.V % tp:
                    continue
                for fab in (["nvlink", "ib"] if tp > 1 else ["nvlink"]):
                    r = project(s, tp, batch, a, fabrics[fab])
                    per_replica = batch / r["batch_s"]
                    for dp in a.dp:
                        gpus = tp * dp
                        rows.append(dict(model=model, batch=batch, tp=tp, dp=dp, gpus=gpus,
                                         nodes=math.ceil(gpus / 8) if fab == "nvlink" else gpus,
                                         tp_fabric=fab, fits="yes" if r["fits"] else "no",
                                         images_per_s=dp * per_replica if r["fits"] else 0.0,
                                         latency_s=r["batch_s"], **{k: v for k, v in r.items()
                                                                    if k not in ("batch_s", "fits")}))
    return rows


def fmt(v, nd=1):
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def write_gpu_outputs(rows, a):
    os.makedirs(a.out, exist_ok=True)
    keys = list(rows[0].keys())
    with open(os.path.join(a.out, "projection.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    lines = ["# Projected captioning throughput on H100 (bench/projection.py)", "", "Assumptions: " + assumptions(a), ""]
    # Table 1: per model and batch, one 8-GPU node: TP x DP = 8, and the per-replica breakdown.
    lines += ["## One node (8 GPUs): TP x DP = 8, NVLink", "",
              "| model | batch | TP x DP | images/s (node) | batch latency s | ViT ms | prefill ms (+AR) | "
              "decode step ms (AR share) | GiB/GPU |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["gpus"] != 8 or r["tp_fabric"] != "nvlink":
            continue
        ar_share = r["decode_ar_ms"] / max(r["decode_ms"] + r["decode_ar_ms"], 1e-12)
        ips = fmt(r["images_per_s"], 0) if r["fits"] == "yes" else "does not fit"
        lines.append(f"| {r['model']} | {r['batch']} | {r['tp']} x {r['dp']} | {ips} | {r['latency_s']:.3f} | "
                     f"{r['vit_ms']:.1f} | {r['prefill_ms']:.1f} (+{r['prefill_ar_ms']:.1f}) | "
                     f"{r['decode_step_ms']:.2f} ({100 * ar_share:.0f}%) | {r['mem_gib']:.1f} |")
    # Table 2: scaling out with DP (replicas share nothing, so DP is linear in this model).
    lines += ["", "## Scaling out with DP: images/s for DP = 1 / 8 / 64 replicas of each TP size (TP inside a node)", "",
              "| model | batch | TP | DP 1 | DP 8 | DP 64 | GPUs (nodes) at DP 64 |", "|---|---|---|---|---|---|---|"]
    for (model, batch, tp), group in _group(rows, ("model", "batch", "tp"), fabric="nvlink").items():
        by = {r["dp"]: r for r in group}
        cells = [fmt(by[d]["images_per_s"], 0) if d in by and by[d]["fits"] == "yes" else "-" for d in (1, 8, 64)]
        at64 = by.get(64)
        where = f"{at64['gpus']} ({at64['nodes']})" if at64 else "-"
        lines.append(f"| {model} | {batch} | {tp} | " + " | ".join(cells) + f" | {where} |")
    # Table 3: TP over InfiniBand (one rank per node) vs NVLink, per replica.
    lines += ["", "## TP across nodes (InfiniBand, one GPU per node per group) vs inside a node, per replica", "",
              "| model | batch | TP | NVLink img/s | IB img/s | IB decode step ms |", "|---|---|---|---|---|---|"]
    for (model, batch, tp), group in _group(rows, ("model", "batch", "tp")).items():
        if tp == 1:
            continue
        nv = [r for r in group if r["tp_fabric"] == "nvlink" and r["dp"] == 1]
        ib = [r for r in group if r["tp_fabric"] == "ib" and r["dp"] == 1]
        if nv and ib and nv[0]["fits"] == "yes":
            lines.append(f"| {model} | {batch} | {tp} | {nv[0]['images_per_s']:.0f} | {ib[0]['images_per_s']:.0f} | "
                         f"{ib[0]['decode_step_ms']:.2f} |")
    with open(os.path.join(a.out, "projection.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return lines


def _group(rows, keys, fabric=None):
    out = {}
    for r in rows:
        if fabric and r["tp_fabric"] != fabric:
            continue
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def assumptions(a):
    return (f"H100 SXM dense bf16 peak {a.peak_tflops} TFLOP/s x {a.gemm_eff:.0%} achieved for GEMMs; HBM "
            f"{a.hbm_tbs} TB/s x {a.hbm_eff:.0%} for decode weight/KV streaming; {a.layer_overhead_us} us fixed "
            f"overhead per layer per forward (launch/sync); NVLink all-reduce busBW {a.nvlink_busbw} GB/s, "
            f"alpha {a.nvlink_alpha_us} us per ring step + t0 {a.t0_us} us (= {a.t0_us + 14 * a.nvlink_alpha_us:.0f} us "
            f"for a small message at p=8); InfiniBand NDR 400 Gb/s per GPU busBW {a.ib_busbw} GB/s, alpha "
            f"{a.ib_alpha_us} us per step (= {a.t0_us + 14 * a.ib_alpha_us:.0f} us at p=8); bf16 weights, activations "
            f"and all-reduces, fp32 logits; prompt '{a.prompt}' = {a.prompt_len} text tokens, {a.new_tokens} new "
            f"tokens, every sequence runs all steps; ViT {a.vit}; no compute/communication overlap; phases in "
            f"sequence per batch; {a.gpu_mem_gib} GiB per GPU, 90% usable.")


# ---- self-test ---------------------------------------------------------------------------------

def self_test():
    s = load_shapes("paligemma-3b-pt-224")
    # Gemma 2B: 2.506e9 parameters with the embedding; SigLIP So400m/14 at 224 + projector ~0.414e9.
    assert abs(s.text_params() / 2.5079e9 - 1) < 0.005, s.text_params()
    assert abs(s.vit_params() / 0.4139e9 - 1) < 0.01, s.vit_params()
    # Sharding: per-rank GEMM FLOPs at TP 8 are 1/8 except the replicated MQA KV projection.
    T = 262
    full = s.layer_gemm_flops(T, 1)
    kv = 2 * T * 2 * s.D * s.H
    assert s.layer_gemm_flops(T, 8) == (full - kv) // 8 + kv
    # Ring all-reduce: 2(p-1)/p * n / busBW + latency.
    f = Fabric("x", 100, 1, 0)
    assert abs(f.allreduce(4, 1e9) - (6e-6 + 1.5e9 / 100e9)) < 1e-12
    assert f.allreduce(1, 1e9) == 0
    # Decode at batch 1 on H100 is weight-streaming bound: ~5 GB / 2.68 TB/s ~ 1.9 ms.
    a = parse([])
    r = project(s, 1, 1, a, Fabric("nvlink", 400, 1.43, 0))
    assert 1.7 < r["decode_step_ms"] < 2.5, r
    # Data parallel is linear; TP=8 at batch 64 is below 8x TP=1 for the 3B model.
    one = project(s, 1, 64, a, Fabric("nvlink", 400, 1.43, 0))
    eight = project(s, 8, 64, a, Fabric("nvlink", 400, 1.43, 0))
    assert 64 / eight["batch_s"] < 8 * 64 / one["batch_s"]
    # PaliGemma 2 28B at 448 and batch 64 does not fit one 80 GB GPU but fits at TP 4.
    big = load_shapes("paligemma2-28b-pt-448")
    assert not project(big, 1, 64, a, Fabric("nvlink", 400, 1.43, 0))["fits"]
    assert project(big, 4, 64, a, Fabric("nvlink", 400, 1.43, 0))["fits"]
    from projection_cpu import fit_alpha_beta
    fit = fit_alpha_beta([(4, 1.0), (4, 9.0), (4, 1.0), (14, 2.0), (24, 3.0)])
    assert abs(fit[0] - 1) < 1e-12 and abs(fit[1] - 0.1) < 1e-12, fit
    print("projection.py self-test: ok")


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench-out/projection", help="directory for projection.csv / projection.md")
    ap.add_argument("--models", default=",".join(MODELS), type=lambda s: s.split(","))
    ap.add_argument("--batch", default="64,128,256", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--dp", default="1,2,4,8,16,32,64", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--prompt", default="caption en")
    ap.add_argument("--prompt-len", type=int, default=5, help="<bos> caption en \\n (Gemma tokenizer)")
    ap.add_argument("--new-tokens", type=int, default=20)
    ap.add_argument("--vit", choices=["leader", "sharded"], default="sharded")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="H100 SXM dense bf16")
    ap.add_argument("--gemm-eff", type=float, default=0.60)
    ap.add_argument("--hbm-tbs", type=float, default=3.35)
    ap.add_argument("--hbm-eff", type=float, default=0.80)
    ap.add_argument("--layer-overhead-us", type=float, default=10.0)
    ap.add_argument("--nvlink-busbw", type=float, default=400.0, help="GB/s (nccl-tests 8xH100: ~370-480)")
    ap.add_argument("--nvlink-alpha-us", type=float, default=1.0)
    ap.add_argument("--ib-busbw", type=float, default=45.0, help="GB/s, NDR 400 Gb/s per GPU")
    ap.add_argument("--ib-alpha-us", type=float, default=2.5)
    ap.add_argument("--t0-us", type=float, default=6.0, help="fixed cost of any collective (launch + sync)")
    ap.add_argument("--gpu-mem-gib", type=float, default=80.0)
    ap.add_argument("--validate-cpu", help="a `paligemma bench` --out directory (strong scaling, dp 1 rows)")
    ap.add_argument("--cpu-batch", type=int, default=0)
    ap.add_argument("--cpu-share", choices=["dedicated", "measured"], default="measured",
                    help="dedicated: each rank gets min(1, nproc/ranks) of a core; measured: the CPU share each "
                         "rank got in the run (CPU time / wall time), for a machine shared with other work")
    ap.add_argument("--self-test", action="store_true")
    return ap.parse_args(argv)


def main(argv):
    a = parse(argv)
    if a.self_test:
        self_test()
        return 0
    if a.validate_cpu:
        from projection_cpu import validate_cpu
        _, lines = validate_cpu(a)
        print("\n".join(lines))
        return 0
    rows = gpu_tables(a)
    print("\n".join(write_gpu_outputs(rows, a)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
