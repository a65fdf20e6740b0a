#!/usr/bin/env python3
"""Side-by-side captioning throughput: this engine vs Hugging Face transformers on the same
random weights, the same machine and the same number of threads, interleaved in one run.

    /path/to/venv/bin/python bench/hf_compare.py --shape mid --threads 2 [--sides engine_f32,engine_bf16,hf_f32,hf_bf16]

1. Builds a PaliGemma of the chosen shape with HF (random weights) and `save_pretrained`s it.
2. Converts it with `paligemma convert --from hf` (the engine reads the same weights).
3. `--repeats` times, in turn: the engine with fp32 and with bf16 weights (`paligemma bench
   --weight-dtype`, one process, --threads), HF fp32 and
   HF bf16 (`from_pretrained(dtype=...)`, torch.set_num_threads), each in its own subprocess so
   only one model is in memory at a time. Every side captions `--images` images in batches of
   `--batch`, greedy, exactly `--new-tokens` tokens (the engine never stops at <eos> in bench; HF
   gets min_new_tokens = max_new_tokens), prompt of `--prompt-len` tokens.
4. Prints images/s and peak RSS (`/usr/bin/time -f %M`, the process and its children) per side,
   the median images/s over repeats, and the ratios.

Needs torch + transformers (PyPI) and a built `build/paligemma`. Not run by CI (PyPI, minutes).
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Model shapes: "mid" (SigLIP-B/16 at 224 + a Gemma-like 8-layer decoder) and the real 3B-224.
SHAPES = {
    "mid": dict(vision=dict(image_size=224, patch_size=16, hidden_size=768, num_hidden_layers=12,
                            num_attention_heads=12, intermediate_size=3072),
                text=dict(hidden_size=1024, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=1,
                          head_dim=128, intermediate_size=4096, vocab_size=16384)),
    "3b": dict(vision=dict(image_size=224, patch_size=14, hidden_size=1152, num_hidden_layers=27,
                           num_attention_heads=16, intermediate_size=4304),
               text=dict(hidden_size=2048, num_hidden_layers=18, num_attention_heads=8, num_key_value_heads=1,
                         head_dim=256, intermediate_size=16384, vocab_size=257152)),
}
PAD, EOS, BOS = 0, 1, 2


def hf_config(shape):
    from transformers import PaliGemmaConfig
    s = SHAPES[shape]
    vocab = s["text"]["vocab_size"]
    text = dict(s["text"], model_type="gemma", hidden_act="gelu_pytorch_tanh", rms_norm_eps=1e-6,
                pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS)
    vision = dict(s["vision"], model_type="siglip_vision_model", layer_norm_eps=1e-6,
                  hidden_act="gelu_pytorch_tanh", vision_use_head=False)
    hidden = s["text"]["hidden_size"]
    return PaliGemmaConfig(text_config=text, vision_config=vision, image_token_index=vocab - 1,
                           projection_dim=hidden, hidden_size=hidden, vocab_size=vocab,
                           pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS)


def build(shape, work):
    import torch
    from transformers import PaliGemmaForConditionalGeneration
    hf_dir = work / f"hf-{shape}"
    if not (hf_dir / "config.json").exists():
        torch.manual_seed(0)
        model = PaliGemmaForConditionalGeneration(hf_config(shape)).eval()
        model.save_pretrained(hf_dir, safe_serialization=True)
        del model
    h5 = work / f"engine-{shape}.h5"
    if not h5.exists():
        subprocess.run([str(ROOT / "build/paligemma"), "convert", "--from", "hf", "--input", str(hf_dir),
                        "--output", str(h5)], check=True)
    return hf_dir, h5


def hf_worker(args):
    """One HF measurement in this process: prints one JSON line."""
    import torch
    from transformers import PaliGemmaForConditionalGeneration
    torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.hf_dtype == "bf16" else torch.float32
    t0 = time.perf_counter()
    model = PaliGemmaForConditionalGeneration.from_pretrained(args.hf_dir, dtype=dtype).eval()
    load_s = time.perf_counter() - t0
    cfg = model.config
    n_img = (cfg.vision_config.image_size // cfg.vision_config.patch_size) ** 2
    g = torch.Generator().manual_seed(1)
    prompt = [BOS] + torch.randint(3, cfg.text_config.vocab_size - 1, (args.prompt_len - 1,), generator=g).tolist()
    ids = torch.tensor([[cfg.image_token_index] * n_img + prompt] * args.batch)
    size = cfg.vision_config.image_size

    def run(batch):
        pix = torch.rand((batch, 3, size, size), generator=g, dtype=torch.float32).to(dtype) * 2 - 1
        with torch.no_grad():
            model.generate(input_ids=ids[:batch], pixel_values=pix, attention_mask=torch.ones_like(ids[:batch]),
                           token_type_ids=torch.zeros_like(ids[:batch]), max_new_tokens=args.new_tokens,
                           min_new_tokens=args.new_tokens, do_sample=False, pad_token_id=PAD, eos_token_id=EOS)

    run(1)  # warm-up
    t0 = time.perf_counter()
    done = 0
    while done < args.images:
        b = min(args.batch, args.images - done)
        run(b)
        done += b
    secs = time.perf_counter() - t0
    print(json.dumps(dict(images_per_s=args.images / secs, seconds=secs, load_s=load_s)))


def peak_rss_prefix(rss_file):
    """/usr/bin/time -f %M: the peak RSS (KiB) of the command and every descendant it waited for
    (mpirun waits for its ranks), written to rss_file; [] when /usr/bin/time is missing."""
    return ["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] if os.path.exists("/usr/bin/time") else []


def read_peak_rss_gb(rss_file):
    try:
        return int(Path(rss_file).read_text().split()[-1]) * 1024 / 1e9
    except (OSError, ValueError, IndexError):
        return float("nan")


def engine_run(args, h5, out, dtype, rss_file):
    cmd = peak_rss_prefix(rss_file) + ["mpirun", "-np", "1", "--bind-to", "none", str(ROOT / "build/paligemma"), "bench", "--model", str(h5),
           "--batch", str(args.batch), "--images", str(args.images), "--new-tokens", str(args.new_tokens),
           "--prompt-len", str(args.prompt_len), "--threads", str(args.threads), "--warmup", str(args.warmup),
           "--iters", "1",
           "--out", str(out), "--collective-iters", "1", "--collective-bytes", "256"]
    cmd += ["--weight-dtype", dtype]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    with open(out / "bench.csv") as f:
        row = list(csv.DictReader(f))[-1]
    return float(row["images_per_s"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="mid")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=16)
    ap.add_argument("--prompt-len", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="engine warm-up iterations (HF warms up on one image)")
    ap.add_argument("--sides", default="engine_f32,engine_bf16,hf_f32,hf_bf16",
                    help="comma list of engine_f32 / engine_bf16 (the engine's --dtype), hf_f32, hf_bf16")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "pg-hf-compare"))
    ap.add_argument("--hf-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--hf-dir", help=argparse.SUPPRESS)
    ap.add_argument("--hf-dtype", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hf_worker:
        return hf_worker(args)

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    hf_dir, h5 = build(args.shape, work)
    sides = args.sides.split(",")
    results = {s: [] for s in sides}
    print(f"# shape {args.shape}, threads {args.threads}, batch {args.batch}, images {args.images}, "
          f"new tokens {args.new_tokens}, prompt {args.prompt_len}", flush=True)
    for r in range(args.repeats):
        for side in sides:
            rss_file = work / f"{side}-peak-rss-{r}.txt"
            if side.startswith("engine_"):
                ips = engine_run(args, h5, work / f"{side}-out-{r}", side.split("_")[1], rss_file)
            else:
                out = subprocess.run(peak_rss_prefix(rss_file) + [sys.executable, __file__, "--hf-worker", "--hf-dir", str(hf_dir), "--hf-dtype",
                                      side.split("_")[1], "--threads", str(args.threads), "--batch", str(args.batch),
                                      "--images", str(args.images), "--new-tokens", str(args.new_tokens),
                                      "--prompt-len", str(args.prompt_len)],
                                     check=True, capture_output=True, text=True)
                ips = json.loads(out.stdout.strip().splitlines()[-1])["images_per_s"]
            results[side].append(ips)
            print(f"repeat {r} {side:8s} {ips:8.3f} images/s, peak RSS {read_peak_rss_gb(rss_file):.2f} GB", flush=True)
    med = {s: statistics.median(v) for s, v in results.items()}
    print("median images/s: " + ", ".join(f"{s} {v:.3f}" for s, v in med.items()))
    for e in (s for s in sides if s.startswith("engine_")):
        for s in (s for s in sides if s.startswith("hf_")):
            print(f"{e} / {s}: {med[e] / med[s]:.2f}x")


if __name__ == "__main__":
    main()
