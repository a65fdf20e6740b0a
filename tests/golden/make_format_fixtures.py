#!/usr/bin/env python3
"""Reference fixtures for tests/image_formats_test.cc: WebP, GIF, BMP, TIFF, HEIC, AVIF and EXIF
orientation, with the pixels PIL gives for them.

Writes small deterministic images to tests/fixtures/image_formats/ and, for each one:
  * <file>.rgb.u8        PIL `Image.open(f).convert("RGB")`, raw uint8 [height, width, 3];
  * <file>.white.rgb.u8  (images with alpha) HF's convert_to_rgb: alpha composited onto white;
  * <file>.exif.rgb.u8   (orientation cases) `ImageOps.exif_transpose(Image.open(f)).convert("RGB")`,
                         what HF's load_image gives.
index.json lists every case: file, format, height, width, the reference files, and "lossy" for
formats whose decoders may round differently from PIL's (WebP lossy, HEIC, AVIF).

HEIC is opened with the pillow-heif plugin (PIL cannot open HEIC alone); AVIF with Pillow's own
AVIF plugin. Layouts Pillow cannot write (4-bit, 16-bit and bitfield BMPs, OS/2 and top-down
BMPs) are written by small writers below; PIL still decodes them for the reference.

Usage (Pillow and pillow-heif from PyPI, e.g. in a venv):
  python3 -m venv /tmp/v && /tmp/v/bin/pip install pillow pillow-heif numpy
  /tmp/v/bin/python tests/golden/make_format_fixtures.py            # (re)write the fixtures
  /tmp/v/bin/python tests/golden/make_format_fixtures.py --check    # recompute, compare
"""
import argparse
import io
import json
import os
import struct
import sys

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "fixtures", "image_formats"))
LOSSY = {"webp_lossy_37x23.webp", "webp_lossy_rgba_20x17.webp", "heic_37x23.heic", "heic_rgba_20x17.heic",
         "avif_37x23.avif", "avif_rgba_20x17.avif", "avif444_37x23.avif", "avif_smooth_48x32.avif"}


def gradient_noise(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255.0 / max(w - 1, 1), y * 255.0 / max(h - 1, 1),
                     (x + y) * 255.0 / max(w + h - 2, 1)], axis=-1)
    img = base + rng.normal(0, 40, size=(h, w, 3))
    img[:, w // 2] = 0
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def rgba_image(h, w, seed):
    a = np.linspace(0, 255, h * w).reshape(h, w).astype(np.uint8)
    return np.dstack([gradient_noise(h, w, seed), a])


# ---- BMP writer for layouts Pillow does not write ------------------------------------------

def write_bmp(path, rows, bits, header_size=40, palette=None, compression=0, masks=None,
              top_down=False):
    """rows: list of bytes, one per image row top to bottom (already packed, unpadded)."""
    h = len(rows)
    stride = (len(rows[0]) + 3) // 4 * 4
    body = b"".join(r + b"\0" * (stride - len(r)) for r in (rows if top_down else rows[::-1]))
    width = (len(rows[0]) * 8) // bits if bits >= 8 else WIDTH_HINT[0]
    pal = b""
    if palette is not None:
        entry = 3 if header_size == 12 else 4
        pal = b"".join(bytes([b, g, r] + ([0] if entry == 4 else [])) for r, g, b in palette)
    if header_size == 12:
        dib = struct.pack("<IHHHH", 12, width, h, 1, bits)
    else:
        dib = struct.pack("<IiiHHIIiiII", header_size, width, -h if top_down else h, 1, bits,
                          compression, len(body), 2835, 2835, len(palette or []), 0)
        extra = b""
        if masks is not None and header_size > 40:
            extra = struct.pack("<4I", *(list(masks) + [0] * (4 - len(masks))))
        dib += extra + b"\0" * (header_size - len(dib) - len(extra))
        if masks is not None and header_size == 40:
            dib += struct.pack("<3I", *masks[:3])
    offset = 14 + len(dib) + len(pal)
    head = b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset)
    with open(path, "wb") as f:
        f.write(head + dib + pal + body)


WIDTH_HINT = [0]


def pack_bits(indices, bits):
    per = 8 // bits
    out = bytearray()
    for i in range(0, len(indices), per):
        v = 0
        for j in range(per):
            v = (v << bits) | (int(indices[i + j]) if i + j < len(indices) else 0)
        out.append(v)
    return bytes(out)


def make_bmps(d, files):
    rgb = gradient_noise(11, 13, seed=7)
    h, w, _ = rgb.shape
    rng = np.random.default_rng(8)
    WIDTH_HINT[0] = w
    pal16 = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(16)]
    idx4 = rng.integers(0, 16, size=(h, w))
    write_bmp(os.path.join(d, "bmp4_13x11.bmp"), [pack_bits(r, 4) for r in idx4], 4, palette=pal16)
    files.append("bmp4_13x11.bmp")
    pal2 = [(200, 30, 40), (10, 220, 90)]
    idx1 = rng.integers(0, 2, size=(h, w))
    write_bmp(os.path.join(d, "bmp1_colour_13x11.bmp"), [pack_bits(r, 1) for r in idx1], 1, palette=pal2)
    files.append("bmp1_colour_13x11.bmp")
    bgr = rgb[..., ::-1]
    write_bmp(os.path.join(d, "bmp24_topdown_13x11.bmp"), [r.tobytes() for r in bgr], 24, top_down=True)
    files.append("bmp24_topdown_13x11.bmp")
    write_bmp(os.path.join(d, "bmp24_os2_13x11.bmp"), [r.tobytes() for r in bgr], 24, header_size=12)
    files.append("bmp24_os2_13x11.bmp")
    v16 = rng.integers(0, 65536, size=(h, w)).astype("<u2")
    write_bmp(os.path.join(d, "bmp16_555_13x11.bmp"), [r.tobytes() for r in (v16 & 0x7FFF)], 16)
    files.append("bmp16_555_13x11.bmp")
    write_bmp(os.path.join(d, "bmp16_565_13x11.bmp"), [r.tobytes() for r in v16], 16, compression=3,
              masks=(0xF800, 0x7E0, 0x1F))
    files.append("bmp16_565_13x11.bmp")
    rgba = rgba_image(h, w, seed=9)
    bgra = rgba[..., [2, 1, 0, 3]]
    write_bmp(os.path.join(d, "bmp32_bitfields_alpha_13x11.bmp"), [r.tobytes() for r in bgra], 32,
              header_size=124, compression=3, masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000), top_down=True)
    files.append("bmp32_bitfields_alpha_13x11.bmp")


# ---- TIFF writer for layouts Pillow does not write (tiles, separate planes, 16-bit RGB) -----

def write_tiff(path, img, tile=None, planar=1):
    """img: [h, w, spp] uint8 or uint16 RGB; tile: (tw, th) for tiles, else one strip per 5 rows."""
    h, w, spp = img.shape
    bps = img.dtype.itemsize * 8
    planes = [img[..., c:c + 1] for c in range(spp)] if planar == 2 else [img]
    blocks = []  # uncompressed strips or tiles, in TIFF order (plane-major)
    for pl in planes:
        if tile:
            tw, th = tile
            for ty in range(0, h, th):
                for tx in range(0, w, tw):
                    t = np.zeros((th, tw, pl.shape[2]), img.dtype)
                    part = pl[ty:ty + th, tx:tx + tw]
                    t[:part.shape[0], :part.shape[1]] = part
                    blocks.append(t.astype(t.dtype.newbyteorder("<")).tobytes())
        else:
            for y in range(0, h, 5):
                blocks.append(pl[y:y + 5].astype(pl.dtype.newbyteorder("<")).tobytes())
    data = bytearray(b"II*\0" + b"\0" * 4)
    offsets = []
    for b in blocks:
        offsets.append(len(data))
        data += b
    entries = [(256, 4, [w]), (257, 4, [h]), (258, 3, [bps] * spp), (259, 3, [1]), (262, 3, [2]),
               (277, 3, [spp]), (284, 3, [planar])]
    if tile:
        entries += [(322, 4, [tile[0]]), (323, 4, [tile[1]]), (324, 4, offsets),
                    (325, 4, [len(b) for b in blocks])]
    else:
        entries += [(273, 4, offsets), (278, 4, [5]), (279, 4, [len(b) for b in blocks])]
    entries.sort()
    extra = bytearray()
    ifd_at = len(data) + (len(data) & 1)
    data += b"\0" * (ifd_at - len(data))
    extra_at = ifd_at + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries))
    for tag, typ, vals in entries:
        raw = b"".join(struct.pack("<H" if typ == 3 else "<I", v) for v in vals)
        if len(raw) <= 4:
            ifd += struct.pack("<HHI", tag, typ, len(vals)) + raw + b"\0" * (4 - len(raw))
        else:
            ifd += struct.pack("<HHII", tag, typ, len(vals), extra_at + len(extra))
            extra += raw
    data[4:8] = struct.pack("<I", ifd_at)
    with open(path, "wb") as f:
        f.write(bytes(data) + ifd + b"\0" * 4 + bytes(extra))


def make_inputs(d):
    rgb = gradient_noise(23, 37, seed=1)
    rgba = rgba_image(17, 20, seed=5)
    files = []

    def save(name, im, **kw):
        im.save(os.path.join(d, name), **kw)
        files.append(name)

    im, im_a = Image.fromarray(rgb), Image.fromarray(rgba, "RGBA")
    # WebP
    save("webp_lossless_37x23.webp", im, lossless=True)
    save("webp_lossy_37x23.webp", im, quality=80)
    save("webp_lossless_rgba_20x17.webp", im_a, lossless=True, exact=True)
    save("webp_lossy_rgba_20x17.webp", im_a, quality=80)
    frame2 = Image.fromarray(255 - rgb)
    save("webp_anim_37x23.webp", im, save_all=True, append_images=[frame2], lossless=True, duration=100)
    # GIF
    pal = im.quantize(colors=24, method=Image.Quantize.MEDIANCUT, dither=0)
    save("gif_37x23.gif", pal, interlace=False)
    save("gif_interlaced_37x23.gif", pal, interlace=True)
    save("gif_trns_37x23.gif", pal, transparency=3, interlace=False)
    save("gif_anim_37x23.gif", pal, save_all=True, append_images=[frame2.quantize(colors=16)], duration=100)
    grey = Image.fromarray(gradient_noise(19, 21, seed=4)[..., 0], "L")
    save("gif_grey_21x19.gif", grey)
    # BMP (Pillow writes 1, L, P, RGB 24-bit and RGBA as 32-bit BI_RGB)
    save("bmp1_21x19.bmp", grey.point(lambda v: 255 if v > 127 else 0).convert("1"))
    save("bmp8_grey_21x19.bmp", grey)
    save("bmp8_palette_37x23.bmp", pal)
    save("bmp24_37x23.bmp", im)
    save("bmp32_rgb_20x17.bmp", im_a)
    make_bmps(d, files)
    # TIFF
    save("tiff_raw_37x23.tif", im)
    save("tiff_lzw_37x23.tif", im, compression="tiff_lzw")
    save("tiff_deflate_rgba_20x17.tif", im_a, compression="tiff_adobe_deflate")
    save("tiff_grey_21x19.tif", grey, compression="packbits")
    save("tiff_bw1_21x19.tif", grey.convert("1"))
    save("tiff_palette_37x23.tif", pal, compression="tiff_lzw")
    g16 = np.random.default_rng(6).integers(0, 65536, size=(11, 13)).astype(np.uint16)
    g16[0, :6] = [0, 1, 254, 255, 256, 65535]
    save("tiff_grey16_13x11.tif", Image.frombytes("I;16", (13, 11), g16.astype("<u2").tobytes()))
    cmyk = Image.fromarray(np.dstack([rgba[..., :3], 255 - rgba[..., 3]]), "CMYK")
    save("tiff_cmyk_20x17.tif", cmyk)
    rgb_odd = gradient_noise(21, 37, seed=12)  # tiles of 16x16: partial tiles on both edges
    for name, kw in (("tiff_tiled_37x21.tif", {"tile": (16, 16)}),
                     ("tiff_tiled_planar_37x21.tif", {"tile": (16, 16), "planar": 2}),
                     ("tiff_planar_37x21.tif", {"planar": 2})):
        write_tiff(os.path.join(d, name), rgb_odd, **kw)
        files.append(name)
    rgb16 = np.random.default_rng(13).integers(0, 65536, size=(11, 13, 3)).astype(np.uint16)
    write_tiff(os.path.join(d, "tiff_rgb16_13x11.tif"), rgb16)
    files.append("tiff_rgb16_13x11.tif")
    # HEIC (pillow-heif, x265) and AVIF (Pillow's plugin)
    import pillow_heif
    pillow_heif.register_heif_opener()
    save("heic_37x23.heic", im, quality=90)
    save("heic_rgba_20x17.heic", im_a, quality=90)
    save("avif_37x23.avif", im, quality=90)
    save("avif_rgba_20x17.avif", im_a, quality=90)
    save("avif444_37x23.avif", im, quality=90, subsampling="4:4:4")
    y, x = np.mgrid[0:32, 0:48]
    smooth = np.stack([x * 5, y * 7, 255 - (x + y) * 3], axis=-1).clip(0, 255).astype(np.uint8)
    save("avif_smooth_48x32.avif", Image.fromarray(smooth), quality=90)  # a photo-like gradient
    return files


def make_orientation_inputs(d):
    """13x7 images (not square, not symmetric) tagged with each EXIF orientation."""
    base = Image.fromarray(gradient_noise(7, 13, seed=11))
    files = []
    for o in range(1, 9):
        exif = Image.Exif()
        exif[274] = o
        for ext, kw in ((".png", {}), (".jpg", {"quality": 95})):
            name = f"orient{o}_13x7{ext}"
            base.save(os.path.join(d, name), exif=exif.tobytes(), **kw)
            files.append(name)
    exif = Image.Exif()
    exif[274] = 6
    base.save(os.path.join(d, "orient6_13x7.webp"), lossless=True, exif=exif.tobytes())
    files.append("orient6_13x7.webp")
    for o in (3, 8):
        base.save(os.path.join(d, f"orient{o}_13x7.tif"), tiffinfo={274: o})
        files.append(f"orient{o}_13x7.tif")
    return files


def pil_rgb(path, transpose=False):
    with Image.open(path) as im:
        if transpose:
            im = ImageOps.exif_transpose(im)
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def hf_white(path):
    """transformers.image_transforms.convert_to_rgb (alpha onto white)."""
    with Image.open(path) as im:
        if im.mode == "RGB":
            return None
        rgba = im.convert("RGBA")
        if rgba.getextrema()[3][0] == 255:
            return None  # opaque: nothing to composite
        white = Image.new("RGBA", rgba.size, (255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)


def compute_all(d, files, orient_files):
    import pillow_heif
    pillow_heif.register_heif_opener()
    arrays, cases = {}, []
    for name in files + orient_files:
        path = os.path.join(d, name)
        with Image.open(path) as im:
            fmt = im.format
        rgb = pil_rgb(path)
        arrays[name + ".rgb.u8"] = rgb
        case = {"file": name, "format": fmt, "height": rgb.shape[0], "width": rgb.shape[1],
                "rgb": name + ".rgb.u8", "lossy": name in LOSSY}
        white = hf_white(path)
        if white is not None:
            arrays[name + ".white.rgb.u8"] = white
            case["white"] = name + ".white.rgb.u8"
        if name in orient_files:
            t = pil_rgb(path, transpose=True)
            arrays[name + ".exif.rgb.u8"] = t
            case.update({"exif": name + ".exif.rgb.u8", "exif_height": t.shape[0], "exif_width": t.shape[1]})
        cases.append(case)
    return arrays, cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT_DIR)
    ap.add_argument("--check", action="store_true", help="recompute the references, write nothing")
    args = ap.parse_args()
    if args.check:
        with open(os.path.join(args.out, "index.json")) as f:
            index = json.load(f)
        names = [c["file"] for c in index["cases"]]
        orient = [c["file"] for c in index["cases"] if "exif" in c]
        arrays, _ = compute_all(args.out, [n for n in names if n not in orient], orient)
        worst = 0
        for k, a in arrays.items():
            b = np.fromfile(os.path.join(args.out, k), np.uint8).reshape(a.shape)
            worst = max(worst, int(np.max(np.abs(a.astype(int) - b.astype(int)))))
        print(f"max |recomputed - stored| over {len(arrays)} references: {worst}")
        return 1 if worst else 0
    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.out):  # this directory holds only this script's files
        os.remove(os.path.join(args.out, name))
    files = make_inputs(args.out)
    orient = make_orientation_inputs(args.out)
    arrays, cases = compute_all(args.out, files, orient)
    for name, a in arrays.items():
        a.tofile(os.path.join(args.out, name))
    import PIL
    import pillow_heif
    index = {"generator": "tests/golden/make_format_fixtures.py", "pillow": PIL.__version__,
             "pillow_heif": pillow_heif.__version__, "libheif (pillow-heif)": pillow_heif.libheif_version(),
             "numpy": np.__version__, "layout": "raw uint8 [height, width, 3], row-major", "cases": cases}
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f"wrote {len(os.listdir(args.out))} files, {total} bytes, to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
