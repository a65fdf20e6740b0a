#!/usr/bin/env python3
"""Golden fixtures from Hugging Face transformers for tiny random PaliGemma models.

Run from anywhere: `python3 tests/golden/make_fixtures.py` (writes tests/fixtures/hf/<case>/). Deterministic: fixed
seeds, fp32, CPU, one thread, eager attention. See tests/golden/README.md for the layout and the semantics.
"""
import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

# transformers version the fixtures were made with; the mask semantics below are version-specific.
PINNED = {"torch": "torch", "transformers": "transformers==5.23.0", "safetensors": "safetensors", "h5py": "h5py",
          "sentencepiece": "sentencepiece", "numpy": "numpy", "PIL": "pillow"}


def ensure_deps():
    missing = [pip for mod, pip in PINNED.items() if importlib.util.find_spec(mod) is None]
    if missing:
        print("pip install", *missing, flush=True)
        subprocess.check_call([sys.executable, "-m", "pip", "install", *missing])


ensure_deps()
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import sentencepiece as spm  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import GenerationConfig, PaliGemmaConfig, PaliGemmaForConditionalGeneration  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_ref  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / "assets/tokenizer/tiny.model"
OUT = ROOT / "tests/fixtures/hf"
MAX_NEW, PAD, EOS, BOS = 8, 0, 1, 2
INIT_STD = 0.2  # all parameters ...
DEC_PROJ_STD = 0.4  # ... except decoder q/k/v/o and MLP projections: stronger layers, so greedy does not just
# repeat the last token (with tied embeddings the residual copy of the input embedding otherwise dominates)
MARGIN_REL = 5e-3  # accept a seed only if every greedy top-1 margin >= MARGIN_REL * max|logit|

VISION = dict(model_type="siglip_vision_model", image_size=32, patch_size=8, hidden_size=48, num_attention_heads=4,
              num_hidden_layers=2, intermediate_size=80, layer_norm_eps=1e-6, hidden_act="gelu_pytorch_tanh",
              vision_use_head=False)
GEMMA1 = dict(model_type="gemma", hidden_size=64, num_attention_heads=4, num_key_value_heads=1, head_dim=24,
              num_hidden_layers=2, intermediate_size=96, hidden_act="gelu_pytorch_tanh", rms_norm_eps=1e-6)
GEMMA2 = dict(model_type="gemma2", hidden_size=80, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
              num_hidden_layers=2, intermediate_size=128, hidden_act="gelu_pytorch_tanh", rms_norm_eps=1e-6,
              query_pre_attn_scalar=24, attn_logit_softcapping=50.0, final_logit_softcapping=30.0, sliding_window=8)
CASES = [
    dict(name="gemma1_mqa", text=GEMMA1, pad_vocab=True, base_seed=1000, eos_scale=None,
         prompts=["caption en", "detect red circle"],
         desc="PaliGemma 1 (Gemma decoder): MQA (1 kv head), head_dim 24 != hidden/heads, embedding padded to a "
              "multiple of 64 rows like the Hub release; per-example greedy, batch 1"),
    dict(name="gemma1_batch", text=GEMMA1, pad_vocab=False, base_seed=2000, eos_scale=2.5,
         prompts=["caption en", "answer en what is this?", "detect dog ; cat",
                  "answer en how many red circles are in the image?"],
         desc="PaliGemma 1, 4 prompts of different lengths and images, unpadded embedding (image token id == vocab "
              "is out of range; HF maps it to id 0 before the lookup); some examples stop at EOS"),
    # Gemma 2's post norms fix each sublayer's output size, so the embedding (x sqrt(D)) would dominate the residual
    # and greedy would repeat the last token: smaller embedding std and post-norm scales (1 + w) around 3.
    dict(name="gemma2", text=GEMMA2, pad_vocab=True, base_seed=3000, eos_scale=None, emb_std=0.1, post_norm_mean=2.0,
         prompts=["caption en", "answer en what color is the sky?", "detect blue square"],
         desc="PaliGemma 2 (Gemma 2 decoder): GQA 4q/2kv, head_dim 16, query_pre_attn_scalar 24, attn softcap 50, "
              "final softcap 30, post norms, sliding_window 8 on layer 0 (layer 1 global)"),
]


def setup_determinism():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)


def build_model(case, vocab, seed):
    rows = ((vocab + 2 + 63) // 64) * 64 if case["pad_vocab"] else vocab  # HF converter: resize(vocab+2, 64)
    text = dict(case["text"], vocab_size=rows, pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS)
    cfg = PaliGemmaConfig(text_config=text, vision_config=dict(VISION), image_token_index=vocab,
                          projection_dim=text["hidden_size"], hidden_size=text["hidden_size"], vocab_size=rows,
                          pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS, attn_implementation="eager")
    torch.manual_seed(seed)
    model = PaliGemmaForConditionalGeneration(cfg).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            std = DEC_PROJ_STD if ("language_model" in name and "_proj." in name) else INIT_STD
            if "embed_tokens" in name:
                std = case.get("emb_std", INIT_STD)
            mean = 0.0
            if ("layer_norm" in name or "post_layernorm" in name) and name.endswith("weight"):
                mean = 1.0  # LayerNorm scales multiply directly (centre on 1); Gemma RMSNorm uses (1 + w)
            elif "language_model" in name and (".post_attention_" in name or ".post_feedforward_" in name):
                mean = case.get("post_norm_mean", 0.0)  # only set for Gemma 2 (Gemma 1's post_attention = pre-FFW)
            p.copy_(torch.randn(p.shape, generator=g) * std + mean)
        emb = model.get_input_embeddings().weight
        if case["eos_scale"]:
            emb[EOS] *= case["eos_scale"]  # make EOS win sometimes so early stopping is exercised
        if rows > vocab:  # like the Hub release: padding rows sampled tightly around the mean embedding
            mu = emb[:vocab].mean(0)
            emb[vocab:] = mu + 1e-3 * torch.randn((rows - vocab, emb.shape[1]), generator=g)
    return model, rows


def make_example(sp, prompt, rng, image_size, n_img, image_token):
    img = rng.integers(0, 256, size=(image_size, image_size, 3), dtype=np.uint8)
    pix = img.astype(np.float32) / np.float32(255.0) * np.float32(2.0) - np.float32(1.0)  # [H, W, 3]
    text = [BOS] + sp.encode(prompt) + sp.encode("\n")
    return dict(prompt=prompt, image=img, pix=pix, text=text, ids=[image_token] * n_img + text)


def hf_generate(model, ex):
    ids = torch.tensor([ex["ids"]])
    pix = torch.from_numpy(ex["pix"]).permute(2, 0, 1)[None].contiguous()  # NCHW
    gc = GenerationConfig(do_sample=False, max_new_tokens=MAX_NEW, eos_token_id=EOS, pad_token_id=PAD,
                          bos_token_id=BOS, output_logits=True, return_dict_in_generate=True)
    with torch.no_grad():
        out = model.generate(input_ids=ids, pixel_values=pix, attention_mask=torch.ones_like(ids),
                             token_type_ids=torch.zeros_like(ids),  # what PaliGemmaProcessor returns: all prefix
                             generation_config=gc)
    gen = out.sequences[0, ids.shape[1]:].tolist()
    logits = torch.stack(out.logits, 0)[:, 0].float().numpy()  # [steps, rows]
    if EOS in gen:
        gen = gen[: gen.index(EOS) + 1]
    return gen, logits[: len(gen)]


def hf_prompt_forward(model, ex):
    """Plain forward over the prompt: vit hidden, projected features, per-layer hidden states (hooks)."""
    ids = torch.tensor([ex["ids"]])
    pix = torch.from_numpy(ex["pix"]).permute(2, 0, 1)[None].contiguous()
    lm, layer_out = model.model.language_model, []
    hooks = [layer.register_forward_hook(lambda m, a, o: layer_out.append(o[0] if isinstance(o, tuple) else o))
             for layer in lm.layers]
    with torch.no_grad():
        img = model.model.get_image_features(pix)
        out = model(input_ids=ids, pixel_values=pix, token_type_ids=torch.zeros_like(ids), output_hidden_states=True)
        causal = model(input_ids=ids, pixel_values=pix).logits[0, -1].numpy()  # no token_type_ids: causal prompt
    for h in hooks:
        h.remove()
    hs = [out.hidden_states[0][0]] + [t[0] for t in layer_out[: len(lm.layers)]]
    assert torch.equal(out.image_hidden_states[0], img.pooler_output[0])
    return dict(vit=img.last_hidden_state[0].numpy(), img=img.pooler_output[0].numpy(),
                hidden=torch.stack(hs).numpy(), final=out.hidden_states[-1][0].numpy(),
                last_logits=out.logits[0, -1].numpy(), causal_last_logits=causal)


def acceptable(gens, logits_list, vocab, rows, want_eos):
    for gen, lg in zip(gens, logits_list):
        stuck = len(set(gen)) < len(gen) - 2 or any(a == b == c for a, b, c in zip(gen, gen[1:], gen[2:]))
        if max(gen) >= vocab or stuck:  # out of the text vocab, or greedy stuck repeating
            return False
        if lg.shape[1] > vocab and (lg[:, vocab:].max(1) >= lg[:, :vocab].max(1)).any():
            return False
    margins = [top1_margin(lg[:, :vocab]) for lg in logits_list]
    max_abs = max(np.abs(lg[:, :vocab]).max() for lg in logits_list)
    if min(m.min() for m in margins) < MARGIN_REL * max_abs:
        return False
    if want_eos:
        stops = [gen[-1] == EOS and len(gen) >= 3 for gen in gens]
        return any(stops) and not all(stops)
    return all(gen[-1] != EOS for gen in gens)


def top1_margin(lg):
    s = np.sort(lg, axis=1)
    return s[:, -1] - s[:, -2]


def to_np_weights(model):
    """State dict under the on-Hub names (vision_tower.vision_model.*, language_model.model.*, ...)."""
    sd = {}
    for k, v in model.state_dict().items():
        k = k.replace("model.vision_tower.", "vision_tower.vision_model.")
        k = k.replace("model.multi_modal_projector.", "multi_modal_projector.")
        k = k.replace("model.language_model.", "language_model.model.")
        if k != "lm_head.weight":  # tied to language_model.model.embed_tokens.weight; not stored on the Hub
            sd[k] = v.detach().contiguous().clone()
    return sd


def batched_left_pad_check(model, examples, gens):
    """For the record: HF batched generate with left padding vs the per-example runs."""
    T = max(len(e["ids"]) for e in examples)
    ids = torch.tensor([[PAD] * (T - len(e["ids"])) + e["ids"] for e in examples])
    am = torch.tensor([[0] * (T - len(e["ids"])) + [1] * len(e["ids"]) for e in examples])
    pix = torch.stack([torch.from_numpy(e["pix"]).permute(2, 0, 1) for e in examples]).contiguous()
    gc = GenerationConfig(do_sample=False, max_new_tokens=MAX_NEW, eos_token_id=EOS, pad_token_id=PAD)
    with torch.no_grad():
        seq = model.generate(input_ids=ids, pixel_values=pix, attention_mask=am, token_type_ids=torch.zeros_like(ids),
                             generation_config=gc)[:, T:].tolist()
    same = [s[: len(g)] == g for s, g in zip(seq, gens)]
    print(f"  batched left-padded generate == per-example: {same}  batched={seq}")
    return all(same)


def pick_seed(case, sp, vocab):
    """First seed whose greedy runs pass acceptable(). Returns (seed, model, rows, n_img, examples)."""
    for seed in range(case["base_seed"], case["base_seed"] + 400):
        model, rows = build_model(case, vocab, seed)
        vc = model.config.vision_config
        n_img = (vc.image_size // vc.patch_size) ** 2
        rng = np.random.default_rng(seed)
        exs = [make_example(sp, p, rng, vc.image_size, n_img, vocab) for p in case["prompts"]]
        res = [hf_generate(model, e) for e in exs]
        if acceptable([r[0] for r in res], [r[1] for r in res], vocab, rows, bool(case["eos_scale"])):
            for e, (gen, lg) in zip(exs, res):
                e["gen"], e["logits"] = gen, lg
            return seed, model, rows, n_img, exs
    raise RuntimeError(f"{case['name']}: no acceptable seed")


def write_and_reload(model, d, exs, vocab, rows, want_eos):
    """Writes config.json + model.safetensors (Hub names); returns the HF model re-loaded from them. Every
    reference output comes from that reload; it may change fp32 rounding (~1e-5) but no greedy token."""
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("*"):
        old.unlink()
    model.config.save_pretrained(d)
    save_file(to_np_weights(model), str(d / "model.safetensors"), metadata={"format": "pt"})
    (d / "model.safetensors").chmod(0o644)
    model = PaliGemmaForConditionalGeneration.from_pretrained(d, attn_implementation="eager").eval()
    for e in exs:
        gen, lg = hf_generate(model, e)
        assert gen == e["gen"] and np.abs(lg - e["logits"]).max() < 1e-4, f"{d}: reloaded safetensors differ"
        e["gen"], e["logits"] = gen, lg
    assert acceptable([e["gen"] for e in exs], [e["logits"] for e in exs], vocab, rows, want_eos)
    return model


def check_against_numpy(W, cfg, e, fw, vocab, ref_err, abl):
    """float64 NumPy reference (full recompute, no KV cache) vs HF, plus feature ablations (max |d logit|)."""
    gen, lg, T = e["gen"], e["logits"][:, :vocab], len(e["ids"])
    ref = numpy_ref.paligemma_forward(W, cfg, e["pix"], e["text"], gen[:-1], vocab)
    pairs = {"logits": (ref["step_logits"], lg), "vit": (ref["vit"], fw["vit"]), "img": (ref["img"], fw["img"]),
             "hidden": (np.stack([ref["embeds"]] + ref["layers"])[:, :T], fw["hidden"])}
    for k, (x, y) in pairs.items():  # max |diff| relative to max |value| of that tensor
        ref_err[k] = max(ref_err.get(k, 0.0), float(np.abs(x - y).max() / np.abs(x).max()))
    causal = numpy_ref.paligemma_forward(W, cfg, e["pix"], e["text"], [], vocab, prefix=False)["step_logits"][0]
    assert np.abs(causal - fw["causal_last_logits"][:vocab]).max() < 1e-3, "HF without token_type_ids != causal"
    abl["causal_prompt"] = max(abl.get("causal_prompt", 0.0), float(np.abs(causal - ref["step_logits"][0]).max()))
    for key, flags in (("no_sliding", dict(sliding=False)), ("no_attn_softcap", dict(attn_softcap=False)),
                       ("no_final_softcap", dict(final_softcap=False)), ("pos_base0", dict(pos_base=0))):
        alt = numpy_ref.paligemma_forward(W, cfg, e["pix"], e["text"], gen[:-1], vocab, **flags)["step_logits"]
        abl[key] = max(abl.get(key, 0.0), float(np.abs(alt - ref["step_logits"]).max()))
        if key == "no_sliding":  # the prefill step: the prefix block overrides the window
            d0 = float(np.abs(alt[0] - ref["step_logits"][0]).max())
            abl["no_sliding_step0"] = max(abl.get("no_sliding_step0", 0.0), d0)


def write_h5(path, attrs, exs, fws, vocab, n_img, L, D, texts):
    B, T_text = len(exs), max(len(e["text"]) for e in exs)
    gen_tokens, logits = np.full((B, MAX_NEW), -1, np.int32), np.zeros((B, MAX_NEW, vocab), np.float32)
    text_ids, margin = np.full((B, T_text), -1, np.int32), np.zeros((B, MAX_NEW), np.float32)
    hidden = np.zeros((B, L + 1, n_img + T_text, D), np.float32)
    final_hidden = np.zeros((B, n_img + T_text, D), np.float32)
    for b, (e, fw) in enumerate(zip(exs, fws)):
        n, T = len(e["gen"]), len(e["ids"])
        lg = e["logits"][:, :vocab]  # drop the embedding's padding rows
        gen_tokens[b, :n], logits[b, :n], margin[b, :n] = e["gen"], lg, top1_margin(lg)
        text_ids[b, : len(e["text"])] = e["text"]
        hidden[b, :, :T], final_hidden[b, :T] = fw["hidden"], fw["final"]
    attrs = dict(attrs, min_top1_margin=float(margin[gen_tokens >= 0].min()),
                 max_abs_logit=float(np.abs(logits).max()))
    with h5py.File(path, "w") as f:
        for k, v in attrs.items():
            f.attrs[k] = str(v) if isinstance(v, str) else v  # torch.__version__ is a str subclass
        f.create_dataset("prompt_text", data=[e["prompt"] for e in exs], dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("text_ids", data=text_ids)
        f.create_dataset("text_len", data=np.array([len(e["text"]) for e in exs], np.int32))
        f.create_dataset("pixel_values", data=np.stack([e["pix"] for e in exs]))
        f["pixel_values"].attrs["layout"] = "NHWC"
        f.create_dataset("gen_tokens", data=gen_tokens)
        f.create_dataset("gen_len", data=np.array([len(e["gen"]) for e in exs], np.int32))
        f.create_dataset("logits", data=logits)
        f.create_dataset("top1_margin", data=margin)
        f.create_dataset("gen_text", data=texts, dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("image_features", data=np.stack([fw["img"] for fw in fws]))
        f.create_dataset("vit_hidden", data=np.stack([fw["vit"] for fw in fws]))
        f.create_dataset("hidden_states", data=hidden)
        f.create_dataset("final_hidden", data=final_hidden)
    return attrs


def run_case(case, sp, vocab, tok_sha):
    name, d = case["name"], OUT / case["name"]
    seed, model, rows, n_img, exs = pick_seed(case, sp, vocab)
    print(f"[{name}] seed {seed}, embedding rows {rows}, vocab {vocab}")
    model = write_and_reload(model, d, exs, vocab, rows, bool(case["eos_scale"]))
    W = {k: v.numpy() for k, v in to_np_weights(model).items()}
    cfg = json.loads((d / "config.json").read_text())
    ref_err, abl, fws = {}, {}, []
    for b, e in enumerate(exs):
        Image.fromarray(e["image"]).save(d / f"image_{b}.png")
        assert np.array_equal(np.asarray(Image.open(d / f"image_{b}.png")), e["image"])
        fws.append(hf_prompt_forward(model, e))
        assert np.allclose(fws[-1]["last_logits"], e["logits"][0], atol=1e-5), "plain forward != generate step 0"
        check_against_numpy(W, cfg, e, fws[-1], vocab, ref_err, abl)
    texts = [sp.decode([t for t in e["gen"] if t != EOS]) for e in exs]
    print(f"  gen_text={texts}\n  float64 numpy reference max rel diff: {ref_err}\n  ablation max|dlogit|: {abl}")
    assert max(ref_err.values()) < 1e-4, f"{name}: HF differs from the numpy reference: {ref_err}"
    attrs = dict(transformers_version=transformers.__version__, torch_version=torch.__version__,
                 numpy_version=np.__version__, seed=seed, case=name, description=case["desc"],
                 tokenizer="assets/tokenizer/tiny.model", tokenizer_sha256=tok_sha,
                 vocab_size=vocab, embedding_rows=rows, image_token_id=vocab, num_image_tokens=n_img,
                 bos_id=BOS, eos_id=EOS, pad_id=PAD, max_new_tokens=MAX_NEW, position_base=1,
                 pixel_values_layout="NHWC [B, H, W, 3] float32 = uint8/255*2-1 (float32 ops in that order)",
                 hidden_states_layout="[B, L+1, T, D]: 0 = merged input embeddings, l = output of decoder "
                                      "layer l-1 (before the final norm); rows >= prompt length are 0",
                 **{f"float64_reference_max_rel_diff_{k}": v for k, v in ref_err.items()},
                 **{f"ablation_max_abs_dlogit_{k}": v for k, v in abl.items()})
    if len(exs) > 1:
        attrs["batched_left_pad_generate_matches"] = int(batched_left_pad_check(model, exs, [e["gen"] for e in exs]))
    tc = model.config.text_config
    attrs = write_h5(d / "reference.h5", attrs, exs, fws, vocab, n_img, tc.num_hidden_layers, tc.hidden_size, texts)
    size = sum(p.stat().st_size for p in d.iterdir())
    print(f"  wrote {d} ({size / 1e6:.2f} MB), min margin {attrs['min_top1_margin']:.4f}, "
          f"max|logit| {attrs['max_abs_logit']:.3f}")


def main():
    setup_determinism()
    sp = spm.SentencePieceProcessor(model_file=str(TOKENIZER))
    vocab = sp.get_piece_size()
    assert (sp.pad_id(), sp.eos_id(), sp.bos_id()) == (PAD, EOS, BOS) and sp.encode("\n") == [sp.piece_to_id("\n")]
    tok_sha = hashlib.sha256(TOKENIZER.read_bytes()).hexdigest()
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, tokenizer {vocab} pieces")
    if transformers.__version__ != PINNED["transformers"].split("==")[1]:
        print("WARNING: fixtures were made with", PINNED["transformers"], "; mask semantics are version-specific")
    for case in CASES:
        run_case(case, sp, vocab, tok_sha)


if __name__ == "__main__":
    main()
