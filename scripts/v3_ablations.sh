#!/bin/bash
# Fine-tune ablations of the shipped v3 (issue #13: "the ablation that tells why"): 500 steps
# each from models/weights/default.safetensors, one factor changed per arm against a control:
#   control    128 px crops, batch 16, class rebalancing 0.5, photos-train + photos-hires
#   norebal    class rebalancing off (1.0)
#   crop192    192 px crops in batches of 7 (the same pixels per step), same object scale
#   smallonly  photos-train alone (no photos-hires)
# then each is evaluated at T 0.7 (kodak24 at strengths 0.9 and 1.0 for a colour-matched
# comparison, bsds500-test at 1.0). About 10 min per arm on 2 quiet CPU cores, seconds on a GPU.
# Usage: scripts/v3_ablations.sh [RUNS_DIR=runs/abl]  (an arm with a generator is skipped)
set -e
cd "$(dirname "$0")/.."
out=${1:-runs/abl}
py=${PYTHON:-.venv/bin/python}
data=../shared/data
common="--init-from models/weights/default.safetensors --steps 500 --loss l1 \
 --hints --distribution --reg-weight 10 --ce-weight 1 --temperature 0.7 --degrade 0.5 \
 --ema 0.995 --lr 5e-5 --lr-decay-start 0.5 --precision bf16 --workers 1 --seed 8 \
 --val-fraction 0.01 --val-max 48 --eval-every 500 --checkpoint-every 100 --log-every 25 \
 --name ablation"
both=$data/photos-train:$data/photos-hires
arm() {
  name=$1; shift
  [ -f "$out/$name/generator.safetensors" ] && return
  nice -n 10 "$py" -m colorizer_app train --run-dir "$out/$name" $common "$@" > "$out/$name.log" 2>&1
}
mkdir -p "$out"
arm control   --data $both --batch-size 16 --image-size 128 --scale-min 0.45 --rebalance 0.5
arm norebal   --data $both --batch-size 16 --image-size 128 --scale-min 0.45 --rebalance 1.0
arm crop192   --data $both --batch-size 7 --image-size 192 --scale-min 0.675 --rebalance 0.5
arm smallonly --data $data/photos-train --batch-size 16 --image-size 128 --scale-min 0.45 \
  --rebalance 0.5
for name in control norebal crop192 smallonly; do
  "$py" benchmarks/model_grid.py --model "$out/$name/generator.safetensors" \
    --data $data/photos-val/kodak24 --strength 0.9 1.0 --temperature 0.7 \
    --out "$out/eval.jsonl" > "$out/eval-$name.log" 2>&1
  "$py" benchmarks/model_grid.py --model "$out/$name/generator.safetensors" \
    --data $data/photos-val/bsds500-test --strength 1.0 --temperature 0.7 \
    --out "$out/eval.jsonl" >> "$out/eval-$name.log" 2>&1
done
