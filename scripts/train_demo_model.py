#!/usr/bin/env python3
"""Trains the embedded demo model: a tiny PaliGemma that captions synthetic coloured shapes.

Writes assets/demo_model/{config.json, model.safetensors} (HF save_pretrained, float32) and
assets/demo_model/eval.txt (greedy captions for assets/images/* and a held-out synthetic set).

Input format is exactly PaliGemma's (docs: ../shared/MODEL_FACTS.md 1.7):
  input_ids      = [IMAGE]*64 + [bos] + sp("caption en") + sp("\n") + sp(suffix) + [eos]
  token_type_ids = 0 over image/prefix/"\n", 1 over suffix+eos (HF: prefix bidirectional, suffix causal)
  labels         = -100 over the prefix, the suffix ids + eos after it
  pixel_values   = PIL BILINEAR resize to 64x64 of the uint8 RGB image, /127.5 - 1, NCHW
IMAGE = 1600 = text vocab_size: HF PaliGemma replaces ids >= vocab_size by 0 before the embedding
lookup (modeling_paligemma.py "Replace image id with PAD if the image token if OOV"), so the
embedding keeps exactly 1600 rows.

Usage:
  scripts/train_demo_model.py                 # train + save + eval (about 10 min on 2 cores)
  scripts/train_demo_model.py --eval-only     # re-run the eval on the saved model
  scripts/train_demo_model.py --self-test     # checks the HF prefix-LM mask on a random model
"""
import argparse
import glob
import io
import math
import os
import random
import sys
import time

import numpy as np
import sentencepiece as spm
import torch
from PIL import Image, ImageDraw
from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER = os.path.join(ROOT, "assets/tokenizer/tiny.model")
OUT_DIR = os.path.join(ROOT, "assets/demo_model")
SAMPLES_DIR = os.path.join(ROOT, "assets/images")

IMAGE_SIZE = 64
PATCH_SIZE = 8
NUM_IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2  # 64
VOCAB_SIZE = 1600
IMAGE_TOKEN = VOCAB_SIZE  # one beyond the text vocabulary; never looked up in the embedding
PAD, EOS, BOS = 0, 1, 2
PROMPT = "caption en"
MAX_NEW_TOKENS = 12

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 60, 220),
    "yellow": (245, 220, 30),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
SHAPES = ["circle", "square", "triangle", "star"]


def caption_for(shape, colour, background):
    return f"a {colour} {shape} on a {background} background"


# ---------------------------------------------------------------------------------------------
# Synthetic images
# ---------------------------------------------------------------------------------------------
def shape_polygon(shape, cx, cy, r):
    """Vertices (or the bbox for a circle) of a shape of 'radius' r centred at (cx, cy)."""
    if shape == "circle":
        return [cx - r, cy - r, cx + r, cy + r]
    if shape == "square":
        s = r * 0.88  # a square of the same visual weight as the circle
        return [(cx - s, cy - s), (cx + s, cy - s), (cx + s, cy + s), (cx - s, cy + s)]
    if shape == "triangle":  # upright, apex at the top
        return [(cx, cy - r), (cx + r * 0.98, cy + r * 0.8), (cx - r * 0.98, cy + r * 0.8)]
    if shape == "star":  # five points, one pointing up, inner radius 0.45 r
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else r * 0.45
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
        return pts
    raise ValueError(shape)


def jitter(rgb, rng, amount):
    return tuple(int(np.clip(c + rng.randint(-amount, amount), 0, 255)) for c in rgb)


def render(shape, colour, background, rng, canvas):
    """One shape of one colour on a plain background; returns (PIL RGB image, box yxyx in px)."""
    img = Image.new("RGB", (canvas, canvas), jitter(COLOURS[background], rng, 12))
    draw = ImageDraw.Draw(img)
    r = canvas * rng.uniform(0.14, 0.40)
    cx = rng.uniform(r, canvas - r)
    cy = rng.uniform(r, canvas - r)
    poly = shape_polygon(shape, cx, cy, r)
    fill = jitter(COLOURS[colour], rng, 12)
    if shape == "circle":
        draw.ellipse(poly, fill=fill)
        xs, ys = [poly[0], poly[2]], [poly[1], poly[3]]
    else:
        draw.polygon(poly, fill=fill)
        xs, ys = [p[0] for p in poly], [p[1] for p in poly]
    return img, (min(ys), min(xs), max(ys), max(xs))


def augment(img, rng):
    """Round-trip through JPEG some of the time, like a shipped .jpg sample."""
    if rng.random() < 0.3:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=rng.randint(60, 95))
        buf.seek(0)
        img = Image.open(buf).convert("RGB")
    return img


def sample_example(rng):
    shape = rng.choice(SHAPES)
    colour, background = rng.sample(sorted(COLOURS), 2)
    canvas = rng.choice([64, 96, 128, 160, 224, 224, 224])
    img, _ = render(shape, colour, background, rng, canvas)
    return augment(img, rng), caption_for(shape, colour, background)


def to_pixels(img):
    """uint8 RGB PIL image -> [3, 64, 64] float in [-1, 1] (PIL BILINEAR, antialiased when reducing)."""
    img = img.convert("RGB")
    if img.size != (IMAGE_SIZE, IMAGE_SIZE):
        img = img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
    x = np.asarray(img, dtype=np.float32) / 127.5 - 1.0  # [H, W, 3]
    return torch.from_numpy(x).permute(2, 0, 1).contiguous()  # [3, H, W]


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------
def prompt_ids(sp):
    return [IMAGE_TOKEN] * NUM_IMAGE_TOKENS + [BOS] + sp.encode(PROMPT) + sp.encode("\n")


def make_batch(sp, examples):
    """examples: list of (PIL image, caption). Right-pads with PAD; returns model kwargs."""
    rows = []
    for _, cap in examples:
        pre = prompt_ids(sp)
        suf = sp.encode(cap) + [EOS]
        rows.append((pre, suf))
    seq = max(len(p) + len(s) for p, s in rows)
    n = len(rows)
    input_ids = torch.full((n, seq), PAD, dtype=torch.long)  # [batch, seq]
    token_type = torch.ones((n, seq), dtype=torch.long)
    attn = torch.zeros((n, seq), dtype=torch.long)
    labels = torch.full((n, seq), -100, dtype=torch.long)
    for i, (pre, suf) in enumerate(rows):
        L = len(pre) + len(suf)
        input_ids[i, :L] = torch.tensor(pre + suf)
        token_type[i, : len(pre)] = 0
        attn[i, :L] = 1
        labels[i, len(pre):L] = torch.tensor(suf)
    pixels = torch.stack([to_pixels(img) for img, _ in examples])  # [batch, 3, 64, 64]
    return dict(input_ids=input_ids, token_type_ids=token_type, attention_mask=attn,
                labels=labels, pixel_values=pixels)


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------
def make_config():
    text = dict(model_type="gemma", vocab_size=VOCAB_SIZE, hidden_size=128, intermediate_size=256,
                num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=1, head_dim=32,
                hidden_activation="gelu_pytorch_tanh", rms_norm_eps=1e-6, rope_theta=10000.0,
                max_position_embeddings=256, pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS)
    vision = dict(model_type="siglip_vision_model", image_size=IMAGE_SIZE, patch_size=PATCH_SIZE,
                  hidden_size=96, intermediate_size=192, num_hidden_layers=2, num_attention_heads=4,
                  layer_norm_eps=1e-6, hidden_act="gelu_pytorch_tanh", vision_use_head=False,
                  num_channels=3)
    return PaliGemmaConfig(text_config=text, vision_config=vision, image_token_index=IMAGE_TOKEN,
                           projection_dim=128, hidden_size=128, vocab_size=VOCAB_SIZE,
                           pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS)


@torch.no_grad()
def greedy_captions(model, sp, images, max_new_tokens=MAX_NEW_TOKENS, batch=64):
    """HF greedy generate for 'caption en'; returns decoded suffixes (stopped at eos)."""
    out = []
    pre = prompt_ids(sp)
    for i in range(0, len(images), batch):
        chunk = images[i:i + batch]
        n = len(chunk)
        ids = torch.tensor([pre] * n)
        gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                             token_type_ids=torch.zeros_like(ids),
                             pixel_values=torch.stack([to_pixels(im) for im in chunk]),
                             max_new_tokens=max_new_tokens, do_sample=False,
                             eos_token_id=EOS, pad_token_id=PAD)
        for row in gen[:, len(pre):].tolist():
            if EOS in row:
                row = row[:row.index(EOS)]
            out.append(sp.decode([t for t in row if t != PAD]))
    return out


def self_test(sp):
    """The HF mask must be prefix-bidirectional and suffix-causal (token_type_ids 0 / 1)."""
    torch.manual_seed(0)
    model = PaliGemmaForConditionalGeneration(make_config()).eval()
    rng = random.Random(0)
    ex = [sample_example(rng)]
    b = make_batch(sp, ex)
    b.pop("labels")
    base = model(**b).logits[0]
    npre = len(prompt_ids(sp))
    # Changing the last prefix token ("\n") must change logits at the first image position.
    b2 = {k: v.clone() for k, v in b.items()}
    b2["input_ids"][0, npre - 2] = 1500
    assert not torch.allclose(model(**b2).logits[0, 0], base[0]), "prefix is not bidirectional"
    # Changing a suffix token must not change any earlier position.
    b3 = {k: v.clone() for k, v in b.items()}
    j = npre + 3
    b3["input_ids"][0, j] = 1500
    l3 = model(**b3).logits[0]
    assert torch.allclose(l3[:j], base[:j], atol=1e-5), "suffix token leaks backwards"
    assert not torch.allclose(l3[j], base[j]), "suffix token has no effect"
    print("self-test: prefix bidirectional, suffix causal: OK")


# ---------------------------------------------------------------------------------------------
# Training and evaluation
# ---------------------------------------------------------------------------------------------
def train(args, sp):
    torch.manual_seed(args.seed)
    model = PaliGemmaForConditionalGeneration(make_config())
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params}")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    warmup = max(1, args.steps // 20)

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        t = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))

    rng = random.Random(args.seed)  # training stream; held-out eval uses a different seed
    log, t0, window = [], time.time(), []
    model.train()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        batch = make_batch(sp, [sample_example(rng) for _ in range(args.batch)])
        loss = model(**batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        window.append(loss.item())
        if (step + 1) % args.log_every == 0 or step == 0:
            mean = sum(window) / len(window)
            log.append((step + 1, mean, time.time() - t0))
            print(f"step {step + 1:5d}  loss {mean:.4f}  lr {lr_at(step):.2e}  {time.time() - t0:6.0f}s",
                  flush=True)
            window = []
    model.eval()
    return model, log, time.time() - t0


def heldout_set(n, seed):
    rng = random.Random(seed)
    return [sample_example(rng) for _ in range(n)]


def load_samples():
    """assets/images/labels.txt lines: '<file> <caption...>' (tab or first-space separated)."""
    path = os.path.join(SAMPLES_DIR, "labels.txt")
    if not os.path.exists(path):
        return []
    out = []
    for line in open(path):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        name, label = (line.split("\t", 1) if "\t" in line else line.split(" ", 1))
        out.append((name.strip(), Image.open(os.path.join(SAMPLES_DIR, name.strip())).convert("RGB"),
                    label.strip()))
    return out


def evaluate(model, sp, args):
    lines = []
    samples = load_samples()
    s_ok = 0
    if samples:
        caps = greedy_captions(model, sp, [im for _, im, _ in samples])
        lines.append(f"# shipped samples ({SAMPLES_DIR}): file | expected | greedy caption | ok")
        for (name, _, want), got in zip(samples, caps):
            s_ok += got == want
            lines.append(f"{name} | {want} | {got} | {'OK' if got == want else 'WRONG'}")
    held = heldout_set(args.heldout, seed=args.seed + 1000)
    caps = greedy_captions(model, sp, [im for im, _ in held])
    h_ok = sum(got == want for (_, want), got in zip(held, caps))
    lines.append(f"# held-out synthetic set (seed {args.seed + 1000}): index | expected | greedy caption | ok")
    for i, ((_, want), got) in enumerate(zip(held, caps)):
        lines.append(f"{i} | {want} | {got} | {'OK' if got == want else 'WRONG'}")
    head = [f"# HF PaliGemmaForConditionalGeneration greedy generate, prompt '{PROMPT}', "
            f"max_new_tokens {MAX_NEW_TOKENS}, PIL BILINEAR resize to {IMAGE_SIZE}",
            f"samples accuracy: {s_ok}/{len(samples)}",
            f"held-out accuracy: {h_ok}/{len(held)}"]
    print("\n".join(head))
    with open(os.path.join(OUT_DIR, "eval.txt"), "w") as f:
        f.write("\n".join(head + lines) + "\n")
    return s_ok, len(samples), h_ok, len(held)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--heldout", type=int, default=500)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sp = spm.SentencePieceProcessor(model_file=TOKENIZER)
    assert sp.get_piece_size() == VOCAB_SIZE and sp.encode("\n") == [4], "unexpected tokenizer"
    if args.self_test:
        self_test(sp)
        return
    if args.eval_only:
        model = PaliGemmaForConditionalGeneration.from_pretrained(OUT_DIR).eval()
    else:
        model, log, secs = train(args, sp)
        os.makedirs(OUT_DIR, exist_ok=True)
        model.save_pretrained(OUT_DIR, safe_serialization=True)
        with open(os.path.join(OUT_DIR, "train_log.txt"), "w") as f:
            f.write(f"# steps {args.steps} batch {args.batch} lr {args.lr} seed {args.seed} "
                    f"threads {args.threads} wall {secs:.0f}s\n")
            f.writelines(f"{s} {l:.5f} {t:.1f}\n" for s, l, t in log)
        print(f"training wall time: {secs:.0f}s")
    evaluate(model, sp, args)


if __name__ == "__main__":
    sys.exit(main())
