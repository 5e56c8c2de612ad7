# The one SuperNI CPU budget shared by superni.sh and superni_shared.sh (sourced, not run).
OUT=${OUT:-runs/bench/superni}
DATA=${DATA:-../shared/data/superni}
CT=.venv/bin/crosstask
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
COMMON="--data $DATA --max-length 160 --label-mode instances --mixed-precision ${PRECISION:-auto}"
TRAIN="$COMMON --max-train-instances 6 --max-train-labels 10 --dev-tasks 10 --max-dev-instances 20 --epochs 1 --batch-size 16 --warmup-ratio 0.06 --save-every 200 --eval-every 200"
