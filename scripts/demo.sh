#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, trains a model
# on the bundled Online Retail sample and shows recommendations for a few
# customers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
mkdir -p models
echo "== Training on data/sample/online_retail_sample.csv" >&2
./build/bin/aisle-train \
  --input data/sample/online_retail_sample.csv --format online_retail \
  --output models/sample.model --factors 32 --iterations 10 --regularization 0.1
echo "== Recommendations" >&2
./build/bin/aisle-eval recommend --model models/sample.model --customers 17850,12680,13090 --count 5
