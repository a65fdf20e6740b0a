#!/usr/bin/env python3
"""Reference fixtures for tests/mask_decoder_test.cc and tests/mask_output_test.cc.

An independent float64 NumPy implementation of big_vision's PaliGemma mask decoder
(evaluators/proj/paligemma/transfers/segmentation.py: _get_params, Decoder, ResBlock,
reconstruct_masks), written from its semantics, not from the C++ engine:
  * the npz keeps PyTorch names and layouts; big_vision transposes every kernel with
    (2, 3, 1, 0) into flax HWIO (conv) / (kh, kw, out, in) (ConvTranspose, transpose_kernel=True);
  * nn.Conv(padding=1) is a cross-correlation of the zero-padded input;
  * nn.ConvTranspose(kernel 4, strides 2, padding=2, transpose_kernel=True) is lax.conv_transpose:
    the input dilated by 2 (zeros between pixels), padded by 2 on each side, correlated with
    the kernel flipped in space and with in/out swapped. (The C++ decoder instead scatters a
    GEMM's columns, torch's ConvTranspose2d(padding=1) definition; the two must agree.)
Then the mask post-processing of big_vision's evaluator, with the libraries it uses:
  * PIL.Image.fromarray(mask64).resize([x2 - x1, y2 - y1], BILINEAR) > 0 pasted at the int()ed box,
  * COCO RLE of the full-image mask by pycocotools.mask.encode (compressed "counts" string).

Writes tests/fixtures/masks/:
  vae_random.npz   random weights under vae-oid.npz's exact names and shapes (codebook [128, 512],
                   widths 128/64/32/16/1 as big_vision's Decoder hard-codes them), float32, sparse
                   (most weights 0, so that savez_compressed keeps the file small; every tensor
                   has non-zeros everywhere it matters, biases are dense)
  reference.npz    codes [B, 16] (float32), masks64 [B, 64, 64] float32 (the decoder's logits),
                   resize_<i> PIL "F"-mode resizes of masks64[i] to odd sizes (shrink and grow)
  reference.json   paste cases: mask index, loc box, image size, pycocotools RLE string, area

Usage: python3 tests/golden/make_mask_fixtures.py   (needs numpy, pillow, pycocotools)
Deterministic: running it twice writes the same files.
"""
import json
import os

import numpy as np
from PIL import Image
from pycocotools import mask as mask_util

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "masks")
E = 512        # vae-oid.npz codebook width
DENSITY = 0.03


def sparse(rng, shape, fan_in, taps=None):
  """N(0, 2 / fan_in) in effect, with a share `density` of the weights kept: DENSITY, or enough
  that each output sees ~16 of its `taps` inputs (the 16 -> 1 output conv is dense)."""
  density = DENSITY if taps is None else min(1.0, max(DENSITY, 16.0 / taps))
  keep = rng.random(shape) < density
  std = np.sqrt(2.0 / (fan_in * density))
  return np.where(keep, rng.normal(0.0, std, shape), 0.0).astype(np.float32)


def make_weights(rng):
  w = {"_vq_vae._embedding": sparse(rng, (128, E), 1.0 / 0.5)}  # entries ~N(0, 0.5) where kept

  def conv(name, cin, cout, k):
    w[name + ".weight"] = sparse(rng, (cout, cin, k, k), cin * k * k, cin * k * k)
    w[name + ".bias"] = rng.normal(0.0, 0.1, (cout,)).astype(np.float32)

  def conv_t(name, cin, cout, k):
    w[name + ".weight"] = sparse(rng, (cin, cout, k, k), cin * 4, cin * 4)  # 2x2 taps reach each output
    w[name + ".bias"] = rng.normal(0.0, 0.1, (cout,)).astype(np.float32)

  conv("decoder.0", E, 128, 1)
  for r in (2, 3):
    conv(f"decoder.{r}.net.0", 128, 128, 3)
    conv(f"decoder.{r}.net.2", 128, 128, 3)
    conv(f"decoder.{r}.net.4", 128, 128, 1)
  for name, cin, cout in (("decoder.4", 128, 128), ("decoder.6", 128, 64), ("decoder.8", 64, 32),
                          ("decoder.10", 32, 16)):
    conv_t(name, cin, cout, 4)
  conv("decoder.12", 16, 1, 1)
  return w


# ---- the reference decoder (float64, NHWC) ----------------------------------------------------

def flax_params(ckpt):
  """big_vision _get_params: torch layouts -> flax kernels (np.transpose(k, (2, 3, 1, 0)))."""
  c = lambda n: {"kernel": np.transpose(ckpt[n + ".weight"], (2, 3, 1, 0)).astype(np.float64),
                 "bias": ckpt[n + ".bias"].astype(np.float64)}
  return {
      "emb": ckpt["_vq_vae._embedding"].astype(np.float64),
      "conv0": c("decoder.0"),
      "res": [[c(f"decoder.{r}.net.{i}") for i in (0, 2, 4)] for r in (2, 3)],
      "up": [c(f"decoder.{i}") for i in (4, 6, 8, 10)],
      "conv1": c("decoder.12"),
  }


def correlate(x, kernel, pad):
  """x [B, H, W, I] zero-padded by `pad`, correlated with kernel [kh, kw, I, O] (VALID)."""
  kh, kw = kernel.shape[:2]
  xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  oh, ow = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
  out = np.zeros((x.shape[0], oh, ow, kernel.shape[3]))
  for ky in range(kh):
    for kx in range(kw):
      out += np.einsum("bhwi,io->bhwo", xp[:, ky:ky + oh, kx:kx + ow, :], kernel[ky, kx])
  return out


def conv(x, p, pad):  # flax nn.Conv: HWIO kernel
  return correlate(x, p["kernel"], pad) + p["bias"]


def conv_transpose(x, p):
  """flax nn.ConvTranspose(kernel 4, strides 2, padding=2, transpose_kernel=True)."""
  b, h, w, c = x.shape
  dil = np.zeros((b, 2 * h - 1, 2 * w - 1, c))
  dil[:, ::2, ::2, :] = x
  k = p["kernel"]                       # [kh, kw, out, in]
  k = k[::-1, ::-1].transpose(0, 1, 3, 2)  # flipped, in/out swapped -> [kh, kw, in, out]
  return correlate(dil, k, 2) + p["bias"]


def relu(x):
  return np.maximum(x, 0.0)


def decode(params, codes):
  """codes [B, 16] int -> masks [B, 64, 64] float64 (big_vision reconstruct_masks)."""
  x = params["emb"][codes.reshape(-1)].reshape(codes.shape[0], 4, 4, -1)
  x = relu(conv(x, params["conv0"], 0))
  for p0, p1, p2 in params["res"]:
    t = relu(conv(x, p0, 1))
    t = relu(conv(t, p1, 1))
    x = conv(t, p2, 0) + x
  for p in params["up"]:
    x = relu(conv_transpose(x, p))
  return conv(x, params["conv1"], 0)[..., 0]


# ---- big_vision's evaluator post-processing --------------------------------------------------

def paste(m64, loc, w, h):
  bb = np.asarray(loc) / 1023
  y1, x1, y2, x2 = map(int, (bb[0] * h, bb[1] * w, bb[2] * h, bb[3] * w))
  full = np.zeros((h, w), bool)
  if x2 > x1 and y2 > y1:
    mi = np.asarray(Image.fromarray(m64).resize([x2 - x1, y2 - y1], resample=Image.BILINEAR))
    full[y1:y2, x1:x2] = mi > 0.0
  return full


def main():
  rng = np.random.default_rng(20)
  os.makedirs(OUT, exist_ok=True)
  ckpt = make_weights(rng)
  codes = np.stack([rng.integers(0, 128, 16), rng.integers(0, 128, 16), rng.integers(0, 128, 16),
                    np.zeros(16, np.int64), np.full(16, 127), np.arange(16) * 8]).astype(np.int64)
  # The output bias centres the logits (median 0), so that the masks are about half object.
  ckpt["decoder.12.bias"][:] = 0
  ckpt["decoder.12.bias"][:] = -np.median(decode(flax_params(ckpt), codes))
  np.savez_compressed(os.path.join(OUT, "vae_random.npz"), **ckpt)
  params = flax_params(dict(np.load(os.path.join(OUT, "vae_random.npz"))))
  masks = decode(params, codes).astype(np.float32)
  for i, m in enumerate(masks):
    frac = float((m > 0).mean())
    print(f"mask {i}: max|v| {np.abs(m).max():.3g}, {frac:.2f} positive")
  ref = {"codes": codes.astype(np.float32), "masks64": masks}
  resizes = [(0, 23, 41), (1, 100, 80), (2, 64, 17), (5, 7, 130)]
  for j, (i, oh, ow) in enumerate(resizes):
    ref[f"resize_{j}"] = np.asarray(Image.fromarray(masks[i]).resize([ow, oh], resample=Image.BILINEAR),
                                    np.float32)
  np.savez(os.path.join(OUT, "reference.npz"), **ref)

  cases = []
  for i, loc, w, h in ((0, [100, 200, 900, 700], 200, 150), (1, [0, 0, 1023, 1023], 37, 23),
                       (2, [512, 10, 600, 1000], 640, 480), (3, [5, 5, 900, 40], 300, 400),
                       (4, [300, 300, 301, 302], 90, 60), (5, [0, 500, 1023, 1023], 1000, 31)):
    full = paste(masks[i], loc, w, h)
    rle = mask_util.encode(np.asfortranarray(full.astype(np.uint8)))
    assert (mask_util.decode(rle) == full).all()
    cases.append({"mask": i, "loc": loc, "width": w, "height": h, "counts": rle["counts"].decode(),
                  "area": int(full.sum())})
  doc = {"about": "make_mask_fixtures.py: paste + pycocotools RLE of reference.npz masks64",
         "resizes": [{"name": f"resize_{j}", "mask": i, "height": oh, "width": ow}
                     for j, (i, oh, ow) in enumerate(resizes)],
         "cases": cases}
  with open(os.path.join(OUT, "reference.json"), "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
  for n in ("vae_random.npz", "reference.npz", "reference.json"):
    print(n, os.path.getsize(os.path.join(OUT, n)), "bytes")


if __name__ == "__main__":
  main()
