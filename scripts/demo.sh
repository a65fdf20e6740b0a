#!/usr/bin/env bash
# The embedded demo, end to end: installs the packages, builds, converts the demo model once
# (assets/demo_model/, Hugging Face safetensors -> build/demo_model.h5), captions the sample
# images in assets/images/ with two tensor-parallel ranks, and prints each caption next to the
# expected one from assets/images/labels.txt.
#
#   scripts/demo.sh            # output: ./out/captions.jsonl (the caption command's default)
#
# `paligemma caption` with no --model/--tokenizer/--images/--output uses exactly these files
# (PG_HOME = the repository, found two levels above build/paligemma; see caption_job/pg_home.h).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

bash scripts/install_deps.sh
bash scripts/build.sh

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

model=build/demo_model.h5
restart=()
if [ ! -f "$model" ]; then
  if [ ! -f assets/demo_model/config.json ]; then
    echo "demo.sh: assets/demo_model/config.json is missing: the demo model has not been trained yet" >&2
    echo "         (python3 scripts/train_demo_model.py writes it)" >&2
    exit 1
  fi
  build/paligemma convert --from hf --input assets/demo_model --output "$model"
  restart=(--restart)  # a new model: records of an earlier demo run no longer apply
fi

# PG_HOME is set explicitly so the demo works from a copy of build/paligemma too.
PG_HOME="$repo" mpirun --oversubscribe --bind-to none -np 2 \
  -x PG_HOME -x OPENBLAS_NUM_THREADS build/paligemma caption --tp 2 "${restart[@]}" "$@"

out="$PWD/out/captions.jsonl"
echo
echo "captions: $out"
labels=assets/images/labels.txt
# The record's text field (JSON-escaped), from our fixed field order: ..."status":"ok","text":"...",...
text_of() { sed -nE 's/.*"status":"ok","text":"(([^"\\]|\\.)*)".*/\1/p'; }
if [ -f "$labels" ]; then
  ok=0; total=0
  printf '%-40s | %-40s | %s\n' "image" "expected (labels.txt)" "caption"
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    if [[ "$line" == *$'\t'* ]]; then name="${line%%$'\t'*}"; want="${line#*$'\t'}"
    else name="${line%% *}"; want="${line#* }"; fi
    got="$(grep -F "\"image\":\"$repo/assets/images/$name\"" "$out" | text_of || true)"
    [ -n "$got" ] || got="$(grep -F "\"image\":\"$repo/assets/images/$name\"" "$out" | sed -nE 's/.*"error":"(.*)"}$/error: \1/p')"
    total=$((total + 1)); [ "$got" = "$want" ] && ok=$((ok + 1))
    printf '%-40s | %-40s | %s\n' "$name" "$want" "$got"
  done < "$labels"
  echo "$ok/$total captions match labels.txt"
else
  sed -nE 's/^\{"image":"([^"]*)".*"text":"(([^"\\]|\\.)*)".*/\1\t\2/p' "$out"
fi
