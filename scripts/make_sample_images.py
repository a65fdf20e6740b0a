#!/usr/bin/env python3
"""Makes the demo images in assets/images/: coloured shapes on plain backgrounds, with
assets/images/labels.txt giving each file's true description, plus assets/images/bad/ with a
truncated JPEG and a non-image file named .png for the error-path demos.

The images are synthetic and deterministic (no randomness), small (<= 224x224, a few KB) and
cover the decoder's paths: RGB PNG, RGB JPEG (4:2:0), greyscale PNG, RGBA PNG (opaque, so
dropping alpha changes nothing), palette PNG, and non-square sizes that must be resized.

Usage: python3 scripts/make_sample_images.py [--out assets/images]   (needs pillow)
"""
import argparse
import os

from PIL import Image, ImageDraw

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def circle(draw, cx, cy, r, fill):
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)


def make_all(out):
    samples = []  # (file name, description)

    def save(im, name, description, **kw):
        im.save(os.path.join(out, name), **kw)
        samples.append((name, description))

    im = Image.new("RGB", (224, 224), (30, 60, 200))
    circle(ImageDraw.Draw(im), 112, 112, 70, (220, 30, 30))
    save(im, "red_circle_blue_background.png", "a red circle on a blue background")

    im = Image.new("RGB", (224, 224), (255, 255, 255))
    ImageDraw.Draw(im).rectangle([52, 52, 172, 172], fill=(20, 160, 40))
    save(im, "green_square_white_background.jpg", "a green square on a white background",
         quality=90)

    im = Image.new("RGB", (224, 224), (0, 0, 0))
    ImageDraw.Draw(im).polygon([(112, 30), (200, 190), (24, 190)], fill=(245, 210, 20))
    save(im, "yellow_triangle_black_background.png", "a yellow triangle on a black background")

    im = Image.new("RGB", (200, 150), (128, 128, 128))  # non-square: exercises the resize
    d = ImageDraw.Draw(im)
    circle(d, 60, 75, 35, (250, 140, 0))
    circle(d, 140, 75, 35, (250, 140, 0))
    save(im, "two_orange_circles_grey_background.jpg", "two orange circles on a grey background",
         quality=90)

    im = Image.new("RGB", (160, 160), (200, 20, 40))
    d = ImageDraw.Draw(im)
    d.rectangle([65, 25, 95, 135], fill=(255, 255, 255))
    d.rectangle([25, 65, 135, 95], fill=(255, 255, 255))
    save(im.quantize(colors=4, dither=Image.Dither.NONE), "white_cross_red_background.png",
         "a white cross on a red background")  # palette PNG

    im = Image.new("L", (224, 224), 0)
    circle(ImageDraw.Draw(im), 112, 112, 60, 255)
    save(im, "white_circle_black_background_grey.png", "a white circle on a black background")

    im = Image.new("RGBA", (192, 128), (250, 230, 60, 255))
    d = ImageDraw.Draw(im)
    circle(d, 96, 64, 48, (10, 10, 10, 255))
    circle(d, 96, 64, 28, (250, 230, 60, 255))
    save(im, "black_ring_yellow_background_rgba.png", "a black ring on a yellow background")

    im = Image.new("RGB", (224, 224), (170, 220, 255))
    d = ImageDraw.Draw(im)
    d.rectangle([0, 160, 223, 223], fill=(40, 140, 40))
    circle(d, 170, 50, 25, (255, 220, 0))
    save(im, "sun_over_green_field.jpg",
         "a yellow sun in a light blue sky above a green field", quality=90)

    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("# file<TAB>true description (made by scripts/make_sample_images.py)\n")
        for name, description in samples:
            f.write(f"{name}\t{description}\n")
    return samples


def make_bad(out):
    bad = os.path.join(out, "bad")
    os.makedirs(bad, exist_ok=True)
    with open(os.path.join(out, "green_square_white_background.jpg"), "rb") as f:
        jpg = f.read()
    with open(os.path.join(bad, "truncated.jpg"), "wb") as f:
        f.write(jpg[: len(jpg) // 2])  # cut inside the entropy-coded data
    with open(os.path.join(bad, "not_an_image.png"), "w") as f:
        f.write("This is a text file with a .png name, used to demo the decoder's error.\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "assets", "images"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    samples = make_all(args.out)
    make_bad(args.out)
    for name, description in samples:
        size = os.path.getsize(os.path.join(args.out, name))
        with Image.open(os.path.join(args.out, name)) as im:
            print(f"{name:45s} {im.mode:5s} {im.size[0]}x{im.size[1]} {size:6d} B  {description}")


if __name__ == "__main__":
    main()
