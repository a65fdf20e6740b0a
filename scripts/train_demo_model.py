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

Recipe (assets/demo_model/README.md): stage 1 trains the SigLIP tower alone with a throw-away
classifier head (black/white shapes first, then all colours); stage 2 trains the whole model on
captions. Deterministic: fixed seeds, one thread, one DataLoader worker with its own fixed stream.

Usage:
  scripts/train_demo_model.py                 # train + save + eval (about 20 min on 2 cores)
  scripts/train_demo_model.py --eval-only     # re-run the eval on the saved model
  scripts/train_demo_model.py --self-test     # checks the HF prefix-LM mask on a random model
"""
import argparse
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
MAX_NEW_TOKENS = 40  # the longest caption is 32 tokens + eos with tiny.model

# Palette: the base RGB of each colour word (close to scripts/make_sample_images.py's values).
COLOURS = {
    "red": (215, 30, 35),
    "green": (30, 155, 40),
    "blue": (30, 60, 205),
    "yellow": (245, 215, 25),
    "orange": (250, 140, 0),
    "white": (250, 250, 250),
    "black": (8, 8, 8),
    "grey": (128, 128, 128),
}
SKY = {"light blue": (170, 220, 255), "blue": (40, 90, 210), "grey": (150, 150, 150)}
SUN = ["yellow", "orange", "white", "red"]
FIELD = ["green", "yellow", "white"]
SHAPES = {"circle": "circles", "square": "squares", "triangle": "triangles", "cross": "crosses",
          "ring": "rings"}


def article(word):
    return "an" if word[0] in "aeiou" else "a"


# ---------------------------------------------------------------------------------------------
# Synthetic images. Every image is drawn at its own canvas size (square or not, 64..224 px) and
# then squashed to 64x64 by to_pixels, exactly as the engine resizes a non-square input.
# ---------------------------------------------------------------------------------------------
def jitter(rgb, rng, amount=15):
    return tuple(int(np.clip(c + rng.randint(-amount, amount), 0, 255)) for c in rgb)


def draw_shape(draw, shape, cx, cy, r, fill, hole, rng):
    """One shape of 'radius' r (half its extent) centred at (cx, cy)."""
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
        ri = r * rng.uniform(0.45, 0.7)
        draw.ellipse([cx - ri, cy - ri, cx + ri, cy + ri], fill=hole)
    elif shape == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "triangle":  # upright, apex at the top, width/height varies
        w = r * rng.uniform(0.85, 1.1)
        draw.polygon([(cx, cy - r), (cx + w, cy + r * 0.8), (cx - w, cy + r * 0.8)], fill=fill)
    elif shape == "cross":  # a plus sign
        t = r * rng.uniform(0.22, 0.4)
        draw.rectangle([cx - t, cy - r, cx + t, cy + r], fill=fill)
        draw.rectangle([cx - r, cy - t, cx + r, cy + t], fill=fill)
    else:
        raise ValueError(shape)


def random_canvas(rng):
    if rng.random() < 0.5:
        s = rng.choice([64, 96, 128, 160, 192, 224, 224, 224])
        return s, s
    h = rng.randint(96, 200)  # landscape, width/height up to 1.6, like the 200x150 / 192x128 samples
    w = int(min(224, h * rng.uniform(1.0, 1.6)))
    return w, h


SHAPE_NAMES = sorted(SHAPES)
COLOUR_NAMES = sorted(COLOURS)
NUM_KINDS = 2 * len(SHAPE_NAMES) + 1  # one shape, two shapes, or the sun scene (vision pretraining)


def render_shapes(rng, palette=COLOUR_NAMES):
    """One or two shapes of one colour on a plain background of another colour (both drawn from
    palette). Returns (image, caption, (kind, colour index, background index))."""
    shape = rng.choice(SHAPE_NAMES)
    colour, background = rng.sample(palette, 2)
    w, h = random_canvas(rng)
    bg = jitter(COLOURS[background], rng)
    fill = jitter(COLOURS[colour], rng)
    img = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(img)
    m = min(w, h)
    two = rng.random() < 0.3
    target = (SHAPE_NAMES.index(shape) + (len(SHAPE_NAMES) if two else 0),
              COLOUR_NAMES.index(colour), COLOUR_NAMES.index(background))
    if two:  # two equal shapes side by side about a point near the centre, like the sample image
        long_side, short_side = w, h  # w >= h: random_canvas is square or landscape
        r = min(m * rng.uniform(0.17, 0.27), long_side / 4.4)
        half = r + rng.uniform(0.1, 0.6) * r  # centre-to-midpoint distance: gap 0.2r..1.2r
        mid = long_side / 2 + rng.uniform(-1, 1) * min(0.08 * long_side, max(0.0, long_side / 2 - half - r))
        c0 = short_side / 2 + rng.uniform(-1, 1) * min(0.1 * short_side, max(0.0, short_side / 2 - r))
        for c in (mid - half, mid + half):
            draw_shape(draw, shape, c, c0, r, fill, bg, rng)
        return img, f"two {colour} {SHAPES[shape]} on {article(background)} {background} background", target
    r = m * rng.uniform(0.24, 0.47)
    # near the centre like the samples: offset up to 20% of the side, staying inside the canvas
    cx = w / 2 + rng.uniform(-1, 1) * min(0.2 * w, max(0.0, w / 2 - r))
    cy = h / 2 + rng.uniform(-1, 1) * min(0.2 * h, max(0.0, h / 2 - r))
    draw_shape(draw, shape, cx, cy, r, fill, bg, rng)
    return img, f"{article(colour)} {colour} {shape} on {article(background)} {background} background", target


def render_scene(rng):
    """A sun in the sky above a field (the 'sun_over_green_field' sample)."""
    sky, sun, field = rng.choice(sorted(SKY)), rng.choice(SUN), rng.choice(FIELD)
    w, h = random_canvas(rng)
    img = Image.new("RGB", (w, h), jitter(SKY[sky], rng))
    draw = ImageDraw.Draw(img)
    top = int(h * rng.uniform(0.55, 0.8))
    draw.rectangle([0, top, w, h], fill=jitter(COLOURS[field], rng))
    r = min(w, h) * rng.uniform(0.08, 0.16)
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, max(r + 1, top - r * 1.3))
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=jitter(COLOURS[sun], rng))
    caption = f"{article(sun)} {sun} sun in {article(sky)} {sky} sky above {article(field)} {field} field"
    return img, caption, (NUM_KINDS - 1, COLOUR_NAMES.index(sun), -100)


def augment(img, rng):
    """Round-trip through JPEG (4:2:0) some of the time, like a shipped .jpg sample."""
    if rng.random() < 0.3:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=rng.randint(70, 95))
        buf.seek(0)
        img = Image.open(buf).convert("RGB")
    return img


def sample_example(rng, with_target=False, palette=None):
    """A training example; with a palette (the stage-1 curriculum), shapes in those colours only."""
    if palette:
        img, cap, target = render_shapes(rng, palette)
    else:
        img, cap, target = render_scene(rng) if rng.random() < 0.12 else render_shapes(rng)
    img = augment(img, rng)
    return (img, cap, target) if with_target else (img, cap)


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
def to_pixels_float(img):
    """Like to_pixels but without uint8 rounding: torch bilinear antialias resize in float, the
    same filter as the engine's default (TF ScaleAndTranslate triangle kernel, io/image_resize.h)."""
    x = torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32)).permute(2, 0, 1)[None]
    x = torch.nn.functional.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear",
                                        antialias=True, align_corners=False)
    return x[0] / 127.5 - 1.0  # [3, 64, 64]


def greedy_captions(model, sp, images, max_new_tokens=MAX_NEW_TOKENS, batch=64, prep=to_pixels):
    """HF greedy generate for 'caption en'; returns decoded suffixes (stopped at eos)."""
    out = []
    pre = prompt_ids(sp)
    for i in range(0, len(images), batch):
        chunk = images[i:i + batch]
        n = len(chunk)
        ids = torch.tensor([pre] * n)
        gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                             token_type_ids=torch.zeros_like(ids),
                             pixel_values=torch.stack([prep(im) for im in chunk]),
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
class BatchStream(torch.utils.data.IterableDataset):
    def __init__(self, sp, batch, seed):
        self.sp_path, self.batch, self.seed = TOKENIZER, batch, seed

    def __iter__(self):
        torch.set_num_threads(1)
        sp = spm.SentencePieceProcessor(model_file=self.sp_path)
        rng = random.Random(self.seed)
        while True:
            yield make_batch(sp, [sample_example(rng) for _ in range(self.batch)])


class VisionStream(torch.utils.data.IterableDataset):
    """Stage-1 batches: pixels [batch, 3, 64, 64] and targets [batch, 3] (kind, colour, background)."""
    def __init__(self, batch, seed, palette=None):
        self.batch, self.seed, self.palette = batch, seed, palette

    def __iter__(self):
        torch.set_num_threads(1)
        rng = random.Random(self.seed)
        while True:
            ex = [sample_example(rng, True, self.palette) for _ in range(self.batch)]
            yield torch.stack([to_pixels(im) for im, _, _ in ex]), torch.tensor([t for _, _, t in ex])


class ProbeHead(torch.nn.Module):
    """Throw-away stage-1 head (not saved): one learned query attends over the 64 vision tokens
    (like SigLIP's MAP head), then linear classifiers for kind / colour / background; plus a
    per-token kind classifier, so that every token must gather the whole image's shape and count
    (dense supervision: 64 labels per image instead of 1)."""
    def __init__(self, width):
        super().__init__()
        self.probe = torch.nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.attn = torch.nn.MultiheadAttention(width, 4, batch_first=True)
        self.out = torch.nn.Linear(width, NUM_KINDS + 2 * len(COLOUR_NAMES))
        self.per_token = torch.nn.Linear(width, NUM_KINDS)

    def forward(self, tokens):
        """tokens: [batch, patches, width] -> ([batch, kinds + 2 * colours], [batch, patches, kinds])"""
        q = self.probe.expand(tokens.shape[0], -1, -1)
        return self.out(self.attn(q, tokens, tokens, need_weights=False)[0][:, 0]), self.per_token(tokens)


def pretrain_vision(model, args):
    """Stage 1: train the SigLIP tower alone (5x cheaper per example than captioning) to classify
    shape+count / colour / background, with a curriculum: black-and-white images first
    (--bw-steps), then all colours (--vision-steps). Without the curriculum the colour/edge
    entanglement of the linear patch embedding makes shape learning several times slower."""
    tower = model.model.vision_tower
    head = ProbeHead(tower.config.hidden_size)
    params = list(tower.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.vision_lr, betas=(0.9, 0.98), weight_decay=0.01)
    total = args.bw_steps + args.vision_steps

    def stream(palette, seed):
        return iter(torch.utils.data.DataLoader(VisionStream(args.vision_batch, seed, palette),
                                                batch_size=None, num_workers=1, prefetch_factor=4))

    loader = stream(["black", "white"], args.seed + 2) if args.bw_steps else None
    nc, t0, window, log = len(COLOUR_NAMES), time.time(), [], []
    ce = torch.nn.functional.cross_entropy
    for step in range(total):
        if step == args.bw_steps:
            del loader
            loader = stream(None, args.seed + 1)
        frac = step / total
        for g in opt.param_groups:
            g["lr"] = args.vision_lr * min(1.0, (step + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        pixels, target = next(loader)
        out, per_token = head(tower(pixel_values=pixels).last_hidden_state)
        kind = target[:, 0]
        loss = (ce(per_token.reshape(-1, NUM_KINDS), kind.repeat_interleave(per_token.shape[1]))
                + ce(out[:, :NUM_KINDS], kind) + ce(out[:, NUM_KINDS:NUM_KINDS + nc], target[:, 1])
                + ce(out[:, NUM_KINDS + nc:], target[:, 2], ignore_index=-100))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        acc = (out[:, :NUM_KINDS].argmax(-1) == target[:, 0]).float().mean().item()
        window.append((loss.item(), acc))
        if (step + 1) % args.vision_log_every == 0:
            l, a = (sum(x) / len(window) for x in zip(*window))
            log.append((step + 1, l, a, time.time() - t0))
            print(f"vision step {step + 1:5d}  loss {l:.4f}  kind acc {a:.3f}  {time.time() - t0:6.0f}s",
                  flush=True)
            window = []
    return log


def train(args, sp):
    torch.manual_seed(args.seed)
    model = PaliGemmaForConditionalGeneration(make_config())
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params}")
    t_start = time.time()
    vision_log = pretrain_vision(model, args) if args.bw_steps + args.vision_steps else []
    # Stage 2: the whole model on captions; the pretrained tower moves at half the learning rate.
    tower_ids = {id(p) for p in model.model.vision_tower.parameters()}
    groups = [{"params": [p for p in model.parameters() if id(p) in tower_ids], "scale": 0.5},
              {"params": [p for p in model.parameters() if id(p) not in tower_ids], "scale": 1.0}]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    warmup = max(1, args.steps // 20)

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        t = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))

    # The batches are drawn in one DataLoader worker (the second core) from random.Random(seed):
    # a fixed stream, so a run is reproducible; the held-out set uses seed + 1000.
    loader = iter(torch.utils.data.DataLoader(BatchStream(sp, args.batch, args.seed), batch_size=None,
                                              num_workers=1, prefetch_factor=4))
    samples = load_samples()
    log, t0, window = [], time.time(), []
    model.train()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step) * g["scale"]
        batch = next(loader)
        loss = suffix_loss(model, batch)
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
        if samples and ((step + 1) % args.eval_every == 0):
            model.eval()
            caps = greedy_captions(model, sp, [im for _, im, _ in samples])
            ok = sum(c == want for c, (_, _, want) in zip(caps, samples))
            print(f"  samples {ok}/{len(samples)}: " + " | ".join(caps), flush=True)
            model.train()
    model.eval()
    return model, vision_log, log, time.time() - t_start


def suffix_loss(model, batch):
    """Cross-entropy of the suffix tokens, same value as HF's labels loss, but applies lm_head only
    where a label exists (the 64 image tokens dominate the sequence; this saves ~1/4 of the step)."""
    labels = batch["labels"]
    hidden = model.model(**{k: v for k, v in batch.items() if k != "labels"}).last_hidden_state
    target = labels[:, 1:]  # position t predicts token t+1
    keep = target != -100
    logits = model.lm_head(hidden[:, :-1][keep])  # [n_suffix, vocab]
    return torch.nn.functional.cross_entropy(logits.float(), target[keep])


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


def per_kind_accuracy(held, caps):
    """One line per caption kind ('circle', 'two circles', 'sun scene', ...) of the held-out set."""
    ok, tot = {}, {}
    for (_, want), got in zip(held, caps):
        w = want.split()
        kind = "sun scene" if " sun " in want else ("two " + w[2] if w[0] == "two" else w[2])
        tot[kind] = tot.get(kind, 0) + 1
        ok[kind] = ok.get(kind, 0) + (got == want)
    return ["  " + ", ".join(f"{k} {ok[k]}/{tot[k]}" for k in sorted(tot))]


def evaluate(model, sp, args):
    lines = []
    samples = load_samples()
    s_ok = f_ok = 0
    if samples:
        caps = greedy_captions(model, sp, [im for _, im, _ in samples])
        lines.append(f"# shipped samples ({SAMPLES_DIR}): file | expected | greedy caption | ok")
        for (name, _, want), got in zip(samples, caps):
            s_ok += got == want
            lines.append(f"{name} | {want} | {got} | {'OK' if got == want else 'WRONG'}")
        caps = greedy_captions(model, sp, [im for _, im, _ in samples], prep=to_pixels_float)
        lines.append("# shipped samples again, float bilinear-antialias resize (torch), as the engine does")
        for (name, _, want), got in zip(samples, caps):
            f_ok += got == want
            lines.append(f"{name} | {want} | {got} | {'OK' if got == want else 'WRONG'}")
    held = heldout_set(args.heldout, seed=args.seed + 1000)
    caps = greedy_captions(model, sp, [im for im, _ in held])
    h_ok = sum(got == want for (_, want), got in zip(held, caps))
    lines.append(f"# held-out synthetic set (seed {args.seed + 1000}): index | expected | greedy caption | ok")
    for i, ((_, want), got) in enumerate(zip(held, caps)):
        lines.append(f"{i} | {want} | {got} | {'OK' if got == want else 'WRONG'}")
    head = [f"# HF PaliGemmaForConditionalGeneration greedy generate, prompt '{PROMPT}', "
            f"max_new_tokens {MAX_NEW_TOKENS}, PIL BILINEAR resize to {IMAGE_SIZE}",
            f"samples accuracy: {s_ok}/{len(samples)} (PIL BILINEAR uint8), "
            f"{f_ok}/{len(samples)} (float bilinear antialias)",
            f"held-out accuracy: {h_ok}/{len(held)}"] + per_kind_accuracy(held, caps)
    print("\n".join(head))
    with open(os.path.join(OUT_DIR, "eval.txt"), "w") as f:
        f.write("\n".join(head + lines) + "\n")
    return s_ok, len(samples), h_ok, len(held)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--steps", type=int, default=1200, help="stage 2: captioning")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--heldout", type=int, default=500)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--bw-steps", type=int, default=2000, help="stage 1a: black/white shapes")
    ap.add_argument("--vision-steps", type=int, default=20000, help="stage 1b: all colours")
    ap.add_argument("--vision-batch", type=int, default=8)
    ap.add_argument("--vision-lr", type=float, default=2e-3)
    ap.add_argument("--vision-log-every", type=int, default=1000)
    ap.add_argument("--eval-every", type=int, default=400)
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
        model, vision_log, log, secs = train(args, sp)
        os.makedirs(OUT_DIR, exist_ok=True)
        model.save_pretrained(OUT_DIR, safe_serialization=True)
        with open(os.path.join(OUT_DIR, "train_log.txt"), "w") as f:
            f.write(f"# bw_steps {args.bw_steps} vision_steps {args.vision_steps} vision_batch "
                    f"{args.vision_batch} vision_lr {args.vision_lr} | steps {args.steps} batch {args.batch} "
                    f"lr {args.lr} | seed {args.seed} threads {args.threads} wall {secs:.0f}s\n")
            f.write("# stage 1 (vision tower + probe head): step loss kind_accuracy seconds\n")
            f.writelines(f"{s} {l:.5f} {a:.3f} {t:.1f}\n" for s, l, a, t in vision_log)
            f.write("# stage 2 (captioning, whole model): step loss seconds\n")
            f.writelines(f"{s} {l:.5f} {t:.1f}\n" for s, l, t in log)
        print(f"training wall time: {secs:.0f}s")
    evaluate(model, sp, args)


if __name__ == "__main__":
    sys.exit(main())
