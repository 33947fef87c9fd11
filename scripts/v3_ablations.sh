#!/bin/bash
# Fine-tune ablations of the shipped v3 (issue #13: "the ablation that tells why"): 500 steps
# each from models/weights/default.safetensors (session 9 ran them from the second release:
# `git show ccb2bcd:models/weights/default.safetensors`), one factor per arm against a control:
#   control    128 px crops, batch 16, class rebalancing 0.5, photos-train + photos-hires
#   norebal    class rebalancing off (1.0)
#   crop256    256 px crops in batches of 4 (the same pixels per step; crops must be multiples
#              of 128), the photo's short side rescaled to 256-284 px: about the scale the
#              engine renders at (render 384), where the control sees 128-284 px
#   smallonly  photos-train alone (no photos-hires)
#   gan        + the adversarial term (PatchGAN on the regression head, weight 1 : L1 10)
# then each is evaluated at T 0.7 (kodak24 at strengths 0.9 and 1.0 for a colour-matched
# comparison, bsds500-test at 1.0), and the starting weights the same way. About 9 min per arm
# and 3 per evaluation on 2 quiet CPU cores. Results (session 9): docs/MODEL_CARD.md,
# "Fine-tune ablations"; the shipped third release is 0.5 x crop256 + 0.5 x its start.
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
arm crop256   --data $both --batch-size 4 --image-size 256 --scale-min 0.9 --rebalance 0.5
arm smallonly --data $data/photos-train --batch-size 16 --image-size 128 --scale-min 0.45 \
  --rebalance 0.5
arm gan       --data $both --batch-size 16 --image-size 128 --scale-min 0.45 --rebalance 0.5 \
  --loss gan_l1 --lambda-l1 10
cp models/weights/default.safetensors "$out/start.safetensors"
for name in start control norebal crop256 smallonly gan; do
  model="$out/$name/generator.safetensors"
  [ "$name" = start ] && model="$out/start.safetensors"
  "$py" benchmarks/model_grid.py --model "$model" \
    --data $data/photos-val/kodak24 --strength 0.9 1.0 --temperature 0.7 \
    --out "$out/eval.jsonl" > "$out/eval-$name.log" 2>&1
  "$py" benchmarks/model_grid.py --model "$model" \
    --data $data/photos-val/bsds500-test --strength 1.0 --temperature 0.7 \
    --out "$out/eval.jsonl" >> "$out/eval-$name.log" 2>&1
done
