"""Validation during a run: scores next to the gray baseline on the held-out crops, the sample
grid and the loss curve, and a fine-tune's comparison with the model it started from."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from models.colorbins import decode
from trainer import metrics
from trainer.report import (
    append_jsonl,
    loss_curve,
    read_jsonl,
    sample_grid,
    to_rgb8,
    write_png,
)
from trainer.samples import Unreadable


def evaluate(generator, val_set, config, device, step, run_dir, emit, warn) -> dict:
    """Validation PSNR / SSIM / colourfulness on centre crops, next to the gray baseline.

    A model with a distribution head is scored with the annealed mean at the run's
    temperature (``psnr``, ...) and with its regression head (``reg_psnr``, ...)."""
    summary, rows = scores(generator, val_set, config, device, warn, rows=config.sample_count)
    if not summary:
        return {}
    record = {"event": "eval", "step": step, **summary}
    append_jsonl(run_dir / "metrics.jsonl", record)
    write_png(run_dir / "samples" / f"step{step:07d}.png", sample_grid(rows))
    write_png(run_dir / "samples" / "latest.png", sample_grid(rows))
    emit(record)
    return record


def scores(generator, val_set, config, device, warn, *, rows: int = 0) -> tuple[dict, list]:
    """Mean scores of ``generator`` over ``val_set`` (with ``images``) and up to ``rows``
    (gray, output, truth) sample rows. A generator with fewer input channels than the
    samples (a base model without hint inputs) sees the channels it takes: the validation
    inputs carry no hints."""
    generator.eval()
    decoders = {"": "regression"}
    if getattr(generator.config, "num_bins", 0):
        decoders = {"": "annealed_mean", "reg_": "regression"}
    channels = getattr(generator.config, "input_channels", None)  # None: all of them
    shown, scores = [], []
    with torch.no_grad():
        for i in range(len(val_set)):
            sample = val_set[i]
            if isinstance(sample, Unreadable):
                warn([sample])
                continue
            inputs, target = sample
            x = torch.from_numpy(inputs[:channels])[None].to(device)
            truth = to_rgb8(inputs[:1], target, config.color_space)
            score = {}
            for prefix, decoder in decoders.items():
                out = decode(generator, x, decoder=decoder, temperature=config.temperature)
                output = to_rgb8(inputs[:1], out.cpu().numpy()[0], config.color_space)
                scored = metrics.score(output, truth)
                if prefix:  # the gray baseline and the truth are the same for every decoder
                    scored = {k: scored[k] for k in ("psnr", "ssim", "colourfulness")}
                score.update({prefix + k: v for k, v in scored.items()})
                if not prefix and len(shown) < rows:
                    shown.append((metrics.gray_baseline(truth), output, truth))
            scores.append(score)
    if not scores:
        return {}, shown
    summary = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
    return {"images": len(scores), **summary}, shown


def compare_with_base(generator, base, val_set, config, device, warn) -> dict:
    """The run's model next to the model it was fine-tuned from, on the run's held-out
    photos: ``{"model": scores, "base": scores, "worse": bool}``. Worse: lower PSNR than the
    base (by more than 0.05 dB), or below gray where the base was not."""
    ours, _ = scores(generator, val_set, config, device, warn)
    theirs, _ = scores(base, val_set, config, device, warn)
    if not ours or not theirs:
        return {}
    worse = ours["psnr"] < theirs["psnr"] - 0.05 or (
        ours["psnr"] < ours["gray_psnr"] <= theirs["psnr"]
    )
    keys = ("psnr", "ssim", "colourfulness", "gray_psnr", "gray_ssim", "truth_colourfulness")
    return {
        "model": {k: ours[k] for k in keys},
        "base": {k: theirs[k] for k in keys},
        "images": ours["images"],
        "worse": worse,
    }


class LossCurve:
    """Redraws loss_curve.png after an evaluation, at most every ``every_s`` seconds
    (matplotlib costs about a second a plot) and always at the end of a run or a cancel."""

    def __init__(self, every_s: float = 30.0) -> None:
        self.every_s, self.last = every_s, -math.inf

    def write(self, run_dir: Path, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < self.every_s:
            return
        self.last = now
        history = read_jsonl(run_dir / "metrics.jsonl")
        loss_curve(
            run_dir / "loss_curve.png",
            [h for h in history if h.get("event") == "step"],
            [h for h in history if h.get("event") == "eval"],
        )
