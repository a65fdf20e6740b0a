#!/usr/bin/env bash
# Merges the outputs of a caption job array (launch/slurm/caption.sbatch run with --array) into
# one OUTPUT, byte-identical to a single run over the whole list (greedy decoding; with
# --temperature > 0 each element draws with its own indices):
#   merge_shards.sh OUTPUT
# reads OUTPUT.shards/layout.I (every element's: shards K, chunk C, list LIST) and
# OUTPUT.shards/shard-I.jsonl, deals the records back in list order (entry j comes from element
# (j / C) % K) with "index" renumbered to j, and writes OUTPUT atomically. Refuses, naming the
# file, when an element's output is missing or holds another count of records than its list
# (the element did not finish: rerun it, it resumes), or when the layouts disagree.
set -euo pipefail
out="${1:?usage: merge_shards.sh OUTPUT}"
dir="$out.shards"
die() { echo "merge_shards.sh: $*" >&2; exit 1; }
[ -f "$dir/layout.0" ] || die "$dir/layout.0 is missing: no array element of $out has run"
layout=$(cat "$dir/layout.0")
k=$(sed -n 's/^shards //p' <<< "$layout"); chunk=$(sed -n 's/^chunk //p' <<< "$layout")
list=$(sed -n 's/^list //p' <<< "$layout")
[[ "$k" =~ ^[1-9][0-9]*$ && "$chunk" =~ ^[1-9][0-9]*$ ]] || die "$dir/layout.0 is not a shard layout"
total=0
for i in $(seq 0 $((k - 1))); do
  [ -f "$dir/layout.$i" ] || die "$dir/layout.$i is missing: array element $i of $k has not run"
  [ "$(cat "$dir/layout.$i")" = "$layout" ] || die "$dir/layout.$i differs from $dir/layout.0 (two array runs mixed?)"
  shard_list="$list.shard-$i-of-$k"
  [ -f "$dir/shard-$i.jsonl" ] || die "$dir/shard-$i.jsonl is missing: array element $i has not finished"
  want=$(LC_ALL=C awk '{ t = $0; gsub(/^[ \t\r]+|[ \t\r]+$/, "", t); if (t != "" && substr(t, 1, 1) != "#") n++ }
                       END { print n + 0 }' "$shard_list")
  have=$(wc -l < "$dir/shard-$i.jsonl")
  [ "$have" -eq "$want" ] || die "$dir/shard-$i.jsonl has $have records, $shard_list $want entries"
  total=$((total + have))
done
# Entry j is the next record of element (j / chunk) % k; its local index must be that record's
# position in the element's output.
LC_ALL=C awk -v k="$k" -v c="$chunk" -v total="$total" -v dir="$dir" '
  BEGIN {
    for (j = 0; j < total; j++) {
      s = int(j / c) % k; f = dir "/shard-" s ".jsonl"
      if ((getline line < f) <= 0) { print "merge_shards.sh: " f " ended early" > "/dev/stderr"; exit 1 }
      want = ",\"index\":" (pos[s]++) ","
      if (index(line, want) == 0) { print "merge_shards.sh: " f " record " pos[s] " is not index " pos[s] - 1 > "/dev/stderr"; exit 1 }
      sub(/,"index":[0-9]+,/, ",\"index\":" j ",", line)
      print line
    }
  }' > "$out.merge.tmp" || { rm -f "$out.merge.tmp"; exit 1; }
mv "$out.merge.tmp" "$out"
echo "merge_shards.sh: wrote $out: $total records from $k shards of $list"
