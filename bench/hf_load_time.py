#!/usr/bin/env python3
"""Hugging Face transformers' load time and peak resident set for a saved PaliGemma, for the
load-time comparison of docs/BENCHMARKS.md ("Loading: peak RSS and load time").

    /tmp/hfenv/bin/python bench/hf_load_time.py --hf-dir /tmp/pg-hf-compare/hf-mid --dtype bf16 --threads 2

Loads with `PaliGemmaForConditionalGeneration.from_pretrained(dir, dtype=...)` in this process
and prints one JSON line: load seconds, the bytes of the parameters as loaded, and the peak
resident set (ru_maxrss) before and after. Run once per dtype (a fresh process each time).
The HF directory comes from bench/hf_compare.py (random weights, save_pretrained).
Not run by CI (needs torch + transformers from PyPI).
"""
import argparse
import json
import resource
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hf-dir", required=True)
    ap.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch
    from transformers import PaliGemmaForConditionalGeneration
    torch.set_num_threads(args.threads)
    dtype = torch.float32 if args.dtype == "f32" else torch.bfloat16
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    model = PaliGemmaForConditionalGeneration.from_pretrained(args.hf_dir, dtype=dtype).eval()
    load_s = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    print(json.dumps(dict(dtype=args.dtype, load_s=round(load_s, 3), weight_bytes=weights, peak_rss_before=before,
                          peak_rss=peak, peak_over_weights=round(peak / weights, 3))))


if __name__ == "__main__":
    main()
