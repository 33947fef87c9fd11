"""Training runs to model files: the final export and export from any checkpoint."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from models import tensorcheck
from models.errors import ColorizerError
from models.modelfile import ModelInfo, read_info, save_generator
from models.networks import build_generator
from trainer.checkpoint import BadCheckpointError, load_checkpoint
from trainer.config import TrainConfig
from trainer.report import read_jsonl
from trainer.state import TrainingError, config_of


def export(
    run_dir: Path,
    generator,
    g_config,
    config: TrainConfig,
    step: int,
    wall: float,
    device,
    steps_per_epoch: int,
    *,
    path: Path | None = None,
    name: str = "",
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write the generator as the app's self-describing model file.

    By default ``RUN_DIR/generator.safetensors`` in float32, named after the run. A model
    with a distribution head recommends the annealed mean at the run's temperature.
    """
    evals = [h for h in read_jsonl(run_dir / "metrics.jsonl") if h.get("event") == "eval"]
    last = {k: v for k, v in (evals[-1] if evals else {}).items() if k not in ("event",)}
    recipe = {
        "recipe": config.loss,
        "lambda_l1": config.lambda_l1,
        "steps": step,
        "epochs": round(step / steps_per_epoch, 3),
        "image_size": config.image_size,
        "batch_size": config.batch_size,
        "data": config.data,
        "wall_seconds": round(wall, 1),
        "device": str(device),
        "hardware": platform.processor() or platform.machine(),
        "warmup_epochs": config.warmup_epochs,
        "lr": config.lr,
    }
    if g_config.num_bins:
        recipe.update(
            ce_weight=config.ce_weight, reg_weight=config.reg_weight, rebalance=config.rebalance
        )
    if config.hints or g_config.hint_channels:
        recipe["hints"] = "simulated: none for half the images, else geometric(1/8), 1-9 px"
    if config.degrade:
        recipe["degrade"] = config.degrade
    if config.ema:
        recipe["ema"] = config.ema
    recommended = (
        {"decoder": "annealed_mean", "temperature": config.temperature} if g_config.num_bins else {}
    )
    info = ModelInfo(
        g_config,
        color_space=config.color_space,
        name=name or config.name or run_dir.name,
        training={**recipe, **_lineage(config.init_from)},
        metrics=last,
        recommended=recommended,
    )
    generator.eval()
    broken = [
        k
        for k, v in generator.state_dict().items()
        if v.is_floating_point() and not v.isfinite().all()
    ]
    if broken:  # e.g. BatchNorm statistics blown up by a far too high learning rate
        raise TrainingError(
            f"{run_dir}: the trained weights hold NaN or infinite values ({broken[0]}"
            f"{' and more' if len(broken) > 1 else ''}); lower the learning rate and train again"
        )
    return save_generator(path or run_dir / "generator.safetensors", generator, info, dtype=dtype)


def _lineage(init_from: str) -> dict:
    """What a fine-tuned model started from: the base file and the base's own training."""
    if not init_from:
        return {}
    try:
        base = read_info(init_from)
    except ColorizerError:  # the base file moved since: its name is all we know
        return {"init_from": Path(init_from).name}
    keep = ("recipe", "steps", "epochs", "image_size", "wall_seconds", "device", "base")
    return {
        "init_from": Path(init_from).name,
        "base": {"name": base.name, **{k: base.training[k] for k in keep if k in base.training}},
    }


def export_checkpoint(
    run_dir: str | os.PathLike,
    path: str | os.PathLike,
    *,
    name: str = "",
    dtype: torch.dtype = torch.float16,
    average: bool = True,
) -> Path:
    """Export the generator of ``RUN_DIR/checkpoints/last.pt`` as a model file at ``path``.

    Lets a user take a model from a run that is still going, paused or was interrupted; the
    file carries the run's recipe and its latest validation numbers, like the final export.
    The moving average of the weights is exported when the run keeps one (``average=False``:
    the raw weights, e.g. to compare the two).
    """
    run_dir = Path(run_dir)
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    state = load_checkpoint(ckpt_path)
    try:
        config = TrainConfig.from_dict(state["config"])
        g_config = config_of(state["g_config"])  # fine-tuned runs keep their base's design
    except (TypeError, ValueError) as err:
        raise BadCheckpointError(f"{ckpt_path}: damaged checkpoint ({err})") from None
    if average and "ema" in state:  # AveragedModel's keys: module.<name>, n_averaged
        ema = state["ema"] if isinstance(state["ema"], dict) else {}
        weights = {
            k.removeprefix("module."): v
            for k, v in ema.items()
            if isinstance(k, str) and k.startswith("module.")
        }
    else:
        weights = state["generator"]
    # the weights must be the network's before that network is built (for real)
    need = tensorcheck.needed(lambda: build_generator(g_config))
    problem = tensorcheck.mismatch(need, tensorcheck.table_of(weights))
    if problem:
        raise BadCheckpointError(f"{ckpt_path}: damaged checkpoint (generator: {problem})")
    generator = build_generator(g_config)
    generator.load_state_dict(weights)
    step = state["step"]
    epoch = float(state.get("epoch") or 0.0)
    steps_per_epoch = max(1, round(step / epoch)) if epoch > 0 else max(1, step)
    return export(
        run_dir,
        generator,
        g_config,
        config,
        step,
        float(state.get("wall_seconds", 0.0)),
        config.device,
        steps_per_epoch,
        path=Path(path),
        name=name,
        dtype=dtype,
    )
