#!/usr/bin/env python3
"""Checks the outputs of `caption --shards` on the make_shards.py fixture (caption_shards_e2e.sh).

  check_shard_outputs.py OUTDIR LOOSE.jsonl [--keep-meta]

LOOSE.jsonl: `caption --images FIXTURE/loose` on the same images as loose files; every ok shard
record must have the text the loose-file job gave the same bytes. Exits 1 naming the first
mismatch.
"""
import base64
import json
import os
import sys


def fail(msg):
    print("check_shard_outputs: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.endswith(b"\n"):
        fail("%s does not end with a newline" % path)
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]


def main():
    out, loose_path = sys.argv[1], sys.argv[2]
    keep_meta = "--keep-meta" in sys.argv
    loose = {}
    for r in load(loose_path):
        parts = r["image"].split("/")
        loose[(parts[parts.index("loose") + 1], "/".join(parts[parts.index("loose") + 2:]))] = r
    want_files = ["0000%d.jsonl" % i for i in range(7)]
    got_files = sorted(f for f in os.listdir(out) if f.endswith(".jsonl"))
    if got_files != want_files:
        fail("outputs %s, expected %s" % (got_files, want_files))
    if sorted(os.listdir(os.path.join(out, ".parts"))) != ["manifest.json", "manifest.lock"]:
        fail(".parts holds %s, expected only manifest.json and manifest.lock" % os.listdir(os.path.join(out, ".parts")))
    checked = 0
    for f in want_files:
        stem = f[:-6]
        records = load(os.path.join(out, f))
        fields = ["image", "shard", "key", "index", "status", "text", "tokens"]
        keys = [r["key"] for r in records if r["key"] is not None]
        if keys != sorted(keys, key=lambda k: k.encode("utf-8", "surrogateescape")):
            fail("%s: keys not sorted: %s" % (f, keys))
        for i, r in enumerate(records):
            where = "%s line %d" % (f, i + 1)
            if [k for k in r if k in fields] != fields or r["index"] != i:
                fail("%s: fields/index: %s" % (where, r))
            if not r["shard"].endswith("shards/" + stem + (".tgz" if stem == "00006" else ".tar")):
                fail("%s: shard %s" % (where, r["shard"]))
            if r["status"] == "error":
                if r["text"] is not None or r["tokens"] != 0 or r["shard"] not in r["error"]:
                    fail("%s: an error record must name its shard: %s" % (where, r))
                continue
            member = r["image"]
            if "image_bytes_b64" in r:
                member = base64.b64decode(r["image_bytes_b64"]).decode("utf-8", "surrogateescape")
            ref = loose.get((stem, member))
            if ref is None:
                if member != "caf\udce9.png":
                    fail("%s: no loose copy of %s" % (where, member))
                continue
            if (r["text"], r["tokens"], r["eos"]) != (ref["text"], ref["tokens"], ref["eos"]):
                fail("%s: shard record %s differs from the loose-file record %s" % (where, r, ref))
            checked += 1
            has_meta = "meta" in r or "meta_error" in r
            if keep_meta and stem != "00000" and (not has_meta or ("source_text" in r) == (stem == "00005")):
                fail("%s: --keep-meta but no meta / source_text: %s" % (where, r))
            if not keep_meta and (has_meta or "source_text" in r):
                fail("%s: meta without --keep-meta: %s" % (where, r))
    odd = {r["key"]: r for r in load(os.path.join(out, "00000.jsonl"))}
    expect = {"000000000": "ok", "000000001": "ok", "000000002": "error", "000000003": "error",
              "000000005": "ok", "000000006": "error", "000000007": "ok", "000000008": "ok",
              "000000009": "error", "caf\ufffd": "ok", "subdir/000000004": "ok", "with space": "ok"}
    if {k: r["status"] for k, r in odd.items()} != expect:
        fail("00000.jsonl statuses %s, expected %s" % ({k: r["status"] for k, r in odd.items()}, expect))
    for key, needle in [("000000002", "no image member (found: 000000002.json)"),
                        ("000000003", "00000.tar:000000003.jpg': not an image we can read"),
                        ("000000006", "no image member (found: 000000006.cls)"),
                        ("000000009", "the member '000000009.png' appears twice")]:
        if needle not in odd[key]["error"]:
            fail("00000.jsonl key %s: error %r lacks %r" % (key, odd[key]["error"], needle))
    if odd["000000002"]["image"] is not None or odd["000000007"]["image"] != "000000007.webp":
        fail("00000.jsonl: image fields %r %r" % (odd["000000002"]["image"], odd["000000007"]["image"]))
    if keep_meta:
        if odd["000000000"].get("source_text") != "a photo of a small test pattern \u00e9" or \
                odd["000000000"]["meta"]["url"] != "https://example.com/000000000.jpg":
            fail("00000.jsonl key 000000000: meta / source_text %s" % odd["000000000"])
        if "meta_error" not in odd["000000008"] or "meta" in odd["000000008"]:
            fail("00000.jsonl key 000000008: invalid JSON must give meta_error: %s" % odd["000000008"])
    trunc = load(os.path.join(out, "00005.jsonl"))
    if [r["status"] for r in trunc] != ["ok", "ok", "error", "error"] or trunc[3]["key"] is not None or \
            "truncated or corrupt in member" not in trunc[3]["error"] or "000000502.png" not in trunc[2]["error"]:
        fail("00005.jsonl (truncated): %s" % trunc)
    if checked < 20:
        fail("only %d ok records compared with the loose-file job" % checked)
    print("check_shard_outputs: %d shard outputs ok, %d records match the loose-file job" % (len(want_files), checked))


if __name__ == "__main__":
    main()
