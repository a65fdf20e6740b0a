#!/usr/bin/env bash
# `paligemma generate` and --exif-transpose: on by default; --no-exif-transpose and
# --exif-transpose=false both turn it off; a rotated photo's output depends on it, an upright
# one's (HEIC: libheif has already turned it) does not.
#   exif_cli.sh PALIGEMMA SOURCE_DIR MODEL
set -euo pipefail
bin="$1"; src="$2"; model="$3"
fx="$src/tests/fixtures/image_formats"
fail() { echo "FAIL [exif_cli]: $*" >&2; exit 1; }
gen() {
  "$bin" generate --model "$model" --tokenizer "$src/assets/tokenizer/tiny.model" --max-new-tokens 6 \
    --image "$fx/orient6_13x7.jpg" --image "$fx/orient1_13x7.jpg" "$@"
}
on=$(gen) || fail "default run"
explicit=$(gen --exif-transpose) || fail "--exif-transpose"
off=$(gen --no-exif-transpose) || fail "--no-exif-transpose"
off2=$(gen --exif-transpose=false) || fail "--exif-transpose=false"
[ "$on" = "$explicit" ] || fail "the default is not --exif-transpose: '$on' vs '$explicit'"
[ "$off" = "$off2" ] || fail "--no-exif-transpose and --exif-transpose=false differ: '$off' vs '$off2'"
[ "$(echo "$on" | sed -n 1p)" != "$(echo "$off" | sed -n 1p)" ] || fail "orientation 6 made no difference: '$on'"
[ "$(echo "$on" | sed -n 2p)" = "$(echo "$off" | sed -n 2p)" ] || fail "orientation 1 changed the output"
echo "exif_cli: ok"
