"""Device-side entry: the trainer CLI with cuDNN autotuning and single-threaded OpenCV
(the DataLoader workers are the parallelism)."""

import sys

import cv2
import torch

cv2.setNumThreads(1)
torch.backends.cudnn.benchmark = True
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
sys.path.insert(0, ".")
from trainer.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
