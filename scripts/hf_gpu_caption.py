#!/usr/bin/env python3
"""HF transformers captioning throughput on one GPU, for the side-by-side ratio of
scripts/gpu_first_contact.sh: a random-weight PaliGemma of an engine config (configs/*.json)
built with HF on the GPU in bf16, sdpa attention, batched greedy generate of exactly
--new-tokens tokens (min_new_tokens = max_new_tokens) after a prompt of --prompt-len tokens,
as `paligemma bench` does. Prints one JSON line: images/s, seconds, GPU, peak memory.

    python3 scripts/hf_gpu_caption.py --config configs/paligemma-3b-pt-224.json --batch 64 --images 256
"""
import argparse
import json
import sys
import time

PAD, EOS, BOS = 0, 1, 2


def hf_config(cfg):
    from transformers import PaliGemmaConfig
    v, t = cfg["vision"], cfg["text"]
    vocab = t["vocab_size"]
    text = dict(model_type="gemma2" if t.get("post_norms") else "gemma", hidden_size=t["width"],
                num_hidden_layers=t["depth"], intermediate_size=t["mlp_dim"], num_attention_heads=t["num_heads"],
                num_key_value_heads=t["num_kv_heads"], head_dim=t["head_dim"], vocab_size=vocab,
                rms_norm_eps=t["norm_eps"], rope_theta=t["rope_base"], hidden_act="gelu_pytorch_tanh",
                hidden_activation="gelu_pytorch_tanh", pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS)
    if t.get("post_norms"):
        text.update(query_pre_attn_scalar=t["query_pre_attn_scalar"], attn_logit_softcapping=t["attn_softcap"] or None,
                    final_logit_softcapping=t["final_softcap"] or None, sliding_window=t["sliding_window"] or 4096)
    vision = dict(model_type="siglip_vision_model", image_size=v["image_size"], patch_size=v["patch_size"],
                  hidden_size=v["width"], num_hidden_layers=v["depth"], intermediate_size=v["mlp_dim"],
                  num_attention_heads=v["num_heads"], layer_norm_eps=v["norm_eps"], hidden_act="gelu_pytorch_tanh",
                  vision_use_head=False)
    return PaliGemmaConfig(text_config=text, vision_config=vision, image_token_index=vocab - 1,
                           projection_dim=t["width"], hidden_size=t["width"], vocab_size=vocab,
                           pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--new-tokens", type=int, default=20)
    ap.add_argument("--prompt-len", type=int, default=8)
    ap.add_argument("--attn", default="sdpa")
    args = ap.parse_args()
    import torch
    from transformers import PaliGemmaForConditionalGeneration
    if not torch.cuda.is_available():
        print(json.dumps(dict(error="torch.cuda.is_available() is False: no GPU for the HF side")))
        return 2
    cfg = hf_config(json.load(open(args.config)))
    cfg._attn_implementation = args.attn
    t0 = time.perf_counter()
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = PaliGemmaForConditionalGeneration(cfg).to(torch.bfloat16).eval()
    torch.cuda.synchronize()
    build_s = time.perf_counter() - t0
    n_img = (cfg.vision_config.image_size // cfg.vision_config.patch_size) ** 2
    g = torch.Generator().manual_seed(1)
    prompt = [BOS] + torch.randint(3, cfg.text_config.vocab_size - 1, (args.prompt_len - 1,), generator=g).tolist()
    ids = torch.tensor([[cfg.image_token_index] * n_img + prompt] * args.batch, device="cuda")
    size = cfg.vision_config.image_size

    def run(batch):
        pix = (torch.rand((batch, 3, size, size), generator=g) * 2 - 1).to("cuda", torch.bfloat16)
        with torch.no_grad():
            model.generate(input_ids=ids[:batch], pixel_values=pix, attention_mask=torch.ones_like(ids[:batch]),
                           token_type_ids=torch.zeros_like(ids[:batch]), max_new_tokens=args.new_tokens,
                           min_new_tokens=args.new_tokens, do_sample=False, pad_token_id=PAD, eos_token_id=EOS)
        torch.cuda.synchronize()

    run(min(args.batch, 4))  # warm-up (kernels, allocator)
    t0 = time.perf_counter()
    done = 0
    while done < args.images:
        b = min(args.batch, args.images - done)
        run(b)
        done += b
    secs = time.perf_counter() - t0
    print(json.dumps(dict(side="hf", config=args.config, batch=args.batch, images=args.images,
                          new_tokens=args.new_tokens, images_per_s=args.images / secs, seconds=secs,
                          build_s=build_s, gpu=torch.cuda.get_device_name(0), attn=args.attn,
                          torch=torch.__version__, peak_gib=torch.cuda.max_memory_allocated() / 2**30)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
