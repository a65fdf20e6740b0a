"""Independent float64 NumPy re-implementation of the PaliGemma forward pass.

make_fixtures.py uses it to prove that the semantics written in tests/golden/README.md (positions, prefix-LM
mask, sliding window, softcaps, embedding scaling, image-token handling) are exactly what Hugging Face computes:
the HF fp32 logits must match this reference to ~1e-5, and switching one feature off (flags below) must move the
logits by a lot. It reads the weights by their on-Hub safetensors names (vision_tower.vision_model.*,
multi_modal_projector.*, language_model.model.*), i.e. the names a C++ converter sees.
"""
import math

import numpy as np


def _ln(x, w, b, eps):
    # LayerNorm over the last axis, biased variance.
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _rms(x, w, eps):
    # Gemma RMSNorm: zero-centred weight, scale is (1 + w).
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * (1.0 + w)


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def _softmax(s):
    s = s - s.max(-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(-1, keepdims=True)


def vision_forward(W, vc, pixels_hwc):
    """pixels_hwc: [H, W, 3] in [-1, 1]. Returns vit_hidden [Np, Dv] (after post_layernorm)."""
    p = "vision_tower.vision_model."
    P, D, nh = vc["patch_size"], vc["hidden_size"], vc["num_attention_heads"]
    eps = vc["layer_norm_eps"]
    g = pixels_hwc.shape[0] // P
    # patches: [Np, 3*P*P], flattened as (channel, row-in-patch, col-in-patch) to match the OIHW conv kernel;
    # patch index runs row-major over the patch grid.
    x = pixels_hwc.reshape(g, P, g, P, 3).transpose(0, 2, 4, 1, 3).reshape(g * g, 3 * P * P)
    h = x @ W[p + "embeddings.patch_embedding.weight"].reshape(D, -1).T + W[p + "embeddings.patch_embedding.bias"]
    h = h + W[p + "embeddings.position_embedding.weight"]
    hd = D // nh
    for i in range(vc["num_hidden_layers"]):
        q_ = p + f"encoder.layers.{i}."
        y = _ln(h, W[q_ + "layer_norm1.weight"], W[q_ + "layer_norm1.bias"], eps)
        q, k, v = (y @ W[q_ + f"self_attn.{n}_proj.weight"].T + W[q_ + f"self_attn.{n}_proj.bias"] for n in "qkv")
        q, k, v = (t.reshape(-1, nh, hd).transpose(1, 0, 2) for t in (q, k, v))  # [nh, Np, hd]
        a = _softmax(q @ k.transpose(0, 2, 1) * hd ** -0.5) @ v
        a = a.transpose(1, 0, 2).reshape(-1, D)
        h = h + a @ W[q_ + "self_attn.out_proj.weight"].T + W[q_ + "self_attn.out_proj.bias"]
        y = _ln(h, W[q_ + "layer_norm2.weight"], W[q_ + "layer_norm2.bias"], eps)
        y = _gelu_tanh(y @ W[q_ + "mlp.fc1.weight"].T + W[q_ + "mlp.fc1.bias"])
        h = h + y @ W[q_ + "mlp.fc2.weight"].T + W[q_ + "mlp.fc2.bias"]
    return _ln(h, W[p + "post_layernorm.weight"], W[p + "post_layernorm.bias"], eps)


def _rope(x, pos, theta):
    # x: [heads, T, hd]; half-split rotation (HF rotate_half == big_vision _apply_rope).
    hd = x.shape[-1]
    inv = 1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = pos[:, None].astype(np.float64) * inv[None, :]
    cos, sin = np.cos(np.concatenate([ang, ang], -1)), np.sin(np.concatenate([ang, ang], -1))
    x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
    return x * cos + np.concatenate([-x2, x1], -1) * sin


def decoder_forward(W, tc, x, prompt_len, *, prefix=True, sliding=True, attn_softcap=True, final_softcap=True,
                    pos_base=1, vocab=None):
    """x: [T, D] merged input embeddings. Tokens [0, prompt_len) are the prompt (bidirectional block when
    prefix=True); later tokens are causal. Returns (logits [T, vocab], per-layer outputs list of [T, D])."""
    p = "language_model.model."
    T, D = x.shape
    nh, nkv, hd = tc["num_attention_heads"], tc["num_key_value_heads"], tc["head_dim"]
    eps = tc["rms_norm_eps"]
    gemma2 = tc["model_type"] == "gemma2"
    scale = (tc["query_pre_attn_scalar"] if gemma2 else hd) ** -0.5
    attn_cap = tc.get("attn_logit_softcapping") if (gemma2 and attn_softcap) else None
    final_cap = tc.get("final_logit_softcapping") if (gemma2 and final_softcap) else None
    theta = tc.get("rope_parameters", {}).get("rope_theta", 10000.0)
    pos = np.arange(T) + pos_base
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    in_prefix = (i < prompt_len) & (j < prompt_len) if prefix else np.zeros((T, T), bool)
    full_mask = (j <= i) | in_prefix
    win = tc.get("sliding_window")
    slide_mask = ((j <= i) & (j > i - win)) | in_prefix if (gemma2 and win) else full_mask
    layer_types = tc.get("layer_types") or ["full_attention"] * tc["num_hidden_layers"]
    h, outs = x, []
    for li in range(tc["num_hidden_layers"]):
        q_ = p + f"layers.{li}."
        mask = slide_mask if (sliding and layer_types[li] == "sliding_attention") else full_mask
        y = _rms(h, W[q_ + "input_layernorm.weight"], eps)
        q = (y @ W[q_ + "self_attn.q_proj.weight"].T).reshape(T, nh, hd).transpose(1, 0, 2)
        k = (y @ W[q_ + "self_attn.k_proj.weight"].T).reshape(T, nkv, hd).transpose(1, 0, 2)
        v = (y @ W[q_ + "self_attn.v_proj.weight"].T).reshape(T, nkv, hd).transpose(1, 0, 2)
        q, k = _rope(q, pos, theta), _rope(k, pos, theta)
        k, v = np.repeat(k, nh // nkv, 0), np.repeat(v, nh // nkv, 0)  # query head n uses kv head n // (nh/nkv)
        s = q @ k.transpose(0, 2, 1) * scale
        if attn_cap:
            s = np.tanh(s / attn_cap) * attn_cap  # softcap BEFORE masking
        s = np.where(mask[None], s, -np.inf)
        a = (_softmax(s) @ v).transpose(1, 0, 2).reshape(T, nh * hd) @ W[q_ + "self_attn.o_proj.weight"].T
        if gemma2:
            a = _rms(a, W[q_ + "post_attention_layernorm.weight"], eps)
            h = h + a
            y = _rms(h, W[q_ + "pre_feedforward_layernorm.weight"], eps)
        else:
            h = h + a
            y = _rms(h, W[q_ + "post_attention_layernorm.weight"], eps)  # Gemma 1: this IS the pre-FFW norm
        m = _gelu_tanh(y @ W[q_ + "mlp.gate_proj.weight"].T) * (y @ W[q_ + "mlp.up_proj.weight"].T)
        m = m @ W[q_ + "mlp.down_proj.weight"].T
        if gemma2:
            m = _rms(m, W[q_ + "post_feedforward_layernorm.weight"], eps)
        h = h + m
        outs.append(h)
    E = W[p + "embed_tokens.weight"]
    E = E[:vocab] if vocab else E
    logits = _rms(h, W[p + "norm.weight"], eps) @ E.T  # tied with the input embedding
    if final_cap:
        logits = np.tanh(logits / final_cap) * final_cap
    return logits, outs


def paligemma_forward(W, cfg, pixels_hwc, text_ids, gen_ids, vocab, **flags):
    """Full recompute (no KV cache) of prompt + generated tokens.
    Returns dict: vit [Np, Dv], img [Np, D], embeds [T, D], layers (list), step_logits [len(gen_ids)+1, vocab]
    where row s = logits after the prompt and s generated tokens (row 0 = prefill)."""
    W = {k: v.astype(np.float64) for k, v in W.items()}
    tc, vc = cfg["text_config"], cfg["vision_config"]
    vit = vision_forward(W, vc, pixels_hwc.astype(np.float64))
    img = vit @ W["multi_modal_projector.linear.weight"].T + W["multi_modal_projector.linear.bias"]  # NOT scaled
    ids = np.asarray(list(text_ids) + list(gen_ids), np.int64)
    E = W["language_model.model.embed_tokens.weight"]
    txt = E[ids] * float(np.float32(math.sqrt(tc["hidden_size"])))  # fp32 value of sqrt(D), not rounded to bf16
    x = np.concatenate([img, txt], 0)
    prompt_len = img.shape[0] + len(text_ids)
    logits, layers = decoder_forward(W, tc, x, prompt_len, vocab=vocab, **flags)
    return dict(vit=vit, img=img, embeds=x, layers=layers, step_logits=logits[prompt_len - 1:])
