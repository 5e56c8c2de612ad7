#!/usr/bin/env bash
# ReCross round 2 (issue 11): choose the adaptation settings (lr, N, epochs) on the held-out upstream
# PSEUDO-targets (upstream tasks left out of upstream training, with their own queries and test records),
# never on the 10 targets. Needs the upstream of recross_r2.sh (same OUT). Each setting: RETRIEVERS
# (default dense, paper aggregation concat) × ROUNDS rounds on the pseudo-targets; one output dir per
# setting under OUT/sweep/. Resumable (run_step.sh). ADAPT_BATCH: adaptation batch (default 4, the paper's);
# RUN_EXTRA: extra `recross run` flags (e.g. --expand-options for an upstream trained on option texts).
set -euo pipefail
cd "$(dirname "$0")/.."
KIND=${KIND:-classifier}
OUT=${OUT:-runs/bench/recross_r2_${KIND}}
DATA=${DATA:-../shared/data/recross}
CT=.venv/bin/crosstask
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
source benchmarks/run_step.sh
HELD=${HELD:-cosmos_qa,paws_x-en,quartz}
LEN="--max-length 192 --mixed-precision ${PRECISION:-auto}"
for lr in ${LRS:-6e-6 2e-5 5e-5}; do
  for n in ${NS:-128 512}; do
    for ep in ${EPOCHS:-1}; do
      name=lr${lr}_n${n}_e${ep}${ADAPT_BATCH:+_b$ADAPT_BATCH}
      run "sweep_$name" $CT recross run --data "$DATA" --target "$HELD" --retriever "${RETRIEVERS:-dense}" \
        --aggregation concat --rounds "${ROUNDS:-2}" --n "$n" --queries 16 --adapt-lr "$lr" --adapt-epochs "$ep" \
        --adapt-batch-size "${ADAPT_BATCH:-4}" --upstream "$OUT/upstream" --output "$OUT/sweep/$name" \
        --max-per-task 1000 ${RUN_EXTRA:-} $LEN --seed 42
    done
  done
done
