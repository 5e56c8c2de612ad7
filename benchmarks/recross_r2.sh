#!/usr/bin/env bash
# ReCross round 2 (issue 11): a stronger upstream (1,000 records per upstream task instead of 200), with
# upstream tasks HELD out of its training as pseudo-targets (adaptation settings are chosen on them, never
# on the 10 targets); zero-shot + baselines on the 10 targets and the pseudo-targets (--rounds 0; the adaptation
# sweep is benchmarks/recross_r2_sweep.sh). RUN_EXTRA: extra `recross run` flags (e.g. --expand-options, to score
# an upstream trained with UPSTREAM="... --expand-options" as it was trained). Every step is resumable
# (run_step.sh); precision auto (bf16 only where native).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/bench/recross_r2_${KIND:-classifier}}
DATA=${DATA:-../shared/data/recross}
KIND=${KIND:-classifier}
CT=.venv/bin/crosstask
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
source benchmarks/run_step.sh
HELD=${HELD:-cosmos_qa,paws_x-en,quartz}
PER_TASK=${PER_TASK:-1000}
LEN="--max-length 192 --mixed-precision ${PRECISION:-auto}"
UPSTREAM=${UPSTREAM:-"--epochs 1 --lr 5e-5 --warmup-ratio 0.06"}
POOL="--max-per-task 1000 ${RUN_EXTRA:-}"

run upstream $CT recross upstream --kind "$KIND" $UPSTREAM --data "$DATA" --output "$OUT/upstream" \
  --max-per-task "$PER_TASK" --exclude-tasks "$HELD" $LEN --batch-size 16 --seed 42
run zero_shot_targets $CT recross run --data "$DATA" --target all --retriever random --rounds 0 --n 128 \
  --upstream "$OUT/upstream" --output "$OUT/runs" $POOL $LEN --seed 42
run zero_shot_pseudo $CT recross run --data "$DATA" --target "$HELD" --retriever random --rounds 0 --n 128 \
  --upstream "$OUT/upstream" --output "$OUT/pseudo" $POOL $LEN --seed 42
