#!/usr/bin/env bash
# ReCross round 2 (issue 11), the paper-protocol table for an upstream of recross_r2.sh (same OUT): distant
# supervision + reranker with this upstream, then 10 targets × (random, bm25, sbert, dense, dense_rerank) × ROUNDS
# rounds with the paper's aggregation (concat), all 1,000 test records, and the adaptation settings ADAPT chosen on
# the held-out pseudo-targets (benchmarks/recross_r2_sweep.sh), never on the targets; plus the ceiling diagnostic
# (adapted on CEILING labelled validation records of the target). Rounds are added one at a time
# over every target × method, so an interrupted run still covers every cell. Resumable (run_step.sh).
# RETRIEVERS: the methods (default all; the generator upstream's table may cut to
# "random,sbert,dense_rerank", the issue's minimum beside zero-shot; --ceiling adds the ceiling).
# STEP names the resumable steps (default table_rounds_<r>): methods added later to the same table need their
# own, e.g. STEP=table_bm25_dense RETRIEVERS=bm25,dense (finished rounds of the other methods are read back).
set -euo pipefail
cd "$(dirname "$0")/.."
KIND=${KIND:-classifier}
OUT=${OUT:-runs/bench/recross_r2_${KIND}}
DATA=${DATA:-../shared/data/recross}
ROUNDS=${ROUNDS:-5}
CEILING=${CEILING:-128}
N=${N:-128}
RETRIEVERS=${RETRIEVERS:-all}
STEP=${STEP:-table}
CT=.venv/bin/crosstask
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
source benchmarks/run_step.sh
LEN="--max-length 192 --mixed-precision ${PRECISION:-auto}"
ADAPT=${ADAPT:-"--adapt-lr 1e-4 --adapt-batch-size 16 --adapt-epochs 1"}
POOL="--max-per-task 1000"
# Reranker pseudo-targets: upstream tasks the upstream model was trained on (its held-out ones stay unseen).
PSEUDO=${PSEUDO:-social_i_qa,sciq,app_reviews,wiqa,qasc,cos_e-v1.11}
RERANKER=${RERANKER:-$OUT/reranker}
if [ ! -e "$RERANKER" ]; then
  run distant_supervision $CT recross distant-supervision --data "$DATA" --upstream "$OUT/upstream" \
    --output "$OUT/distant_supervision.jsonl" --pseudo-targets "$PSEUDO" --retriever bm25 --n-query-sets 2 \
    --query-size 8 --group-size 16 --n-groups 4 --heldout-size 32 $POOL $LEN $ADAPT --seed 42
  run reranker $CT recross train-reranker --data-file "$OUT/distant_supervision.jsonl" --output "$RERANKER" \
    --epochs 1 --batch-size 16 --max-length 192 --seed 42
fi
for r in $(seq 1 "$ROUNDS"); do
  run "${STEP}_rounds_$r" $CT recross run --data "$DATA" --target all --retriever "$RETRIEVERS" --ceiling "$CEILING" \
    --aggregation concat --rounds "$r" --n "$N" --queries 16 --upstream "$OUT/upstream" --reranker "$RERANKER" --output "$OUT/table" \
    --index-cache "$OUT/index-cache" $POOL $LEN $ADAPT ${RUN_EXTRA:-} --encoder-precision "${PRECISION:-auto}" \
    --seed 42
done
