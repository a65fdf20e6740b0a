#!/usr/bin/env python3
"""Writes the tar-shard fixtures of the caption shard tests (WebDataset / img2dataset layout).

  make_shards.py SOURCE_DIR OUT_DIR [--bench N_SHARDS SAMPLES_PER_SHARD]

OUT_DIR/shards/
  00000.tar   odd members, in unsorted archive order: a JPEG + .json + .txt; a PNG + .json; a key
              with only a .json; a corrupt "image" (text named .jpg); an extension-less JPEG; a
              PNG named .webp (images are decided by content); "subdir/000000004.seg.png" (key
              with a folder, extension with a dot); a name with a space; a non-UTF-8 name; a
              member appearing twice; a key with only a .cls; invalid JSON next to an image; a
              directory entry and a symbolic link (skipped)
  00001.tar .. 00004.tar   three good samples each (.jpg or .png, .json, .txt)
  00005.tar   truncated in the middle of its third image's data
  00006.tgz   gzip-compressed, two good samples
OUT_DIR/loose/<shard stem>/<member>  every decodable image again as a loose file (same bytes)
OUT_DIR/list.txt                      the shards, one per line, relative to OUT_DIR

--bench N S: instead, N shards of S samples each cycling over the fixture images, plus the same
images as loose files, for bench/shard_throughput.sh.
"""
import io
import json
import os
import shutil
import sys
import tarfile

GOOD = ["rgb_100x75.png", "rgb_37x23.png", "rgb_16x40.png", "palette_37x23.png", "grey_29x31.png",
        "la_11x9.png", "rgba_20x17.png", "rgb_37x23_q90.jpg", "rgb_37x23_progressive.jpg", "cmyk_20x17.jpg",
        "grey_29x31_q90.jpg", "rgb16_13x11.png"]


def read(src, name):
    with open(os.path.join(src, "tests", "fixtures", "images", name), "rb") as f:
        return f.read()


def add(tar, name, data, mtime=1700000000):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = mtime
    tar.addfile(info, io.BytesIO(data))


def add_special(tar, name, kind, target=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    info.mtime = 1700000000
    tar.addfile(info)


def keep_loose(out, stem, member, data):
    path = os.path.join(out, "loose", stem, os.fsdecode(member) if isinstance(member, bytes) else member)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def meta(key, i):
    return json.dumps({"key": key, "url": "https://example.com/%s.jpg" % key, "width": 10 + i,
                       "caption": "sample %d" % i, "similarity": 0.25 + i / 8}).encode()


def open_tar(path):
    # GNU format with surrogateescape: member names are written as raw bytes (non-UTF-8 allowed).
    return tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape")


def shard_odd(src, out):
    jpg, png, png2 = read(src, "rgb_37x23_q90.jpg"), read(src, "rgb_37x23.png"), read(src, "palette_37x23.png")
    grey = read(src, "grey_29x31_q90.jpg")
    nonutf8 = b"caf\xe9.png".decode("utf-8", "surrogateescape")
    with open_tar(os.path.join(out, "shards", "00000.tar")) as t:
        add(t, "000000003.jpg", b"this is not a jpeg\n")
        add(t, "000000003.json", meta("000000003", 3))
        add_special(t, "subdir", tarfile.DIRTYPE)
        add(t, "subdir/000000004.seg.png", png2)
        add(t, "000000001.png", png)
        add(t, "000000001.json", meta("000000001", 1))
        add(t, "000000000.jpg", jpg)
        add(t, "000000000.json", meta("000000000", 0))
        add(t, "000000000.txt", "a photo of a small test pattern \u00e9".encode())
        add(t, "000000002.json", meta("000000002", 2))
        add(t, "000000005", grey)                       # extension-less JPEG
        add(t, "000000006.cls", b"3\n")                   # no image for this key
        add(t, "000000007.webp", png)                   # PNG bytes named .webp
        add(t, "000000008.jpg", jpg)
        add(t, "000000008.json", b"{not json")
        add(t, "000000009.png", png)
        add(t, "000000009.png", png2)                   # the same member twice
        add(t, "with space.png", png2)
        add(t, nonutf8, png)
        add_special(t, "link.jpg", tarfile.SYMTYPE, "000000000.jpg")
    stem = "00000"
    for member, data in [("000000000.jpg", jpg), ("000000001.png", png), ("subdir/000000004.seg.png", png2),
                         ("000000005", grey), ("000000007.webp", png), ("000000008.jpg", jpg),
                         ("with space.png", png2)]:
        keep_loose(out, stem, member, data)


def shard_good(src, out, name, first, count, compress=False):
    stem = name.split(".")[0]
    path = os.path.join(out, "shards", name)
    mode = "w:gz" if compress else "w"
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT) as t:
        for i in range(first, first + count):
            image = GOOD[i % len(GOOD)]
            key = "%09d" % i
            member = key + os.path.splitext(image)[1]
            data = read(src, image)
            add(t, member, data)
            add(t, key + ".json", meta(key, i))
            add(t, key + ".txt", ("source caption %d" % i).encode())
            keep_loose(out, stem, member, data)


def shard_truncated(src, out):
    path = os.path.join(out, "shards", "00005.tar")
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as t:
        for i, image in enumerate(["rgb_37x23.png", "rgb_37x23_q90.jpg", "rgb_100x75.png", "grey_29x31.png"]):
            key = "%09d" % (500 + i)
            add(t, key + os.path.splitext(image)[1], read(src, image))
            add(t, key + ".json", meta(key, i))
    with tarfile.open(path, "r") as t:
        third = [m for m in t.getmembers() if m.name.endswith(".png")][1]  # 000000502.png
        cut = third.offset_data + third.size // 2
    with open(path, "r+b") as f:
        f.truncate(cut)
    for i, image in enumerate(["rgb_37x23.png", "rgb_37x23_q90.jpg"]):
        keep_loose(out, "00005", "%09d%s" % (500 + i, os.path.splitext(image)[1]), read(src, image))


def bench(src, out, n_shards, per_shard):
    for s in range(n_shards):
        name = "%05d.tar" % s
        with tarfile.open(os.path.join(out, "shards", name), "w", format=tarfile.GNU_FORMAT) as t:
            for i in range(s * per_shard, (s + 1) * per_shard):
                image = GOOD[i % len(GOOD)]
                member = "%09d%s" % (i, os.path.splitext(image)[1])
                data = read(src, image)
                add(t, member, data)
                add(t, "%09d.json" % i, meta("%09d" % i, i))
                keep_loose(out, "all", member, data)


def main():
    src, out = sys.argv[1], sys.argv[2]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "shards"))
    if len(sys.argv) == 6 and sys.argv[3] == "--bench":
        bench(src, out, int(sys.argv[4]), int(sys.argv[5]))
        return
    shard_odd(src, out)
    for s in range(1, 5):
        shard_good(src, out, "%05d.tar" % s, 10 * s, 3)
    shard_truncated(src, out)
    shard_good(src, out, "00006.tgz", 60, 2, compress=True)
    names = sorted(os.listdir(os.path.join(out, "shards")))
    with open(os.path.join(out, "list.txt"), "w") as f:
        f.write("# the shards of make_shards.py\n" + "".join("shards/%s\n" % n for n in names))
    print("shards ready in %s: %s" % (out, " ".join(names)))


if __name__ == "__main__":
    main()
