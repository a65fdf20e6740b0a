#!/usr/bin/env python3
"""The bf16 error budget for the engine's --dtype bf16 gate (tests/bf16_weights_test.cc):
Hugging Face transformers runs each HF fixture (tests/fixtures/hf/*) in fp32 and in bf16
(`from_pretrained(dtype=torch.bfloat16)`, what an HF user picks for speed), greedy, per example,
and this script writes the max |logit_bf16 - logit_fp32| / max|logit_fp32| over the steps where
both runs chose the same tokens so far to tests/fixtures/hf/<case>/hf_bf16_error.json.

    /path/to/venv/bin/python tests/golden/hf_bf16_error.py     # torch, transformers, h5py (PyPI)
"""
import json
from pathlib import Path

import h5py
import numpy as np
import torch
from transformers import PaliGemmaForConditionalGeneration

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests/fixtures/hf"


def generate(model, ids, pix, steps, eos, pad):
    with torch.no_grad():
        out = model.generate(input_ids=ids, pixel_values=pix, attention_mask=torch.ones_like(ids),
                             token_type_ids=torch.zeros_like(ids), max_new_tokens=steps, do_sample=False,
                             eos_token_id=eos, pad_token_id=pad, output_logits=True, return_dict_in_generate=True)
    toks = out.sequences[0, ids.shape[1]:].tolist()
    logits = torch.stack(out.logits, 0)[:, 0].float().numpy()
    return toks, logits


def main():
    torch.set_num_threads(2)
    for case in sorted(p for p in FIXTURES.iterdir() if (p / "reference.h5").exists()):
        with h5py.File(case / "reference.h5", "r") as f:
            ids_all, lens = f["text_ids"][()], f["text_len"][()]
            pixels, steps = f["pixel_values"][()], f["logits"].shape[1]
            vocab = f["logits"].shape[2]
        f32 = PaliGemmaForConditionalGeneration.from_pretrained(case, dtype=torch.float32).eval()
        bf16 = PaliGemmaForConditionalGeneration.from_pretrained(case, dtype=torch.bfloat16).eval()
        cfg = f32.config
        n_img = (cfg.vision_config.image_size // cfg.vision_config.patch_size) ** 2
        worst, scale = 0.0, 0.0
        for b in range(len(lens)):
            ids = torch.tensor([[cfg.image_token_index] * n_img + ids_all[b, :lens[b]].tolist()])
            pix = torch.from_numpy(pixels[b]).permute(2, 0, 1)[None].contiguous()
            ta, la = generate(f32, ids, pix, steps, cfg.eos_token_id, cfg.pad_token_id)
            tb, lb = generate(bf16, ids, pix.to(torch.bfloat16), steps, cfg.eos_token_id, cfg.pad_token_id)
            for s in range(min(len(la), len(lb))):
                worst = max(worst, float(np.abs(la[s, :vocab] - lb[s, :vocab]).max()))
                scale = max(scale, float(np.abs(la[s, :vocab]).max()))
                if ta[s] != tb[s]:
                    break
        result = dict(max_abs_logit_error=worst, max_abs_logit=scale, relative=worst / scale,
                      note="HF transformers bf16 vs fp32 on this fixture, greedy, common-prefix steps")
        (case / "hf_bf16_error.json").write_text(json.dumps(result, indent=1) + "\n")
        print(case.name, result)


if __name__ == "__main__":
    main()
