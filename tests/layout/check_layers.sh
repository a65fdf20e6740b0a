#!/usr/bin/env bash
# check_layers.sh SOURCE_DIR: every #include "folder/..." in a layer names only that layer or one
# below it (docs/ARCHITECTURE.md). Lowest first; a folder may include those listed before it:
#   runtime < dist < io < models < convert, tensor_parallel < engine < caption_job < bench < launch
# (convert and tensor_parallel are siblings: neither includes the other).
set -euo pipefail
src=${1:?usage: check_layers.sh SOURCE_DIR}
declare -A allowed=(
  [runtime]="runtime"
  [dist]="dist runtime"
  [io]="io runtime"
  [models]="models io dist runtime"
  [convert]="convert models io dist runtime"
  [tensor_parallel]="tensor_parallel models io dist runtime"
  [engine]="engine tensor_parallel models io dist runtime"
  [caption_job]="caption_job engine tensor_parallel models io dist runtime"
  [bench]="bench caption_job engine tensor_parallel models io dist runtime"
  [launch]="launch bench caption_job engine tensor_parallel convert models io dist runtime"
)
bad=0 checked=0
for layer in "${!allowed[@]}"; do
  [ -d "$src/$layer" ] || { echo "missing layer folder $layer"; bad=1; continue; }
  while IFS= read -r -d '' f; do
    while IFS= read -r inc; do
      dep=${inc%%/*}
      checked=$((checked + 1))
      case " ${allowed[$layer]} " in
        *" $dep "*) ;;
        *) echo "layering: $f includes \"$inc\" ($layer may include: ${allowed[$layer]})"; bad=1 ;;
      esac
    done < <(sed -n 's/^#include "\([a-z_]*\/[^"]*\)".*/\1/p' "$f")
  done < <(find "$src/$layer" \( -name '*.h' -o -name '*.cc' -o -name '*.cu' \) -print0)
done
echo "checked $checked includes in ${#allowed[@]} layers"
exit $bad
