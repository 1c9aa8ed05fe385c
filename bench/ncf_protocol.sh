#!/usr/bin/env bash
# Reproduces our HR@10 / NDCG@10 under the Neural Collaborative Filtering
# protocol for any data set in that format:
#   bench/ncf_protocol.sh DATA_DIR NAME
# reads DATA_DIR/NAME.train.rating, NAME.test.rating and NAME.test.negative.
# 1. Carves a validation split from NAME.train.rating only (one held-out
#    training item per user, at random: the reconstructed files have no
#    timestamps; the latest one when they do).
# 2. Tunes iALS on that validation split (full-catalog NDCG@10); the test
#    files are not read until step 4.
# 3. Trains on all of NAME.train.rating with the best flags.
# 4. Evaluates on the test files; prints the evaluation JSON last
#    (keys hr@10, ndcg@10, baselines).
# Environment: AISLE_BIN (default build/bin), AISLE_NCF_GRID="quick" for a
# smaller search, WORK_DIR (default a temp dir, removed at the end).
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 DATA_DIR NAME" >&2
  exit 2
fi
DATA_DIR=$1
NAME=$2
BIN=${AISLE_BIN:-"$(cd "$(dirname "$0")/.." && pwd)/build/bin"}
for f in train.rating test.rating test.negative; do
  [ -f "$DATA_DIR/$NAME.$f" ] || { echo "missing $DATA_DIR/$NAME.$f" >&2; exit 1; }
done
OWN_WORK=0
if [ -z "${WORK_DIR:-}" ]; then
  WORK_DIR=$(mktemp -d)
  OWN_WORK=1
fi
trap '[ $OWN_WORK = 1 ] && rm -rf "$WORK_DIR"' EXIT

echo "== validation split from $NAME.train.rating" >&2
"$BIN/aisle-eval" split --format ncf --method leave_one_out --seed 7 \
  --input "$DATA_DIR/$NAME.train.rating" \
  --train_out "$WORK_DIR/sub.rating" --test_out "$WORK_DIR/validation.rating" >&2

if [ "${AISLE_NCF_GRID:-full}" = quick ]; then
  GRID=(--tune_factors 64 --tune_regularization 0.007 --tune_alpha 0.3 --tune_unobserved_weight 0.3
        --tune_iterations 8,12)
else
  GRID=(--tune_factors 128,192 --tune_regularization 0.005,0.007,0.01 --tune_alpha 0.3
        --tune_unobserved_weight 0.1,0.3 --tune_iterations 8,12,16)
fi
COMMON=(--format ncf --quantity_scaling none --frequency_scaled_regularization --regularization_exponent 1 --seed 42)

echo "== tuning on the validation split" >&2
"$BIN/aisle-train" tune "${COMMON[@]}" "${GRID[@]}" --metric ndcg@10 --quiet \
  --input "$WORK_DIR/sub.rating" --validation "$WORK_DIR/validation.rating" | tee "$WORK_DIR/tune.txt" >&2
BEST=$(tail -n 1 "$WORK_DIR/tune.txt")
echo "== training on all of $NAME.train.rating with: $BEST" >&2
# shellcheck disable=SC2086
"$BIN/aisle-train" "${COMMON[@]}" $BEST --quiet \
  --input "$DATA_DIR/$NAME.train.rating" --output "$WORK_DIR/$NAME.model"

echo "== NCF protocol on $NAME.test.rating / $NAME.test.negative" >&2
"$BIN/aisle-eval" ncf --model "$WORK_DIR/$NAME.model" --k 10 \
  --test "$DATA_DIR/$NAME.test.rating" --negatives "$DATA_DIR/$NAME.test.negative" >&2
"$BIN/aisle-eval" ncf --model "$WORK_DIR/$NAME.model" --k 10 --json \
  --test "$DATA_DIR/$NAME.test.rating" --negatives "$DATA_DIR/$NAME.test.negative"
