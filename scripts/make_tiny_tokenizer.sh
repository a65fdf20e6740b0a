#!/usr/bin/env bash
# Builds the tiny test tokenizer assets/tokenizer/tiny.model with Debian's spm_train.
#
# Deterministic: the English corpus is generated below from fixed word lists with plain
# arithmetic (no RNG) into assets/tokenizer/corpus.txt, and spm_train runs single-threaded
# with a fixed --random_seed. Re-running the script reproduces the same corpus and model.
#
# Layout mimics the Gemma / PaliGemma tokenizer (MODEL_FACTS 1.7, 3.4):
#   pad=0, eos=1, bos=2, unk=3; "\n" is one user-defined piece; <loc0000>..<loc1023> and
#   <seg000>..<seg127> are user-defined pieces; identity normalisation, no dummy prefix, no
#   whitespace collapsing, split digits, byte fallback, BPE.
# Unlike PaliGemma, the loc/seg pieces come right after the special pieces (spm_train places
# user-defined symbols first), not at the end of the vocabulary: code must find them by piece
# string (IdToPiece / PieceToId), never by assuming ids.
#
# Usage: scripts/make_tiny_tokenizer.sh [output_dir]   (default: assets/tokenizer)
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir="${1:-assets/tokenizer}"
mkdir -p "$out_dir"
corpus="$out_dir/corpus.txt"
vocab_size=1600

command -v spm_train >/dev/null || { echo "spm_train not found (apt-get install sentencepiece)" >&2; exit 1; }

# ---- 1. Corpus --------------------------------------------------------------------------
colors=(red green blue yellow orange purple pink brown black white gray golden silver)
animals=(dog cat horse bird cow sheep zebra giraffe elephant bear duck fish rabbit lion)
plurals=(dogs cats horses birds cows sheep zebras giraffes elephants bears ducks fish rabbits lions)
actions=("is sitting" "is standing" "is running" "is sleeping" "is lying" "is walking" "is playing" "is eating")
places=(beach grass sand road table bed field snow water street sofa floor hill rock)
shapes=(circle square triangle rectangle star line oval cross)
positions=("top left" "top right" "bottom left" "bottom right" "center" "left side" "right side" "middle")
objects=(shoe car ball umbrella boat kite chair cup book bottle hat bag bicycle tree house sign clock)
weather=("a sunny day" "a cloudy day" "sunset" "night" "a rainy morning" "winter")
questions=("what color is the" "where is the" "how many" "is there a" "what is on the")

n() { echo $(( ($1) % $2 )); }

{
  for ((i = 0; i < 240; i++)); do
    c=${colors[$(n "i*7+3" ${#colors[@]})]}
    a=${animals[$(n "i*5+1" ${#animals[@]})]}
    act=${actions[$(n "i*3" ${#actions[@]})]}
    p=${places[$(n "i*11+2" ${#places[@]})]}
    w=${weather[$(n "i" ${#weather[@]})]}
    case $(n "i" 4) in
      0) echo "caption en";  echo "A $c $a $act on the $p." ;;
      1) echo "caption en";  echo "a $a $act on the $p on $w" ;;
      2) echo "caption es";  echo "There is a $c $a near the $p." ;;
      3) echo "caption en";  echo "Two ${plurals[$(n "i*5+1" ${#plurals[@]})]} and a $c ${objects[$(n "i" ${#objects[@]})]} on the $p." ;;
    esac
  done
  for ((i = 0; i < 160; i++)); do
    o=${objects[$(n "i*3+1" ${#objects[@]})]}
    c=${colors[$(n "i*5" ${#colors[@]})]}
    q=${questions[$(n "i" ${#questions[@]})]}
    s=${shapes[$(n "i*7" ${#shapes[@]})]}
    pos=${positions[$(n "i*3" ${#positions[@]})]}
    case $(n "i" 5) in
      0) echo "detect $o" ;;
      1) echo "detect ${animals[$(n "i" ${#animals[@]})]} ; $o" ;;
      2) echo "answer en $q $o?"; echo "$c" ;;
      3) echo "answer en how many ${plurals[$(n "i" ${#plurals[@]})]} are there?"; echo "$(( (i * 13) % 10 + 1 ))" ;;
      4) echo "A $c $s in the $pos of the image." ;;
    esac
  done
  for ((i = 0; i < 120; i++)); do
    a=${plurals[$(n "i*3+2" ${#plurals[@]})]}
    p=${places[$(n "i*5+4" ${#places[@]})]}
    c=${colors[$(n "i*11" ${#colors[@]})]}
    case $(n "i" 3) in
      0) echo "There are $(( i % 9 + 2 )) $a on the $p, one of them is $c." ;;
      1) echo "The photo shows the ocean, waves, a $c boat and people walking on the beach." ;;
      2) echo "segment $a" ;;
    esac
  done
} > "$corpus"

# ---- 2. User-defined symbols: "\n", then <loc0000>..<loc1023>, then <seg000>..<seg127> ----
symbols=$'\n'
for ((i = 0; i < 1024; i++)); do symbols+=$(printf ',<loc%04d>' "$i"); done
for ((i = 0; i < 128; i++)); do symbols+=$(printf ',<seg%03d>' "$i"); done

# ---- 3. Train ----------------------------------------------------------------------------
spm_train \
  --input="$corpus" \
  --model_prefix="$out_dir/tiny" \
  --model_type=bpe \
  --vocab_size=$vocab_size \
  --pad_id=0 --eos_id=1 --bos_id=2 --unk_id=3 \
  --pad_piece="<pad>" --eos_piece="<eos>" --bos_piece="<bos>" --unk_piece="<unk>" \
  --user_defined_symbols="$symbols" \
  --normalization_rule_name=identity \
  --add_dummy_prefix=false \
  --remove_extra_whitespaces=false \
  --split_digits=true \
  --byte_fallback=true \
  --character_coverage=1.0 \
  --num_threads=1 \
  --random_seed=1234 \
  --minloglevel=2

rm -f "$out_dir/tiny.vocab"
echo "wrote $out_dir/tiny.model ($(wc -c < "$out_dir/tiny.model") bytes) from $(wc -l < "$corpus") corpus lines"
