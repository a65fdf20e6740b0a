#!/usr/bin/env python3
"""Reference fixtures for tests/image_test.cc (image decoding and preprocessing).

Writes small deterministic test images to tests/fixtures/images/ together with what the
reference libraries make of them:

  * decode:  PIL `Image.open(f).convert("RGB")` pixels, raw uint8 [height, width, 3]
             (`<file>.rgb.u8`), for PNGs of every colour type / bit depth / interlace and
             for JPEGs (4:2:0, 4:4:4, progressive, grey, CMYK).
  * resize:  the model input [size, size, 3] float32 little-endian (`.f32`) for
      bilinear  tf.image.resize(img, (s, s), 'bilinear', antialias=True) / 127.5 - 1
                (the PaliGemma colab's preprocess_image), from TensorFlow when it can be
                imported, otherwise from tf_scale_and_translate_triangle() below, a numpy
                transcription of TF's ScaleAndTranslate kernel in float32;
      bicubic   PIL resize(BICUBIC) -> float32(float64(x) * (1/255)) -> (x - 0.5) / 0.5,
                i.e. HF SiglipImageProcessorPil; the uint8 PIL result is stored too (.u8).
  * index.json lists every case with its shape and file names.

Usage:
  python3 tests/golden/make_image_fixtures.py            # (re)write the fixtures
  python3 tests/golden/make_image_fixtures.py --check    # recompute, compare with the files

--check compares everything it can compute in this interpreter with the stored files and
prints the max differences; with TensorFlow absent it validates the numpy transcription
against the stored TensorFlow outputs, and with transformers present it checks the bicubic
outputs against SiglipImageProcessorPil.

Needs: pillow, numpy (tensorflow-cpu and transformers optional).
"""
import argparse
import io
import json
import os
import struct
import sys
import warnings
import zlib

import numpy as np
from PIL import Image

warnings.filterwarnings("ignore", message="Palette images with Transparency")
HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "fixtures", "images"))

# ---------------------------------------------------------------------------------------------
# A minimal PNG writer for layouts PIL cannot write (16-bit RGB, 2/4-bit grey, Adam7).


def _chunk(tag, data):
    body = tag + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _pack_row(row, bit_depth):
    """row: 1-D array of samples -> bytes at bit_depth (1, 2, 4, 8 or 16)."""
    if bit_depth == 16:
        return row.astype(">u2").tobytes()
    if bit_depth == 8:
        return row.astype(np.uint8).tobytes()
    per_byte = 8 // bit_depth
    padded = np.zeros(-(-len(row) // per_byte) * per_byte, dtype=np.uint8)
    padded[: len(row)] = row
    padded = padded.reshape(-1, per_byte)
    out = np.zeros(len(padded), dtype=np.uint8)
    for i in range(per_byte):
        out |= (padded[:, i] << (8 - bit_depth * (i + 1))).astype(np.uint8)
    return out.tobytes()


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]  # (x0, y0, dx, dy)


def write_png(path, samples, bit_depth, color_type, interlace=False, plte=None, trns=None):
    """samples: [h, w, channels] integer array (channels as the colour type requires)."""
    h, w, _ = samples.shape
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        for row in sub:
            raw += b"\x00" + _pack_row(row.reshape(-1), bit_depth)  # filter type 0
    png = b"\x89PNG\r\n\x1a\n"
    png += _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0,
                                       1 if interlace else 0))
    if plte is not None:
        png += _chunk(b"PLTE", bytes(np.asarray(plte, np.uint8).reshape(-1)))
    if trns is not None:
        png += _chunk(b"tRNS", trns)
    png += _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    png += _chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


# ---------------------------------------------------------------------------------------------
# Test images.


def gradient_noise(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255.0 / max(w - 1, 1), y * 255.0 / max(h - 1, 1),
                     (x + y) * 255.0 / max(w + h - 2, 1)], axis=-1)
    img = base + rng.normal(0, 40, size=(h, w, 3))
    img[h // 3: h // 3 + 3] = [255, 255, 255]  # a hard edge: bicubic overshoot gets clipped
    img[:, w // 2] = 0
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def make_inputs(d):
    """Writes the input images; returns their file names."""
    rgb = gradient_noise(23, 37, seed=1)
    files = []

    def save(name, im, **kw):
        im.save(os.path.join(d, name), **kw)
        files.append(name)

    save("rgb_37x23.png", Image.fromarray(rgb))
    save("rgb_100x75.png", Image.fromarray(gradient_noise(75, 100, seed=2)))
    save("rgb_16x40.png", Image.fromarray(gradient_noise(40, 16, seed=3)))
    grey = gradient_noise(31, 29, seed=4)[..., 0]
    save("grey_29x31.png", Image.fromarray(grey, "L"))
    rgba = np.dstack([gradient_noise(17, 20, seed=5),
                      np.linspace(0, 255, 17 * 20).reshape(17, 20).astype(np.uint8)])
    save("rgba_20x17.png", Image.fromarray(rgba, "RGBA"))
    la = np.dstack([grey[:9, :11], 255 - grey[:9, :11]])
    save("la_11x9.png", Image.fromarray(la, "LA"))
    pal = Image.fromarray(rgb).quantize(colors=24, method=Image.Quantize.MEDIANCUT, dither=0)
    save("palette_37x23.png", pal)
    pal_t = pal.copy()
    pal_t.info["transparency"] = bytes([0, 128] + [255] * 22)
    save("palette_trns_37x23.png", pal_t, transparency=pal_t.info["transparency"])
    save("bw1_13x7.png", Image.fromarray(grey[:7, :13] > 127))
    rng = np.random.default_rng(6)
    g16 = rng.integers(0, 65536, size=(11, 13, 1), dtype=np.uint64)
    g16[0, :6, 0] = [0, 1, 254, 255, 256, 65535]  # PIL clips I;16 at 255 when converting
    write_png(os.path.join(d, "grey16_13x11.png"), g16, 16, 0); files.append("grey16_13x11.png")
    rgb16 = rng.integers(0, 65536, size=(11, 13, 3), dtype=np.uint64)
    write_png(os.path.join(d, "rgb16_13x11.png"), rgb16, 16, 2); files.append("rgb16_13x11.png")
    rgba16 = rng.integers(0, 65536, size=(11, 13, 4), dtype=np.uint64)
    write_png(os.path.join(d, "rgba16_13x11.png"), rgba16, 16, 6)
    files.append("rgba16_13x11.png")
    la16 = rng.integers(0, 65536, size=(11, 13, 2), dtype=np.uint64)
    write_png(os.path.join(d, "la16_13x11.png"), la16, 16, 4); files.append("la16_13x11.png")
    g2 = rng.integers(0, 4, size=(9, 15, 1), dtype=np.uint64)
    write_png(os.path.join(d, "grey2_15x9.png"), g2, 2, 0); files.append("grey2_15x9.png")
    g4 = rng.integers(0, 16, size=(9, 15, 1), dtype=np.uint64)
    write_png(os.path.join(d, "grey4_15x9.png"), g4, 4, 0); files.append("grey4_15x9.png")
    write_png(os.path.join(d, "rgb_interlaced_37x23.png"), rgb.astype(np.uint64), 8, 2,
              interlace=True)
    files.append("rgb_interlaced_37x23.png")
    p4 = rng.integers(0, 11, size=(9, 15, 1), dtype=np.uint64)
    write_png(os.path.join(d, "palette4_interlaced_15x9.png"), p4, 4, 3, interlace=True,
              plte=rng.integers(0, 256, size=(11, 3)), trns=bytes([7, 200]))
    files.append("palette4_interlaced_15x9.png")

    rgb_im = Image.fromarray(rgb)
    save("rgb_37x23_q90.jpg", rgb_im, quality=90)  # PIL default subsampling: 4:2:0
    save("rgb_37x23_q90_444.jpg", rgb_im, quality=90, subsampling=0)
    save("rgb_37x23_q90_422.jpg", rgb_im, quality=90, subsampling=1)
    save("rgb_37x23_progressive.jpg", rgb_im, quality=85, progressive=True)
    save("grey_29x31_q90.jpg", Image.fromarray(grey, "L"), quality=90)
    cmyk = Image.fromarray(np.dstack([rgba[..., :3], 255 - rgba[..., 3]]), "CMYK")
    save("cmyk_20x17.jpg", cmyk, quality=92)
    return files


# ---------------------------------------------------------------------------------------------
# References.


def pil_rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def tf_triangle_spans(out_size, in_size):
    """numpy float32 transcription of ComputeSpansCore (scale_and_translate_op.cc)."""
    f32 = np.float32
    scale = f32(out_size) / f32(in_size)
    inv_scale = f32(1.0 / float(scale))
    inv_translate = -inv_scale * f32(0.0)
    kernel_scale = max(inv_scale, f32(1.0))
    span_size = min(2 * int(np.ceil(f32(1.0) * kernel_scale)) + 1, in_size)
    one_over_kernel_scale = f32(1.0) / kernel_scale
    starts = np.zeros(out_size, np.int64)
    weights = np.zeros((out_size, span_size), np.float32)
    for x in range(out_size):
        sample_f = f32(x + 0.5) * inv_scale + inv_translate
        if sample_f < 0 or sample_f > in_size:
            continue
        start = int(np.ceil(sample_f - f32(1.0) * kernel_scale - f32(0.5)))
        end = int(np.floor(sample_f + f32(1.0) * kernel_scale - f32(0.5)))
        start = min(max(start, 0), in_size - 1)
        end = min(max(end, 0), in_size - 1) + 1
        ws, total = [], f32(0.0)
        for src in range(start, end):
            pos = f32(src) + f32(0.5) - sample_f
            ax = abs(pos * one_over_kernel_scale)
            w = f32(1.0) - ax if ax < f32(1.0) else f32(0.0)
            total = f32(total + w)
            ws.append(w)
        if abs(total) >= f32(1000.0) * np.finfo(np.float32).tiny:
            inv = f32(1.0) / total
            weights[x, : len(ws)] = [f32(w * inv) for w in ws]
        starts[x] = start
    return starts, weights


def tf_scale_and_translate_triangle(img, out_h, out_w):
    """img: [h, w, 3] uint8 -> [out_h, out_w, 3] float32, as GatherRows then GatherColumns."""
    h, w, _ = img.shape
    src = img.astype(np.float32)
    rs, rw = tf_triangle_spans(out_h, h)
    cs, cw = tf_triangle_spans(out_w, w)
    mid = np.zeros((out_h, w, 3), np.float32)
    for y in range(out_h):
        for i in range(min(rs[y] + rw.shape[1], h) - rs[y]):
            mid[y] = mid[y] + rw[y, i] * src[rs[y] + i]
    out = np.zeros((out_h, out_w, 3), np.float32)
    for x in range(out_w):
        for i in range(min(cs[x] + cw.shape[1], w) - cs[x]):
            out[:, x] = out[:, x] + cw[x, i] * mid[:, cs[x] + i]
    return out


def bilinear_reference(img, size, use_tf):
    if use_tf:
        import tensorflow as tf
        r = tf.image.resize(tf.constant(img[None]), (size, size), method="bilinear",
                            antialias=True)[0].numpy()
    else:
        r = tf_scale_and_translate_triangle(img, size, size)
    return (r.astype(np.float32) / 127.5 - 1.0).astype(np.float32)


def bicubic_reference(img, size):
    resized = np.asarray(Image.fromarray(img).resize((size, size), Image.BICUBIC), np.uint8)
    x = (resized.astype(np.float64) * (1 / 255)).astype(np.float32)
    return resized, ((x - np.float32(0.5)) / np.float32(0.5)).astype(np.float32)


RESIZE_CASES = [  # (source file, sizes)
    ("rgb_37x23.png", [16, 48, 7]),
    ("rgb_100x75.png", [16, 30]),
    ("rgb_16x40.png", [16]),     # width already 16: only the vertical pass runs
    ("rgb_37x23_q90.jpg", [16]),
]


def have_tensorflow():
    try:
        import tensorflow  # noqa: F401
        return True
    except Exception:
        return False


def compute_all(d, use_tf):
    """Returns {relative file name: ndarray} and the JSON index."""
    arrays, decode, resize = {}, [], []
    for name in sorted(os.listdir(d)):
        if not name.endswith((".png", ".jpg")):
            continue
        rgb = pil_rgb(os.path.join(d, name))
        arrays[name + ".rgb.u8"] = rgb
        decode.append({"file": name, "height": rgb.shape[0], "width": rgb.shape[1],
                       "rgb": name + ".rgb.u8"})
    for src, sizes in RESIZE_CASES:
        img = pil_rgb(os.path.join(d, src))
        for s in sizes:
            stem = f"{src}.{s}"
            arrays[stem + ".bilinear.f32"] = bilinear_reference(img, s, use_tf)
            u8, f = bicubic_reference(img, s)
            arrays[stem + ".bicubic.u8"] = u8
            arrays[stem + ".bicubic.f32"] = f
            resize.append({"source": src, "size": s, "filter": "bilinear",
                           "expected": stem + ".bilinear.f32"})
            resize.append({"source": src, "size": s, "filter": "bicubic",
                           "expected": stem + ".bicubic.f32",
                           "expected_u8": stem + ".bicubic.u8"})
    return arrays, {"decode": decode, "resize": resize}


def load_raw(path, like):
    dtype = np.float32 if path.endswith(".f32") else np.uint8
    return np.fromfile(path, dtype=np.dtype(dtype).newbyteorder("<")).reshape(like.shape)


def check(d, use_tf):
    arrays, _ = compute_all(d, use_tf)
    worst = {}
    for name, a in arrays.items():
        b = load_raw(os.path.join(d, name), a)
        kind = "bilinear" if "bilinear" in name else "bicubic" if "bicubic" in name else "decode"
        diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
        worst[kind] = max(worst.get(kind, 0.0), diff)
    ref = "tensorflow" if use_tf else "numpy transcription"
    print(f"max |recomputed - stored|: {worst} (bilinear recomputed with {ref})")
    try:
        from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil
    except Exception as e:  # transformers is optional
        print(f"transformers check skipped: {e}")
        return
    proc = SiglipImageProcessorPil()
    for src, sizes in RESIZE_CASES:
        img = pil_rgb(os.path.join(d, src))
        for s in sizes:
            hf = proc(Image.fromarray(img), size={"height": s, "width": s},
                      return_tensors="np")["pixel_values"][0].transpose(1, 2, 0)
            stored = load_raw(os.path.join(d, f"{src}.{s}.bicubic.f32"), hf)
            print(f"SiglipImageProcessorPil vs stored bicubic {src} -> {s}: max diff "
                  f"{float(np.max(np.abs(hf - stored))):.3g}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT_DIR)
    ap.add_argument("--check", action="store_true", help="recompute and compare, write nothing")
    ap.add_argument("--numpy-tf", action="store_true",
                    help="use the numpy transcription even when TensorFlow is importable")
    args = ap.parse_args()
    use_tf = have_tensorflow() and not args.numpy_tf
    if args.check:
        check(args.out, use_tf)
        return
    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.out):  # start clean so no stale fixture survives
        if name != "README.md":
            os.remove(os.path.join(args.out, name))
    make_inputs(args.out)
    arrays, index = compute_all(args.out, use_tf)
    for name, a in arrays.items():
        a.astype(a.dtype.newbyteorder("<")).tofile(os.path.join(args.out, name))
    if use_tf:
        import tensorflow as tf
        tf_ref = f"tensorflow {tf.__version__} tf.image.resize(bilinear, antialias=True)"
        # Cross-check the numpy transcription against TF while both are at hand.
        for e in index["resize"]:
            if e["filter"] == "bilinear":
                img = pil_rgb(os.path.join(args.out, e["source"]))
                diff = np.max(np.abs(bilinear_reference(img, e["size"], False) -
                                     arrays[e["expected"]]))
                print(f"numpy transcription vs TF {e['source']} -> {e['size']}: {diff:.3g}")
    else:
        tf_ref = "numpy transcription of TF ScaleAndTranslate (TensorFlow not installed)"
    import PIL
    index.update({
        "generator": "tests/golden/make_image_fixtures.py",
        "pillow": PIL.__version__,
        "numpy": np.__version__,
        "bilinear_reference": tf_ref,
        "layout": "raw little-endian, [height, width, 3], row-major; .u8 uint8, .f32 float32",
    })
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f"wrote {len(os.listdir(args.out))} files, {total} bytes, to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
