"""HF-mode preprocessing fixtures for tests/image_test.cc, made with Pillow >= 13:

1. Bicubic resize pass order (ImageResize.Pillow13PassOrder).

Pillow 13 (python-pillow/Pillow#9549, src/libImaging/Resample.c ImagingResampleInner) runs the
vertical pass first when (in_h - out_h) > 0 and (in_h - out_h) > 2 * (in_w - out_w); Pillow <= 12
always ran the horizontal pass first. Each case writes NAME.HxW.bicubic.pil13.u8 ([H, W, 3]).

2. Alpha onto white (ImageDecode.AlphaOntoWhiteMatchesHf): transformers' convert_to_rgb,
   Image.alpha_composite(white RGBA, im.convert("RGBA")).convert("RGB"); writes NAME.white.rgb.u8.

Made with Pillow 13.0.0:  python3 tests/golden/make_hf_preprocess_fixtures.py
"""
import os
import sys

import PIL
from PIL import Image

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "images")
# (fixture, out_h, out_w): vertical first, vertical first at the boundary, horizontal first.
ALPHA = ["rgba_20x17.png", "la_11x9.png", "palette_trns_37x23.png"]
CASES = [("rgb_16x40.png", 10, 12), ("rgb_100x75.png", 40, 83), ("rgb_100x75.png", 40, 82)]


def main():
    major = int(PIL.__version__.split(".")[0])
    if major < 13:
        sys.exit(f"needs Pillow >= 13, found {PIL.__version__}")
    for name, h, w in CASES:
        im = Image.open(os.path.join(HERE, name)).convert("RGB")
        out = im.resize((w, h), Image.BICUBIC)
        with open(os.path.join(HERE, f"{name}.{h}x{w}.bicubic.pil13.u8"), "wb") as f:
            f.write(out.tobytes())
        print(name, im.size, "->", (w, h))
    for name in ALPHA:
        im = Image.open(os.path.join(HERE, name))
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255))
        out = Image.alpha_composite(white, rgba).convert("RGB")
        with open(os.path.join(HERE, f"{name}.white.rgb.u8"), "wb") as f:
            f.write(out.tobytes())
        print(name, im.mode, "onto white")


if __name__ == "__main__":
    main()
