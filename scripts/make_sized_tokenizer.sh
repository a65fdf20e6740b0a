#!/usr/bin/env bash
# A test tokenizer with exactly VOCAB pieces, for captioning a model whose vocabulary is not the
# tiny tokenizer's 1600 (e.g. bench/hf_compare.py's "mid" model, vocab 16383 after conversion):
# the tiny tokenizer's layout and corpus (scripts/make_tiny_tokenizer.sh: pad/eos/bos/unk 0..3,
# "\n", <loc0000>..<loc1023>, <seg000>..<seg127>, byte fallback, the same learned BPE pieces)
# plus VOCAB - 1600 user-defined pieces <unused0>.. after <seg127>, as Gemma's tokenizer has
# <unusedN> pieces. Deterministic (single-threaded spm_train, fixed seed).
#
#   scripts/make_sized_tokenizer.sh VOCAB OUT_PREFIX      -> OUT_PREFIX.model
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 VOCAB OUT_PREFIX" >&2; exit 2; }
vocab=$1 out=$2
root="$(cd "$(dirname "$0")/.." && pwd)"
[[ "$vocab" =~ ^[0-9]+$ ]] && [ "$vocab" -ge 1600 ] ||
  { echo "$0: VOCAB '$vocab' must be an integer >= 1600 (the tiny tokenizer's size)" >&2; exit 2; }
command -v spm_train >/dev/null || { echo "spm_train not found (apt-get install sentencepiece)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
symbols=$'\n'
for ((i = 0; i < 1024; i++)); do symbols+=$(printf ',<loc%04d>' "$i"); done
for ((i = 0; i < 128; i++)); do symbols+=$(printf ',<seg%03d>' "$i"); done
# The <unused> pieces go through a file: 15k of them overflow one command-line argument (128 KiB).
for ((i = 0; i < vocab - 1600; i++)); do printf '<unused%d>\n' "$i"; done >"$out.unused"
spm_train \
  --input="$root/assets/tokenizer/corpus.txt" --model_prefix="$out" --model_type=bpe --vocab_size="$vocab" \
  --pad_id=0 --eos_id=1 --bos_id=2 --unk_id=3 \
  --pad_piece="<pad>" --eos_piece="<eos>" --bos_piece="<bos>" --unk_piece="<unk>" \
  --user_defined_symbols="$symbols" --user_defined_symbols_file="$out.unused" \
  --normalization_rule_name=identity --add_dummy_prefix=false --remove_extra_whitespaces=false \
  --split_digits=true --byte_fallback=true --character_coverage=1.0 \
  --num_threads=1 --random_seed=1234 --minloglevel=2
rm -f "$out.vocab" "$out.unused"
echo "wrote $out.model ($vocab pieces)"
