#!/usr/bin/env bash
# scripts/make_sized_tokenizer.sh: the tokenizer has exactly VOCAB pieces, the Gemma special ids,
# "\n" and the loc/seg pieces where the tiny tokenizer has them, and <unusedN> right after
# <seg127>; a bad VOCAB is refused by name.
set -euo pipefail
root=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
"$root/scripts/make_sized_tokenizer.sh" 2000 "$work/t2000"
# The vocabulary is read whole first: `spm_export_vocab | head` would SIGPIPE the exporter, which
# pipefail turns into a silent failure.
spm_export_vocab --model "$work/t2000.model" > "$work/vocab.txt"
pieces=$(awk 'END{print NR}' "$work/vocab.txt")
# spm_export_vocab writes the "\n" piece over two lines: 2000 pieces are 2001 lines.
[ "$pieces" -eq 2001 ] || { echo "expected 2000 pieces (2001 lines), got $pieces lines" >&2; exit 1; }
specials=$(awk 'NR <= 4' "$work/vocab.txt" | cut -f1 | tr '\n' ' ')
[ "$specials" = "<pad> <eos> <bos> <unk> " ] || { echo "ids 0..3 are '$specials'" >&2; exit 1; }
ids=$(printf '<loc0000><seg127><unused0><unused399>\n' | spm_encode --model "$work/t2000.model" --output_format=id)
[ "$ids" = "5 1156 1157 1556" ] || { echo "unexpected ids: '$ids'" >&2; exit 1; }
if "$root/scripts/make_sized_tokenizer.sh" 12ab "$work/bad" 2>"$work/err"; then
  echo "VOCAB 12ab was accepted" >&2; exit 1
fi
grep -q "VOCAB '12ab'" "$work/err" || { echo "error does not name the VOCAB: $(cat "$work/err")" >&2; exit 1; }
echo "sized tokenizer ok"
