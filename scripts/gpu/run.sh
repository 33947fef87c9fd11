#!/usr/bin/env bash
# The command for the device tool (run from the repository root, carry .gpudata):
#   python scripts/gpu/pack_data.py ../shared/data .gpudata/data.tar.gz   # here, once
#   run: bash scripts/gpu/run.sh   (carry [".gpudata"], timeout_s 560)
# Settings pass through to drive.py as environment variables (ARMS, STEPS, END_AT, ...).
# The tree that travels must stay under 64 MiB: move docs/*.png and docs/images/*.png out
# of the working tree for the call (git checkout -- docs afterwards).
set -e
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, cv2, skimage; print('torch', torch.__version__, torch.cuda.is_available())"
tar xzf .gpudata/data.tar.gz -C .gpudata
python3 scripts/gpu/drive.py
ls -la "$OUT"
