#!/usr/bin/env bash
# `paligemma caption --vae/--masks-dir` end to end on the tiny random model (whose answers to
# "segment ..." are random tokens, so mostly malformed) with the random mask decoder:
#   every ok record of a segment/detect prompt carries "parse_error" and "boxes" (none when the
#   answer is malformed; RLE masks and PNGs exactly for well-formed objects with codes), the
#   records are the same for every layout, --vae is pinned by the manifest, and bad flags fail
#   with clear errors before any output. The well-formed path (masks decoded, pasted, RLE, PNG)
#   is covered with crafted answers by tests/segment_fields_test.cc.
#   masks_e2e.sh PALIGEMMA CAPTION_FIXTURE_DIR WORK_DIR
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
source "$src/tests/caption/caption_lib.sh"
caption_test_setup masks "$1" "$2" "$3"
vae="$src/tests/fixtures/masks/vae_random.npz"

MAX_NEW=30 caption 1 1 --images images --output ref.jsonl --prompt "segment cat ; dog" --vae "$vae" \
  --masks-dir pngs 2> ref.log || { cat ref.log; fail "segment run"; }
[ "$(wc -l < ref.jsonl)" -eq "$(expected_list | wc -l)" ] || fail "ref.jsonl: $(wc -l < ref.jsonl) records"
python3 - ref.jsonl pngs <<'PY' || fail "segment records"
import json, os, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
pngs = set(os.listdir(sys.argv[2])) if os.path.isdir(sys.argv[2]) else set()
named, errors = set(), 0
for r in recs:
    if r["status"] != "ok":
        assert "boxes" not in r and "parse_error" not in r, r
        continue
    assert isinstance(r["text"], str) and "boxes" in r and "parse_error" in r, r
    if r["parse_error"] is not None:
        errors += 1
        assert r["parse_error"].startswith("object "), r
        assert r["boxes"] == [], r
    for i, b in enumerate(r["boxes"]):
        m = b["mask"]
        assert isinstance(m["counts"], str) and len(m["size"]) == 2, b
        assert b["mask_png"] == f'{r["index"]}_{i}.png', b
        named.add(b["mask_png"])
assert errors > 0, "the random model's answers should include malformed ones"
assert named == pngs, (named, pngs)
print(f"{len(recs)} records, {errors} parse errors, {len(pngs)} masks")
PY

# Same records with 2 replicas of tp 2.
MAX_NEW=30 caption 4 2 --images images --output np4.jsonl --prompt "segment cat ; dog" --vae "$vae" \
  --masks-dir pngs4 2> np4.log || { cat np4.log; fail "np 4 run"; }
cmp ref.jsonl np4.jsonl || fail "np 4 --tp 2 records differ from np 1"

# Without --vae: the same answers and parse results, and no masks.
MAX_NEW=30 caption 1 1 --images images --output novae.jsonl --prompt "segment cat ; dog" 2> novae.log ||
  { cat novae.log; fail "run without --vae"; }
python3 - ref.jsonl novae.jsonl <<'PY' || fail "records without --vae"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b)
for x, y in zip(a, b):
    assert x.get("text") == y.get("text") and x.get("parse_error") == y.get("parse_error"), (x, y)
    assert all("mask" not in box for box in y.get("boxes", [])), y
PY

# A resume must use the same decoder: the manifest pins vae.hash.
if MAX_NEW=30 caption 1 1 --images images --output ref.jsonl --prompt "segment cat ; dog" --masks-dir pngs \
  --vae "$src/tests/fixtures/masks/reference.npz" 2> other.log; then fail "a resume with another --vae ran"; fi
grep -q "vae.hash" other.log || { cat other.log; fail "the refusal does not name vae.hash"; }

# Bad flags: clear errors, no output.
if caption 1 1 --images images --output bad1.jsonl --masks-dir pngs 2> bad1.log; then fail "--masks-dir without --vae ran"; fi
grep -q -- "--masks-dir requires --vae" bad1.log || { cat bad1.log; fail "--masks-dir without --vae message"; }
if caption 1 1 --images images --output bad2.jsonl --vae missing.npz --prompt "segment cat" 2> bad2.log; then
  fail "a missing --vae ran"; fi
grep -q "missing.npz" bad2.log || { cat bad2.log; fail "the error does not name missing.npz"; }
[ ! -e bad2.jsonl ] || fail "a missing --vae wrote bad2.jsonl"
if caption 1 1 --images images --output bad3.jsonl --vae "$src/tests/fixtures/masks/reference.npz" 2> bad3.log; then
  fail "a non-decoder npz ran"; fi
grep -q "missing tensor '_vq_vae._embedding'" bad3.log || { cat bad3.log; fail "the wrong-npz message"; }
[ ! -e bad3.jsonl ] || fail "a wrong --vae wrote bad3.jsonl"
echo "masks_e2e: ok"
