#!/usr/bin/env bash
# Shared-context classifier variant on SuperNI, same budget as cls_nogen_s42 in superni.sh, plus a
# timed comparison of its evaluation against the per-pair (full-attention) classifier.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/superni_budget.sh
timed() {  # name, command...: skipped when done; wall seconds appended to $OUT/timings.tsv
  local name=$1; shift
  if [ -e "$OUT/$name.done" ]; then echo "skip $name"; return; fi
  echo "$(date -u +%FT%TZ) start $name: $*" | tee -a "$OUT/commands.txt"
  local t0; t0=$(date +%s.%N)
  "$@" > "$OUT/$name.log" 2>&1
  echo -e "$name\t$(echo "$(date +%s.%N) - $t0" | bc)" >> "$OUT/timings.tsv"
  touch "$OUT/$name.done"
}
# One row = one instance with its 3 candidates (1 positive + 2 sampled negatives), so batch 5 rows
# ≈ the 16 pairs per step of the per-pair classifier; same pairs, same single epoch.
timed train_clsshared_nogen_s42 $CT train classifier ${TRAIN/--batch-size 16/--batch-size 5} --seed 42 --negatives 2 \
  --lr 5e-5 --head-lr 1e-3 --shared-context --output "$OUT/clsshared_nogen_s42"
timed eval_clsshared_nogen_s42 $CT evaluate $COMMON --seed 42 --classifier "$OUT/clsshared_nogen_s42" --tasks cls \
  --output "$OUT/clsshared_nogen_s42/eval"
