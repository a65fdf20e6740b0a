#!/usr/bin/env bash
# Prepares the caption end-to-end tests' inputs under WORK (rebuilt on every run):
#   WORK/model.h5        tests/fixtures/hf/gemma1_batch converted with `paligemma convert`
#                        (a tiny random PaliGemma with the 1600-piece tiny tokenizer's vocabulary)
#   WORK/images/         good PNG/JPEG fixtures plus bad ones: truncated JPEG and PNG, garbage
#                        named .jpg, an empty .png, a JPEG whose header claims 30000 x 30000
#                        pixels, and a non-image (notes.txt, which the directory listing skips)
#   WORK/list.txt        a list file: some images, a comment, a duplicate and a missing file
# Usage: make_fixture.sh PALIGEMMA SOURCE_DIR WORK
set -euo pipefail
bin="$1"; src="$2"; work="$3"
mkdir -p "$work"
# Converted every time (0.3 s): a model left by an older build may not match the reader.
rm -f "$work/model.h5"
"$bin" convert --from hf --input "$src/tests/fixtures/hf/gemma1_batch" --output "$work/model.h5" \
  > "$work/convert.log" 2>&1 || { cat "$work/convert.log" >&2; exit 1; }
img="$work/images"
rm -rf "$img" && mkdir -p "$img/sub"
fx="$src/tests/fixtures/images"
for f in rgb_100x75.png rgb_37x23.png rgb_16x40.png palette_37x23.png grey_29x31.png la_11x9.png \
         rgba_20x17.png rgb16_13x11.png; do
  cp "$fx/$f" "$img/$f"
done
for f in rgb_37x23_q90.jpg rgb_37x23_progressive.jpg cmyk_20x17.jpg; do cp "$fx/$f" "$img/sub/$f"; done
cp "$fx/grey_29x31_q90.jpg" "$img/UPPER.JPG"
head -c 700 "$fx/rgb_37x23_q90.jpg" > "$img/bad_truncated.jpg"
head -c 400 "$fx/rgb_100x75.png" > "$img/bad_truncated.png"
printf 'this is not an image\n' > "$img/bad_garbage.jpg"
: > "$img/bad_empty.png"
# A baseline JPEG whose SOF0 header claims 30000 x 30000 pixels (> the 64 Mi pixel limit).
cp "$fx/rgb_37x23_q90.jpg" "$img/bad_huge.jpg"
sof=$(LC_ALL=C grep -obUaP '\xff\xc0' "$img/bad_huge.jpg" | head -1 | cut -d: -f1)
[ -n "$sof" ] || { echo "make_fixture.sh: no SOF0 marker in rgb_37x23_q90.jpg" >&2; exit 1; }
printf '\x75\x30\x75\x30' | dd of="$img/bad_huge.jpg" bs=1 seek=$((sof + 5)) conv=notrunc status=none
printf 'not listed: no image extension\n' > "$img/notes.txt"
# One image of each further format, and an EXIF-rotated JPEG (tests/fixtures/image_formats), kept
# out of images/ so the other cases' record counts stay as they are.
rm -rf "$work/formats" && mkdir -p "$work/formats"
for f in webp_lossy_37x23.webp gif_trns_37x23.gif bmp4_13x11.bmp tiff_lzw_37x23.tif heic_37x23.heic \
         avif_37x23.avif orient6_13x7.jpg; do
  cp "$src/tests/fixtures/image_formats/$f" "$work/formats/$f"
done
mkdir -p "$img/.hidden" && cp "$fx/rgb_37x23.png" "$img/.hidden/skipped.png"
cat > "$work/list.txt" <<LIST
# a comment
images/rgb_37x23.png
images/./rgb_37x23.png
  images/sub/cmyk_20x17.jpg
images/does_not_exist.png

$img/la_11x9.png
LIST
echo "caption fixture ready in $work"
