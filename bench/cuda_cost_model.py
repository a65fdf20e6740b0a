#!/usr/bin/env python3
"""Cost model of the CUDA backend as the code stands (docs/BENCHMARKS.md, "CUDA cost model").

A PROJECTION, not a measurement: no GPU has run this code. For one replica (TP 1) captioning
images with a PaliGemma config it counts, per phase and per image, the FLOPs, the HBM bytes the
kernels move (from the kernels' actual passes: bf16 activations with an f32 residual stream, GEMMs
reading them in place and writing bf16 with the bias (+ GELU) in the cuBLASLt epilogue, bf16 KV
cache written by the fused split + RoPE + cache-write kernel), the kernel launches, and turns them
into time with the peaks and efficiencies
given on the command line:
  time of a phase = GEMM FLOPs / (gemm_eff x peak) + other bytes / (bw_eff x HBM bandwidth)
  decode step     = max(that, host enqueue) + one host sync (TopK results), where host enqueue is
                    launches x launch_us without CUDA graphs (PG_CUDA_GRAPHS=0), and with them
                    (the default) (launches - 1) x replay_us (each op computes and compares its
                    launch signature) + graph_launch_us + launch_us (TopK, outside the graph)
GEMM operand/result bytes are not charged separately in prefill and the ViT (they overlap the
tensor-core time); in decode the GEMMs are charged by their weight bytes (memory bound).

  python3 bench/cuda_cost_model.py --config configs/paligemma-3b-pt-224.json --gpu h200
"""
import argparse
import json

GPUS = {  # dense bf16 tensor-core FLOP/s, HBM bytes/s
    "h100": (989e12, 3.35e12),
    "h200": (989e12, 4.8e12),
}


def vit_costs(v, text_width, images):
    """Per image: (gemm flops, attention flops, other bytes, launches per batch of `images`)."""
    Dv, Fv, L, Np = v["width"], v["mlp_dim"], v["depth"], (v["image_size"] // v["patch_size"]) ** 2
    heads = v["num_heads"]
    params_layer = 4 * Dv * Dv + 2 * Dv * Fv
    gemm = 2 * Np * (L * params_layer + 3 * v["patch_size"] ** 2 * Dv + Dv * text_width)
    attn = 4 * Np * Np * Dv * L
    # Elementwise bytes per patch row and layer (models/vit.cc: x f32, every other activation
    # bf16; GEMMs read bf16 x in place, write bf16 C with the bias / bias + GELU in the epilogue):
    # LN 6Dv (f32 in, bf16 out); qkv C 6Dv; split 12Dv; o C 2Dv; Add (f32 x += bf16) 10Dv; LN 6Dv;
    # fc1 C 2Fv (GELU in the epilogue); fc2 C 2Dv; Add 10Dv.
    row = (6 + 6 + 12 + 2 + 10 + 6 + 2 + 10) * Dv + 2 * Fv
    # Attention prefill path per image and layer: K/V gather (bf16 in, bf16 out), scores f32
    # write+read, probabilities bf16 write+read, out bf16 write (q is a GEMM operand in place).
    attn_bytes = Np * Dv * (8 + 2) + heads * Np * Np * (4 + 4 + 2 + 2)
    other = L * (Np * row + attn_bytes)
    # Per layer: LN, qkv GEMM, split, gather, softmax, o GEMM, Add, LN, fc1, fc2, Add (11), + 4
    # bias conversions f32 -> bf16 ([N] each, before the 4 bias epilogues), + 2 GEMMs per image
    # (G = 1); patch GEMM, pos, norm, projector GEMM.
    launches = L * (15 + 2 * images) + 4
    return gemm, attn, other, launches


def decoder_dims(t):
    D, F, H, KH, hd = t["width"], t["mlp_dim"], t["num_heads"], t["num_kv_heads"], t["head_dim"]
    W = (H + 2 * KH) * hd
    layer_params = D * W + H * hd * D + 2 * D * F + F * D
    # Elementwise bytes per token row and layer (models/gemma.cc: x and block_out f32, the rest
    # bf16; GEMMs read bf16 in place): qkv C 2W; SplitQkvRopeToCache reads 2W, writes q 2 H hd and
    # k, v into the bf16 cache 4 KH hd; o C (block_out, f32) 4D; AddRmsNorm (x f32 += f32, h bf16)
    # 14D; gate_up C 4F; GeGlu 6F; down C 4D; AddRmsNorm 14D.
    row = 2 * W + 2 * W + 2 * H * hd + 4 * KH * hd + 4 * D + 14 * D + 4 * F + 6 * F + 4 * D + 14 * D
    return D, F, H, KH, hd, layer_params, row


def decoder_layer_launches():
    """Kernels per decoder layer: the GEMMs qkv, o, gate_up, down (4, no conversions: bf16 in
    place), SplitQkvRopeToCache (1; split, RoPE and both cache writes), AddRmsNorm x 2, GeGlu,
    Attention (1)."""
    return 4 + 1 + 2 + 1 + 1  # = 9 in the counts below


def prefill_costs(t, T, images):
    """Per image (T prompt rows: image tokens + text): gemm flops, attn flops, other bytes, launches per batch."""
    D, F, H, KH, hd, layer_params, row = decoder_dims(t)
    L, V = t["depth"], t["vocab_size"]
    gemm = 2 * T * L * layer_params + 2 * D * V  # LM head on each sequence's last row
    attn = 4 * T * T * H * hd * L
    ld = (T + 7) // 8 * 8
    # K/V gather from the bf16 cache (read 2 x 2, write 2 x 2); scores f32 and probabilities bf16
    # written and read; out bf16 written (q bf16 is a GEMM operand in place).
    attn_bytes = T * KH * hd * 8 + H * T * ld * (4 + 4 + 2 + 2) + T * H * hd * 2
    other = L * (T * row + attn_bytes) + V * 4 * 2  # + logits f32 written and read by TopK
    calls = 2 * min(H // KH, KH)
    launches = L * (9 + 2 + calls * images) + 6  # 9: decoder_layer_launches(); + gather, softmax
    return gemm, attn, other, launches


def decode_step(t, B, ctx, S):
    """One decode step of B sequences at context ctx, KV cache length S: flops, bytes, launches, splits."""
    D, F, H, KH, hd, layer_params, row = decoder_dims(t)
    L, V = t["depth"], t["vocab_size"]
    flops = 2 * B * (L * layer_params + D * V) + 4 * B * ctx * H * hd * L
    weight_bytes = 2 * (L * layer_params + V * D)
    kv_bytes = B * ctx * 2 * KH * hd * 2 * L  # bf16 cache, one read of each kv head per sequence
    act_bytes = B * (L * row + V * 4 * 2)
    blocks = B * KH * ((H // KH + 7) // 8)
    splits = max(1, min(-(-264 // blocks), S // 32, 64))  # from the cache length S (graph-stable)
    launches = 1 + 1 + L * (9 + (1 if splits > 1 else 0)) + 2 + 1  # 9: decoder_layer_launches()
    return flops, weight_bytes + kv_bytes + act_bytes, launches, splits, (weight_bytes, kv_bytes, act_bytes)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/paligemma-3b-pt-224.json")
    ap.add_argument("--gpu", choices=sorted(GPUS), default="h200")
    ap.add_argument("--batch", type=int, default=64, help="images per replica batch")
    ap.add_argument("--prompt-len", type=int, default=5, help="text tokens with <bos> and \\n")
    ap.add_argument("--new-tokens", type=int, default=20)
    ap.add_argument("--gemm-eff", type=float, default=0.6)
    ap.add_argument("--attn-gemm-eff", type=float, default=0.3, help="the small batched attention GEMMs")
    ap.add_argument("--bw-eff", type=float, default=0.8)
    ap.add_argument("--launch-us", type=float, default=4.0, help="host enqueue per kernel (no CUDA graphs)")
    ap.add_argument("--no-graphs", action="store_true", help="decode without CUDA graphs (PG_CUDA_GRAPHS=0)")
    ap.add_argument("--replay-us", type=float, default=0.5,
                    help="CUDA graphs: host time per op of a replayed step (launch + signature compare)")
    ap.add_argument("--graph-launch-us", type=float, default=10.0, help="CUDA graphs: one cudaGraphLaunch")
    ap.add_argument("--sync-us", type=float, default=20.0, help="per decode step: TopK copy + host sync")
    a = ap.parse_args()
    cfg = json.load(open(a.config))
    v, t = cfg["vision"], cfg["text"]
    peak, bw = GPUS[a.gpu]
    B = a.batch
    Np = (v["image_size"] // v["patch_size"]) ** 2
    T = Np + a.prompt_len

    def secs(gemm, attn, other):
        return gemm / (a.gemm_eff * peak) + attn / (a.attn_gemm_eff * peak) + other / (a.bw_eff * bw)

    rows = []
    g, at, o, n = vit_costs(v, t["width"], B)
    rows.append(("ViT (encode)", g + at, o, n / B, secs(g, at, o), "tensor cores (GEMMs); elementwise ~%.0f%%" %
                 (100 * o / (a.bw_eff * bw) / secs(g, at, o))))
    # Image tokens stay on the device (tensor_parallel/image_token_broadcast.h): two f32 CopyRows,
    # ViT output -> the batch's token tensor -> the prefill input, each read + write (no PCIe).
    tok = 2 * 2 * Np * t["width"] * 4
    rows.append(("image tokens (device copies)", 0, tok, (1 + B) / B, tok / (a.bw_eff * bw), "HBM"))
    g, at, o, n = prefill_costs(t, T, B)
    rows.append(("prefill (%d rows)" % T, g + at, o, n / B, secs(g, at, o), "tensor cores (GEMMs); elementwise ~%.0f%%"
                 % (100 * o / (a.bw_eff * bw) / secs(g, at, o))))
    def host_us(n):  # host enqueue of one decode step of n launches (the last is TopK)
        if a.no_graphs:
            return n * a.launch_us
        return (n - 1) * a.replay_us + a.graph_launch_us + a.launch_us

    dec_s, dec_f, dec_b, launches, parts = 0.0, 0, 0, 0, None
    for i in range(a.new_tokens - 1):  # the first token comes from the prefill
        f, b, n, splits, parts = decode_step(t, B, T + i + 1, T + a.new_tokens)
        gpu = f / (a.gemm_eff * peak) if f / (a.gemm_eff * peak) > b / (a.bw_eff * bw) else b / (a.bw_eff * bw)
        dec_s += max(gpu, host_us(n) * 1e-6) + a.sync_us * 1e-6
        dec_f, dec_b, launches = dec_f + f, dec_b + b, n
    step_ms = 1e3 * dec_s / (a.new_tokens - 1)
    rows.append(("decode (%d steps)" % (a.new_tokens - 1), dec_f / B, dec_b / B, launches * (a.new_tokens - 1) / B,
                 dec_s / B, "HBM (weights %.2f GB, KV bf16 %.2f GB, activations %.2f GB per step)" %
                 tuple(x / 1e9 for x in parts)))
    total = sum(r[4] for r in rows)
    print("PROJECTION (no GPU measured): %s, %s, batch %d, %d prompt rows, %d new tokens" %
          (cfg["name"], a.gpu.upper(), B, T, a.new_tokens))
    print()
    print("| phase | GFLOP per image | GB moved per image | launches per image | ms per image | bound by |")
    print("|---|---|---|---|---|---|")
    for name, f, b, n, s, bound in rows:
        print("| %s | %.1f | %.3f | %.1f | %.3f | %s |" % (name, f / 1e9, b / 1e9, n, 1e3 * s, bound))
    print("| **total** | | | | **%.2f** | %.0f images/s per GPU |" % (1e3 * total, 1 / total))
    print()
    print("decode step: %.2f ms for %d sequences, %d kernel launches (%.2f ms of host enqueue, %s), "
          "attention split %d ways" % (step_ms, B, launches, host_us(launches) / 1e3,
                                        "%.0f us per launch, no CUDA graphs" % a.launch_us if a.no_graphs else
                                        "CUDA graph: %.1f us per replayed op + %.0f us graph launch" %
                                        (a.replay_us, a.graph_launch_us), decode_step(t, B, T + 1, T + a.new_tokens)[3]))


if __name__ == "__main__":
    main()
