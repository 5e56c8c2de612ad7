#!/usr/bin/env bash
# SuperNI benchmark: generator and classifier, w/o and w/ GEN, fair generator, on all CLS test tasks.
# One CPU budget for every setting (COMMON / TRAIN in superni_budget.sh). Steps whose output exists are skipped,
# so the script can be re-run after an interruption. Logs: runs/bench/superni/*.log
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/superni_budget.sh

source benchmarks/run_step.sh

for setting in ${SETTINGS:-cls_nogen_s42 gen_nogen_s42 cls_gen_s42 gen_gen_s42 cls_nogen_s43}; do
  kind=${setting%%_*}; rest=${setting#*_}; mix=${rest%%_*}; seed=${rest##*_s}
  flags=""; [ "$mix" = gen ] && flags="--mix-gen"
  if [ "$kind" = cls ]; then
    run "train_$setting" $CT train classifier $TRAIN $flags --seed "$seed" --negatives 2 --lr 5e-5 --head-lr 1e-3 --output "$OUT/$setting"
    run "eval_$setting" $CT evaluate $COMMON --seed "$seed" --classifier "$OUT/$setting" --tasks cls --output "$OUT/$setting/eval"
  else
    run "train_$setting" $CT train generator $TRAIN $flags --seed "$seed" --lr 1e-4 --max-target-length 32 --output "$OUT/$setting"
    run "eval_$setting" $CT evaluate $COMMON --seed "$seed" --generator "$OUT/$setting" --max-target-length 32 --tasks cls --output "$OUT/$setting/eval"
  fi
done
