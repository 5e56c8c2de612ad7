#!/usr/bin/env bash
# SuperNI round 2 (issue 12): the best classifier setting (w/ GEN, 2 negatives per open-answer positive)
# and the UniLM generator (w/o and w/ GEN) over seeds, with the dev set drawn from the *uncapped* training
# tasks (10 CLS tasks × DEV instances), at INSTANCES training instances per task (the data-scaling curve
# reuses this script with INSTANCES=12, 24, ...). SEEDS: classifier seeds; GEN_SEEDS: generator seeds
# (GEN_MIX="nogen gen" by default). ARCH=siamese: the siamese classifier (--siamese; a batch of 8 instances,
# each with all its candidates) instead of the cross pair classifier; HOLDOUT="Cat A,Cat B": leave those training
# categories out and evaluate on their tasks (with the heuristic baselines on the same tasks).
# CLS_EXTRA="--num-pos 2 ..." with TAG=pos2: extra classifier flags, TAG appended to the run names; GEN_EPOCHS:
# generator epochs (default 1; named _eN when not 1); FAIR=1: also the fair generator (label-space ranking,
# ~20 min on 65 tasks). GEN_EXTRA="--num-pos 2" with GEN_XTAG=pos2: extra generator flags, named like TAG. MAXLEN: source tokens (default 160).
# CLS_MIX=nogen: the matched w/o GEN classifier. RERANK_CLASSIFIER=DIR: also evaluate each w/ GEN generator on
# all 103 test tasks (GEN tasks: greedy, beam N-best, N-best reranked by that classifier; the combined score).
# Resumable (run_step.sh); precision auto (bf16 only where native).
# Logs and runs: OUT/.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/superni_budget.sh
source benchmarks/run_step.sh
INSTANCES=${INSTANCES:-6}
DEV=${DEV:-50}
BEST="--mix-gen --gen-negatives 2 --negatives 2 --lr 5e-5 --head-lr 1e-3"
TRAIN=${TRAIN/--max-train-instances 6/--max-train-instances $INSTANCES}
TRAIN=${TRAIN/--max-dev-instances 20/--max-dev-instances $DEV}
MAXLEN=${MAXLEN:-160}; COMMON=${COMMON/--max-length 160/--max-length $MAXLEN}; TRAIN=${TRAIN/--max-length 160/--max-length $MAXLEN}
ARCH=${ARCH:-cross}
PREFIX=clsgen2
[ "${CLS_MIX:-gen}" = nogen ] && { BEST=${BEST/--mix-gen --gen-negatives 2 /}; PREFIX=clsnogen2; }
[ "$ARCH" = siamese ] && { BEST="$BEST --siamese --batch-size 8"; PREFIX=${PREFIX}sia; }
[ -n "${CLS_EXTRA:-}" ] && { BEST="$BEST $CLS_EXTRA"; PREFIX=${PREFIX}_${TAG:?TAG names the CLS_EXTRA setting}; }
HOLD=(); [ -n "${HOLDOUT:-}" ] && { HOLD=(--holdout-categories "$HOLDOUT"); PREFIX=${PREFIX}_holdout; }
NOFAIR=(--no-fair); [ "${FAIR:-0}" = 1 ] && NOFAIR=()
GEN_EPOCHS=${GEN_EPOCHS:-1}; GEN_TAG=""; [ "$GEN_EPOCHS" != 1 ] && GEN_TAG=_e$GEN_EPOCHS
[ -n "${GEN_EXTRA:-}" ] && GEN_TAG=${GEN_TAG}_${GEN_XTAG:?GEN_XTAG names the GEN_EXTRA setting}
for seed in ${SEEDS-42 43 44}; do
  name=${PREFIX}_i${INSTANCES}_s$seed
  run "train_$name" $CT train classifier $TRAIN $BEST "${HOLD[@]}" --seed "$seed" --output "$OUT/$name"
  run "eval_$name" $CT evaluate $COMMON "${HOLD[@]}" --seed "$seed" --classifier "$OUT/$name" --tasks cls \
    --output "$OUT/$name/eval"
done
if [ -n "${HOLDOUT:-}" ]; then
  run "baselines_$PREFIX" $CT baselines --data "$DATA" "${HOLD[@]}" --json "$OUT/baselines_$PREFIX.json"
fi
for seed in ${GEN_SEEDS-}; do
  for mix in ${GEN_MIX:-nogen gen}; do
    name=unilm_${mix}${GEN_TAG}_i${INSTANCES}_s$seed; flags=""; [ "$mix" = gen ] && flags="--mix-gen"
    run "train_$name" $CT train generator ${TRAIN/--epochs 1/--epochs $GEN_EPOCHS} $flags ${GEN_EXTRA:-} --generator-arch unilm --lr 1e-4 --max-target-length 32 \
      --seed "$seed" --output "$OUT/$name"
    run "eval_$name" $CT evaluate $COMMON --seed "$seed" --generator "$OUT/$name" --max-target-length 32 --tasks cls \
      "${NOFAIR[@]}" --output "$OUT/$name/eval"
  done
done
for seed in ${GEN_SEEDS-}; do
  [ -n "${RERANK_CLASSIFIER:-}" ] || break
  name=unilm_gen${GEN_TAG}_i${INSTANCES}_s$seed
  run "evalall_$name" $CT evaluate $COMMON --seed "$seed" --classifier "$RERANK_CLASSIFIER" --generator "$OUT/$name" \
    --max-target-length 32 --tasks all --no-fair --n-best 4 --output "$OUT/$name/eval_all"
done
